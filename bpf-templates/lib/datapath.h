/* The per-packet flow shared by every program:
 *
 *   parse ─── leaving the endpoint: source not its own ─▶ drop (SPOOFED, lib/source.h)
 *         ─┬─ ARP / ND ────────────────────────────────▶ pass (ALWAYS)
 *          ├─ cannot classify ─▶ drop if the direction is enforced, else pass
 *          └─ parsed ─▶ egress to a DNS port: the query decided by name (lib/dns.h)
 *                         allow ─▶ record it (dns condition), pass, track
 *                         deny for its name (UDP, tc) ─▶ REFUSED reply, redirect
 *                         deny ─▶ drop
 *                    ─▶ ingress from a DNS port: learn from the response, go on
 *                    ─▶ ICMP error related to a tracked flow ─▶ pass
 *                    ─▶ conntrack hit (either orientation)  ─▶ pass
 *                    ─▶ new flow: identity (+ learned names, egress)
 *                                 → mb_decide_<dir> ─▶ verdict
 *                         deny  ─▶ drop, count, DENY event
 *                         allow ─▶ pass, count, ALLOW/AUDIT events, track
 *
 * Every packet is counted under exactly one mb_reason; what DNS learned
 * from it is counted beside it, in mb_dns_stats. "Cannot classify"
 * packets are counted under their reason whether they pass or not, so
 * malformed traffic is visible on open directions too.
 */
#ifndef MB_LIB_DATAPATH_H
#define MB_LIB_DATAPATH_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/counters.h"
#include "lib/decide.h"
#include "lib/dns.h"
#include "lib/endpoint.h"
#include "lib/events.h"
#include "lib/identity.h"
#include "lib/l7_refused.h"
#include "lib/l7_sent.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/source.h"

/* Where a kind's packets start: tc sees Ethernet, cgroup_skb starts at the
 * IP header. */
#define MB_L2 1
#define MB_L3 0

/* Whether the packet belongs to a connection the socket layer refused:
 * its tuple as the endpoint's socket sees it (local: the endpoint's side). */
static __always_inline int mb_pkt_l7_refused(const struct mb_pkt *pkt, const int dir) {
  if (pkt->t.proto != IPPROTO_TCP)
    return 0;
  if (dir == MB_DIR_INGRESS)
    return mb_l7_is_refused(pkt->t.family, pkt->t.daddr, bpf_ntohs(pkt->t.dport), pkt->t.saddr,
                            bpf_ntohs(pkt->t.sport));
  return mb_l7_is_refused(pkt->t.family, pkt->t.saddr, bpf_ntohs(pkt->t.sport), pkt->t.daddr,
                          bpf_ntohs(pkt->t.dport));
}

/* Whether a TCP segment the endpoint sends on a connection it opened, which
 * the client side polices, carries only bytes the sk_msg verdict let go
 * (lib/l7_sent.h; sequence arithmetic modulo 2^32). */
static __always_inline int mb_pkt_l7_sent(const struct mb_pkt *pkt) {
  if (pkt->fragment)
    return 0;
  if (pkt->tcp_payload == 0)
    return 1; /* SYN, ACK, FIN, RST: no data */
  struct mb_l7_sock_key k;
  mb_l7_tuple(&k, pkt->t.family, pkt->t.saddr, bpf_ntohs(pkt->t.sport), pkt->t.daddr, bpf_ntohs(pkt->t.dport));
  struct mb_l7_sent *v = bpf_map_lookup_elem(&mb_l7_sent, &k);
  if (!v)
    return 0;
  return (int)(pkt->tcp_seq + pkt->tcp_payload - v->end) <= 0;
}

/* Asks the generated policy about the first packet of a flow; returns its
 * MB_VERDICT_* (ALLOW or DENY). */
static __always_inline int mb_decide_new(mb_ctx_t *ctx, const struct mb_pkt *pkt, const int dir, mb_u64 now,
                                         const int l2) {
  struct mb_decision_input in;
  struct mb_decision out;

  __builtin_memset(&in, 0, sizeof(in));
  struct mb_identity *peer = mb_decision_input_init(&in, pkt, dir);
  if (dir == MB_DIR_EGRESS)
    in.dns_peer = mb_dns_peer_bits(pkt, NULL, now);
  mb_unpack_decision(mb_decide(dir, peer, &in), &out);
  return mb_decided(ctx, pkt, dir, &out, now, l2);
}

