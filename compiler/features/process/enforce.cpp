// Process, enforcement (process.h): which program kinds can enforce a
// process condition. Only a hook that runs in the calling task sees its
// executable: the cgroup socket-address hooks (connect4/6, sendmsg4/6).
// The packet kinds run in no task (tc) or in whatever task happens to send
// (cgroup_skb); they pass the flows those hooks allowed (MB_VERDICT_PROCESS).
#include "features/process/process.h"

namespace membrane::features::process {

bool enforceableBy(ProgramKind kind) { return kind == ProgramKind::SockAddr; }

}  // namespace membrane::features::process
