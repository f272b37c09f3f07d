// Process, meaning (process.h): what the reference evaluator asks of a
// process condition. The socket hooks' decision (the generated
// mb_process_decide_egress) and the packet programs' MB_VERDICT_PROCESS are
// held to this by the differential tests.
#include <algorithm>

#include "features/process/process.h"

namespace membrane::features::process {

bool matches(const ir::ProcessCondition& condition, const ir::Traffic& traffic) {
  if (!traffic.executable) return true;
  return std::binary_search(condition.executables.begin(), condition.executables.end(), *traffic.executable);
}

}  // namespace membrane::features::process
