/* Connection tracking: policy decides the first packet of a flow, conntrack
 * lets the rest of it (and its replies) through.
 *
 * One LRU hash, keyed by the tuple of the flow's first packet plus the
 * endpoint id (the same flow seen at both ends on one node is tracked once
 * per end). A packet matching the key as-is belongs to the original
 * direction; one matching the reversed key is a reply. Entries are created
 * for every new flow that passes, on open directions too, so a reply can
 * cross a direction that policy restricts.
 *
 * Timeouts: TCP stays at the SYN timeout until a reply is seen, then the
 * established one; FIN from both sides or any RST moves it to CLOSING, whose
 * short deadline is set once and not extended. Other protocols use the
 * "other" timeout, refreshed by every packet. An entry past its deadline
 * counts as missing (the LRU reclaims it; an allowed new flow overwrites it).
 */
#ifndef MB_LIB_CONNTRACK_H
#define MB_LIB_CONNTRACK_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/config.h"
#include "lib/parse.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct mb_ct_key);
  __type(value, struct mb_ct_entry);
  __uint(max_entries, MB_CONNTRACK_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_conntrack MB_MAPS;

static __always_inline void mb_ct_key_init(struct mb_ct_key *k, const struct mb_tuple *t, mb_u32 endpoint) {
  __builtin_memset(k, 0, sizeof(*k));
  __builtin_memcpy(k->saddr, t->saddr, 16);
  __builtin_memcpy(k->daddr, t->daddr, 16);
  k->sport = t->sport;
  k->dport = t->dport;
  k->proto = t->proto;
  k->family = t->family;
  k->endpoint = endpoint;
}

/* Turns a key into the key of the same flow seen from the other side. ICMP
 * echo keeps the id in sport both ways (dport is always 0), so only the
 * addresses swap. */
static __always_inline void mb_ct_key_reverse(struct mb_ct_key *k) {
  mb_u8 tmp[16];

  __builtin_memcpy(tmp, k->saddr, 16);
  __builtin_memcpy(k->saddr, k->daddr, 16);
  __builtin_memcpy(k->daddr, tmp, 16);
  if (!mb_is_icmp(k->family, k->proto)) {
    mb_u16 port = k->sport;
    k->sport = k->dport;
    k->dport = port;
  }
}

/* The live entry for `k`, or NULL (missing or expired). */
static __always_inline struct mb_ct_entry *mb_ct_get(const struct mb_ct_key *k, mb_u64 now) {
  struct mb_ct_entry *e = bpf_map_lookup_elem(&mb_conntrack, k);
  if (!e || e->expires_ns <= now)
    return NULL;
  return e;
}

/* A bare SYN on a closing connection opens a new one on the same tuple:
 * policy decides again instead of the old verdict carrying over. */
static __always_inline int mb_ct_reopens(const struct mb_ct_entry *e, const struct mb_pkt *pkt) {
  return e->state == MB_CT_CLOSING && pkt->t.proto == IPPROTO_TCP &&
         (pkt->tcp_flags & (MB_TCP_SYN | MB_TCP_ACK)) == MB_TCP_SYN;
}

/* Accounts a packet to its entry and advances the state machine. Plain
 * stores race benignly between CPUs; the counters use atomic adds. */
static __always_inline void mb_ct_touch(struct mb_ct_entry *e, const struct mb_pkt *pkt,
                                        int reply, mb_u64 now) {
  __sync_fetch_and_add(&e->packets, 1);
  __sync_fetch_and_add(&e->bytes, pkt->len);

  if (pkt->t.proto != IPPROTO_TCP) {
    if (reply)
      e->state = MB_CT_ESTABLISHED;
    e->expires_ns = now + MB_CT_TIMEOUT_OTHER;
    return;
  }

  if (e->state == MB_CT_CLOSING)
    return; /* the close deadline stands: only the tail of the flow remains */
  if (pkt->tcp_flags & MB_TCP_RST) {
    e->state = MB_CT_CLOSING;
    e->expires_ns = now + MB_CT_TIMEOUT_CLOSING;
    return;
  }
  if (pkt->tcp_flags & MB_TCP_FIN)
    e->flags |= reply ? MB_CT_FIN_REPLY : MB_CT_FIN_ORIG;
  if ((e->flags & (MB_CT_FIN_ORIG | MB_CT_FIN_REPLY)) == (MB_CT_FIN_ORIG | MB_CT_FIN_REPLY)) {
    e->state = MB_CT_CLOSING;
    e->expires_ns = now + MB_CT_TIMEOUT_CLOSING;
    return;
  }
  if (reply)
    e->state = MB_CT_ESTABLISHED;
  e->expires_ns = now + (e->state == MB_CT_ESTABLISHED ? MB_CT_TIMEOUT_TCP : MB_CT_TIMEOUT_TCP_SYN);
}

/* Looks the packet up in both orientations. Returns MB_REASON_ESTABLISHED or
 * MB_REASON_REPLY on a hit (the entry updated), or -1 for a new flow. */
static __always_inline int mb_ct_track_flags(const struct mb_pkt *pkt, mb_u64 now, mb_u8 *flags) {
  struct mb_ct_key k;
  struct mb_ct_entry *e;

  if (pkt->kind == MB_PKT_ICMP_OTHER || pkt->kind == MB_PKT_ICMP_ERROR)
    return -1; /* never tracked; errors are handled by mb_ct_related() */

  mb_ct_key_init(&k, &pkt->t, pkt->endpoint);
  /* An echo reply only ever answers a request, and a request never
   * answers anything: ICMP echo is looked up in one orientation only. */
  if (pkt->kind != MB_PKT_ECHO_REPLY) {
    e = mb_ct_get(&k, now);
    if (e) {
      if (!mb_ct_reopens(e, pkt)) {
        mb_ct_touch(e, pkt, 0, now);
        *flags = e->flags;
        return MB_REASON_ESTABLISHED;
      }
      bpf_map_delete_elem(&mb_conntrack, &k);
    }
  }
  if (pkt->kind != MB_PKT_ECHO_REQUEST) {
    mb_ct_key_reverse(&k);
    e = mb_ct_get(&k, now);
    if (e) {
      if (!mb_ct_reopens(e, pkt)) {
        mb_ct_touch(e, pkt, 1, now);
        *flags = e->flags;
        return MB_REASON_REPLY;
      }
      /* The peer reuses the tuple the other way round: drop the old entry
       * so it cannot shadow the new connection's. */
      bpf_map_delete_elem(&mb_conntrack, &k);
    }
  }
  return -1;
}

static __always_inline int mb_ct_track(const struct mb_pkt *pkt, mb_u64 now) {
  mb_u8 flags = 0;
  return mb_ct_track_flags(pkt, now, &flags);
}

/* ICMP errors about a tracked flow pass ("related"). The quoted packet is one
 * the error's receiver sent: if it went in the flow's original direction,
 * the error travels as a reply; if it was itself a reply, the error travels
 * in the original direction. Returns the reason, or -1 (not related). The
 * entry is left untouched: errors neither refresh nor close flows. */
static __always_inline int mb_ct_related(mb_ctx_t *ctx, const struct mb_pkt *pkt,
                                         mb_u64 now) {
  struct mb_tuple q;
  struct mb_ct_key k;
  mb_u8 qkind;

  if (mb_parse_icmp_quote(ctx, pkt, &q, &qkind) < 0)
    return -1;
  mb_ct_key_init(&k, &q, pkt->endpoint);
  if (qkind != MB_PKT_ECHO_REPLY && mb_ct_get(&k, now))
    return MB_REASON_REPLY;
  if (qkind != MB_PKT_ECHO_REQUEST) {
    mb_ct_key_reverse(&k);
    if (mb_ct_get(&k, now))
      return MB_REASON_ESTABLISHED;
  }
  return -1;
}

/* Starts tracking a flow that policy (or an open direction) let through. */
static __always_inline void mb_ct_create(const struct mb_pkt *pkt, int dir, mb_u32 rule_id,
                                         int audit, int l7, mb_u64 now) {
  struct mb_ct_key k;
  struct mb_ct_entry e;

  /* Only flows and ICMP echo requests have replies worth tracking. */
  if (pkt->kind != MB_PKT_FLOW && pkt->kind != MB_PKT_ECHO_REQUEST)
    return;
  /* A stray RST starts nothing. */
  if (pkt->t.proto == IPPROTO_TCP && (pkt->tcp_flags & MB_TCP_RST))
    return;

  mb_ct_key_init(&k, &pkt->t, pkt->endpoint);
  __builtin_memset(&e, 0, sizeof(e));
  e.expires_ns =
      now + (pkt->t.proto == IPPROTO_TCP ? MB_CT_TIMEOUT_TCP_SYN : MB_CT_TIMEOUT_OTHER);
  e.rule_id = rule_id;
  e.state = MB_CT_NEW;
  e.flags = (dir == MB_DIR_EGRESS ? MB_CT_EGRESS : 0) | (audit ? MB_CT_AUDIT : 0) | (l7 ? MB_CT_L7 : 0);
  e.packets = 1;
  e.bytes = pkt->len;
  bpf_map_update_elem(&mb_conntrack, &k, &e, BPF_ANY);
}

#endif /* MB_LIB_CONNTRACK_H */
