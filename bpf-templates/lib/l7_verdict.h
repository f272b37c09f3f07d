/* Deciding a policed socket's messages (docs/http.md "Datapath"): the
 * walk over what a socket received (lib/l7_skb.h; sk_msg's for what it
 * sends) hands each message framed by lib/l7_frame.h here with the
 * socket's state, and gets back what to do with it.
 *
 * A header block is read (lib/http_read.h) and decided by the class's
 * mb_http_decide_<dir>; the verdict then covers its body. A denied header
 * block is answered 403 (the connection stays open); bytes that are not a
 * request HTTP/1.x reads are answered 400 with Connection: close, and
 * everything after them on the connection is dropped. The answers' bytes
 * are laid out here; writing them is the walk's. The state moves on
 * per message: HEAD → BODY or CHUNK_SIZE → CHUNK_DATA → CHUNK_END →
 * CHUNK_SIZE ... → TRAILERS → HEAD.
 *
 * The message is st->cur_len bytes at st->cur_off in the context.
 */
#ifndef MB_LIB_L7_VERDICT_H
#define MB_LIB_L7_VERDICT_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/ctx.h"
#include "lib/event_ring.h"
#include "lib/identity.h"
#include "lib/l7_frame.h"
#include "lib/l7_maps.h"
#include "lib/l7_scratch.h"
#include "lib/policy.h"

/* What becomes of a message. */
#define MB_L7_DROP 0
#define MB_L7_PASS 1
#define MB_L7_ANSWER_403 2 /* drop it and answer 403 */
#define MB_L7_ANSWER_400 3 /* drop it, answer 400 and drop the rest of the connection */

/* The answers. What the kernel counts as read from the connection is the
 * length a dropped or redirected segment has when its verdict returns, so
 * an answer takes exactly the place of the bytes it answers (lib/l7_skb.h):
 * status line, Content-Length, and a body that pads it to that length
 * ("Forbidden", spaces, a final newline). Bytes too few for that get the
 * status line alone and a body of spaces delimited by the connection's end
 * (the rest of the connection is then discarded); fewer than that cannot
 * be answered. */
#define MB_HTTP_ANSWER_MAX 65536 /* longer: not answered, dropped (5 digits of Content-Length) */
#define MB_HTTP_403_HEAD 40       /* bytes of each head before the length's digits */
#define MB_HTTP_403_CLOSE_HEAD 59
#define MB_HTTP_400_HEAD 61
#define MB_HTTP_SHORT_HEAD 17
/* Padded to powers of two, so a masked index stays inside each; one
 * object, so clang keeps it in .rodata (a lone 16-byte array would go to a
 * mergeable-constant section libbpf does not map). */
static const struct {
  char head[3][64]; /* MB_L7_ANSWER_403, its closing form, MB_L7_ANSWER_400 */
  char short_head[2][32];
  char forbidden[16];
} mb_http_answers = {
    .head = {"HTTP/1.1 403 Forbidden\r\nContent-Length: ",
             "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: ",
             "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: "},
    .short_head = {"HTTP/1.1 403 \r\n\r\n", "HTTP/1.1 400 \r\n\r\n"},
    .forbidden = "Forbidden",
};

/* How an answer of `len` bytes is laid out. */
struct mb_http_answer {
  mb_u32 len;    /* the whole answer */
  mb_u32 form;   /* index into mb_http_answers.head */
  mb_u32 head;   /* bytes of the head before the digits */
  mb_u32 digits; /* of the body length, 0: the short form */
  mb_u32 body;   /* body length */
};

/* 1 (with Content-Length), 2 (the short form: the connection must be
 * discarded after it) or 0 (too short or too long to answer). */
static __always_inline int mb_http_answer_layout(struct mb_http_answer *a, mb_u32 len, int kind, int close) {
  a->len = len;
  a->form = kind == MB_L7_ANSWER_400 ? 2 : close ? 1 : 0;
  a->head = kind == MB_L7_ANSWER_400 ? MB_HTTP_400_HEAD : close ? MB_HTTP_403_CLOSE_HEAD : MB_HTTP_403_HEAD;
  a->digits = 0;
  a->body = 0;
  if (len > MB_HTTP_ANSWER_MAX)
    return 0;
  for (mb_u32 d = 1; d <= 5; d++) {
    if (len < a->head + 4 + d)
      break;
    mb_u32 body = len - a->head - 4 - d;
    mb_u32 need = body < 10 ? 1 : body < 100 ? 2 : body < 1000 ? 3 : body < 10000 ? 4 : 5;
    if (need == d) {
      a->digits = d;
      a->body = body;
      break;
    }
  }
  if (!a->digits && len < MB_HTTP_SHORT_HEAD)
    return 0;
  return a->digits ? 1 : 2;
}

