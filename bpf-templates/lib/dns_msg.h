/* A DNS message in a packet: where it starts, how long it is, and its copy
 * into scratch memory (lib/dns_maps.h) for the readers of queries
 * (lib/dns_query.h) and responses (lib/dns_response.h).
 *
 * UDP: the datagram's payload, by the UDP length field (not the packet's,
 * which may carry Ethernet padding). TCP: a message must start its segment
 * with its two-byte length and fit in it (RFC 7766 framing); a segment
 * without payload carries no message. Anything else on a DNS port is not a
 * message the datapath reads.
 */
#ifndef MB_LIB_DNS_MSG_H
#define MB_LIB_DNS_MSG_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/dns_maps.h"
#include "lib/parse.h"

/* Header fields (RFC 1035 4.1.1), offsets in the message. */
#define MB_DNS_OFF_FLAGS 2
#define MB_DNS_OFF_QDCOUNT 4
#define MB_DNS_OFF_ANCOUNT 6
#define MB_DNS_OFF_NSCOUNT 8
#define MB_DNS_OFF_ARCOUNT 10
#define MB_DNS_FLAG_QR 0x8000
#define MB_DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define MB_DNS_RCODE(flags) ((flags) & 0xf)
#define MB_DNS_RCODE_REFUSED 5

#define MB_DNS_CLASS_IN 1
#define MB_DNS_TYPE_A 1
#define MB_DNS_TYPE_CNAME 5
#define MB_DNS_TYPE_AAAA 28

/* Copies the message of `pkt` into `s->msg`. `whole`: the message must fit
 * in the copy and, over TCP, fill the segment exactly (a query: nothing may
 * ride along undecided); otherwise the first MB_DNS_MSG_MAX bytes are
 * copied and `s->msg_len` says how many. Returns MB_DNS_MSG_QUERY when a
 * message is there (query or response alike), MB_DNS_MSG_NONE for a TCP
 * segment without payload, MB_DNS_MSG_BAD otherwise. */
static __always_inline int mb_dns_load(mb_ctx_t *ctx, const struct mb_pkt *pkt, struct mb_dns_scratch *s,
                                       int whole) {
  mb_u32 off = pkt->l4_off, len;
  mb_u8 h[14];

  if (pkt->t.proto == IPPROTO_UDP) {
    if (mb_ctx_load_bytes(ctx, off, h, 8) < 0)
      return MB_DNS_MSG_BAD;
    mb_u32 ulen = ((mb_u32)h[4] << 8) | h[5];
    if (ulen < 8 || off + ulen > pkt->len)
      return MB_DNS_MSG_BAD;
    off += 8;
    len = ulen - 8;
  } else {
    if (mb_ctx_load_bytes(ctx, off, h, 14) < 0)
      return MB_DNS_MSG_BAD;
    off += (mb_u32)(h[12] >> 4) * 4;
    if (off >= pkt->len)
      return off == pkt->len ? MB_DNS_MSG_NONE : MB_DNS_MSG_BAD;
    if (mb_ctx_load_bytes(ctx, off, h, 2) < 0)
      return MB_DNS_MSG_BAD;
    len = ((mb_u32)h[0] << 8) | h[1];
    off += 2;
    if (off + len > pkt->len || (whole && off + len != pkt->len))
      return MB_DNS_MSG_BAD;
  }
  if (len < MB_DNS_HEADER_BYTES || (whole && len > MB_DNS_MSG_MAX))
    return MB_DNS_MSG_BAD;
  mb_u32 copy = len > MB_DNS_MSG_MAX ? MB_DNS_MSG_MAX : len;
  /* Keep the bounds below on the register the helper gets. */
  asm volatile("" : "+r"(copy));
  if (copy < MB_DNS_HEADER_BYTES || copy > MB_DNS_MSG_MAX)
    return MB_DNS_MSG_BAD;
  if (mb_ctx_load_bytes(ctx, off, s->msg, copy) < 0)
    return MB_DNS_MSG_BAD;
  s->msg_off = off;
  s->msg_len = copy;
  return MB_DNS_MSG_QUERY;
}

#endif /* MB_LIB_DNS_MSG_H */
