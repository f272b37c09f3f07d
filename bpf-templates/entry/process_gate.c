/* Program kind "process_gate": the endpoint's cgroup, egress (a cgroup_skb
 * program), for an endpoint whose packet programs are on its veth
 * (docs/process.md). tc, on the host side of the veth, sees no socket; this
 * program, on the way out of the socket, does: a packet whose socket's call
 * a process rule let through (mb_process_socks) has its tuple
 * recorded in mb_process_flows, where tc looks an MB_VERDICT_PROCESS flow
 * up (lib/process.h). It never drops: tc decides.
 *
 * Manifest: kind "process_gate", hook "process-gate" (egress); needs
 * "prog:cgroup_skb" (runtime/artifacts/programs.cpp).
 */
#include "include/ctx/skb.h"
#include "lib/datapath.h" /* mb_parse, MB_L3 */
#include "lib/process.h"

/* The loopback device's index in every network namespace. */
#define MB_LOOPBACK_IFINDEX 1

SEC("cgroup_skb/egress")
int mb_process_gate(struct __sk_buff *skb) {
  /* Loopback never reaches the veth, so tc never asks about it. */
  if (skb->ifindex == MB_LOOPBACK_IFINDEX || !mb_ctx_socket(skb) ||
      !mb_process_sock_marked(bpf_get_socket_cookie(skb)))
    return MB_CGROUP_PASS;
  struct mb_pkt pkt;
  if (mb_parse(skb, MB_L3, &pkt) != MB_PARSED)
    return MB_CGROUP_PASS;
  struct mb_ct_key k;
  mb_ct_key_init(&k, &pkt.t, mb_endpoint_id());
  /* At most one write per flow per MB_PROCESS_FLOW_REFRESH_NS: fresh for
   * tc while the socket sends, stale soon after it stops. */
  mb_u64 now = bpf_ktime_get_ns();
  mb_u64 *recorded = bpf_map_lookup_elem(&mb_process_flows, &k);
  if (!recorded || now - *recorded > MB_PROCESS_FLOW_REFRESH_NS)
    bpf_map_update_elem(&mb_process_flows, &k, &now, BPF_ANY);
  return MB_CGROUP_PASS;
}
