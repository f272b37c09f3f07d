/* DNS in the per-packet flow (docs/dns.md): what lib/datapath.h calls.
 *
 *   egress, on a port a dns condition covers (mb_dns_on_port):
 *     mb_dns_query   read the query, decide it by its name (every query:
 *                    no conntrack shortcut), record it if a rule with a dns
 *                    condition allowed it, track the flow so replies pass;
 *                    a UDP query denied for its name alone is answered
 *                    REFUSED (tc) instead of dropped
 *   egress, any new flow:
 *     mb_dns_peer_bits  the pattern bits of the live names learned for the
 *                    destination, for the decision's dns_peer
 *   ingress, from a port a dns condition covers:
 *     mb_dns_response   learn from the response; the packet then goes on
 *                    through conntrack like any other
 *
 * Every piece is behind mb_dns_class_features, a constant in the frozen
 * .rodata: in a class without DNS rules the verifier prunes all of it.
 */
#ifndef MB_LIB_DNS_H
#define MB_LIB_DNS_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/decide.h"
#include "lib/dns_maps.h"
#include "lib/dns_name.h"
#include "lib/dns_query.h"
#include "lib/dns_refuse.h"
#include "lib/dns_response.h"
#include "lib/events.h"
#include "lib/parse.h"

/* The bits of mb_dns_match for every live name learned for `pkt`'s
 * destination by this endpoint; 0 without any. Uses `s` if the caller has
 * scratch memory (its name is overwritten), else takes its own. */
static __always_inline mb_u64 mb_dns_peer_bits(const struct mb_pkt *pkt, struct mb_dns_scratch *s, mb_u64 now) {
  struct mb_dns_learned_key key;

  if (!mb_dns_feature(MB_DNS_F_NAMES))
    return 0;
  __builtin_memset(&key, 0, sizeof(key));
  key.endpoint = pkt->endpoint;
  key.family = pkt->t.family;
  __builtin_memcpy(key.addr, pkt->t.daddr, 16);
  struct mb_dns_learned *v = bpf_map_lookup_elem(&mb_dns_learned, &key);
  if (!v)
    return 0;
  struct mb_dns_scratch *own = s ? NULL : mb_dns_enter();
  struct mb_dns_scratch *use = s ? s : own;
  if (!use)
    return 0; /* no memory: no names (fail closed) */
  mb_u64 bits = 0;
#pragma unroll
  for (mb_u32 j = 0; j < MB_DNS_SLOTS; j++)
    if (v->slot[j].expires_ns > now && mb_dns_name_from_text(v->slot[j].name, &use->name, &use->walk) == 0)
      bits |= mb_dns_match(&use->name);
  if (own)
    mb_dns_leave();
  return bits;
}

/* A query leaving the endpoint on a DNS port (TCP segments without payload
 * included): decided with its name, whatever conntrack knows. Returns the
 * packet's MB_VERDICT_*: ALLOW, DENY, or REDIRECT when it was rewritten into
 * its REFUSED response (`l2` only: tc). */
static __always_inline int mb_dns_query(mb_ctx_t *ctx, const struct mb_pkt *pkt, const int l2, mb_u64 now) {
  struct mb_decision_input in;
  struct mb_decision out;
  int verdict;

  __builtin_memset(&in, 0, sizeof(in));
  struct mb_dns_scratch *s = mb_dns_enter();
  in.dns = s ? mb_dns_read_query(ctx, pkt, s) : MB_DNS_MSG_BAD;
  if (s && in.dns == MB_DNS_MSG_QUERY) {
    mb_dns_count(MB_DNS_STAT_QUERY);
    in.dns_query = mb_dns_match(&s->name);
  } else if (in.dns == MB_DNS_MSG_BAD) {
    mb_dns_count(MB_DNS_STAT_QUERY_UNREADABLE);
  }
  struct mb_identity *peer = mb_decision_input_init(&in, pkt, MB_DIR_EGRESS);
  in.dns_peer = mb_dns_peer_bits(pkt, s, now);
  mb_u64 result = mb_decide_egress(peer, &in);
  mb_unpack_decision(result, &out);

  if (out.verdict == MB_VERDICT_ALLOW) {
    if (s && in.dns == MB_DNS_MSG_QUERY && (result & MB_RESULT_DNS_LEARN))
      mb_dns_record_query(pkt, s, out.rule_id, now);
    /* A later packet of a tracked flow (a TCP connection's segments, the
     * next query from the same socket) passes as such, once allowed. */
    int reason = mb_ct_track(pkt, now);
    if (reason >= 0) {
      mb_count_reason(reason);
      verdict = MB_VERDICT_ALLOW;
    } else {
      verdict = mb_decided(ctx, pkt, MB_DIR_EGRESS, &out, now, l2);
    }
  } else if (l2 && s && in.dns == MB_DNS_MSG_QUERY && pkt->t.proto == IPPROTO_UDP) {
    /* Denied: was it for the name? Then any name would have passed. */
    struct mb_decision any;
    in.dns_query = ~0ull;
    mb_unpack_decision(mb_decide_egress(peer, &in), &any);
    if (any.verdict == MB_VERDICT_ALLOW && mb_dns_refuse(ctx, pkt, s) == 0) {
      mb_count_reason(MB_REASON_DNS_REFUSED);
      mb_count_rule(out.rule_id, pkt->len);
      mb_emit(MB_EVENT_DNS_REFUSED, MB_DIR_EGRESS, out.rule_id, pkt, now);
      /* The answer goes out of the veth again, through the endpoint's
       * ingress program: tracking the query's flow lets it pass there as
       * a reply, as a resolver's answer would. */
      mb_ct_create(pkt, MB_DIR_EGRESS, out.rule_id, 0, 0, now);
      verdict = MB_VERDICT_REDIRECT;
    } else {
      verdict = mb_decided(ctx, pkt, MB_DIR_EGRESS, &out, now, l2);
    }
  } else {
    verdict = mb_decided(ctx, pkt, MB_DIR_EGRESS, &out, now, l2);
  }
  if (s)
    mb_dns_leave();
  return verdict;
}

/* A packet arriving from a DNS port: learn what its response may teach. */
static __always_inline void mb_dns_response(mb_ctx_t *ctx, const struct mb_pkt *pkt, mb_u64 now) {
  struct mb_dns_scratch *s = mb_dns_enter();
  if (!s)
    return; /* counted as MB_DNS_STAT_BUSY; teaches nothing */
  mb_dns_read_response(ctx, pkt, s, now);
  mb_dns_leave();
}

#endif /* MB_LIB_DNS_H */
