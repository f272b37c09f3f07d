/* The per-packet flow shared by every program:
 *
 *   parse ─── leaving the endpoint: source not its own ─▶ drop (SPOOFED, lib/source.h)
 *         ─┬─ ARP / ND ────────────────────────────────▶ pass (ALWAYS)
 *          ├─ cannot classify ─▶ drop if the direction is enforced, else pass
 *          └─ parsed ─▶ ICMP error related to a tracked flow ─▶ pass
 *                    ─▶ conntrack hit (either orientation)  ─▶ pass
 *                    ─▶ new flow: identity → mb_decide_<dir> ─▶ verdict
 *                         deny  ─▶ drop, count, DENY event
 *                         allow ─▶ pass, count, ALLOW/AUDIT events, track
 *
 * Every packet is counted under exactly one mb_reason. "Cannot classify"
 * packets are counted under their reason whether they pass or not, so
 * malformed traffic is visible on open directions too.
 */
#ifndef MB_LIB_DATAPATH_H
#define MB_LIB_DATAPATH_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/identity.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/source.h"

/* Where a kind's packets start: tc sees Ethernet, cgroup_skb starts at the
 * IP header. */
#define MB_L2 1
#define MB_L3 0

/* Asks the generated policy about the first packet of a flow; returns its
 * MB_VERDICT_*. */
static __always_inline int mb_decide_new(const struct mb_pkt *pkt, const int dir, mb_u64 now) {
  /* The peer is whoever is on the far side of the endpoint. */
  const mb_u8 *peer_addr = dir == MB_DIR_INGRESS ? pkt->t.saddr : pkt->t.daddr;
  struct mb_identity *peer = mb_identity_lookup(pkt->t.family, peer_addr);
  struct mb_decision_input in;
  struct mb_decision out;

  __builtin_memset(&in, 0, sizeof(in));
  in.peer_flags = peer->flags;
  in.family = pkt->t.family;
  in.proto = pkt->t.proto;
  in.port = pkt->port;
  __builtin_memcpy(in.addr, peer_addr, 16);

  mb_unpack_decision(dir == MB_DIR_INGRESS ? mb_decide_ingress(peer, &in) : mb_decide_egress(peer, &in), &out);

  if (out.verdict != MB_VERDICT_ALLOW) {
    /* Deny, or a verdict no kind acts on yet (MB_VERDICT_L7, ...): the
     * entry point drops both, so both are counted and reported as denied.
     * A kind that supports another verdict branches off before this. */
    mb_count_reason(out.rule_id ? MB_REASON_DENIED_RULE : MB_REASON_DENIED_DEFAULT);
    mb_count_rule(out.rule_id, pkt->len); /* rule 0 counts default deny */
    mb_emit(MB_EVENT_DENY, dir, out.rule_id, pkt, now);
    return out.verdict;
  }

  if (out.enforced) {
    mb_count_reason(MB_REASON_ALLOWED_NEW);
    mb_count_rule(out.rule_id, pkt->len);
  } else {
    /* Open direction: nothing decided, so no rule to count. */
    mb_count_reason(MB_REASON_OPEN);
  }
  mb_emit(MB_EVENT_ALLOW, dir, out.rule_id, pkt, now);
  if (out.audit_would_deny)
    mb_emit(MB_EVENT_AUDIT, dir, out.audit_rule_id, pkt, now);
  mb_ct_create(pkt, dir, out.rule_id, out.audit_would_deny, now);
  return MB_VERDICT_ALLOW;
}

/* Returns the packet's MB_VERDICT_*: ALLOW or DENY, or what the decision
 * said for a new flow; the entry point (entry/) turns it into its kind's
 * return code, dropping every verdict it does not act on. `dir` is the
 * endpoint's direction (ingress: traffic to the endpoint); both arguments
 * are constants at each call site, so the unused half of the code folds
 * away. */
static __always_inline int mb_process(mb_ctx_t *ctx, const int dir, const int l2) {
  struct mb_pkt pkt;
  int reason;

  reason = mb_parse(ctx, l2, &pkt);
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

  if (pkt.kind == MB_PKT_ICMP_ERROR)
    reason = mb_ct_related(ctx, &pkt, now);
  else
    reason = mb_ct_track(&pkt, now);
  if (reason >= 0) {
    mb_count_reason(reason);
    return MB_VERDICT_ALLOW;
  }

  return mb_decide_new(&pkt, dir, now);
}

#endif /* MB_LIB_DATAPATH_H */
