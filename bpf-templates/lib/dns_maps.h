/* DNS state: the pinned maps of runtime/abi/datapath.h (pending queries,
 * learned addresses, counters) and the per-CPU scratch memory the parser
 * works in.
 *
 * Scratch: a DNS message (up to MB_DNS_MSG_MAX bytes), names of 256 bytes
 * and a learned entry of about 1 KiB do not fit the 512-byte BPF stack, so
 * they live in a per-CPU array. A program in process context (cgroup
 * egress, run from sendmsg with softirqs enabled) can be interrupted on its
 * CPU by one in softirq (tc, cgroup ingress, or cgroup egress of a TCP
 * retransmission) that needs scratch too; softirqs do not nest. So each CPU
 * has MB_DNS_SCRATCH_DEPTH entries and a nesting count: mb_dns_enter takes
 * the next entry, mb_dns_leave gives it back. Nesting is strictly last in,
 * first out, so a plain per-CPU counter is exact. With no entry free the
 * caller fails closed (MB_DNS_STAT_BUSY).
 */
#ifndef MB_LIB_DNS_MAPS_H
#define MB_LIB_DNS_MAPS_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/dns_name.h"
#include "lib/parse.h"
#include "lib/scratch.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct mb_dns_pending_key);
  __type(value, struct mb_dns_pending);
  __uint(max_entries, MB_DNS_PENDING_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_dns_pending MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct mb_dns_learned_key);
  __type(value, struct mb_dns_learned);
  __uint(max_entries, MB_DNS_LEARNED_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_dns_learned MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u64);
  __uint(max_entries, MB_DNS_STAT_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_dns_stats MB_MAPS;

static __always_inline void mb_dns_count_n(mb_u32 stat, mb_u32 count) {
  mb_u64 *n = bpf_map_lookup_elem(&mb_dns_stats, &stat);
  if (n)
    *n += count;
}

static __always_inline void mb_dns_count(mb_u32 stat) { mb_dns_count_n(stat, 1); }

/* Chain names kept per response: the name asked and the CNAME targets it
 * leads to. Addresses of names further down a longer chain teach nothing. */
#define MB_DNS_CHAIN_MAX 8

/* An address an answer gave, kept until the whole response has been read:
 * a response teaches all its addresses or none. */
struct mb_dns_found {
  mb_u8 addr[16];
  mb_u32 ttl; /* seconds, as on the wire */
  mb_u32 family;
};

struct mb_dns_scratch {
  mb_u8 msg[MB_DNS_MSG_MAX]; /* the message, as far as it was copied */
  char chain[MB_DNS_CHAIN_MAX][MB_DNS_NAME_BYTES];
  struct mb_dns_learned learned; /* a learned entry being rewritten */
  struct mb_dns_pending pending; /* a pending record being written */
  struct mb_dns_found found[MB_DNS_RECORDS_MAX];
  struct mb_dns_name name; /* the name being read */
  struct mb_dns_walk walk; /* its walk */
  struct mb_dns_answers_state {
    mb_u32 pos;  /* the next record */
    mb_u32 end;
    mb_u32 left; /* records still to read */
    mb_u32 bad;
  } answers;
  mb_u32 tail_sum; /* lib/dns_refuse.h */
  mb_u16 chain_at[MB_DNS_CHAIN_MAX]; /* where each chain name starts in msg (0: unknown) */
  mb_u16 chain_len[MB_DNS_CHAIN_MAX];
  mb_u32 chain_count;
  mb_u32 found_count;
  mb_u32 msg_len;  /* bytes of the message in the packet */
  mb_u32 msg_off;  /* where it starts in the packet */
  mb_u32 question_end; /* offset in msg after the question */
};

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, struct mb_dns_scratch);
  __uint(max_entries, MB_DNS_SCRATCH_DEPTH);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_dns_scratch MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u32);
  __uint(max_entries, 1);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_dns_nesting MB_MAPS;

/* This CPU's next free scratch entry, or NULL (counted: the caller fails
 * closed). Every non-NULL return is paired with mb_dns_leave(). */
static __always_inline struct mb_dns_scratch *mb_dns_enter(void) {
  struct mb_dns_scratch *s = mb_scratch_enter(&mb_dns_nesting, &mb_dns_scratch, MB_DNS_SCRATCH_DEPTH);
  if (!s)
    mb_dns_count(MB_DNS_STAT_BUSY);
  return s;
}

static __always_inline void mb_dns_leave(void) { mb_scratch_leave(&mb_dns_nesting); }

/* The class's DNS tables, generated beside the decision (decision.c). */
extern volatile const mb_u32 mb_dns_class_features;
extern mb_u64 mb_dns_match(const struct mb_dns_name *name);
extern int mb_dns_port(int proto, int port);

static __always_inline int mb_dns_feature(mb_u32 feature) { return (mb_dns_class_features & feature) != 0; }

/* Whether `pkt` travels on a port a dns condition covers: its destination
 * port at egress (a query), its source port at ingress (a response). Only
 * TCP and UDP, and only packets whose L4 header was read here (a non-first
 * fragment borrowed its ports and has none). */
static __always_inline int mb_dns_on_port(const struct mb_pkt *pkt, const int dir) {
  if (!mb_dns_feature(MB_DNS_F_QUERIES))
    return 0;
  if ((pkt->t.proto != IPPROTO_UDP && pkt->t.proto != IPPROTO_TCP) || !pkt->l4_off)
    return 0;
  mb_u16 port = bpf_ntohs(dir == MB_DIR_EGRESS ? pkt->t.dport : pkt->t.sport);
  return mb_dns_port(pkt->t.proto, port);
}

#endif /* MB_LIB_DNS_MAPS_H */
