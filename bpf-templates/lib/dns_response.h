/* Responses, at ingress (before the endpoint receives them): learn the
 * addresses they give for a name the endpoint asked.
 *
 * A response teaches only if it answers a query lib/dns_query.h recorded:
 * same endpoint, addresses, ports, protocol and message id (the pending
 * key), unexpired, and the same question name. The record is deleted then:
 * it is used once. A response with an error RCODE teaches nothing.
 *
 * The answer section is read record by record (at most
 * MB_DNS_RECORDS_MAX): an A or AAAA record of class IN teaches its address
 * if its owner is the name asked or a name a CNAME record earlier in the
 * section led to from it (at most MB_DNS_CHAIN_MAX names per response);
 * every address is credited to the name asked. Other records are skipped;
 * the authority and additional sections (EDNS0's OPT record among them)
 * are not read. The whole section is read before anything is learned: a
 * response with an unreadable record teaches nothing.
 *
 * An address lives for its record's TTL, between MB_DNS_TTL_FLOOR_S and
 * MB_DNS_TTL_CAP_S, in mb_dns_learned under (endpoint, family, address),
 * which remembers up to MB_DNS_SLOTS names: the same name again extends
 * its deadline (never shortens it); a new name takes an expired slot, or
 * else the one expiring first. A rewritten entry replaces the old one with
 * one map update, so a reader never sees a half-written name.
 */
#ifndef MB_LIB_DNS_RESPONSE_H
#define MB_LIB_DNS_RESPONSE_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/dns_maps.h"
#include "lib/dns_msg.h"
#include "lib/dns_name.h"
#include "lib/parse.h"

/* 1 if the name at `pos` is in the chain, 0 if not, -1 unreadable; `*next`
 * gets the offset after it. A pointer to where a chain name was read is
 * that name (the common case: every owner a pointer to the question), with
 * no walk; any other name is read and compared. */
static __always_inline int mb_dns_owner_in_chain(struct mb_dns_scratch *s, mb_u32 pos, mb_u32 end, mb_u32 *next) {
  mb_u32 b = mb_dns_u8(s->msg, pos);
  if ((b & 0xc0) == 0xc0 && pos + 1 < end) {
    mb_u32 target = ((b & 0x3f) << 8) | mb_dns_u8(s->msg, pos + 1);
#pragma unroll
    for (mb_u32 k = 0; k < MB_DNS_CHAIN_MAX; k++) {
      if (k < s->chain_count && s->chain_at[k] && s->chain_at[k] == target && target < pos) {
        *next = pos + 2;
        return 1;
      }
    }
  }
  mb_u32 hops = 0;
  if (mb_dns_read_name(s->msg, end, pos, &s->name, &s->walk, next, &hops) < 0)
    return -1;
  mb_u32 len = s->name.len;
#pragma unroll
  for (mb_u32 k = 0; k < MB_DNS_CHAIN_MAX; k++)
    if (k < s->chain_count && s->chain_len[k] == len && mb_dns_text_eq(s->name.text, s->chain[k]))
      return 1;
  return 0;
}

/* What an answer step reads: the scratch pointer, the same every step; the
 * loop's state is s->answers (map memory: see struct mb_dns_walk). */
struct mb_dns_loop_ctx {
  struct mb_dns_scratch *s;
  mb_u64 now;
  mb_u32 endpoint; /* whose response it is */
};