struct mb_http_fill {
  struct mb_http_scratch *s;
  struct mb_http_answer a;
  mb_u32 from; /* the answer's bytes [from, from + n) go to s->buf */
  mb_u32 n;
};

static long mb_http_fill_step(mb_u32 i, struct mb_http_fill *f) {
  if (i >= f->n)
    return 1;
  char c = ' ';
  mb_u32 at = f->from + i;
  if (!f->a.digits) {
    if (at < MB_HTTP_SHORT_HEAD)
      c = mb_http_answers.short_head[f->a.form == 2][mb_http_idx(at, 31)];
  } else if (at < f->a.head) {
    c = mb_http_answers.head[f->a.form > 2 ? 2 : f->a.form][mb_http_idx(at, 63)];
  } else if ((at -= f->a.head) < f->a.digits) {
    mb_u32 v = f->a.body;
    for (mb_u32 k = 0; k < 5; k++)
      if (k + 1 + at < f->a.digits)
        v /= 10;
    c = (char)('0' + v % 10);
  } else if ((at -= f->a.digits) < 4) {
    c = (at & 1) ? '\n' : '\r';
  } else {
    at -= 4;
    if (f->a.form != 2 && f->a.body >= 10 && at < 9)
      c = mb_http_answers.forbidden[mb_http_idx(at, 15)];
    else if (at + 1 == f->a.body)
      c = '\n';
  }
  f->s->buf[i & (MB_HTTP_HEADER_MAX - 1)] = c;
  return 0;
}

/* Writes the answer's bytes [from, from + n) into s->buf (n at most
 * MB_HTTP_HEADER_MAX). */
static __always_inline void mb_http_fill(struct mb_http_scratch *s, const struct mb_http_answer *a, mb_u32 from,
                                         mb_u32 n) {
  struct mb_http_fill f = {.s = s, .a = *a, .from = from, .n = n};
  bpf_loop(MB_HTTP_HEADER_MAX, mb_http_fill_step, &f, 0);
}

static __always_inline void mb_http_emit(int kind, const struct mb_l7_state *st, mb_u32 rule_id, mb_u32 audit_rule,
                                         mb_u8 why, const struct mb_http_request *req) {
  if (!mb_event_enabled(kind))
    return;
  struct mb_http_event *ev = bpf_ringbuf_reserve(&mb_events, sizeof(*ev), 0);
  if (!ev)
    return;
  __builtin_memset(ev, 0, sizeof(*ev));
  ev->flow.timestamp_ns = bpf_ktime_get_ns();
  ev->flow.endpoint = mb_endpoint_id();
  ev->flow.rule_id = rule_id;
  ev->flow.kind = kind;
  ev->flow.direction = st->direction;
  ev->flow.proto = IPPROTO_TCP;
  ev->flow.family = st->key.family;
  /* The connection as the packet path reports it: source the client. */
  if (st->direction == MB_DIR_INGRESS) {
    ev->flow.sport = st->key.remote_port;
    ev->flow.dport = st->key.local_port;
    __builtin_memcpy(ev->flow.saddr, st->key.remote, 16);
    __builtin_memcpy(ev->flow.daddr, st->key.local, 16);
  } else {
    ev->flow.sport = st->key.local_port;
    ev->flow.dport = st->key.remote_port;
    __builtin_memcpy(ev->flow.saddr, st->key.local, 16);
    __builtin_memcpy(ev->flow.daddr, st->key.remote, 16);
  }
  ev->why = why;
  ev->audit_rule_id = audit_rule;
  if (req) {
    ev->method_len = req->method_len;
    __builtin_memcpy(ev->method, req->method, MB_HTTP_METHOD_BYTES);
    ev->path_len = req->path_len < MB_HTTP_EVENT_PATH_BYTES ? req->path_len : MB_HTTP_EVENT_PATH_BYTES;
    __builtin_memcpy(ev->path, req->path, MB_HTTP_EVENT_PATH_BYTES);
  }
  bpf_ringbuf_submit(ev, 0);
}

/* Bytes that are not a request: 400, and the rest of the stream dropped. */
static __always_inline int mb_http_unreadable(struct mb_l7_state *st, mb_u8 why) {
  mb_u32 stat = why == MB_HTTP_WHY_TOO_LONG ? MB_HTTP_STAT_TOO_LONG
                : why == MB_HTTP_WHY_TLS     ? MB_HTTP_STAT_TLS
                : why == MB_HTTP_WHY_HTTP2   ? MB_HTTP_STAT_HTTP2
                : why == MB_HTTP_WHY_PATH    ? MB_HTTP_STAT_PATH
                                             : MB_HTTP_STAT_MALFORMED;
  mb_http_count(stat);
  st->phase = MB_L7_DISCARD;
  st->deny = 1;
  mb_http_emit(MB_EVENT_HTTP_DENY, st, 0, 0, why, NULL);
  return MB_L7_ANSWER_400;
}

