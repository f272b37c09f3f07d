/* The skeleton: every program a class object carries, one entry file per
 * program kind (entry/), over the shared lib/. Compiled once, when membranec
 * is built, and linked with each class's generated decision (lib/policy.h).
 *
 * The kinds here share one program context (include/ctx/skb.h) and so one
 * translation unit. The manifest lists these programs per class with their
 * kind and hook (runtime/artifacts/programs.h); a kind added here is added
 * there and gets an attach point in the loader.
 *
 * Classes without process rules get the skeleton without the socket-call
 * programs (endpoint_without_process.c): those read kernel structures
 * through CO-RE, and an object with any CO-RE relocation makes libbpf parse
 * the kernel's BTF at every load (about 45 ms here), needed or not.
 */
#include "entry/tc.c"
#include "entry/cgroup_skb.c"
#include "entry/sockops.c"
#include "entry/sk_skb.c"
#ifndef MB_SKELETON_WITHOUT_PROCESS
#include "entry/sock_addr.c"
#include "entry/process_gate.c"
#endif