static long mb_dns_answer_step(mb_u64 index, void *vctx) {
  struct mb_dns_loop_ctx *c = vctx;
  struct mb_dns_scratch *s = c->s;
  struct mb_dns_answers_state *r = &s->answers;
  mb_u32 end = r->end, pos = r->pos, next = 0;
  (void)index;

  if (!r->left)
    return 1;
  r->left--;
  if (pos >= end || end > MB_DNS_MSG_MAX)
    goto bad;
  int owned = mb_dns_owner_in_chain(s, pos, end, &next);
  if (owned < 0)
    goto bad;
  pos = next;
  if (pos + 10 > end)
    goto bad;
  mb_u32 type = mb_dns_u16(s->msg, pos), class = mb_dns_u16(s->msg, pos + 2);
  mb_u32 ttl = mb_dns_u32(s->msg, pos + 4), rdlen = mb_dns_u16(s->msg, pos + 8);
  pos += 10;
  if (pos + rdlen > end)
    goto bad;
  r->pos = pos + rdlen;
  if (!owned || class != MB_DNS_CLASS_IN)
    return 0;

  if ((type == MB_DNS_TYPE_A && rdlen == 4) || (type == MB_DNS_TYPE_AAAA && rdlen == 16)) {
    mb_u32 i = s->found_count;
    if (i >= MB_DNS_RECORDS_MAX)
      return 0;
    struct mb_dns_found *f = &s->found[i & (MB_DNS_RECORDS_MAX - 1)];
    __builtin_memset(f, 0, sizeof(*f));
    /* rdlen is 4 or 16: read both as 16 bytes, zeroing IPv4's tail. */
#pragma unroll
    for (mb_u32 b = 0; b < 16; b++)
      f->addr[b] = b < rdlen ? (mb_u8)mb_dns_u8(s->msg, pos + b) : 0;
    f->family = rdlen == 4 ? MB_FAMILY_V4 : MB_FAMILY_V6;
    f->ttl = ttl;
    s->found_count = i + 1;
  } else if (type == MB_DNS_TYPE_CNAME) {
    mb_u32 hops = 0, after = 0;
    if (mb_dns_read_name(s->msg, end, pos, &s->name, &s->walk, &after, &hops) < 0 || after != pos + rdlen)
      goto bad;
    mb_u32 k = s->chain_count;
    if (k >= MB_DNS_CHAIN_MAX)
      return 0;
    __builtin_memcpy(s->chain[k & (MB_DNS_CHAIN_MAX - 1)], s->name.text, MB_DNS_NAME_BYTES);
    s->chain_len[k & (MB_DNS_CHAIN_MAX - 1)] = s->name.len;
    /* A pointer to here reads this name with one hop more. */
    s->chain_at[k & (MB_DNS_CHAIN_MAX - 1)] = hops < MB_DNS_POINTER_HOPS ? (mb_u16)pos : 0;
    s->chain_count = k + 1;
  }
  return 0;
bad:
  r->bad = 1;
  return 1;
}

static __always_inline mb_u64 mb_dns_ttl_ns(mb_u32 ttl) {
  if (ttl & 0x80000000u) /* RFC 2181 8: a TTL with the top bit set is 0 */
    ttl = 0;
  if (ttl < MB_DNS_TTL_FLOOR_S)
    ttl = MB_DNS_TTL_FLOOR_S;
  if (ttl > MB_DNS_TTL_CAP_S)
    ttl = MB_DNS_TTL_CAP_S;
  return (mb_u64)ttl * 1000000000ull;
}

/* Learns found address `index` under the name asked (s->chain[0]). */
static long mb_dns_learn_step(mb_u64 index, void *vctx) {
  struct mb_dns_loop_ctx *c = vctx;
  struct mb_dns_scratch *s = c->s;
  mb_u64 now = c->now;
  mb_u32 i = (mb_u32)index;
  struct mb_dns_learned_key key;

  if (i >= s->found_count || i >= MB_DNS_RECORDS_MAX)
    return 1;
  struct mb_dns_found *f = &s->found[i & (MB_DNS_RECORDS_MAX - 1)];
  __builtin_memset(&key, 0, sizeof(key));
  key.endpoint = c->endpoint;
  key.family = f->family;
  __builtin_memcpy(key.addr, f->addr, 16);
  mb_u64 expires = now + mb_dns_ttl_ns(f->ttl);

  struct mb_dns_learned *old = bpf_map_lookup_elem(&mb_dns_learned, &key);
  if (old) {
    /* The name again: only its deadline moves, an 8-byte store. */
#pragma unroll
    for (mb_u32 j = 0; j < MB_DNS_SLOTS; j++) {
      if (mb_dns_text_eq(s->chain[0], old->slot[j].name)) {
        if (old->slot[j].expires_ns < expires) {
          old->slot[j].learned_ns = now;
          old->slot[j].expires_ns = expires;
        }
        return 0;
      }
    }
    /* Slot by slot: clang expands copies of this size only in pieces. */
#pragma unroll
    for (mb_u32 j = 0; j < MB_DNS_SLOTS; j++)
      __builtin_memcpy(&s->learned.slot[j], &old->slot[j], sizeof(old->slot[j]));
  } else {
#pragma unroll
    for (mb_u32 j = 0; j < MB_DNS_SLOTS; j++) {
      s->learned.slot[j].expires_ns = 0;
      s->learned.slot[j].learned_ns = 0;
      __builtin_memset(s->learned.slot[j].name, 0, MB_DNS_NAME_BYTES);
      /* Keeps clang from merging the slots into one memset too large for
       * BPF to expand. */
      asm volatile("" ::: "memory");
    }
  }
  /* An empty or expired slot, else the one expiring first. */
  mb_u32 victim = 0;
#pragma unroll
  for (mb_u32 j = 0; j < MB_DNS_SLOTS; j++) {
    mb_u64 e = s->learned.slot[j].expires_ns;
    if (e <= now) {
      victim = j;
      break;
    }
    if (e < s->learned.slot[victim & (MB_DNS_SLOTS - 1)].expires_ns)
      victim = j;
  }
  struct mb_dns_learned_slot *slot = &s->learned.slot[victim & (MB_DNS_SLOTS - 1)];
  slot->expires_ns = expires;
  slot->learned_ns = now;
  __builtin_memcpy(slot->name, s->chain[0], MB_DNS_NAME_BYTES);
  bpf_map_update_elem(&mb_dns_learned, &key, &s->learned, BPF_ANY);
  return 0;
}

