// Process, lowering (process.h): the paths sorted and unique, so equal
// conditions compare equal.
#include <algorithm>

#include "features/process/process.h"

namespace membrane::features::process {

ir::ProcessCondition lower(const Checked& checked) {
  ir::ProcessCondition out;
  for (const auto& e : checked.executables) out.executables.push_back(e.path);
  std::sort(out.executables.begin(), out.executables.end());
  out.executables.erase(std::unique(out.executables.begin(), out.executables.end()), out.executables.end());
  return out;
}

}  // namespace membrane::features::process
