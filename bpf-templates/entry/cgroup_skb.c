/* Program kind "cgroup_skb": the endpoint's cgroup v2 directory, for
 * workloads without a veth of their own, attached as cgroup links
 * (BPF_CGROUP_INET_INGRESS / _EGRESS). Packets start at the IP header
 * (MB_L3).
 *
 * Manifest: kind "cgroup_skb", hooks "cg-in" (ingress) and "cg-out"
 * (egress); needs "prog:cgroup_skb" (runtime/artifacts/programs.cpp).
 */
#include "include/ctx/skb.h"
#include "lib/datapath.h"

/* Only an allowed packet passes; every other verdict, including ones
 * cgroup_skb does not act on yet (MB_VERDICT_L7, MB_VERDICT_REDIRECT),
 * drops. */
static __always_inline int mb_cgroup_action(int verdict) {
  return verdict == MB_VERDICT_ALLOW ? MB_CGROUP_PASS : MB_CGROUP_DROP;
}

SEC("cgroup_skb/ingress")
int mb_cgroup_ingress(struct __sk_buff *skb) {
  return mb_cgroup_action(mb_process(skb, MB_DIR_INGRESS, MB_L3));
}

SEC("cgroup_skb/egress")
int mb_cgroup_egress(struct __sk_buff *skb) {
  return mb_cgroup_action(mb_process(skb, MB_DIR_EGRESS, MB_L3));
}
