/* A refused lookup answered at once: the datapath turns the UDP query, in
 * place, into the response a resolver would send for it with RCODE 5
 * (REFUSED), and the tc entry point sends it back into the endpoint
 * (MB_VERDICT_REDIRECT). The client gets its answer in microseconds instead
 * of waiting for a timeout.
 *
 * The rewrite: Ethernet addresses, IP addresses and UDP ports swapped; QR
 * set, opcode and RD kept, AA, TC, RA, Z, AD and CD cleared, RCODE 5; the
 * question kept as sent (same id, same case); the answer, authority and
 * additional counts 0 and everything after the question cut off (an EDNS0
 * OPT record among it). IPv4's header checksum and the UDP checksum are
 * updated incrementally with the kernel's helpers, which also do the right
 * thing for a checksum the stack has not filled in yet (CHECKSUM_PARTIAL)
 * and keep IPv4's "no checksum" 0. Swapping addresses and ports leaves
 * both sums as they were; the lengths, the header words and the cut bytes
 * change them.
 *
 * tc only: it needs the Ethernet header and helpers cgroup_skb programs
 * do not have. Queries over TCP are not answered this way (they are
 * dropped: the connection times out), nor IPv6 queries with extension
 * headers.
 */
#ifndef MB_LIB_DNS_REFUSE_H
#define MB_LIB_DNS_REFUSE_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/dns_maps.h"
#include "lib/dns_msg.h"
#include "lib/parse.h"

/* Kept from the query: opcode (bits 14-11) and RD (bit 8). */
#define MB_DNS_REFUSE_KEEP 0x7900

struct mb_dns_tail_ctx {
  struct mb_dns_scratch *s;
  mb_u32 from;
  mb_u32 to;
};

/* Adds byte `from + index` to the one's-complement sum (s->tail_sum: map
 * memory, see struct mb_dns_walk) as the high or low half of its 16-bit
 * word. The message starts 8 bytes into the UDP header, so its offsets have
 * the parity they have in the checksummed data. */
static long mb_dns_tail_sum_step(mb_u64 index, void *vctx) {
  struct mb_dns_tail_ctx *t = vctx;
  mb_u32 off = t->from + (mb_u32)index;
  if (off >= t->to)
    return 1;
  mb_u32 b = mb_dns_u8(t->s->msg, off);
  t->s->tail_sum += off & 1 ? b : b << 8;
  return 0;
}

/* Rewrites the UDP query that mb_dns_read_query read into `s` into its
 * REFUSED response. Returns 0, or -1 if a helper failed (the packet may be
 * half rewritten: the caller drops it). */
