/* The endpoint datapath: four thin entry points around lib/datapath.h.
 *
 * Directions are the endpoint's: traffic leaving the pod is its EGRESS,
 * traffic arriving is its INGRESS. On the host side of a pod's veth, tc
 * ingress sees what the pod sends and tc egress what it receives.
 *
 * The per-class policy (mb_decide_*, mb_direction_enforced) is linked in by
 * the compiler; see lib/policy.h.
 */
#include "include/platform.h"
#include "lib/datapath.h"

/* Host-side veth, tc ingress: packets sent by the endpoint. */
SEC("tc")
int mb_tc_from_endpoint(struct __sk_buff *skb) {
  return mb_process(skb, MB_DIR_EGRESS, MB_L2) == MB_PASS ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Host-side veth, tc egress: packets delivered to the endpoint. */
SEC("tc")
int mb_tc_to_endpoint(struct __sk_buff *skb) {
  return mb_process(skb, MB_DIR_INGRESS, MB_L2) == MB_PASS ? TC_ACT_OK : TC_ACT_SHOT;
}

/* The endpoint's cgroup, for workloads without a veth of their own. */
SEC("cgroup_skb/ingress")
int mb_cgroup_ingress(struct __sk_buff *skb) {
  return mb_process(skb, MB_DIR_INGRESS, MB_L3) == MB_PASS ? MB_CGROUP_PASS : MB_CGROUP_DROP;
}

SEC("cgroup_skb/egress")
int mb_cgroup_egress(struct __sk_buff *skb) {
  return mb_process(skb, MB_DIR_EGRESS, MB_L3) == MB_PASS ? MB_CGROUP_PASS : MB_CGROUP_DROP;
}
