// See program_kind.h.
#include "features/program_kind.h"

namespace membrane::features {

const char* programKindName(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::Tc: return "tc";
    case ProgramKind::CgroupSkb: return "cgroup_skb";
  }
  return "?";
}

Target endpointTarget() { return Target{{ProgramKind::Tc, ProgramKind::CgroupSkb}}; }

}  // namespace membrane::features
