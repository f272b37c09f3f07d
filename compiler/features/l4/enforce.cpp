// L4, enforcement (l4.h): which program kinds can enforce an L4 condition.
#include "features/l4/l4.h"

namespace membrane::features::l4 {

bool enforceableBy(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::Tc:
    case ProgramKind::CgroupSkb: return true;  // both parse every packet's L4 header
  }
  return false;
}

}  // namespace membrane::features::l4
