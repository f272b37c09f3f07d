// L4, enforcement (l4.h): which program kinds can enforce an L4 condition.
#include "features/l4/l4.h"

namespace membrane::features::l4 {

bool enforceableBy(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::Tc:
    case ProgramKind::CgroupSkb: return true;  // both parse every packet's L4 header
    // The socket layer sees connections the packet programs let through,
    // never packets: it cannot decide this kind.
    case ProgramKind::SkSkb:
    case ProgramKind::SkMsg:
    case ProgramKind::SockAddr: return false;
  }
  return false;
}

}  // namespace membrane::features::l4
