/* The node's dispatchers: the programs every tc and cgroup_skb hook of an
 * endpoint runs, one per hook, loaded once per node and never swapped
 * (lib/dispatch.h). Each tail-calls the program of the class load that
 * judges the packet's endpoint in the active version, whose section (and
 * so program type and attach type) it shares: a prog array holds only
 * programs like its owner. What they cannot follow, they drop; while the
 * node is being detached, they pass everything.
 *
 * Compiled when membrane is built and embedded in it (the node has no
 * compiler): membrane_skeleton_builder, runtime/loader/dispatch.h.
 */
#include "include/ctx/skb.h"
#include "lib/dispatch.h"

SEC("tc")
int mb_dispatch_tc_from(struct __sk_buff *skb) {
  return mb_dispatch(skb, &mb_progs_tc_from, 1) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int mb_dispatch_tc_to(struct __sk_buff *skb) {
  return mb_dispatch(skb, &mb_progs_tc_to, 1) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("cgroup_skb/ingress")
int mb_dispatch_cg_in(struct __sk_buff *skb) {
  return mb_dispatch(skb, &mb_progs_cg_in, 0) ? MB_CGROUP_PASS : MB_CGROUP_DROP;
}

SEC("cgroup_skb/egress")
int mb_dispatch_cg_out(struct __sk_buff *skb) {
  return mb_dispatch(skb, &mb_progs_cg_out, 0) ? MB_CGROUP_PASS : MB_CGROUP_DROP;
}