static __always_inline int mb_dns_refuse(mb_ctx_t *ctx, const struct mb_pkt *pkt, struct mb_dns_scratch *s) {
  const mb_u32 l3 = ETH_HLEN;
  mb_u32 l4 = pkt->l4_off, csum = l4 + 6;
  mb_u32 old_len = s->msg_len, new_len = s->question_end;
  if (new_len > old_len || new_len < MB_DNS_HEADER_BYTES || new_len > MB_DNS_MSG_MAX)
    return -1;
  mb_u32 cut = old_len - new_len;
  mb_u8 b[16];
  /* IPv6 extension headers (a routing header's addresses, say) would need
   * more than swapping the fixed header's: such a query is just dropped. */
  if (pkt->t.family == MB_FAMILY_V6 && l4 != l3 + sizeof(struct mb_ipv6hdr))
    return -1;

  /* Ethernet: back to whoever sent it. */
  if (mb_ctx_load_bytes(ctx, 0, b, 12) < 0)
    return -1;
  if (mb_ctx_store_bytes(ctx, 0, b + 6, 6) < 0 || mb_ctx_store_bytes(ctx, 6, b, 6) < 0)
    return -1;

  /* IP: addresses swapped, length shortened by the cut. */
  if (mb_ctx_load_bytes(ctx, l3 + (pkt->t.family == MB_FAMILY_V4 ? 2 : 4), b, 2) < 0)
    return -1;
  mb_u16 old_ip = ((mb_u16)b[0] << 8) | b[1];
  mb_u16 new_ip = old_ip - (mb_u16)cut;
  mb_u16 old_ip_be = bpf_htons(old_ip), new_ip_be = bpf_htons(new_ip);
  if (pkt->t.family == MB_FAMILY_V4) {
    if (mb_ctx_store_bytes(ctx, l3 + 12, pkt->t.daddr, 4) < 0 || mb_ctx_store_bytes(ctx, l3 + 16, pkt->t.saddr, 4) < 0 ||
        mb_ctx_l3_csum_replace(ctx, l3 + 10, old_ip_be, new_ip_be, 2) < 0 ||
        mb_ctx_store_bytes(ctx, l3 + 2, &new_ip_be, 2) < 0)
      return -1;
  } else {
    if (mb_ctx_store_bytes(ctx, l3 + 8, pkt->t.daddr, 16) < 0 || mb_ctx_store_bytes(ctx, l3 + 24, pkt->t.saddr, 16) < 0 ||
        mb_ctx_store_bytes(ctx, l3 + 4, &new_ip_be, 2) < 0)
      return -1;
  }

  /* UDP: ports swapped; the length is in the header and the pseudo-header. */
  mb_u16 old_udp_be = bpf_htons(8 + old_len), new_udp_be = bpf_htons(8 + new_len);
  if (mb_ctx_store_bytes(ctx, l4, &pkt->t.dport, 2) < 0 || mb_ctx_store_bytes(ctx, l4 + 2, &pkt->t.sport, 2) < 0 ||
      mb_ctx_l4_csum_replace(ctx, csum, old_udp_be, new_udp_be, BPF_F_MARK_MANGLED_0 | BPF_F_PSEUDO_HDR | 2) < 0 ||
      mb_ctx_l4_csum_replace(ctx, csum, old_udp_be, new_udp_be, BPF_F_MARK_MANGLED_0 | 2) < 0 ||
      mb_ctx_store_bytes(ctx, l4 + 4, &new_udp_be, 2) < 0)
    return -1;

  /* DNS header: flags and the three counts after QDCOUNT. */
  mb_u16 old_hdr[4], new_hdr[4];
  __builtin_memcpy(old_hdr, s->msg + MB_DNS_OFF_FLAGS, 2);
  __builtin_memcpy(&old_hdr[1], s->msg + MB_DNS_OFF_ANCOUNT, 6);
  mb_u32 flags = mb_dns_u16(s->msg, MB_DNS_OFF_FLAGS);
  new_hdr[0] = bpf_htons((flags & MB_DNS_REFUSE_KEEP) | MB_DNS_FLAG_QR | MB_DNS_RCODE_REFUSED);
  new_hdr[1] = new_hdr[2] = new_hdr[3] = 0;
#pragma unroll
  for (int i = 0; i < 4; i++)
    if (mb_ctx_l4_csum_replace(ctx, csum, old_hdr[i], new_hdr[i], BPF_F_MARK_MANGLED_0 | 2) < 0)
      return -1;
  if (mb_ctx_store_bytes(ctx, s->msg_off + MB_DNS_OFF_FLAGS, &new_hdr[0], 2) < 0 ||
      mb_ctx_store_bytes(ctx, s->msg_off + MB_DNS_OFF_ANCOUNT, &new_hdr[1], 6) < 0)
    return -1;

  /* What is cut off leaves the sum: add its one's complement. */
  if (cut) {
    struct mb_dns_tail_ctx t = {.s = s, .from = new_len, .to = old_len};
    s->tail_sum = 0;
    bpf_loop(MB_DNS_MSG_MAX, mb_dns_tail_sum_step, &t, 0);
    /* The kernel keeps sums as the words lie in memory: fold ours to 16
     * bits and put it in that order. */
    mb_u32 sum = s->tail_sum;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    mb_u32 diff = ~(mb_u32)bpf_htons((mb_u16)sum);
    if (mb_ctx_l4_csum_replace(ctx, csum, 0, diff, BPF_F_MARK_MANGLED_0) < 0)
      return -1;
    if (mb_ctx_change_tail(ctx, s->msg_off + new_len) < 0)
      return -1;
  }
  return 0;
}

#endif /* MB_LIB_DNS_REFUSE_H */
