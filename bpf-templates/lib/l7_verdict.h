/* Deciding a policed socket's messages (docs/http.md "Datapath"): the
 * endpoint's verdict program (entry/sk_skb.c, and sk_msg) hands each
 * message framed by lib/l7_frame.h here with the socket's state.
 *
 * A header block is read (lib/http_read.h) and decided by the class's
 * mb_http_decide_<dir>; the verdict then covers its body. A denied header
 * block is rewritten into a complete 403 response sent back to the peer on
 * the same socket; bytes that are not a request HTTP/1.x reads get a 400
 * with Connection: close, and everything after them on the connection is
 * dropped. The state moves on per message: HEAD → BODY or CHUNK_SIZE →
 * CHUNK_DATA → CHUNK_END → CHUNK_SIZE ... → TRAILERS → HEAD.
 *
 * The message is st->cur_len bytes at st->cur_off in the context (set by
 * the entry file: entry/sk_skb.c explains why a stream verdict's message
 * need not start at 0). The entry file supplies mb_l7_answer_ctx (write
 * the answer over the message and send it back).
 */
#ifndef MB_LIB_L7_VERDICT_H
#define MB_LIB_L7_VERDICT_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/ctx.h"
#include "lib/events.h"
#include "lib/identity.h"
#include "lib/l7_frame.h"
#include "lib/l7_maps.h"
#include "lib/l7_scratch.h"
#include "lib/policy.h"

#define MB_L7_PASS 1
#define MB_L7_DROP 0

/* The answers. A message redirected by a stream verdict goes out with the
 * length the stream parser gave it (the kernel sends the parser's message,
 * not the skb as the program left it), so an answer is written over the
 * message exactly: status line, Content-Length, and a body that pads it
 * to the message's length. A message too short for that gets the status
 * line alone and a body delimited by the connection's end (the rest of the
 * connection is discarded); one shorter than that cannot be answered. */
#define MB_HTTP_ANSWER_403 0
#define MB_HTTP_ANSWER_400 1
/* Padded to powers of two, so a masked index stays inside each; one
 * object, so clang keeps it in .rodata (a lone 16-byte array would go to a
 * mergeable-constant section libbpf does not map). */
static const struct {
  char head_403[64];
  char head_400[64];
  char short_head[2][32];
  char forbidden[16];
} mb_http_answers = {
    .head_403 = "HTTP/1.1 403 Forbidden\r\nContent-Length: ",
    .head_400 = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ",
    .short_head = {"HTTP/1.1 403 \r\n\r\n", "HTTP/1.1 400 \r\n\r\n"},
    .forbidden = "Forbidden",
};
#define MB_HTTP_403_HEAD 40
#define MB_HTTP_400_HEAD 61
#define MB_HTTP_SHORT_HEAD 17

struct mb_http_fill {
  struct mb_http_scratch *s;
  mb_u32 len;    /* the whole answer */
  mb_u32 head;   /* bytes of the head's prefix */
  mb_u32 digits; /* of the body length, 0: the short form */
  mb_u32 body;   /* body length */
  mb_u32 kind;   /* MB_HTTP_ANSWER_* */
};

static long mb_http_fill_step(mb_u32 i, struct mb_http_fill *f) {
  if (i >= f->len)
    return 1;
  char c = ' ';
  mb_u32 at = i;
  if (!f->digits) {
    if (at < MB_HTTP_SHORT_HEAD)
      c = mb_http_answers.short_head[f->kind & 1][at & 31];
  } else if (at < f->head) {
    c = f->kind == MB_HTTP_ANSWER_403 ? mb_http_answers.head_403[at & 63] : mb_http_answers.head_400[at & 63];
  } else if ((at -= f->head) < f->digits) {
    mb_u32 v = f->body;
    for (mb_u32 k = 0; k < 4; k++)
      if (k + 1 + at < f->digits)
        v /= 10;
    c = (char)('0' + v % 10);
  } else if ((at -= f->digits) < 4) {
    c = (at & 1) ? '\n' : '\r';
  } else {
    at -= 4;
    if (f->kind == MB_HTTP_ANSWER_403 && f->body >= 10 && at < 9)
      c = mb_http_answers.forbidden[at & 15];
    else if (at + 1 == f->body)
      c = '\n';
  }
  f->s->buf[i & (MB_HTTP_HEADER_MAX - 1)] = c;
  return 0;
}

/* Writes the answer of `kind` for a message of `len` bytes into s->buf.
 * Returns 1 (with Content-Length), 2 (the short form: the connection must
 * be discarded after it) or 0 (too short to answer). */
