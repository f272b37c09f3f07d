/* Program kind "tc": the host side of an endpoint's veth, attached as a TCX
 * link or a cls_bpf filter (the loader's attach point for "tc").
 *
 * Directions are the endpoint's: traffic leaving the pod is its EGRESS,
 * traffic arriving is its INGRESS. On the host side of a pod's veth, tc
 * ingress sees what the pod sends and tc egress what it receives. tc sees the
 * Ethernet header (MB_L2).
 *
 * Manifest: kind "tc", hooks "tc-from" (egress) and "tc-to" (ingress);
 * needs "prog:sched_cls" (runtime/artifacts/programs.cpp).
 */
#include "include/ctx/skb.h"
#include "lib/datapath.h"

/* Only an allowed packet passes; every other verdict, including ones tc
 * does not act on yet (MB_VERDICT_L7, MB_VERDICT_REDIRECT), drops. */
static __always_inline int mb_tc_action(int verdict) {
  return verdict == MB_VERDICT_ALLOW ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Host-side veth, tc ingress: packets sent by the endpoint. */
SEC("tc")
int mb_tc_from_endpoint(struct __sk_buff *skb) {
  return mb_tc_action(mb_process(skb, MB_DIR_EGRESS, MB_L2));
}

/* Host-side veth, tc egress: packets delivered to the endpoint. */
SEC("tc")
int mb_tc_to_endpoint(struct __sk_buff *skb) {
  return mb_tc_action(mb_process(skb, MB_DIR_INGRESS, MB_L2));
}
