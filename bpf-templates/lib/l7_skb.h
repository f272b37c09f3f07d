/* The server side's stream verdict over one received segment (docs/
 * datapath.md, "Socket layer"): frame it into messages, decide each, and
 * make the segment what the application may read, or the answer.
 *
 * The stream verdict runs without a stream parser: the kernel hands it each
 * segment once, whole (the bytes from 0 to skb->len are exactly what it
 * will deliver, drop or redirect), so where a message is never has to be
 * inferred. The framing state travels in the socket's state from segment
 * to segment; an incomplete block at a segment's end is held back
 * (lib/l7_hold.h) and put in front of the next one.
 *
 * What the connection has read. TCP counts a segment's bytes as read
 * (tp->copied_seq) when its verdict drops or redirects it, by the length it
 * has then, and when the application reads them, for a passed one. Both
 * must come out exact: a count ahead of what arrived stops the kernel from
 * running the verdict on the next segments (it wakes readers only for
 * bytes beyond the count), one behind makes poll() report bytes there are
 * none of. So every segment leaves with its length equal to the bytes it
 * accounts for: all it carried (held bytes given back included) but a held
 * tail, which the next segment accounts for.
 *
 * One segment becomes one of:
 *   - passed: when the messages the decisions passed are all it carries
 *     (but a held tail, cut off);
 *   - an answer, when its first message is a denied or unreadable request:
 *     rewritten into the 403 or 400, as long as the bytes it answers (the
 *     request, what of its body came with it, anything after it but a held
 *     tail), and redirected out of the socket it came in on, to the client;
 *   - dropped: as long as the bytes it drops.
 * A segment that would need two of these (a request pipelined behind
 * another whose outcome differs, or passed bytes after dropped ones) cannot
 * be delivered or answered in order: it is dropped whole and the
 * connection cut there (MB_HTTP_STAT_CUT), every later byte dropped, or
 * when it starts with an answer, the answer covers it all and says
 * Connection: close. Clients that wait for each response before sending the
 * next request never meet this.
 */
#ifndef MB_LIB_L7_SKB_H
#define MB_LIB_L7_SKB_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/l7_frame.h"
#include "lib/l7_hold.h"
#include "lib/l7_maps.h"
#include "lib/l7_verdict.h"

#define MB_L7_SEGMENT_MESSAGES 1024 /* messages decided per segment; the rest cut */

struct mb_l7_walk {
  mb_ctx_t *ctx;
  struct mb_l7_state *st;
  mb_u32 len;    /* the segment's bytes */
  mb_u32 off;    /* the next message starts here */
  mb_u32 keep;   /* [0, keep) passed */
  mb_u32 held;   /* a tail is held back ... */
  mb_u32 held_at; /* ... from here */
  mb_u32 answer; /* MB_L7_ANSWER_* due, 0: none */
  mb_u32 close;  /* the answer must close the connection */
  mb_u32 cut;    /* the segment is dropped whole */
};

/* The endpoint's verdict on one message it received. A global function,
 * checked once on its own by the verifier, like mb_l7_frame_at. */
__attribute__((noinline)) int mb_l7_message_in(mb_ctx_t *ctx, struct mb_l7_state *st) {
  if (!ctx || !st)
    return MB_L7_DROP;
  return mb_l7_message(ctx, st, MB_DIR_INGRESS);
}

static long mb_l7_walk_step(mb_u32 i, struct mb_l7_walk *w) {
  (void)i;
  struct mb_l7_state *st = w->st;
  if (w->off >= w->len || st->phase == MB_L7_DISCARD)
    return 1; /* done, or the rest is dropped (or answered) with the segment */
  mb_u32 left = w->len - w->off;
  mb_u32 n = mb_l7_frame(w->ctx, st, w->off, left);
  if (n == 0) {
    /* An incomplete block at the segment's end. */
    if (mb_l7_hold(w->ctx, st, w->off, left) < 0) {
      mb_l7_cut(st, MB_HTTP_STAT_HOLD_FAILED);
      w->cut = !w->answer;
    } else {
      w->held = 1;
      w->held_at = w->off;
    }
    return 1;
  }
  if (n > left)
    n = left;
  if (w->answer && st->phase == MB_L7_HEAD) {
    /* A request pipelined behind the one being answered. */
    w->close = 1;
    mb_l7_cut(st, MB_HTTP_STAT_CUT);
    return 1;
  }
  st->cur_off = w->off;
  st->cur_len = n;
  int r = mb_l7_message_in(w->ctx, st);
  if (r == MB_L7_PASS && w->keep == w->off) {
    w->keep += n;
  } else if (r == MB_L7_PASS || (r != MB_L7_DROP && w->keep)) {
    /* Passed bytes after dropped ones, or an answer after passed ones. */
    w->cut = 1;
    mb_l7_cut(st, MB_HTTP_STAT_CUT);
    return 1;
  } else if (r != MB_L7_DROP) {
    w->answer = r;
  }
  w->off += n;
  return 0;
}

/* Makes the segment `n` bytes long, n < its length (only the length
 * matters now: it is dropped). */
