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
 * does not act on yet (MB_VERDICT_L7), drops. */
static __always_inline int mb_tc_action(int verdict) {
  return verdict == MB_VERDICT_ALLOW ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Host-side veth, tc ingress: packets sent by the endpoint. MB_VERDICT_REDIRECT
 * here is a packet the datapath turned around (a DNS query answered
 * REFUSED, lib/dns_refuse.h): out of this veth again, into the endpoint.
 * (mb_process never passes a decision's own verdicts other than allow
 * on: they are drops.) */
SEC("tc")
int mb_tc_from_endpoint(struct __sk_buff *skb) {
  int verdict = mb_process(skb, MB_DIR_EGRESS, MB_L2);
  if (verdict == MB_VERDICT_REDIRECT)
    return (int)bpf_redirect(skb->ifindex, 0);
  return mb_tc_action(verdict);
}

/* Host-side veth, tc egress: packets delivered to the endpoint. */
SEC("tc")
int mb_tc_to_endpoint(struct __sk_buff *skb) {
  return mb_tc_action(mb_process(skb, MB_DIR_INGRESS, MB_L2));
}
