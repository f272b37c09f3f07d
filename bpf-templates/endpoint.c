/* The skeleton: every program a class object carries, one entry file per
 * program kind (entry/), over the shared lib/. Compiled once, when membranec
 * is built, and linked with each class's generated decision (lib/policy.h).
 *
 * The kinds here share one program context (include/ctx/skb.h) and so one
 * translation unit. The manifest lists these programs per class with their
 * kind and hook (runtime/artifacts/programs.h); a kind added here is added
 * there and gets an attach point in the loader.
 */
#include "entry/tc.c"
#include "entry/cgroup_skb.c"
#include "entry/sockops.c"
#include "entry/sk_skb.c"
#include "entry/sock_addr.c"
#include "entry/process_gate.c"
