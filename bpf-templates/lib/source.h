/* Anti-spoofing: a packet leaving an endpoint must carry one of the
 * endpoint's own addresses as its source, or be dropped.
 *
 * Policy judges a packet by its source address (the peer's identity), so an
 * endpoint that could send with another pod's address would borrow that
 * pod's permissions at every receiver. The loader lists each local
 * endpoint's addresses in mb_endpoint_addrs; this check runs on every packet
 * an endpoint sends, enforced or not, before conntrack and policy.
 *
 *   IPv4 / IPv6       the source must be the endpoint's
 *   ARP               the sender address must be the endpoint's, or 0.0.0.0
 *                     (a probe); anything but IPv4-over-Ethernet ARP is dropped
 *   ICMPv6 ND and MLD may also come from a link-local (fe80::/10) or the
 *                     unspecified address (duplicate address detection); a
 *                     neighbour advertisement's target must be the endpoint's
 *                     or link-local
 *   cgroup hooks      loopback sources (127.0.0.0/8, ::1) pass: such packets
 *                     stay on the endpoint's own lo (the kernel drops them
 *                     on any other interface as martians)
 *   anything else     (unknown L3, an IP header too short to read) cannot be
 *                     checked: dropped, counted under its parse reason
 */
#ifndef MB_LIB_SOURCE_H
#define MB_LIB_SOURCE_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/config.h"
#include "lib/parse.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct mb_endpoint_addr_key);
  __type(value, mb_u32);
  __uint(max_entries, MB_ENDPOINT_ADDRS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* written by the loader only: no memory until used */
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_endpoint_addrs MB_MAPS;

/* mb_source_check() results. */
#define MB_SOURCE_OK 0
#define MB_SOURCE_SPOOFED 1
#define MB_SOURCE_UNCHECKABLE 2

static __always_inline int mb_owns(mb_u32 endpoint, mb_u8 family, const mb_u8 addr[16]) {
  struct mb_endpoint_addr_key k;

  __builtin_memset(&k, 0, sizeof(k));
  k.endpoint = endpoint;
  k.family = family;
  /* Parsed IPv4 addresses have a zero tail, as the key wants. */
  __builtin_memcpy(k.addr, addr, 16);
  return bpf_map_lookup_elem(&mb_endpoint_addrs, &k) != NULL;
}

static __always_inline int mb_is_link_local6(const mb_u8 a[16]) {
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static __always_inline int mb_is_unspecified6(const mb_u8 a[16]) {
  mb_u64 hi, lo;

  __builtin_memcpy(&hi, a, 8);
  __builtin_memcpy(&lo, a + 8, 8);
  return (hi | lo) == 0;
}

static __always_inline int mb_is_loopback(mb_u8 family, const mb_u8 a[16]) {
  if (family == MB_FAMILY_V4)
    return a[0] == 127;
  mb_u64 hi;
  mb_u32 mid;
  __builtin_memcpy(&hi, a, 8);
  __builtin_memcpy(&mid, a + 8, 4);
  return hi == 0 && mid == 0 && a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 1;
}

/* Router/neighbour solicitation and advertisement, redirect (133-137), and
 * multicast listener query/report/done (130-132, 143): the messages that
 * RFC 4861 and RFC 3810 send from link-local or unspecified sources. */
static __always_inline int mb_icmp6_is_link_scoped(mb_u8 type) {
  return (type >= 130 && type <= 137) || type == 143;
}

/* ARP: htype(2) ptype(2) hlen(1) plen(1) oper(2) sha(6) spa(4) tha(6) tpa(4). */
static __always_inline int mb_arp_source_check(mb_ctx_t *ctx, const int l2, mb_u32 endpoint) {
  mb_u8 arp[18];

  if (mb_ctx_load_bytes(ctx, l2 ? ETH_HLEN : 0, arp, sizeof(arp)) < 0)
    return MB_SOURCE_UNCHECKABLE;
  if (arp[0] != 0 || arp[1] != 1 || arp[2] != 0x08 || arp[3] != 0x00 || arp[4] != 6 || arp[5] != 4)
    return MB_SOURCE_UNCHECKABLE;
  mb_u8 sender[16];
  __builtin_memset(sender, 0, sizeof(sender));
  __builtin_memcpy(sender, &arp[14], 4);
  mb_u32 spa;
  __builtin_memcpy(&spa, sender, 4);
  if (spa == 0) /* a probe (RFC 5227): asks, claims nothing */
    return MB_SOURCE_OK;
  return mb_owns(endpoint, MB_FAMILY_V4, sender) ? MB_SOURCE_OK : MB_SOURCE_SPOOFED;
}

/* An ICMPv6 message, with its type in `pkt->port` (as the parser leaves it). */
static __always_inline int mb_is_icmp6_type(const struct mb_pkt *pkt, int type) {
  return pkt->t.family == MB_FAMILY_V6 && pkt->t.proto == IPPROTO_ICMPV6 && pkt->port == type;
}

/* `pkt` as mb_parse() left it, whatever it returned. */
static __always_inline int mb_source_check(mb_ctx_t *ctx, const int l2, const struct mb_pkt *pkt) {
  if (pkt->arp)
    return mb_arp_source_check(ctx, l2, pkt->endpoint);
  if (pkt->t.family == 0) /* no source address was read */
    return MB_SOURCE_UNCHECKABLE;
  const mb_u8 *src = pkt->t.saddr;
  if (mb_owns(pkt->endpoint, pkt->t.family, src))
    goto own;
  if (!l2 && mb_is_loopback(pkt->t.family, src))
    return MB_SOURCE_OK;
  if (pkt->t.family == MB_FAMILY_V6 && pkt->t.proto == IPPROTO_ICMPV6 && mb_icmp6_is_link_scoped(pkt->port) &&
      (mb_is_link_local6(src) || mb_is_unspecified6(src)))
    goto own;
  return MB_SOURCE_SPOOFED;

own:
  /* A neighbour advertisement speaks for its target address. */
  if (mb_is_icmp6_type(pkt, 136)) {
    mb_u8 target[16];
    if (mb_ctx_load_bytes(ctx, pkt->l4_off + 8, target, 16) < 0)
      return MB_SOURCE_UNCHECKABLE;
    if (!mb_is_link_local6(target) && !mb_owns(pkt->endpoint, MB_FAMILY_V6, target))
      return MB_SOURCE_SPOOFED;
  }
  return MB_SOURCE_OK;
}

#endif /* MB_LIB_SOURCE_H */
