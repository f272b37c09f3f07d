/* The client side's verdict over what a policed socket sends (docs/http.md,
 * "Datapath"): egress HTTP rules, decided where the client sends, before a
 * byte leaves it.
 *
 * The kernel runs the sk_msg verdict on what one sendmsg() hands it, and
 * keeps what the verdict does not cover for another run: the verdict says
 * how many bytes its answer applies to (bpf_msg_apply_bytes), and the rest
 * of the message is handed to it again, starting there. So every run
 * starts where a message starts, and decides exactly one:
 *
 *   - an incomplete block (a header block, chunk-size line or trailer
 *     section that the bytes so far end inside): corked, so the kernel
 *     waits for more bytes and runs the verdict again on all of them
 *     (bpf_msg_cork_bytes). Nothing is sent meanwhile.
 *   - an allowed header block: passed, with the Content-Length body after
 *     it (the verdict then is not run on the body at all; a chunked body is
 *     passed chunk by chunk).
 *   - a denied header block: answered. It is rewritten into a 403 and
 *     redirected to the socket's own receive queue (BPF_F_INGRESS), where
 *     the client reads it as the server's answer; the server never sees
 *     the request. A Content-Length body (up to MB_HTTP_ANSWER_MAX bytes)
 *     follows the 403 as the rest of its body, so the connection stays in
 *     step and can carry the next request; a chunked or longer body cannot
 *     be answered that way: the 403 says Connection: close and what the
 *     client sends after it fails (EACCES).
 *   - bytes that are not a request: answered 400 with Connection: close,
 *     everything after them dropped (sendmsg fails with EACCES).
 *
 * The answer's length is the verdict's choice here (bpf_msg_push_data and
 * bpf_msg_pop_data resize the message), unlike the server side, where it
 * must keep the length of the bytes it answers (lib/l7_skb.h).
 *
 * Once a socket has corked, the kernel keeps its messages in the cork
 * message (psock->cork) from then on, and a redirect out of it frees the
 * whole message: bytes after the answered ones would be lost, the write
 * reported whole. So on a socket that has corked (st->held, on the client
 * side: "the kernel holds a cork message") an answer that does not end the
 * message says Connection: close and covers all of it; an HTTP client does
 * not expect answers to requests pipelined after it, and resends them on a
 * new connection. The redirect frees the cork message, so the flag clears.
 */
#ifndef MB_LIB_L7_MSG_H
#define MB_LIB_L7_MSG_H

#include "include/platform.h"
#include "lib/ctx.h"
#include "lib/l7_frame.h"
#include "lib/l7_maps.h"
#include "lib/l7_sent.h"
#include "lib/l7_verdict.h"

#define MB_L7_MSG_APPLY_MAX (1u << 30) /* body bytes one verdict passes at most */
#define MB_L7_MSG_ANSWER_BODY 10       /* "Forbidden\n" (the 400: spaces and a newline) */
#define MB_L7_MSG_ANSWER_MAX 96        /* a head, 5 digits, CRLFCRLF and that body fit */

/* The endpoint's verdict on one message it sends. A global function,
 * checked once on its own by the verifier, like mb_l7_frame_at. */
__attribute__((noinline)) int mb_l7_message_out(mb_ctx_t *ctx, struct mb_l7_state *st) {
  if (!ctx || !st)
    return MB_L7_DROP;
  return mb_l7_message(ctx, st, MB_DIR_EGRESS);
}

/* Rewrites the message's first `n` bytes (the denied request, and for a
 * 400 all the rest) into the answer and redirects it, with `echo` bytes of
 * body after it, to the socket's own receive queue. */
