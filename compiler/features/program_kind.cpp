// See program_kind.h.
#include "features/program_kind.h"

#include "artifacts/programs.h"

namespace membrane::features {

const char* programKindName(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::Tc: return artifacts::kKindTc;
    case ProgramKind::CgroupSkb: return artifacts::kKindCgroupSkb;
    case ProgramKind::SkSkb: return artifacts::kKindSkSkb;
    case ProgramKind::SkMsg: return artifacts::kKindSkMsg;
    case ProgramKind::SockAddr: return artifacts::kKindSockAddr;
  }
  return "?";
}

Target endpointTarget() {
  return Target{{ProgramKind::Tc, ProgramKind::CgroupSkb}, {ProgramKind::SkSkb, ProgramKind::SkMsg, ProgramKind::SockAddr}};
}

}  // namespace membrane::features
