/* Packet parsing: from a packet to the tuple that conntrack and policy use.
 *
 * Every read goes through the program context (include/ctx/):
 * mb_ctx_load_bytes(), which for an skb is bpf_skb_load_bytes(), checking the
 * offset and length against the packet at run time (and also working on
 * non-linear skbs, where direct packet access would see only the linear
 * head). A read past the end means the packet is truncated:
 * MB_REASON_UNPARSEABLE.
 *
 * tc programs see the Ethernet header; cgroup_skb programs start at L3 and
 * take the family from the context (mb_ctx_protocol).
 */
#ifndef MB_LIB_PARSE_H
#define MB_LIB_PARSE_H

#include "include/platform.h"
#include "lib/ctx.h"

/* mb_parse() result: MB_PARSED, or the mb_reason that keeps the packet away
 * from policy (MB_REASON_ALLOWED_NEW is 0 too, but is never a parse result). */
#define MB_PARSED 0

/* How many IPv6 extension headers are walked before giving up. */
#define MB_IPV6_MAX_EXT 4

#define MB_FRAGMENTS_MAX 8192

/* How a packet relates to conntrack. */
enum mb_pkt_kind {
  MB_PKT_FLOW = 0,     /* TCP/UDP/SCTP (ports) or another protocol (no ports) */
  MB_PKT_ECHO_REQUEST, /* ICMP echo request: tracked, echo id as sport */
  MB_PKT_ECHO_REPLY,   /* ICMP echo reply: only ever the reply to a request */
  MB_PKT_ICMP_ERROR,   /* quotes another packet: may be "related" */
  MB_PKT_ICMP_OTHER,   /* any other ICMP: decided by policy, never tracked */
};

#define MB_TCP_FIN 0x01
#define MB_TCP_SYN 0x02
#define MB_TCP_RST 0x04
#define MB_TCP_ACK 0x10

struct mb_tuple {
  mb_u8 saddr[16]; /* network order; IPv4 in the first 4 bytes, rest zero */
  mb_u8 daddr[16];
  mb_u16 sport; /* network order; ICMP echo: the id */
  mb_u16 dport; /* network order; ICMP: 0 */
  mb_u8 proto;
  mb_u8 family; /* MB_FAMILY_* */
  mb_u16 pad;
};

struct mb_pkt {
  struct mb_tuple t;
  mb_u32 len;    /* mb_ctx_len(), for byte counters */
  mb_u32 l4_off; /* offset of the L4 header from the start the program sees */
  mb_u32 l3_end; /* where the IP packet ends, by its header (the packet's end for GSO/BIG TCP) */
  mb_u32 tcp_seq;     /* host order */
  mb_u32 tcp_payload; /* bytes of TCP data (0 in a fragment: the data is not all here) */
  mb_u16 port;   /* host order: what policy matches (destination port, ICMP type) */
  mb_u8 tcp_flags;
  mb_u8 kind; /* enum mb_pkt_kind */
  mb_u8 arp;  /* an ARP packet (no tuple; lib/source.h reads its sender) */
  mb_u8 fragment; /* a fragment of an IP packet (first or later) */
  mb_u32 endpoint; /* the endpoint whose hook sees it (lib/endpoint.h); set after mb_parse() */
};

/* Wire layouts (no system headers). */
struct mb_iphdr {
  mb_u8 ver_ihl;
  mb_u8 tos;
  mb_u16 tot_len;
  mb_u16 id;
  mb_u16 frag_off;
  mb_u8 ttl;
  mb_u8 protocol;
  mb_u16 check;
  mb_u8 saddr[4];
  mb_u8 daddr[4];
};

struct mb_ipv6hdr {
  mb_u8 ver_tc;
  mb_u8 tc_flow;
  mb_u16 flow_lbl;
  mb_u16 payload_len;
  mb_u8 nexthdr;
  mb_u8 hop_limit;
  mb_u8 saddr[16];
  mb_u8 daddr[16];
};

#define MB_IP_MF 0x2000
#define MB_IP_OFFSET 0x1fff
#define MB_IP6_FRAG_OFFSET 0xfff8
#define MB_IP6_FRAG_MF 0x0001