static __always_inline long mb_l7_skb_shorten(struct __sk_buff *skb, mb_u32 n) {
  if (n)
    return bpf_skb_change_tail(skb, n, 0);
  /* Nothing accounted: all of it is a held block, shorter than
   * MB_HTTP_HEADER_MAX, so three steps at most. */
  mb_u32 cut = skb->len;
  for (int i = 0; i < (MB_HTTP_HEADER_MAX + MB_L7_ROOM_STEP - 1) / MB_L7_ROOM_STEP && cut; i++) {
    mb_u32 step = cut < MB_L7_ROOM_STEP ? cut : MB_L7_ROOM_STEP;
    if (bpf_skb_adjust_room(skb, -(int)step, 0, 0) < 0)
      return -1;
    cut -= step;
  }
  return cut ? -1 : 0;
}

struct mb_l7_answer_write {
  struct __sk_buff *skb;
  struct mb_http_scratch *s;
  struct mb_http_answer a;
  long err;
};

/* One MB_HTTP_HEADER_MAX chunk of the answer into the segment. */
static long mb_l7_answer_chunk(mb_u32 c, struct mb_l7_answer_write *w) {
  mb_u32 from = c * MB_HTTP_HEADER_MAX;
  if (w->err || from >= w->a.len)
    return 1;
  mb_u64 n = w->a.len - from < MB_HTTP_HEADER_MAX ? w->a.len - from : MB_HTTP_HEADER_MAX;
  mb_http_fill(w->s, &w->a, from, (mb_u32)n);
  asm volatile("" : "+r"(n)); /* bounds-test the register the helper gets */
  if (n == 0 || n > MB_HTTP_HEADER_MAX)
    w->err = -1;
  else
    w->err = bpf_skb_store_bytes(w->skb, from, w->s->buf, (mb_u32)n, 0);
  return 0;
}

/* Rewrites the segment's first `len` bytes into the answer, cuts the rest
 * (a held tail) and sends it back to the client. */
static __always_inline int mb_l7_skb_answer(struct __sk_buff *skb, struct mb_l7_state *st, int kind, int close,
                                            mb_u32 len) {
  struct mb_l7_answer_write w = {.skb = skb};
  int form = mb_http_answer_layout(&w.a, len, kind, close);
  if (form == 2)
    st->phase = MB_L7_DISCARD;
  w.s = form ? mb_l7_enter() : NULL;
  if (!w.s)
    goto fail;
  bpf_loop(MB_HTTP_ANSWER_MAX / MB_HTTP_HEADER_MAX, mb_l7_answer_chunk, &w, 0);
  mb_l7_leave();
  long err = w.err;
  if (!err && len < skb->len)
    err = bpf_skb_change_tail(skb, len, 0);
  if (!err && bpf_sk_redirect_hash(skb, &mb_l7_socks_in, &st->key, 0) == SK_PASS)
    return SK_PASS;
fail:
  /* Not answered: dropped as long as it is, a held tail with it (the
   * connection is cut, so nothing held is given back). */
  st->held = 0;
  mb_l7_cut(st, MB_HTTP_STAT_ANSWER_FAILED);
  return SK_DROP;
}

/* The endpoint's verdict on one segment its server socket received. */
static __always_inline int mb_l7_skb_segment(struct __sk_buff *skb, struct mb_l7_state *st) {
  if (st->phase == MB_L7_DISCARD) {
    mb_http_count(MB_HTTP_STAT_DISCARDED);
    return SK_DROP;
  }
  if (st->held && mb_l7_unhold(skb, st) < 0) {
    mb_l7_cut(st, MB_HTTP_STAT_HOLD_FAILED);
    return SK_DROP;
  }
  struct mb_l7_walk w = {.ctx = skb, .st = st, .len = skb->len};
  bpf_loop(MB_L7_SEGMENT_MESSAGES, mb_l7_walk_step, &w, 0);
  if (!w.cut && !w.held && w.off < w.len && st->phase != MB_L7_DISCARD) {
    w.cut = 1; /* more messages than the walk decides */
    mb_l7_cut(st, MB_HTTP_STAT_CUT);
  }
  /* The bytes this segment accounts for: all but a held tail. */
  mb_u32 own = w.held && !w.cut ? w.held_at : w.len;
  if (w.answer) /* after a cut, the answer covers the whole segment */
    return mb_l7_skb_answer(skb, st, (int)w.answer, w.cut || w.close, own);
  if (w.cut)
    return SK_DROP;
  if (w.keep == own && own > 0) {
    if (own < w.len && bpf_skb_change_tail(skb, own, 0) < 0)
      goto drop;
    return SK_PASS;
  }
  if (w.keep == 0) {
    if (own < w.len && mb_l7_skb_shorten(skb, own) < 0)
      goto drop;
    return SK_DROP;
  }
drop:
  /* Passed bytes that cannot be delivered alone: cut. */
  mb_l7_cut(st, MB_HTTP_STAT_CUT);
  return SK_DROP;
}

#endif /* MB_LIB_L7_SKB_H */
