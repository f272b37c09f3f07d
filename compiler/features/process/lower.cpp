// Process, lowering (process.h): the paths sorted and unique, so equal
// conditions compare equal; the intersection a `processes` clause makes of
// a rule's condition.
#include <algorithm>
#include <iterator>

#include "features/process/process.h"

namespace membrane::features::process {

ir::ProcessCondition lower(const Checked& checked) {
  ir::ProcessCondition out;
  for (const auto& e : checked.executables) out.executables.push_back(e.path);
  std::sort(out.executables.begin(), out.executables.end());
  out.executables.erase(std::unique(out.executables.begin(), out.executables.end()), out.executables.end());
  return out;
}

ir::ProcessCondition intersect(const ir::ProcessCondition& a, const ir::ProcessCondition& b) {
  ir::ProcessCondition out;
  std::set_intersection(a.executables.begin(), a.executables.end(), b.executables.begin(), b.executables.end(),
                        std::back_inserter(out.executables));
  return out;
}

}  // namespace membrane::features::process