static __always_inline mb_u64 mb_http_decide(const int dir, const struct mb_identity *peer,
                                             const struct mb_decision_input *in, const struct mb_http_request *req) {
  return dir == MB_DIR_INGRESS ? mb_http_decide_ingress(peer, in, req) : mb_http_decide_egress(peer, in, req);
}

/* A header block: read, decide, pass or answer 403. */
static __always_inline int mb_http_head(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u32 len, const int dir) {
  if (len > MB_HTTP_HEADER_MAX)
    return mb_http_unreadable(st, MB_HTTP_WHY_TOO_LONG);
  struct mb_http_scratch *s = mb_l7_enter();
  if (!s) { /* busy (counted): where the next message starts is unknown */
    st->deny = 1;
    st->phase = MB_L7_DISCARD;
    return MB_L7_DROP;
  }
  int rc = MB_L7_DROP;
  mb_u8 why = 0;
  mb_u32 n = mb_l7_copy(ctx, s, st->cur_off, len, MB_HTTP_HEADER_MAX);
  if (n == 0) {
    why = MB_HTTP_WHY_MALFORMED;
    goto out;
  }
  if ((mb_u8)s->buf[0] == 0x16) {
    why = MB_HTTP_WHY_TLS;
    goto out;
  }
  {
    const char *pri = "PRI * HTTP/2.0\r\n";
    int h2 = n >= 16;
    for (int k = 0; k < 16; k++)
      if (s->buf[k] != pri[k])
        h2 = 0;
    if (h2) {
      why = MB_HTTP_WHY_HTTP2;
      goto out;
    }
  }
  if (n < 4 || s->buf[(n - 4) & (MB_HTTP_HEADER_MAX - 1)] != '\r' || s->buf[(n - 3) & (MB_HTTP_HEADER_MAX - 1)] != '\n' ||
      s->buf[(n - 2) & (MB_HTTP_HEADER_MAX - 1)] != '\r' || s->buf[(n - 1) & (MB_HTTP_HEADER_MAX - 1)] != '\n') {
    why = n >= MB_HTTP_HEADER_MAX ? MB_HTTP_WHY_TOO_LONG : MB_HTTP_WHY_MALFORMED;
    goto out;
  }
  struct mb_http_framing fr = {0};
  int rd = mb_http_read(s, n, &fr);
  if (rd < 0) {
    why = rd == MB_HTTP_READ_PATH ? MB_HTTP_WHY_PATH : MB_HTTP_WHY_MALFORMED;
    goto out;
  }

  struct mb_decision_input in;
  struct mb_decision d;
  __builtin_memset(&in, 0, sizeof(in));
  struct mb_identity *peer = mb_identity_lookup(st->key.family, st->key.remote);
  in.peer_flags = peer->flags;
  in.family = st->key.family;
  in.proto = IPPROTO_TCP;
  in.port = dir == MB_DIR_INGRESS ? st->key.local_port : st->key.remote_port;
  __builtin_memcpy(in.addr, st->key.remote, 16);
  mb_unpack_decision(mb_http_decide(dir, peer, &in, &s->req), &d);

  st->phase = fr.chunked ? MB_L7_CHUNK_SIZE : fr.length ? MB_L7_BODY : MB_L7_HEAD;
  st->remaining = fr.length;
  mb_count_rule(d.rule_id, len);
  if (d.verdict != MB_VERDICT_ALLOW) {
    st->deny = 1;
    mb_http_count(MB_HTTP_STAT_DENIED);
    mb_http_emit(MB_EVENT_HTTP_DENY, st, d.rule_id, 0, MB_HTTP_WHY_RULE, &s->req);
    mb_l7_leave();
    return MB_L7_ANSWER_403;
  }
  st->deny = 0;
  mb_http_count(MB_HTTP_STAT_ALLOWED);
  mb_http_emit(MB_EVENT_HTTP_ALLOW, st, d.rule_id, 0, 0, &s->req);
  if (d.audit_would_deny) {
    mb_http_count(MB_HTTP_STAT_AUDIT);
    mb_http_emit(MB_EVENT_HTTP_AUDIT, st, d.rule_id, d.audit_rule_id, 0, &s->req);
  }
  rc = MB_L7_PASS;
out:
  mb_l7_leave();
  if (why)
    return mb_http_unreadable(st, why);
  return rc;
}

/* A chunk-size line: hex digits, optional extensions, CRLF. */
struct mb_http_chunk_line {
  struct mb_http_scratch *s;
  mb_u32 n; /* bytes before the CRLF */
  mb_u32 digits, ext, bad;
  mb_u64 size;
};