/* Reads the response in `pkt` (on a DNS port at ingress) and learns from it
 * what it may teach; counts what happened (MB_DNS_STAT_*). The packet's
 * fate is conntrack's and policy's, as for any other. */
static __always_inline void mb_dns_read_response(mb_ctx_t *ctx, const struct mb_pkt *pkt, struct mb_dns_scratch *s,
                                                 mb_u64 now) {
  int rc = mb_dns_load(ctx, pkt, s, 0);
  if (rc == MB_DNS_MSG_NONE)
    return;
  if (rc != MB_DNS_MSG_QUERY)
    goto unreadable;

  const mb_u8 *msg = s->msg;
  mb_u32 end = s->msg_len;
  mb_u32 flags = mb_dns_u16(msg, MB_DNS_OFF_FLAGS);
  if (!(flags & MB_DNS_FLAG_QR) || MB_DNS_OPCODE(flags) != 0 || mb_dns_u16(msg, MB_DNS_OFF_QDCOUNT) != 1)
    goto unreadable;

  /* The query it claims to answer, seen from the endpoint. */
  struct mb_dns_pending_key k;
  mb_u16 id;
  __builtin_memcpy(&id, s->msg, 2);
  __builtin_memset(&k, 0, sizeof(k));
  k.endpoint = pkt->endpoint;
  k.family = pkt->t.family;
  k.proto = pkt->t.proto;
  k.id = id;
  k.client_port = pkt->t.dport;
  k.resolver_port = pkt->t.sport;
  __builtin_memcpy(k.client, pkt->t.daddr, 16);
  __builtin_memcpy(k.resolver, pkt->t.saddr, 16);
  struct mb_dns_pending *p = bpf_map_lookup_elem(&mb_dns_pending, &k);
  if (!p || p->expires_ns <= now) {
    /* The datapath's own REFUSED answers (lib/dns_refuse.h) come this way
     * into the endpoint: they answer no recorded query, but are not
     * unsolicited. (A forged one teaches nothing either way.) */
    if (MB_DNS_RCODE(flags) != MB_DNS_RCODE_REFUSED)
      mb_dns_count(MB_DNS_STAT_UNSOLICITED);
    return;
  }

  mb_u32 next = 0, hops = 0;
  if (mb_dns_read_name(msg, end, MB_DNS_HEADER_BYTES, &s->name, &s->walk, &next, &hops) < 0 || next + 4 > end)
    goto unreadable;
  mb_u32 len = s->name.len;
  if (!mb_dns_text_eq(s->name.text, p->name)) {
    /* Not the question asked: the record stays for the real answer. */
    mb_dns_count(MB_DNS_STAT_UNSOLICITED);
    return;
  }
  bpf_map_delete_elem(&mb_dns_pending, &k);
  if (MB_DNS_RCODE(flags) != 0)
    goto nothing;

  __builtin_memcpy(s->chain[0], s->name.text, MB_DNS_NAME_BYTES);
  s->chain_len[0] = len;
  s->chain_at[0] = hops < MB_DNS_POINTER_HOPS ? MB_DNS_HEADER_BYTES : 0;
  s->chain_count = 1;
  s->found_count = 0;

  mb_u32 answers = mb_dns_u16(msg, MB_DNS_OFF_ANCOUNT);
  if (answers > MB_DNS_RECORDS_MAX) {
    mb_dns_count(MB_DNS_STAT_OVER_LIMIT);
    answers = MB_DNS_RECORDS_MAX;
  }
  struct mb_dns_loop_ctx c = {.s = s, .now = now, .endpoint = pkt->endpoint};
  s->answers.pos = next + 4;
  s->answers.end = end;
  s->answers.left = answers;
  s->answers.bad = 0;
  bpf_loop(MB_DNS_RECORDS_MAX, mb_dns_answer_step, &c, 0);
  if (s->answers.bad)
    goto unreadable;
  mb_u32 found = s->found_count;
  if (!found)
    goto nothing;
  bpf_loop(MB_DNS_RECORDS_MAX, mb_dns_learn_step, &c, 0);
  mb_dns_count(MB_DNS_STAT_LEARNED);
  mb_dns_count_n(MB_DNS_STAT_ADDRESSES, found);
  return;
nothing:
  mb_dns_count(MB_DNS_STAT_NOTHING);
  return;
unreadable:
  mb_dns_count(MB_DNS_STAT_RESPONSE_UNREADABLE);
}

#endif /* MB_LIB_DNS_RESPONSE_H */
