/* Program kind "cgroup_sock_addr": the socket calls of the endpoint's cgroup
 * (docs/process.md), attached as cgroup links on it. They run in the task
 * that makes the call, before anything is sent:
 *
 *   mb_connect4 / mb_connect6  connect() of TCP (TCP Fast Open's
 *                              sendto(MSG_FASTOPEN) and connect with
 *                              TCP_FASTOPEN_CONNECT included), UDP, ping
 *   mb_sendmsg4 / mb_sendmsg6  sendmsg()/sendto() with an address on an
 *                              unconnected UDP socket
 *
 * Each asks the class's egress decision about the destination: a flow it
 * leaves to the calling executable (MB_VERDICT_PROCESS) is decided again
 * with the executable's bits (mb_process_decide_egress), and a deny fails
 * the call with EPERM, counted in mb_rule_stats under its rule and reported
 * (MB_EVENT_PROCESS_DENY, with pid, executable and thread name); one it
 * allows marks its socket (by cookie, mb_process_socks), which is what the
 * packet programs then ask. A call whose flow the packet decision decides by
 * itself (allow or deny) goes on unmarked: the packet programs decide that
 * flow without asking, and count and report its denial as always.
 *
 * Manifest: kind "cgroup_sock_addr", hooks "connect4", "connect6",
 * "sendmsg4", "sendmsg6" (egress); needs "prog:cgroup_sock_addr" and the
 * kernel's BTF (runtime/artifacts/programs.cpp).
 */
#include "include/ctx/skb.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/event_ring.h"
#include "lib/identity.h"
#include "lib/policy.h"
#include "lib/process.h"

#define MB_SOCK_STREAM 1
#define MB_SOCK_DGRAM 2
#define MB_ICMP_ECHO_REQUEST 8
#define MB_ICMPV6_ECHO_REQUEST 128

static __always_inline void mb_sock_addr_event(int kind, const struct mb_decision_input *in, mb_u32 rule_id,
                                               mb_u32 audit_rule_id, const struct mb_process_exe_key *exe,
                                               mb_u64 bits) {
  if (!mb_event_enabled(kind))
    return;
  struct mb_process_event *ev = bpf_ringbuf_reserve(&mb_events, sizeof(*ev), 0);
  if (!ev)
    return;
  __builtin_memset(ev, 0, sizeof(*ev));
  ev->flow.timestamp_ns = bpf_ktime_get_ns();
  ev->flow.endpoint = mb_endpoint_id();
  ev->flow.rule_id = rule_id;
  ev->flow.kind = kind;
  ev->flow.direction = MB_DIR_EGRESS;
  ev->flow.proto = in->proto;
  ev->flow.family = in->family;
  ev->flow.dport = in->port;
  __builtin_memcpy(ev->flow.daddr, in->addr, 16);
  ev->pid = (mb_u32)(bpf_get_current_pid_tgid() >> 32);
  ev->exe_dev = exe->dev;
  ev->exe_ino = exe->ino;
  ev->exe_bits = bits;
  ev->audit_rule_id = audit_rule_id;
  bpf_get_current_comm(ev->comm, sizeof(ev->comm));
  bpf_ringbuf_submit(ev, 0);
}

/* The protocol the call will send with: the socket's, or for a socket of
 * protocol 0 its type's default. */
static __always_inline mb_u8 mb_sock_addr_protocol(const struct bpf_sock_addr *ctx) {
  mb_u32 protocol = ctx->protocol;
  if (protocol)
    return (mb_u8)protocol;
  return ctx->type == MB_SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
}

static __always_inline int mb_sock_addr_decide(struct bpf_sock_addr *ctx, const int v6) {
  struct mb_decision_input in;
  __builtin_memset(&in, 0, sizeof(in));
  if (!v6) {
    mb_u32 ip4 = ctx->user_ip4;
    in.family = MB_FAMILY_V4;
    __builtin_memcpy(in.addr, &ip4, 4);
  } else {
    mb_u32 w[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
    if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff)) {
      /* A dual-stack socket calling an IPv4 address: the packets are IPv4. */
      in.family = MB_FAMILY_V4;
      __builtin_memcpy(in.addr, &w[3], 4);
    } else {
      in.family = MB_FAMILY_V6;
      __builtin_memcpy(in.addr, w, 16);
    }
  }
  in.proto = mb_sock_addr_protocol(ctx);
  if (in.proto == IPPROTO_ICMP)
    in.port = MB_ICMP_ECHO_REQUEST; /* a ping socket sends echo requests */
  else if (in.proto == IPPROTO_ICMPV6)
    in.port = MB_ICMPV6_ECHO_REQUEST;
  else
    in.port = bpf_ntohs((mb_u16)ctx->user_port);
  struct mb_identity *peer = mb_identity_lookup(in.family, in.addr);
  in.peer_flags = peer->flags;

  struct mb_decision out;
  mb_unpack_decision(mb_decide_egress(peer, &in), &out);
  if (out.verdict == MB_VERDICT_PROCESS) {
    struct mb_process_exe_key exe;
    mb_process_current_exe(&exe);
    in.exe = mb_process_exe_bits(&exe);
    mb_unpack_decision(mb_process_decide_egress(peer, &in), &out);
    if (out.verdict != MB_VERDICT_ALLOW) {
      mb_count_rule(out.rule_id, 0);
      mb_sock_addr_event(MB_EVENT_PROCESS_DENY, &in, out.rule_id, 0, &exe, in.exe);
      return MB_SOCK_ADDR_EPERM;
    }
    if (out.audit_would_deny)
      mb_sock_addr_event(MB_EVENT_PROCESS_AUDIT, &in, out.rule_id, out.audit_rule_id, &exe, in.exe);
    /* What the packet programs ask of this flow's packets. The map is an
     * LRU: when full, the oldest mark goes, and that socket's next new flow
     * is dropped there (fail closed). */
    mb_u64 cookie = bpf_get_socket_cookie(ctx);
    struct mb_process_sock mark = {.endpoint = mb_endpoint_id(), .pad = 0};
    bpf_map_update_elem(&mb_process_socks, &cookie, &mark, BPF_ANY);
  }
  return MB_SOCK_ADDR_PASS;
}

SEC("cgroup/connect4")
int mb_connect4(struct bpf_sock_addr *ctx) { return mb_sock_addr_decide(ctx, 0); }

SEC("cgroup/connect6")
int mb_connect6(struct bpf_sock_addr *ctx) { return mb_sock_addr_decide(ctx, 1); }

SEC("cgroup/sendmsg4")
int mb_sendmsg4(struct bpf_sock_addr *ctx) { return mb_sock_addr_decide(ctx, 0); }

SEC("cgroup/sendmsg6")
int mb_sendmsg6(struct bpf_sock_addr *ctx) { return mb_sock_addr_decide(ctx, 1); }