static long mb_http_chunk_step(mb_u32 i, struct mb_http_chunk_line *cl) {
  if (i >= cl->n)
    return 1;
  mb_u8 c = (mb_u8)cl->s->buf[i & (MB_HTTP_HEADER_MAX - 1)];
  if (cl->ext) {
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      cl->bad = 1;
    return 0;
  }
  int v = mb_http_hex(c);
  if (v >= 0) {
    if (++cl->digits > 15)
      cl->bad = 1;
    cl->size = (cl->size << 4) | (mb_u32)v;
  } else if (c == ';' && cl->digits) {
    cl->ext = 1;
  } else {
    cl->bad = 1;
  }
  return cl->bad ? 1 : 0;
}

static __always_inline int mb_http_chunk_size(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u32 len) {
  if (len < 3 || len > MB_HTTP_CHUNK_LINE_MAX)
    return mb_http_unreadable(st, MB_HTTP_WHY_MALFORMED);
  struct mb_http_scratch *s = mb_l7_enter();
  if (!s) { /* busy (counted): where the next message starts is unknown */
    st->deny = 1;
    st->phase = MB_L7_DISCARD;
    return MB_L7_DROP;
  }
  struct mb_http_chunk_line cl = {.s = s, .n = len - 2};
  mb_u32 n = mb_l7_copy(ctx, s, st->cur_off, len, MB_HTTP_CHUNK_LINE_MAX);
  if (n != len || s->buf[(len - 2) & (MB_HTTP_HEADER_MAX - 1)] != '\r' ||
      s->buf[(len - 1) & (MB_HTTP_HEADER_MAX - 1)] != '\n')
    cl.bad = 1;
  else
    bpf_loop(MB_HTTP_CHUNK_LINE_MAX, mb_http_chunk_step, &cl, 0);
  mb_l7_leave();
  if (cl.bad || !cl.digits)
    return mb_http_unreadable(st, MB_HTTP_WHY_MALFORMED);
  st->remaining = cl.size;
  st->phase = cl.size ? MB_L7_CHUNK_DATA : MB_L7_TRAILERS;
  return st->deny ? MB_L7_DROP : MB_L7_PASS;
}

/* Body bytes follow their request's verdict. */
static __always_inline int mb_http_body(struct mb_l7_state *st, mb_u32 len) {
  if (st->deny)
    return MB_L7_DROP;
  mb_http_count_n(MB_HTTP_STAT_BODY_BYTES, len);
  return MB_L7_PASS;
}

static __always_inline int mb_http_message(mb_ctx_t *ctx, struct mb_l7_state *st, const int dir) {
  mb_u32 len = st->cur_len;
  switch (st->phase) {
  case MB_L7_HEAD:
    return mb_http_head(ctx, st, len, dir);
  case MB_L7_BODY:
  case MB_L7_CHUNK_DATA:
    if (len > st->remaining)
      return mb_http_unreadable(st, MB_HTTP_WHY_MALFORMED); /* framing never cuts such a run */
    st->remaining -= len;
    if (!st->remaining)
      st->phase = st->phase == MB_L7_BODY ? MB_L7_HEAD : MB_L7_CHUNK_END;
    return mb_http_body(st, len);
  case MB_L7_CHUNK_END: {
    mb_u8 two[2];
    if (len != 2 || mb_ctx_load_bytes(ctx, st->cur_off, two, 2) < 0 || two[0] != '\r' || two[1] != '\n')
      return mb_http_unreadable(st, MB_HTTP_WHY_MALFORMED);
    st->phase = MB_L7_CHUNK_SIZE;
    return st->deny ? MB_L7_DROP : MB_L7_PASS;
  }
  case MB_L7_CHUNK_SIZE:
    return mb_http_chunk_size(ctx, st, len);
  case MB_L7_TRAILERS:
    st->phase = MB_L7_HEAD;
    if (len > MB_HTTP_HEADER_MAX)
      return mb_http_unreadable(st, MB_HTTP_WHY_TOO_LONG);
    return mb_http_body(st, 0);
  }
  mb_http_count(MB_HTTP_STAT_DISCARDED);
  return MB_L7_DROP;
}

/* Ends the connection's inspection: every later byte is dropped. */
static __always_inline void mb_l7_cut(struct mb_l7_state *st, mb_u32 stat) {
  st->phase = MB_L7_DISCARD;
  st->deny = 1;
  mb_http_count(stat);
}

/* The endpoint's verdict on one message of a socket in state `st`. */
static __always_inline int mb_l7_message(mb_ctx_t *ctx, struct mb_l7_state *st, const int dir) {
  switch (st->protocol) {
  case MB_L7_HTTP:
    return mb_http_message(ctx, st, dir);
  }
  return MB_L7_DROP;
}

#endif /* MB_LIB_L7_VERDICT_H */
