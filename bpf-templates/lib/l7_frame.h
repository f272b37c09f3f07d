/* Framing a policed socket's byte stream into messages (docs/http.md
 * "Datapath"): given the socket's state and the bytes at hand, how long the
 * next message is (0: an incomplete block, to be held back until more
 * bytes arrive, lib/l7_hold.h).
 *
 * HTTP/1.x: a header block (request line through the empty line, at most
 * MB_HTTP_HEADER_MAX bytes), then its body as runs of bytes (Content-Length:
 * as many as have arrived, up to what is left; chunked: each chunk-size
 * line, its data in runs, the CRLF after it, and after the last chunk the
 * trailer section), then the next request. Framing only measures; the
 * verdict (lib/l7_verdict.h) reads each message and moves the state on.
 *
 * What cannot be a header block is cut early so the verdict answers it at
 * once: a TLS record, or MB_HTTP_HEADER_MAX bytes without the empty line
 * (cut at that length, so the verdict can write its answer over it).
 *
 * A protocol is a case of mb_l7_frame: Kafka's frames (a 4-byte big-endian
 * length, then that many bytes) would be one more case reading 4 bytes.
 */
#ifndef MB_LIB_L7_FRAME_H
#define MB_LIB_L7_FRAME_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/l7_maps.h"
#include "lib/l7_scratch.h"

#define MB_HTTP_CHUNK_LINE_MAX 256 /* a chunk-size line with its extensions */

struct mb_l7_find {
  struct mb_http_scratch *s;
  mb_u32 n;     /* bytes to search */
  mb_u32 found; /* offset just past the terminator, 0: none */
  mb_u32 blank; /* 1: look for CRLFCRLF, 0: for CRLF */
};

static long mb_l7_find_step(mb_u32 i, struct mb_l7_find *f) {
  if (i + 1 >= f->n)
    return 1;
  const char *b = f->s->buf;
  if (b[i & (MB_HTTP_HEADER_MAX - 1)] != '\r' || b[(i + 1) & (MB_HTTP_HEADER_MAX - 1)] != '\n')
    return 0;
  if (!f->blank) {
    f->found = i + 2;
    return 1;
  }
  if (i + 3 < f->n && b[(i + 2) & (MB_HTTP_HEADER_MAX - 1)] == '\r' && b[(i + 3) & (MB_HTTP_HEADER_MAX - 1)] == '\n') {
    f->found = i + 4;
    return 1;
  }
  return 0;
}

/* Copies the first min(len, max) bytes of the message (at `off` in the
 * context) into s->buf; returns how many, or 0 when the read failed. */
static __always_inline mb_u32 mb_l7_copy(mb_ctx_t *ctx, struct mb_http_scratch *s, mb_u32 off, mb_u32 len,
                                         mb_u32 max) {
  mb_u64 n = len < max ? len : max;
  asm volatile("" : "+r"(n)); /* bounds-test the register the helper gets */
  if (n == 0 || n > MB_HTTP_HEADER_MAX)
    return 0;
  if (mb_ctx_load_bytes(ctx, off, s->buf, (mb_u32)n) < 0)
    return 0;
  return (mb_u32)n;
}

/* Offset just past the first CRLF (blank = 0) or CRLFCRLF (blank = 1) in
 * s->buf[0, n), or 0. */
static __always_inline mb_u32 mb_l7_find(struct mb_http_scratch *s, mb_u32 n, mb_u32 blank) {
  struct mb_l7_find f = {.s = s, .n = n, .found = 0, .blank = blank};
  bpf_loop(MB_HTTP_HEADER_MAX, mb_l7_find_step, &f, 0);
  return f.found;
}

/* A block that ends in an empty line within `max` bytes: its length; else
 * all bytes once `max` have arrived (the verdict refuses them), or 0. */
static __always_inline mb_u32 mb_l7_frame_block(mb_ctx_t *ctx, mb_u32 off, mb_u32 len, mb_u32 max, mb_u32 blank) {
  struct mb_http_scratch *s = mb_l7_enter();
  if (!s)
    return len; /* the verdict finds no scratch either and drops */
  mb_u32 n = mb_l7_copy(ctx, s, off, len, max);
  mb_u32 out = 0;
  if (n == 0)
    out = len;
  else if (!blank || s->buf[0] != 0x16) {
    out = mb_l7_find(s, n, blank);
    if (!out && len >= max)
      out = max;
  } else {
    out = n; /* a TLS record: no need to wait for more */
  }
  mb_l7_leave();
  return out;
}

static __always_inline mb_u32 mb_l7_run(const struct mb_l7_state *st, mb_u32 len) {
  return st->remaining < len ? (mb_u32)st->remaining : len;
}

static __always_inline mb_u32 mb_http_frame(mb_ctx_t *ctx, const struct mb_l7_state *st, mb_u32 off, mb_u32 len) {
  switch (st->phase) {
  case MB_L7_HEAD:
    return mb_l7_frame_block(ctx, off, len, MB_HTTP_HEADER_MAX, 1);
  case MB_L7_BODY:
  case MB_L7_CHUNK_DATA:
    return mb_l7_run(st, len);
  case MB_L7_CHUNK_SIZE:
    return mb_l7_frame_block(ctx, off, len, MB_HTTP_CHUNK_LINE_MAX, 0);
  case MB_L7_CHUNK_END:
    return len >= 2 ? 2 : 0;
  case MB_L7_TRAILERS: {
    /* The empty line alone, or trailer lines up to it. */
    mb_u8 two[2];
    if (len < 2 || mb_ctx_load_bytes(ctx, off, two, 2) < 0)
      return 0;
    if (two[0] == '\r' && two[1] == '\n')
      return 2;
    return mb_l7_frame_block(ctx, off, len, MB_HTTP_HEADER_MAX, 1);
  }
  }
  return len; /* MB_L7_DISCARD */
}

/* The next message's length on a socket in state `st`, `len` bytes at
 * hand from `off` in the context.
 *
 * A global function, so the verifier checks it once, on its own, and its
 * callers see one unknown length: inlined, each of its paths would be
 * carried into the verdict's, which branches on the phase again. */
__attribute__((noinline)) int MB_CTX_FN(mb_l7_frame_at)(mb_ctx_t *ctx, mb_u32 protocol, mb_u32 phase, mb_u64 remaining,
                                             mb_u64 at) {
  if (!ctx)
    return 0;
  struct mb_l7_state st = {.remaining = remaining, .phase = (mb_u8)phase};
  mb_u32 off = (mb_u32)(at >> 32), len = (mb_u32)at;
  switch (protocol) {
  case MB_L7_HTTP:
    return (int)mb_http_frame(ctx, &st, off, len);
  }
  return (int)len; /* an unknown protocol: one message, which the verdict drops */
}

static __always_inline mb_u32 mb_l7_frame(mb_ctx_t *ctx, const struct mb_l7_state *st, mb_u32 off, mb_u32 len) {
  int n = MB_CTX_FN(mb_l7_frame_at)(ctx, st->protocol, st->phase, st->remaining, ((mb_u64)off << 32) | len);
  return n > 0 ? (mb_u32)n : 0;
}

#endif /* MB_LIB_L7_FRAME_H */
