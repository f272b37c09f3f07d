/* Queries, at egress: read the question's name (for the decision's
 * dns_query) and, once a rule with a dns condition allowed the query,
 * record it in mb_dns_pending so that its answer, and only its answer,
 * can teach addresses (lib/dns_response.h).
 *
 * A query the datapath reads is a standard query (QR 0, opcode QUERY) with
 * exactly one question whose name is readable (lib/dns_name.h) and which
 * fits in the message; over TCP it fills its segment. Anything else on a
 * DNS port is MB_DNS_MSG_BAD: a dns condition fails on it.
 */
#ifndef MB_LIB_DNS_QUERY_H
#define MB_LIB_DNS_QUERY_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/dns_maps.h"
#include "lib/dns_msg.h"
#include "lib/dns_name.h"
#include "lib/parse.h"

/* Reads the query in `pkt`: MB_DNS_MSG_QUERY with its name in `s->name`
 * (and copied to `s->pending.name`, which `s->name` may be reused after)
 * and the question's end in `s->question_end`; MB_DNS_MSG_NONE for a TCP
 * segment without payload; MB_DNS_MSG_BAD. */
static __always_inline int mb_dns_read_query(mb_ctx_t *ctx, const struct mb_pkt *pkt, struct mb_dns_scratch *s) {
  int rc = mb_dns_load(ctx, pkt, s, 1);
  if (rc != MB_DNS_MSG_QUERY)
    return rc;

  const mb_u8 *msg = s->msg;
  mb_u32 end = s->msg_len;
  mb_u32 flags = mb_dns_u16(msg, MB_DNS_OFF_FLAGS);
  if ((flags & MB_DNS_FLAG_QR) || MB_DNS_OPCODE(flags) != 0 || mb_dns_u16(msg, MB_DNS_OFF_QDCOUNT) != 1)
    return MB_DNS_MSG_BAD;
  mb_u32 next = 0, hops = 0;
  if (mb_dns_read_name(msg, end, MB_DNS_HEADER_BYTES, &s->name, &s->walk, &next, &hops) < 0)
    return MB_DNS_MSG_BAD;
  if (next + 4 > end) /* QTYPE and QCLASS */
    return MB_DNS_MSG_BAD;
  s->question_end = next + 4;
  __builtin_memcpy(s->pending.name, s->name.text, MB_DNS_NAME_BYTES);
  return MB_DNS_MSG_QUERY;
}

/* The pending key of a query as it leaves (`pkt` its packet, `id` its
 * message id as on the wire). A response's key is built by
 * mb_dns_response_key from the other side. */
static __always_inline void mb_dns_query_key(struct mb_dns_pending_key *k, const struct mb_pkt *pkt, mb_u16 id) {
  __builtin_memset(k, 0, sizeof(*k));
  k->endpoint = pkt->endpoint;
  k->family = pkt->t.family;
  k->proto = pkt->t.proto;
  k->id = id;
  k->client_port = pkt->t.sport;
  k->resolver_port = pkt->t.dport;
  __builtin_memcpy(k->client, pkt->t.saddr, 16);
  __builtin_memcpy(k->resolver, pkt->t.daddr, 16);
}

/* Records a query mb_dns_read_query read (its name in s->pending.name)
 * and a rule allowed: its answer may now teach, once, within
 * MB_DNS_PENDING_NS. A retransmission overwrites the record. */
static __always_inline void mb_dns_record_query(const struct mb_pkt *pkt, struct mb_dns_scratch *s, mb_u32 rule_id,
                                                mb_u64 now) {
  struct mb_dns_pending_key k;
  mb_u16 id;

  __builtin_memcpy(&id, s->msg, 2);
  mb_dns_query_key(&k, pkt, id);
  s->pending.expires_ns = now + MB_DNS_PENDING_NS;
  s->pending.rule_id = rule_id;
  s->pending.pad = 0;
  if (bpf_map_update_elem(&mb_dns_pending, &k, &s->pending, BPF_ANY) == 0)
    mb_dns_count(MB_DNS_STAT_RECORDED);
}

#endif /* MB_LIB_DNS_QUERY_H */
