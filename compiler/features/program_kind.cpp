// See program_kind.h.
#include "features/program_kind.h"

#include "artifacts/programs.h"

namespace membrane::features {

const char* programKindName(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::Tc: return artifacts::kKindTc;
    case ProgramKind::CgroupSkb: return artifacts::kKindCgroupSkb;
  }
  return "?";
}

Target endpointTarget() { return Target{{ProgramKind::Tc, ProgramKind::CgroupSkb}}; }

}  // namespace membrane::features
