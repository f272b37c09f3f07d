/* Asking the generated decision about a packet, and what follows from its
 * answer: counters, events and (for an allowed flow) a conntrack entry.
 * Shared by the per-packet flow (lib/datapath.h) and DNS queries
 * (lib/dns.h), which decide every query by its name.
 */
#ifndef MB_LIB_DECIDE_H
#define MB_LIB_DECIDE_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/identity.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/process.h"

/* Fills the flow's part of `in` (the caller sets the DNS fields) and
 * returns the peer's identity: whoever is on the far side of the endpoint. */
static __always_inline struct mb_identity *mb_decision_input_init(struct mb_decision_input *in,
                                                                   const struct mb_pkt *pkt, const int dir) {
  const mb_u8 *peer_addr = dir == MB_DIR_INGRESS ? pkt->t.saddr : pkt->t.daddr;
  struct mb_identity *peer = mb_identity_lookup(pkt->t.family, peer_addr);

  in->peer_flags = peer->flags;
  in->family = pkt->t.family;
  in->proto = pkt->t.proto;
  in->port = pkt->port;
  __builtin_memcpy(in->addr, peer_addr, 16);
  return peer;
}

static __always_inline mb_u64 mb_decide(const int dir, const struct mb_identity *peer,
                                        const struct mb_decision_input *in) {
  return dir == MB_DIR_INGRESS ? mb_decide_ingress(peer, in) : mb_decide_egress(peer, in);
}

/* Acts on the decision about a new flow's packet: a deny, or a verdict no
 * kind acts on (MB_VERDICT_REDIRECT, MB_VERDICT_L7 without the socket
 * layer), is counted and reported as denied and returned as
 * MB_VERDICT_DENY, so only the datapath's own rewrites (lib/dns_refuse.h)
 * ever leave mb_process as another verdict; an allow is counted, reported
 * and tracked. MB_VERDICT_L7 is an allow of the connection when
 * mb_config.flags has MB_CONFIG_SOCKETS (the socket layer decides its
 * requests): tracked with MB_CT_L7. MB_VERDICT_PROCESS is an allow of a
 * flow the endpoint sends from a socket whose call the socket-call
 * programs let through (lib/process.h), else a drop counted under
 * MB_REASON_PROCESS_UNAPPROVED. `l2` is the kind's (a constant). */
static __always_inline int mb_decided(mb_ctx_t *ctx, const struct mb_pkt *pkt, const int dir,
                                      const struct mb_decision *out, mb_u64 now, const int l2) {
  int l7 = out->verdict == MB_VERDICT_L7 && (mb_config.flags & MB_CONFIG_SOCKETS);
  int process = out->verdict == MB_VERDICT_PROCESS;
  if (process && (dir != MB_DIR_EGRESS || !mb_process_approved(ctx, pkt, l2))) {
    /* A raw or packet socket, one opened before the rules, or one whose
     * call went past no socket-call program: no rule allows it. */
    mb_count_reason(MB_REASON_PROCESS_UNAPPROVED);
    mb_count_rule(0, pkt->len);
    mb_emit(MB_EVENT_DENY, dir, 0, pkt, now);
    return MB_VERDICT_DENY;
  }
  if (l7 && dir == MB_DIR_EGRESS && (pkt->tcp_payload || pkt->fragment)) {
    /* Data before the socket layer has the socket (TCP Fast Open, a raw
     * socket): undecided (lib/l7_sent.h). */
    mb_count_reason(MB_REASON_L7_UNDECIDED);
    return MB_VERDICT_DENY;
  }
  if (out->verdict != MB_VERDICT_ALLOW && !l7 && !process) {
    mb_count_reason(out->rule_id ? MB_REASON_DENIED_RULE : MB_REASON_DENIED_DEFAULT);
    mb_count_rule(out->rule_id, pkt->len); /* rule 0 counts default deny */
    mb_emit(MB_EVENT_DENY, dir, out->rule_id, pkt, now);
    return MB_VERDICT_DENY;
  }

  if (out->enforced) {
    mb_count_reason(MB_REASON_ALLOWED_NEW);
    mb_count_rule(out->rule_id, pkt->len);
  } else {
    /* Open direction: nothing decided, so no rule to count. */
    mb_count_reason(MB_REASON_OPEN);
  }
  mb_emit(MB_EVENT_ALLOW, dir, out->rule_id, pkt, now);
  if (out->audit_would_deny)
    mb_emit(MB_EVENT_AUDIT, dir, out->audit_rule_id, pkt, now);
  mb_ct_create(pkt, dir, out->rule_id, out->audit_would_deny, l7, now);
  return MB_VERDICT_ALLOW;
}

#endif /* MB_LIB_DECIDE_H */