/* Returns the packet's MB_VERDICT_*: ALLOW or DENY, or REDIRECT for a
 * packet the datapath rewrote to send back where it came from (a DNS query
 * answered REFUSED; only with l2); the entry point (entry/) turns it into
 * its kind's return code, dropping every verdict it does not act on. `dir` is the
 * endpoint's direction (ingress: traffic to the endpoint); both arguments
 * are constants at each call site, so the unused half of the code folds
 * away. */
static __always_inline int mb_process(mb_ctx_t *ctx, const int dir, const int l2) {
  struct mb_pkt pkt;
  int reason;

  mb_u32 endpoint = mb_endpoint_at_hook(ctx);
  if (!endpoint) {
    /* A shared load run without a dispatcher: whose policy this is, is
     * known (the program is its class's); whose addresses, conntrack and
     * names are not. */
    mb_count_reason(MB_REASON_NO_ENDPOINT);
    return MB_VERDICT_DENY;
  }
  reason = mb_parse(ctx, l2, &pkt);
  pkt.endpoint = endpoint;
  if (dir == MB_DIR_EGRESS) {
    /* Whatever policy says, an endpoint only speaks for itself. */
    int source = mb_source_check(ctx, l2, &pkt);
    if (source != MB_SOURCE_OK) {
      if (source == MB_SOURCE_SPOOFED) {
        mb_count_reason(MB_REASON_SPOOFED);
        mb_emit(MB_EVENT_SPOOFED, dir, 0, &pkt, bpf_ktime_get_ns());
      } else {
        mb_count_reason(reason != MB_PARSED && reason != MB_REASON_ALWAYS ? reason : MB_REASON_UNPARSEABLE);
      }
      return MB_VERDICT_DENY;
    }
  }
  if (reason != MB_PARSED) {
    mb_count_reason(reason);
    if (reason == MB_REASON_ALWAYS)
      return MB_VERDICT_ALLOW;
    /* Where no policy restricts the direction, traffic we cannot classify
     * must not break; where policy applies, it must not slip past it. */
    return mb_direction_enforced(dir) ? MB_VERDICT_DENY : MB_VERDICT_ALLOW;
  }

  mb_u64 now = bpf_ktime_get_ns();

  if (mb_dns_on_port(&pkt, dir)) {
    if (dir == MB_DIR_EGRESS)
      return mb_dns_query(ctx, &pkt, l2, now);
    mb_dns_response(ctx, &pkt, now);
  }

  mb_u8 ct_flags = 0;
  if (pkt.kind == MB_PKT_ICMP_ERROR)
    reason = mb_ct_related(ctx, &pkt, now);
  else
    reason = mb_ct_track_flags(&pkt, now, &ct_flags);
  if (reason >= 0 && (ct_flags & MB_CT_L7) && mb_pkt_l7_refused(&pkt, dir)) {
    /* The socket layer could not take the connection's socket: its
     * requests would go undecided (lib/l7_refused.h). */
    mb_count_reason(MB_REASON_L7_REFUSED);
    return MB_VERDICT_DENY;
  }
  if (dir == MB_DIR_EGRESS && reason == MB_REASON_ESTABLISHED && (ct_flags & MB_CT_L7) && (ct_flags & MB_CT_EGRESS) &&
      !mb_pkt_l7_sent(&pkt)) {
    /* Bytes of a policed client connection that its sk_msg verdict did not
     * let go (lib/l7_sent.h). */
    mb_count_reason(MB_REASON_L7_UNDECIDED);
    return MB_VERDICT_DENY;
  }
  if (reason >= 0) {
    mb_count_reason(reason);
    return MB_VERDICT_ALLOW;
  }

  return mb_decide_new(ctx, &pkt, dir, now, l2);
}

#endif /* MB_LIB_DATAPATH_H */