static __always_inline int mb_http_fill(struct mb_http_scratch *s, mb_u32 len, mb_u32 kind) {
  struct mb_http_fill f = {.s = s, .len = len, .kind = kind};
  f.head = kind == MB_HTTP_ANSWER_403 ? MB_HTTP_403_HEAD : MB_HTTP_400_HEAD;
  for (mb_u32 d = 1; d <= 4; d++) {
    if (len < f.head + 4 + d)
      break;
    mb_u32 body = len - f.head - 4 - d;
    mb_u32 need = body < 10 ? 1 : body < 100 ? 2 : body < 1000 ? 3 : 4;
    if (need == d) {
      f.digits = d;
      f.body = body;
      break;
    }
  }
  if (!f.digits && len < MB_HTTP_SHORT_HEAD)
    return 0;
  bpf_loop(MB_HTTP_HEADER_MAX, mb_http_fill_step, &f, 0);
  return f.digits ? 1 : 2;
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

/* Rewrites the message into the answer of `kind` and sends it back to
 * the peer. A message the answer cannot be written over is dropped. */
static __always_inline int mb_l7_answer(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u32 kind) {
  mb_u32 len = st->cur_len;
  int rc = MB_L7_DROP;
  struct mb_http_scratch *s = len <= MB_HTTP_HEADER_MAX ? mb_l7_enter() : NULL;
  if (s) {
    int form = mb_http_fill(s, len, kind);
    if (form == 2)
      st->phase = MB_L7_DISCARD;
    if (form)
      rc = mb_l7_answer_ctx(ctx, st, st->cur_off, s->buf, len);
    mb_l7_leave();
  }
  if (rc != MB_L7_PASS) {
    st->phase = MB_L7_DISCARD;
    mb_http_count(MB_HTTP_STAT_ANSWER_FAILED);
  }
  return rc;
}

/* Bytes that are not a request: 400, and the rest of the stream dropped. */
static __always_inline int mb_http_unreadable(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u8 why) {
  mb_u32 stat = why == MB_HTTP_WHY_TOO_LONG ? MB_HTTP_STAT_TOO_LONG
                : why == MB_HTTP_WHY_TLS     ? MB_HTTP_STAT_TLS
                : why == MB_HTTP_WHY_HTTP2   ? MB_HTTP_STAT_HTTP2
                                             : MB_HTTP_STAT_MALFORMED;
  mb_http_count(stat);
  st->phase = MB_L7_DISCARD;
  st->deny = 1;
  mb_http_emit(MB_EVENT_HTTP_DENY, st, 0, 0, why, NULL);
  return mb_l7_answer(ctx, st, MB_HTTP_ANSWER_400);
}

static __always_inline mb_u64 mb_http_decide(const int dir, const struct mb_identity *peer,
                                             const struct mb_decision_input *in, const struct mb_http_request *req) {
  return dir == MB_DIR_INGRESS ? mb_http_decide_ingress(peer, in, req) : mb_http_decide_egress(peer, in, req);
}

/* A header block: read, decide, pass or answer 403. */
static __always_inline int mb_http_head(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u32 len, const int dir) {
  if (len > MB_HTTP_HEADER_MAX)
    return mb_http_unreadable(ctx, st, MB_HTTP_WHY_TOO_LONG);
  struct mb_http_scratch *s = mb_l7_enter();
  if (!s) {
    st->deny = 1;
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
  if (mb_http_read(s, n, &fr) < 0) {
    why = MB_HTTP_WHY_MALFORMED;
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
    return mb_l7_answer(ctx, st, MB_HTTP_ANSWER_403);
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
    return mb_http_unreadable(ctx, st, why);
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
  mb_u32 v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
  if (v < 16) {
    if (++cl->digits > 15)
      cl->bad = 1;
    cl->size = (cl->size << 4) | v;
  } else if (c == ';' && cl->digits) {
    cl->ext = 1;
  } else {
    cl->bad = 1;
  }
  return cl->bad ? 1 : 0;
}

static __always_inline int mb_http_chunk_size(mb_ctx_t *ctx, struct mb_l7_state *st, mb_u32 len) {
  if (len < 3 || len > MB_HTTP_CHUNK_LINE_MAX)
    return mb_http_unreadable(ctx, st, MB_HTTP_WHY_MALFORMED);
  struct mb_http_scratch *s = mb_l7_enter();
  if (!s) {
    st->deny = 1;
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
    return mb_http_unreadable(ctx, st, MB_HTTP_WHY_MALFORMED);
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
      return mb_http_unreadable(ctx, st, MB_HTTP_WHY_MALFORMED); /* the parser never cuts such a run */
    st->remaining -= len;
    if (!st->remaining)
      st->phase = st->phase == MB_L7_BODY ? MB_L7_HEAD : MB_L7_CHUNK_END;
    return mb_http_body(st, len);
  case MB_L7_CHUNK_END: {
    mb_u8 two[2];
    if (len != 2 || mb_ctx_load_bytes(ctx, st->cur_off, two, 2) < 0 || two[0] != '\r' || two[1] != '\n')
      return mb_http_unreadable(ctx, st, MB_HTTP_WHY_MALFORMED);
    st->phase = MB_L7_CHUNK_SIZE;
    return st->deny ? MB_L7_DROP : MB_L7_PASS;
  }
  case MB_L7_CHUNK_SIZE:
    return mb_http_chunk_size(ctx, st, len);
  case MB_L7_TRAILERS:
    st->phase = MB_L7_HEAD;
    if (len > MB_HTTP_HEADER_MAX)
      return mb_http_unreadable(ctx, st, MB_HTTP_WHY_TOO_LONG);
    return mb_http_body(st, 0);
  }
  mb_http_count(MB_HTTP_STAT_DISCARDED);
  return MB_L7_DROP;
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