/* ---- Fragments ----------------------------------------------------------
 * Only the first fragment carries the L4 header. Its ports are remembered,
 * keyed like reassembly keys the datagram, so later fragments go through
 * conntrack and policy with the same tuple as the first one. Shared by all
 * endpoints (the key names the datagram, not the endpoint). */

struct mb_frag_key {
  mb_u8 saddr[16];
  mb_u8 daddr[16];
  mb_u32 id;    /* IPv4 identification or IPv6 fragment id, as on the wire */
  mb_u8 proto;  /* IPv4 protocol; IPv6: the fragment header's next header */
  mb_u8 family;
  mb_u16 pad;
};

struct mb_frag_ports {
  mb_u16 sport; /* network order, as in mb_tuple */
  mb_u16 dport;
  mb_u16 port;  /* the policy port (ICMP: the type, which dport does not hold) */
  mb_u8 proto;  /* IPv6: the L4 protocol behind any headers after the fragment header */
  mb_u8 kind;
};

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct mb_frag_key);
  __type(value, struct mb_frag_ports);
  __uint(max_entries, MB_FRAGMENTS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_fragments MB_MAPS;

static __always_inline void mb_frag_key_init(struct mb_frag_key *k, const struct mb_pkt *pkt,
                                             mb_u32 id, mb_u8 proto) {
  __builtin_memset(k, 0, sizeof(*k));
  __builtin_memcpy(k->saddr, pkt->t.saddr, 16);
  __builtin_memcpy(k->daddr, pkt->t.daddr, 16);
  k->id = id;
  k->proto = proto;
  k->family = pkt->t.family;
}

static __always_inline void mb_frag_remember(const struct mb_pkt *pkt, mb_u32 id, mb_u8 proto) {
  struct mb_frag_key k;
  struct mb_frag_ports v;

  mb_frag_key_init(&k, pkt, id, proto);
  v.sport = pkt->t.sport;
  v.dport = pkt->t.dport;
  v.port = pkt->port;
  v.proto = pkt->t.proto;
  /* Later fragments carry no quote, so they cannot be "related". */
  v.kind = pkt->kind == MB_PKT_ICMP_ERROR ? MB_PKT_ICMP_OTHER : pkt->kind;
  bpf_map_update_elem(&mb_fragments, &k, &v, BPF_ANY);
}

/* A non-first fragment: borrow the first fragment's ports, or give up. */
static __always_inline int mb_frag_lookup(struct mb_pkt *pkt, mb_u32 id, mb_u8 proto) {
  struct mb_frag_key k;

  mb_frag_key_init(&k, pkt, id, proto);
  const struct mb_frag_ports *v = bpf_map_lookup_elem(&mb_fragments, &k);
  if (!v)
    return MB_REASON_FRAGMENT;
  pkt->t.sport = v->sport;
  pkt->t.dport = v->dport;
  pkt->t.proto = v->proto;
  pkt->port = v->port;
  pkt->kind = v->kind;
  return MB_PARSED;
}

/* ---- L4 ------------------------------------------------------------------ */

static __always_inline int mb_is_icmp(mb_u8 family, mb_u8 proto) {
  return family == MB_FAMILY_V4 ? proto == IPPROTO_ICMP : proto == IPPROTO_ICMPV6;
}

static __always_inline int mb_pkt_is_icmp(const struct mb_pkt *pkt) {
  return mb_is_icmp(pkt->t.family, pkt->t.proto);
}

static __always_inline int mb_icmp_is_echo_request(mb_u8 family, mb_u8 type) {
  return type == (family == MB_FAMILY_V4 ? 8 : 128);
}

static __always_inline int mb_icmp_is_echo_reply(mb_u8 family, mb_u8 type) {
  return type == (family == MB_FAMILY_V4 ? 0 : 129);
}

/* Errors that quote the offending packet. IPv4: destination unreachable
 * (including "fragmentation needed"), time exceeded, parameter problem.
 * IPv6: destination unreachable, packet too big, time exceeded, parameter
 * problem. */
static __always_inline int mb_icmp_is_error(mb_u8 family, mb_u8 type) {
  if (family == MB_FAMILY_V4)
    return type == 3 || type == 11 || type == 12;
  return type >= 1 && type <= 4;
}

/* ICMPv6 router/neighbour solicitation/advertisement and redirect: without
 * them IPv6 stops working, so no policy may block them. */
static __always_inline int mb_icmp6_is_nd(mb_u8 type) { return type >= 133 && type <= 137; }

static __always_inline int mb_parse_l4(mb_ctx_t *ctx, mb_u32 off, struct mb_pkt *pkt) {
  mb_u8 h[20];

  pkt->l4_off = off;
  if (pkt->t.proto == IPPROTO_TCP) {
    if (mb_ctx_load_bytes(ctx, off, h, 20) < 0)
      return MB_REASON_UNPARSEABLE;
    if ((h[12] >> 4) < 5) /* data offset below the fixed header */
      return MB_REASON_UNPARSEABLE;
    pkt->tcp_flags = h[13];
    mb_u32 seq;
    __builtin_memcpy(&seq, &h[4], 4);
    pkt->tcp_seq = bpf_ntohl(seq);
    mb_u32 data = off + (mb_u32)(h[12] >> 4) * 4;
    pkt->tcp_payload = !pkt->fragment && pkt->l3_end > data ? pkt->l3_end - data : 0;
  } else if (pkt->t.proto == IPPROTO_UDP) {
    if (mb_ctx_load_bytes(ctx, off, h, 8) < 0)
      return MB_REASON_UNPARSEABLE;
  } else if (pkt->t.proto == IPPROTO_SCTP) {
    if (mb_ctx_load_bytes(ctx, off, h, 12) < 0) /* common header */
      return MB_REASON_UNPARSEABLE;
  } else if (mb_pkt_is_icmp(pkt)) {
    /* type, code, checksum, then (echo) id and sequence: 8 bytes for every
     * message type we look at. */
    if (mb_ctx_load_bytes(ctx, off, h, 8) < 0)
      return MB_REASON_UNPARSEABLE;
    mb_u8 type = h[0];
    mb_u8 family = pkt->t.family;

    pkt->port = type;
    if (family == MB_FAMILY_V6 && mb_icmp6_is_nd(type))
      return MB_REASON_ALWAYS;
    if (mb_icmp_is_echo_request(family, type) || mb_icmp_is_echo_reply(family, type)) {
      /* The echo id plays the source port, so conntrack can tell pings
       * apart; the ABI keeps dport 0 for ICMP. */
      __builtin_memcpy(&pkt->t.sport, &h[4], 2);
      pkt->kind = mb_icmp_is_echo_request(family, type) ? MB_PKT_ECHO_REQUEST : MB_PKT_ECHO_REPLY;
    } else {
      pkt->kind = mb_icmp_is_error(family, type) ? MB_PKT_ICMP_ERROR : MB_PKT_ICMP_OTHER;
    }
    return MB_PARSED;
  } else {
    /* No ports (GRE, ESP, ...): policy can still match the protocol and
     * conntrack tracks the address pair. */
    return MB_PARSED;
  }

  /* TCP, UDP and SCTP all start with source and destination port. */
  __builtin_memcpy(&pkt->t.sport, &h[0], 2);
  __builtin_memcpy(&pkt->t.dport, &h[2], 2);
  pkt->port = bpf_ntohs(pkt->t.dport);
  return MB_PARSED;
}

/* ---- IPv4 ---------------------------------------------------------------- */

static __always_inline int mb_parse_ipv4(mb_ctx_t *ctx, mb_u32 off, struct mb_pkt *pkt) {
  struct mb_iphdr ip;

  if (mb_ctx_load_bytes(ctx, off, &ip, sizeof(ip)) < 0)
    return MB_REASON_UNPARSEABLE;
  mb_u32 ihl = (ip.ver_ihl & 0xf) * 4;
  if ((ip.ver_ihl >> 4) != 4 || ihl < sizeof(ip))
    return MB_REASON_UNPARSEABLE;
  /* Options are skipped, but must be there. (tot_len is not checked: GSO
   * and BIG TCP packets legitimately disagree with skb->len.) */
  if (off + ihl > pkt->len)
    return MB_REASON_UNPARSEABLE;

  pkt->t.family = MB_FAMILY_V4;
  pkt->t.proto = ip.protocol;
  __builtin_memcpy(pkt->t.saddr, ip.saddr, 4);
  __builtin_memcpy(pkt->t.daddr, ip.daddr, 4);

  mb_u32 tot = bpf_ntohs(ip.tot_len);
  pkt->l3_end = tot && off + tot < pkt->len ? off + tot : pkt->len;
  mb_u16 frag = bpf_ntohs(ip.frag_off);
  pkt->fragment = (frag & (MB_IP_OFFSET | MB_IP_MF)) != 0;
  if (frag & MB_IP_OFFSET)
    return mb_frag_lookup(pkt, ip.id, ip.protocol);

  int rc = mb_parse_l4(ctx, off + ihl, pkt);
  if (rc == MB_PARSED && (frag & MB_IP_MF))
    mb_frag_remember(pkt, ip.id, ip.protocol);
  return rc;
}

/* ---- IPv6 ---------------------------------------------------------------- */

/* Extension headers we walk (RFC 8200 section 4 and AH). */
static __always_inline int mb_ipv6_is_ext(mb_u8 nexthdr) {
  return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
         nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH;
}

/* Extension headers we do not walk: Mobility, HIP, Shim6, experimental. */
static __always_inline int mb_ipv6_is_unsupported_ext(mb_u8 nexthdr) {
  return nexthdr == IPPROTO_MH || nexthdr == 139 || nexthdr == 140 || nexthdr == 253 ||
         nexthdr == 254;
}

static __always_inline int mb_parse_ipv6(mb_ctx_t *ctx, mb_u32 off, struct mb_pkt *pkt) {
  struct mb_ipv6hdr ip6;

  if (mb_ctx_load_bytes(ctx, off, &ip6, sizeof(ip6)) < 0)
    return MB_REASON_UNPARSEABLE;
  if ((ip6.ver_tc >> 4) != 6)
    return MB_REASON_UNPARSEABLE;

  pkt->t.family = MB_FAMILY_V6;
  __builtin_memcpy(pkt->t.saddr, ip6.saddr, 16);
  __builtin_memcpy(pkt->t.daddr, ip6.daddr, 16);

  mb_u32 plen = bpf_ntohs(ip6.payload_len);
  pkt->l3_end = plen && off + sizeof(ip6) + plen < pkt->len ? off + sizeof(ip6) + plen : pkt->len;
  mb_u8 nexthdr = ip6.nexthdr;
  int first_fragment = 0;
  mb_u32 frag_id = 0;
  mb_u8 frag_next = 0;
  off += sizeof(ip6);

  /* A fixed number of steps keeps the program small and the verifier's
   * work bounded; real traffic rarely carries more than two. */
#pragma clang loop unroll(full)
  for (int i = 0; i < MB_IPV6_MAX_EXT; i++) {
    mb_u8 ext[8];

    if (!mb_ipv6_is_ext(nexthdr))
      break;
    if (nexthdr == IPPROTO_FRAGMENT) {
      /* next header, reserved, offset|M (16 bits), identification */
      if (mb_ctx_load_bytes(ctx, off, ext, 8) < 0)
        return MB_REASON_UNPARSEABLE;
      mb_u16 frag = ((mb_u16)ext[2] << 8) | ext[3];
      __builtin_memcpy(&frag_id, &ext[4], 4);
      frag_next = ext[0];
      pkt->fragment = (frag & (MB_IP6_FRAG_OFFSET | MB_IP6_FRAG_MF)) != 0;
      if (frag & MB_IP6_FRAG_OFFSET)
        return mb_frag_lookup(pkt, frag_id, frag_next);
      first_fragment = frag & MB_IP6_FRAG_MF; /* else an atomic fragment */
      off += 8;
    } else {
      if (mb_ctx_load_bytes(ctx, off, ext, 2) < 0)
        return MB_REASON_UNPARSEABLE;
      /* AH counts its length in 4-byte units minus 2, the others in
       * 8-byte units minus 1. */
      off += nexthdr == IPPROTO_AH ? ((mb_u32)ext[1] + 2) * 4 : ((mb_u32)ext[1] + 1) * 8;
    }
    nexthdr = ext[0];
  }

  if (mb_ipv6_is_ext(nexthdr) || mb_ipv6_is_unsupported_ext(nexthdr))
    return MB_REASON_IPV6_EXT;

  pkt->t.proto = nexthdr;
  int rc = mb_parse_l4(ctx, off, pkt);
  if (rc == MB_PARSED && first_fragment)
    mb_frag_remember(pkt, frag_id, frag_next);
  return rc;
}

/* ---- Entry ---------------------------------------------------------------- */

/* Fills `pkt` (zeroed first, so unused address bytes and padding are zero
 * for map keys) and returns MB_PARSED or a reason. */
static __always_inline int mb_parse(mb_ctx_t *ctx, const int l2, struct mb_pkt *pkt) {
  mb_u32 off = 0;
  mb_u16 l3;

  __builtin_memset(pkt, 0, sizeof(*pkt));
  pkt->len = mb_ctx_len(ctx);

  if (l2) {
    if (mb_ctx_load_bytes(ctx, 12, &l3, 2) < 0) /* the EtherType */
      return MB_REASON_UNPARSEABLE;
    off = ETH_HLEN;
  } else {
    l3 = mb_ctx_protocol(ctx);
  }

  switch (bpf_ntohs(l3)) {
  case ETH_P_IP:
    return mb_parse_ipv4(ctx, off, pkt);
  case ETH_P_IPV6:
    return mb_parse_ipv6(ctx, off, pkt);
  case ETH_P_ARP:
    pkt->arp = 1;
    return MB_REASON_ALWAYS; /* address resolution must always work */
  default:
    return MB_REASON_UNKNOWN_L3;
  }
}

/* ---- ICMP error quotes ------------------------------------------------------
 * An ICMP error carries the IP header and at least the first 8 bytes of the
 * L4 header of the packet that caused it. Fills `q` with that packet's tuple
 * (as it was sent) and `qkind` with its kind; returns 0, or -1 when the
 * quote is unusable (truncated, a non-first fragment, IPv6 extension headers,
 * ICMP other than echo). The caller then treats the error as a new flow. */
static __always_inline int mb_parse_icmp_quote(mb_ctx_t *ctx, const struct mb_pkt *pkt,
                                               struct mb_tuple *q, mb_u8 *qkind) {
  mb_u32 off = pkt->l4_off + 8; /* every error type has an 8-byte header */
  mb_u8 l4[8];

  __builtin_memset(q, 0, sizeof(*q));
  q->family = pkt->t.family;
  if (pkt->t.family == MB_FAMILY_V4) {
    struct mb_iphdr ip;

    if (mb_ctx_load_bytes(ctx, off, &ip, sizeof(ip)) < 0)
      return -1;
    mb_u32 ihl = (ip.ver_ihl & 0xf) * 4;
    if ((ip.ver_ihl >> 4) != 4 || ihl < sizeof(ip))
      return -1;
    if (bpf_ntohs(ip.frag_off) & MB_IP_OFFSET)
      return -1;
    q->proto = ip.protocol;
    __builtin_memcpy(q->saddr, ip.saddr, 4);
    __builtin_memcpy(q->daddr, ip.daddr, 4);
    off += ihl;
  } else {
    struct mb_ipv6hdr ip6;

    if (mb_ctx_load_bytes(ctx, off, &ip6, sizeof(ip6)) < 0)
      return -1;
    if ((ip6.ver_tc >> 4) != 6 || mb_ipv6_is_ext(ip6.nexthdr))
      return -1;
    q->proto = ip6.nexthdr;
    __builtin_memcpy(q->saddr, ip6.saddr, 16);
    __builtin_memcpy(q->daddr, ip6.daddr, 16);
    off += sizeof(ip6);
  }

  *qkind = MB_PKT_FLOW;
  if (q->proto == IPPROTO_TCP || q->proto == IPPROTO_UDP || q->proto == IPPROTO_SCTP) {
    if (mb_ctx_load_bytes(ctx, off, l4, 4) < 0)
      return -1;
    __builtin_memcpy(&q->sport, &l4[0], 2);
    __builtin_memcpy(&q->dport, &l4[2], 2);
  } else if (mb_is_icmp(q->family, q->proto)) {
    if (mb_ctx_load_bytes(ctx, off, l4, 8) < 0)
      return -1;
    if (mb_icmp_is_echo_request(q->family, l4[0]))
      *qkind = MB_PKT_ECHO_REQUEST;
    else if (mb_icmp_is_echo_reply(q->family, l4[0]))
      *qkind = MB_PKT_ECHO_REPLY;
    else
      return -1; /* errors about errors are not related to anything */
    __builtin_memcpy(&q->sport, &l4[4], 2);
  }
  return 0;
}

#endif /* MB_LIB_PARSE_H */
