/* Holding back an incomplete block (docs/datapath.md, "Socket layer"). The
 * server side's stream verdict sees each received segment once, whole, and
 * the kernel has no way to keep part of one queued for later: a header
 * block (or chunk-size line, or trailer section) that a segment ends inside
 * can be decided only when the rest arrives, and must not reach the
 * application before. So its bytes are copied here under the socket's
 * cookie and cut from the segment (mb_l7_hold), and the next segment of the
 * socket gets them back in front (mb_l7_unhold) before it is framed: the
 * block is then read whole, from one place, exactly as it will be
 * delivered.
 *
 * A block is shorter than MB_HTTP_HEADER_MAX (framing cuts a longer one and
 * the verdict refuses it), so what is held is bounded; a segment that does
 * not complete it gets it back, adds its bytes and holds the longer block
 * again (the copy is re-read at most MB_HTTP_HEADER_MAX bytes at a time).
 * Entries are allocated when needed (no preallocation) and removed when
 * given back or when the socket closes (entry/sockops.c). If the map is
 * full, or the bytes cannot be put back, the connection is discarded
 * (MB_HTTP_STAT_HOLD_FAILED): nothing undecided is ever delivered.
 *
 * The helpers here are the sk_skb ones (growing a segment at its head is
 * theirs alone); the client side holds with sk_msg's cork instead.
 */
#ifndef MB_LIB_L7_HOLD_H
#define MB_LIB_L7_HOLD_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/l7_maps.h"

#define MB_L7_HELD_MAX 16384 /* sockets with a block held at once */
#define MB_L7_ROOM_STEP 0xfff /* bpf_skb_adjust_room's most bytes per call in sk_skb programs */

struct mb_l7_held {
  char buf[MB_HTTP_HEADER_MAX];
};

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, mb_u64);
  __type(value, struct mb_l7_held);
  __uint(max_entries, MB_L7_HELD_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_held MB_MAPS;

/* What a new entry starts from: the update helper copies a whole value,
 * which the 512-byte stack cannot hold. */
MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, struct mb_l7_held);
  __uint(max_entries, 1);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_held_blank MB_MAPS;

/* Holds the `n` bytes at `off` (the segment's last ones). 0, or -1 when
 * they cannot be held. */
static __always_inline int mb_l7_hold(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u32 off, mb_u32 n) {
  mb_u64 cookie = bpf_get_socket_cookie(ctx);
  if (n == 0 || n >= MB_HTTP_HEADER_MAX)
    return -1;
  struct mb_l7_held *h = bpf_map_lookup_elem(&mb_l7_held, &cookie);
  if (!h) {
    mb_u32 zero = 0;
    struct mb_l7_held *blank = bpf_map_lookup_elem(&mb_l7_held_blank, &zero);
    if (!blank || bpf_map_update_elem(&mb_l7_held, &cookie, blank, BPF_NOEXIST) < 0)
      return -1;
    h = bpf_map_lookup_elem(&mb_l7_held, &cookie);
    if (!h)
      return -1;
  }
  mb_u64 len = n;
  asm volatile("" : "+r"(len)); /* bounds-test the register the helper gets */
  if (len == 0 || len >= MB_HTTP_HEADER_MAX || bpf_skb_load_bytes(ctx, off, h->buf, (mb_u32)len) < 0)
    return -1;
  st->held = n;
  mb_http_count(MB_HTTP_STAT_HELD);
  return 0;
}

/* Puts the held bytes back in front of the segment. 0, or -1 when they
 * cannot be (the segment is then not to be delivered). */
static __always_inline int mb_l7_unhold(mb_ctx_t *ctx, struct mb_l7_state *st) {
  mb_u32 n = st->held;
  mb_u64 cookie = bpf_get_socket_cookie(ctx);
  st->held = 0;
  struct mb_l7_held *h = bpf_map_lookup_elem(&mb_l7_held, &cookie);
  if (!h || n == 0 || n >= MB_HTTP_HEADER_MAX)
    return -1;
  mb_u32 grown = 0;
  for (int i = 0; i < (MB_HTTP_HEADER_MAX + MB_L7_ROOM_STEP - 1) / MB_L7_ROOM_STEP; i++) {
    mb_u32 step = n - grown < MB_L7_ROOM_STEP ? n - grown : MB_L7_ROOM_STEP;
    if (step == 0)
      break;
    if (bpf_skb_adjust_room(ctx, (int)step, 0, 0) < 0)
      return -1;
    grown += step;
  }
  mb_u64 len = n;
  asm volatile("" : "+r"(len)); /* bounds-test the register the helper gets */
  if (len == 0 || len >= MB_HTTP_HEADER_MAX || bpf_skb_store_bytes(ctx, 0, h->buf, (mb_u32)len, 0) < 0)
    return -1;
  bpf_map_delete_elem(&mb_l7_held, &cookie);
  return 0;
}

#endif /* MB_LIB_L7_HOLD_H */