static __always_inline int mb_l7_msg_answer(struct sk_msg_md *msg, struct mb_l7_state *st, int kind, mb_u32 n) {
  int close = kind == MB_L7_ANSWER_400;
  mb_u64 echo = 0;
  if (st->phase == MB_L7_BODY)
    echo = st->remaining;
  else if (st->phase != MB_L7_HEAD && st->phase != MB_L7_DISCARD)
    close = 1; /* a chunked body: how long it is, nobody knows yet */
  if (echo > MB_HTTP_ANSWER_MAX - MB_L7_MSG_ANSWER_MAX || (st->held && n + echo < msg->size)) {
    echo = 0;
    close = 1;
  }
  if (close) {
    /* The answer closes the connection: it covers all that was sent with
     * the request, so the write succeeds, and the next one fails. */
    n = msg->size;
    echo = 0;
    st->phase = MB_L7_DISCARD;
    st->deny = 1;
  } else {
    st->phase = MB_L7_HEAD;
    st->remaining = 0;
  }

  /* The answer: a head whose Content-Length counts the body written here
   * and the echoed bytes after it. */
  struct mb_http_answer a;
  mb_u32 len = 0;
  mb_u32 head = kind == MB_L7_ANSWER_400 ? MB_HTTP_400_HEAD : close ? MB_HTTP_403_CLOSE_HEAD : MB_HTTP_403_HEAD;
  for (mb_u32 d = 1; d <= 5 && !len; d++) {
    mb_u32 total = head + d + 4 + MB_L7_MSG_ANSWER_BODY + (mb_u32)echo;
    if (mb_http_answer_layout(&a, total, kind, close) == 1 && a.digits == d)
      len = total - (mb_u32)echo;
  }
  struct mb_http_scratch *s = len ? mb_l7_enter() : NULL;
  if (!s)
    goto fail;
  mb_http_fill(s, &a, 0, len);

  long err = 0;
  if (n > len)
    err = bpf_msg_pop_data(msg, len, n - len, 0);
  else if (n < len)
    err = bpf_msg_push_data(msg, 0, len - n, 0); /* at the front: it is all overwritten */
  if (!err)
    err = bpf_msg_pull_data(msg, 0, len, 0);
  if (!err) {
    char *d = (char *)(long)msg->data, *end = (char *)(long)msg->data_end;
    for (mb_u32 i = 0; i < MB_L7_MSG_ANSWER_MAX; i++) {
      if (i >= len)
        break;
      if (d + i + 1 > end) {
        err = -1;
        break;
      }
      d[i] = s->buf[i];
    }
  }
  mb_l7_leave();
  if (err)
    goto fail;
  bpf_msg_apply_bytes(msg, len + (mb_u32)echo);
  if (bpf_msg_redirect_hash(msg, &mb_l7_socks_out, &st->key, BPF_F_INGRESS) == SK_PASS) {
    st->held = 0; /* the redirect frees a cork message */
    return SK_PASS;
  }
fail:
  mb_l7_cut(st, MB_HTTP_STAT_ANSWER_FAILED);
  return SK_DROP;
}

/* The endpoint's verdict on what its client socket sends, from the start
 * of the message the kernel hands it. */
static __always_inline int mb_l7_msg_send(struct sk_msg_md *msg, struct mb_l7_state *st) {
  if (st->phase == MB_L7_DISCARD) {
    mb_http_count(MB_HTTP_STAT_DISCARDED);
    return SK_DROP;
  }
  mb_u32 size = msg->size;
  mb_u32 n = size ? mb_l7_frame(msg, st, 0, size) : 0;
  if (n == 0) {
    /* An incomplete block: wait for one more byte at least, then see
     * again. The verdict returned applies only if the kernel cannot wait
     * (the message has no room left): then the bytes are dropped, and
     * sendmsg fails. */
    bpf_msg_cork_bytes(msg, size + 1);
    st->held = 1;
    mb_http_count(MB_HTTP_STAT_HELD);
    return SK_DROP;
  }
  /* A message corked before keeps the count asked for then; left, it
   * would cork again a message the verdict shrinks below it (an answer). */
  bpf_msg_cork_bytes(msg, 0);
  if (n > size)
    n = size;
  st->cur_off = 0;
  st->cur_len = n;
  int r = mb_l7_message_out(msg, st);
  if (r == MB_L7_PASS) {
    /* A body the request's verdict covers passes without another run. */
    mb_u64 more = 0;
    if (!st->deny && (st->phase == MB_L7_BODY || st->phase == MB_L7_CHUNK_DATA)) {
      more = st->remaining < MB_L7_MSG_APPLY_MAX ? st->remaining : MB_L7_MSG_APPLY_MAX;
      st->remaining -= more;
      if (!st->remaining)
        st->phase = st->phase == MB_L7_BODY ? MB_L7_HEAD : MB_L7_CHUNK_END;
      mb_http_count_n(MB_HTTP_STAT_BODY_BYTES, more);
    }
    if (mb_l7_sent_pass(&st->key, n + (mb_u32)more) < 0) {
      /* The packet programs would drop the bytes: fail the write now. */
      mb_l7_cut(st, MB_HTTP_STAT_SOCK_REFUSED);
      return SK_DROP;
    }
    bpf_msg_apply_bytes(msg, n + (mb_u32)more);
    return SK_PASS;
  }
  if (r == MB_L7_DROP) {
    /* Nothing the client can be told in order: the connection's sends fail. */
    mb_l7_cut(st, MB_HTTP_STAT_DISCARDED);
    return SK_DROP;
  }
  return mb_l7_msg_answer(msg, st, r, n);
}

#endif /* MB_LIB_L7_MSG_H */
