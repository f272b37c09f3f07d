/* The program context of the skb kinds (tc, cgroup_skb): how lib/ reaches a
 * packet without naming struct __sk_buff.
 *
 * lib/ code takes an `mb_ctx_t *` and reads through the mb_ctx_* functions
 * below, never through the context's fields or a context-specific helper.
 * An entry file (entry/) includes the context header of its kind before
 * lib/; a kind with another context (a socket message, an XDP buffer) gets a
 * header of its own beside this one that defines the same names, so the
 * parsing code builds for it unchanged wherever the operation exists there.
 * One translation unit holds one context: kinds with different contexts are
 * compiled separately (endpoint.c holds the skb kinds, msg.c the sk_msg
 * kind, include/ctx/msg.h).
 */
#ifndef MB_CTX_SKB_H
#define MB_CTX_SKB_H

#include "include/platform.h"

#if defined(MB_CTX) && MB_CTX != MB_CTX_KIND_SKB
#error "one program context per translation unit"
#endif
#define MB_CTX_KIND_SKB 1
#define MB_CTX MB_CTX_KIND_SKB
/* A global function taking the context needs a name of its own per
 * context: the units of a class object are linked into one. */
#define MB_CTX_FN(name) name##_skb

typedef struct __sk_buff mb_ctx_t;

/* Copies `len` bytes at `off` (from the start the kind sees: tc the
 * Ethernet header, cgroup_skb the IP header) into `to`; negative when the
 * packet is shorter. Bounds-checked at run time and correct on non-linear
 * skbs, which direct packet access is not. */
static __always_inline long mb_ctx_load_bytes(const mb_ctx_t *ctx, mb_u32 off, void *to, mb_u32 len) {
  return bpf_skb_load_bytes(ctx, off, to, len);
}

/* Rewriting a packet (lib/dns_refuse.h). Only tc programs may: cgroup_skb
 * has none of these helpers, so code calling them must fold away in its
 * programs (it sits behind MB_L2, a constant). */
static __always_inline long mb_ctx_store_bytes(mb_ctx_t *ctx, mb_u32 off, const void *from, mb_u32 len) {
  return bpf_skb_store_bytes(ctx, off, from, len, 0);
}

static __always_inline long mb_ctx_l3_csum_replace(mb_ctx_t *ctx, mb_u32 off, mb_u64 from, mb_u64 to, mb_u64 size) {
  return bpf_l3_csum_replace(ctx, off, from, to, size);
}

static __always_inline long mb_ctx_l4_csum_replace(mb_ctx_t *ctx, mb_u32 off, mb_u64 from, mb_u64 to, mb_u64 flags) {
  return bpf_l4_csum_replace(ctx, off, from, to, flags);
}

/* Cuts (or grows) the packet to `len` bytes from the start the kind sees. */
static __always_inline long mb_ctx_change_tail(mb_ctx_t *ctx, mb_u32 len) { return bpf_skb_change_tail(ctx, len, 0); }

/* Bytes from the start the kind sees to the end of the packet. */
static __always_inline mb_u32 mb_ctx_len(const mb_ctx_t *ctx) { return ctx->len; }

/* The L3 protocol (ETH_P_*, network order) as the kernel classified the
 * packet: what a kind that starts at L3 has instead of an EtherType. */
static __always_inline mb_u16 mb_ctx_protocol(const mb_ctx_t *ctx) { return (mb_u16)ctx->protocol; }

/* The socket that sends the packet, or NULL: only cgroup_skb egress sees
 * one (tc on the host side of a veth runs after the packet left it). */
static __always_inline struct bpf_sock *mb_ctx_socket(const mb_ctx_t *ctx) { return ctx->sk; }

#endif /* MB_CTX_SKB_H */
