/* Reading an HTTP/1.x header block into struct mb_http_request
 * (runtime/abi/datapath.h), as docs/http.md "What the datapath reads" and
 * the reference reader (compiler/features/http/evaluate.cpp, readRequest)
 * define it: a header block is request line, header lines, empty line,
 * every line ending in CRLF.
 *
 * The reader works on bytes already copied into scratch memory
 * (struct mb_http_scratch.buf), so it does not care which program context
 * they came from (sk_skb or sk_msg: include/ctx/stream.h). It is a byte
 * machine driven by bpf_loop: the verifier checks one byte's step once,
 * however long the block. Per byte it keeps only what the decision needs:
 * the method, the path (with its canonical-form checks), the Host header,
 * the class's named headers (mb_http_header_names) and the framing headers.
 *
 * A path that is not canonical (names::httpPathFault: docs/http.md,
 * "Canonical paths") or longer than MB_HTTP_PATH_BYTES - 1 makes the
 * request unreadable, told apart from malformed bytes by the return value
 * (MB_HTTP_READ_PATH): no request with such a path reaches the decision.
 *
 * Known difference from the reference: a Host value longer than
 * MB_HTTP_HOST_BYTES - 1 bytes (before ":port" is cut) is taken as no Host
 * (a host pattern then fails, which only denies).
 */
#ifndef MB_LIB_HTTP_READ_H
#define MB_LIB_HTTP_READ_H

#include "include/platform.h"

/* The class's HTTP tables, generated beside the request decision
 * (include/http_none.h for a class without HTTP rules). */
extern volatile const mb_u32 mb_http_class_features;
extern volatile const mb_u32 mb_http_header_count;
extern volatile const char mb_http_header_names[MB_HTTP_HEADERS_MAX][MB_HTTP_HEADER_NAME_BYTES];
extern mb_u64 mb_http_decide_ingress(const struct mb_identity *peer, const struct mb_decision_input *in,
                                     const struct mb_http_request *req);
extern mb_u64 mb_http_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in,
                                    const struct mb_http_request *req);

/* Reader states. */
#define MB_HR_METHOD 0
#define MB_HR_TARGET 1
#define MB_HR_VERSION 2
#define MB_HR_LINE 3  /* at the start of a header line (or the empty line) */
#define MB_HR_NAME 4
#define MB_HR_VALUE 5
#define MB_HR_DONE 6

/* Which header a value belongs to. */
#define MB_HH_OTHER 0
#define MB_HH_HOST 1
#define MB_HH_CL 2
#define MB_HH_TE 3

struct mb_http_reader {
  mb_u32 len; /* bytes of the block in buf (ending in CRLFCRLF) */
  mb_u32 st;
  mb_u32 bad; /* unreadable */
  mb_u32 mlen, tlen, plen, vlen;
  mb_u32 in_query;
  mb_u32 noncanon; /* the path is not canonical or too long */
  mb_u32 prev;     /* previous path byte */
  mb_u32 seg_len, seg_dots;
  mb_u32 pct;      /* path: 1 after '%', 2 after '%' and one hex digit */
  mb_u32 pct1;     /* that digit's value */
  mb_u32 nlen;
  mb_u32 nhash;
  mb_u32 special; /* MB_HH_* of the current header */
  int table;   /* index in the class's table, or -1 */
  mb_u32 vstarted, vpos, vtrim;
  mb_u32 hosts, cls, tes;
  mb_u32 host_len;
  mb_u64 cl;
  mb_u32 cl_digits, cl_bad;
  mb_u32 te_ok;
  char version[8];
  char te[8];
  char name[MB_HTTP_HEADER_NAME_BYTES];
  mb_u32 thash[MB_HTTP_HEADERS_MAX]; /* the table's names: hash and length */
  mb_u32 tlen_of[MB_HTTP_HEADERS_MAX];
  /* Post-pass over the host. */
  int colon;
  mb_u32 digits_after;
};

/* The per-CPU working memory of the socket layer. */
struct mb_http_scratch {
  char buf[MB_HTTP_HEADER_MAX];
  struct mb_http_request req;
  struct mb_http_reader rd;
};

/* What the block says about the body that follows it. */
struct mb_http_framing {
  mb_u64 length; /* Content-Length */
  mb_u8 chunked;
};

static __always_inline int mb_http_token(mb_u8 c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return 1;
  switch (c) {
  case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
  case '-': case '.': case '^': case '_': case '`': case '|': case '~':
    return 1;
  }
  return 0;
}

/* mb_http_read's result. */
#define MB_HTTP_READ_OK 0
#define MB_HTTP_READ_MALFORMED (-1) /* not an HTTP/1.x request as docs/http.md reads them */
#define MB_HTTP_READ_PATH (-2)      /* readable, but its path is not canonical or too long */

/* A hex digit's value, or -1. */
static __always_inline int mb_http_hex(mb_u8 c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* A byte a canonical path never escapes: a separator, or an RFC 3986
 * unreserved character (a server decodes its escape: "%61dmin" is "admin"). */
static __always_inline int mb_http_never_escaped(mb_u8 b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' || b == '.' ||
         b == '_' || b == '~' || b == '/' || b == '\\';
}

/* An index masked into its array where the verifier sees it: the barrier
 * keeps clang from dropping a mask it deems redundant after a bounds test. */
static __always_inline mb_u32 mb_http_idx(mb_u32 k, mb_u32 mask) {
  asm volatile("" : "+r"(k));
  return k & mask;
}

static __always_inline mb_u8 mb_http_lower(mb_u8 c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

static __always_inline mb_u32 mb_http_hash_step(mb_u32 h, mb_u8 c) { return (h ^ c) * 16777619u; }

struct mb_http_loop {
  struct mb_http_scratch *s;
};

/* Hash and length of table name i (callback: i over 16 * 64 bytes). */
static long mb_http_table_step(mb_u32 i, struct mb_http_loop *l) {
  struct mb_http_scratch *s = l->s;
  mb_u32 n = (i >> 6) & (MB_HTTP_HEADERS_MAX - 1), k = i & (MB_HTTP_HEADER_NAME_BYTES - 1);
  mb_u8 c = (mb_u8)mb_http_header_names[n][k];
  if (k == 0) {
    s->rd.thash[n] = 2166136261u;
    s->rd.tlen_of[n] = 0;
  }
  if (c && s->rd.tlen_of[n] == k) {
    s->rd.thash[n] = mb_http_hash_step(s->rd.thash[n], c);
    s->rd.tlen_of[n] = k + 1;
  }
  return 0;
}

static __always_inline int mb_http_name_is(const struct mb_http_reader *rd, const char *want, mb_u32 n) {
  if (rd->nlen != n)
    return 0;
  for (mb_u32 k = 0; k < n; k++)
    if (rd->name[k] != want[k])
      return 0;
  return 1;
}

/* A header name ended (at ':'): which one is it? */
static __always_inline void mb_http_name_done(struct mb_http_scratch *s) {
  struct mb_http_reader *rd = &s->rd;
  rd->special = MB_HH_OTHER;
  rd->table = -1;
  if (mb_http_name_is(rd, "host", 4)) {
    rd->special = MB_HH_HOST;
    rd->hosts++;
  } else if (mb_http_name_is(rd, "content-length", 14)) {
    rd->special = MB_HH_CL;
    rd->cls++;
  } else if (mb_http_name_is(rd, "transfer-encoding", 17)) {
    rd->special = MB_HH_TE;
    rd->tes++;
  }
  if (rd->nlen >= MB_HTTP_HEADER_NAME_BYTES)
    return;
  mb_u32 count = mb_http_header_count;
#pragma unroll
  for (int i = 0; i < MB_HTTP_HEADERS_MAX; i++) {
    if (rd->table < 0 && (mb_u32)i < count && rd->tlen_of[i] == rd->nlen && rd->thash[i] == rd->nhash)
      rd->table = i;
  }
  if (rd->table < 0)
    return;
  /* The hash only narrows the search: compare the name itself. */
  mb_u32 t = mb_http_idx((mb_u32)rd->table, MB_HTTP_HEADERS_MAX - 1);
  for (mb_u32 k = 0; k < MB_HTTP_HEADER_NAME_BYTES; k++) {
    if (k >= rd->nlen)
      break;
    if ((mb_u8)rd->name[k] != (mb_u8)mb_http_header_names[t][k]) {
      rd->table = -1;
      return;
    }
  }
  mb_u32 bit = 1u << t;
  if (s->req.header_seen & bit) {
    s->req.header_repeated |= bit;
    rd->table = -1; /* the first value is kept; a value condition fails anyway */
  } else {
    s->req.header_seen |= bit;
  }
}

/* A header line ended (at its CR). */
static __always_inline void mb_http_value_done(struct mb_http_scratch *s) {
  struct mb_http_reader *rd = &s->rd;
  if (rd->table >= 0) {
    mb_u32 t = mb_http_idx((mb_u32)rd->table, MB_HTTP_HEADERS_MAX - 1);
    s->req.value_len[t] = (mb_u16)rd->vtrim;
    /* Trailing spaces stored before they were known to trail. */
    for (mb_u32 k = 0; k < MB_HTTP_VALUE_BYTES; k++)
      if (k >= rd->vtrim && k < rd->vpos)
        s->req.value[t][k] = 0;
  }
  if (rd->special == MB_HH_HOST) {
    rd->host_len = rd->vtrim;
    for (mb_u32 k = 0; k < MB_HTTP_HOST_BYTES; k++)
      if (k >= rd->vtrim && k < rd->vpos)
        s->req.host[k] = 0;
  } else if (rd->special == MB_HH_CL) {
    if (rd->cl_digits == 0 || rd->cl_digits > 18)
      rd->cl_bad = 1;
  } else if (rd->special == MB_HH_TE) {
    const char *want = "chunked";
    int ok = rd->vtrim == 7;
    for (int k = 0; k < 7; k++)
      if (rd->te[k] != want[k])
        ok = 0;
    if (!ok)
      rd->bad = 1;
  }
}

/* The path ended (at '?' or the space before the version). */
static __always_inline void mb_http_path_done(struct mb_http_reader *rd) {
  if (rd->plen == 0 || rd->plen > MB_HTTP_PATH_BYTES - 1)
    rd->noncanon = 1;
  /* A '.' or '..' last segment; an escape cut short ("/a%4?x"). */
  if ((rd->seg_len == 1 && rd->seg_dots == 1) || (rd->seg_len == 2 && rd->seg_dots == 2) || rd->pct)
    rd->noncanon = 1;
}

static __always_inline void mb_http_path_byte(struct mb_http_scratch *s, mb_u8 c) {
  struct mb_http_reader *rd = &s->rd;
  mb_u32 at = rd->plen;
  if (at < MB_HTTP_PATH_BYTES)
    s->req.path[mb_http_idx(at, MB_HTTP_PATH_BYTES - 1)] = c;
  rd->plen = at + 1;
  if (at == 0 && c != '/')
    rd->noncanon = 1;
  if (c == '\\' || c == '#')
    rd->noncanon = 1;
  if (rd->pct) {
    /* Two hex digits in capitals, of a byte a canonical path escapes. */
    int h = mb_http_hex(c);
    if (h < 0 || c >= 'a')
      rd->noncanon = 1;
    if (rd->pct == 1) {
      rd->pct1 = (mb_u32)h & 15;
      rd->pct = 2;
    } else {
      if (mb_http_never_escaped((mb_u8)((rd->pct1 << 4) | ((mb_u32)h & 15))))
        rd->noncanon = 1;
      rd->pct = 0;
    }
  } else if (c == '%') {
    rd->pct = 1;
  }
  if (c == '/') {
    if (at > 0 && rd->prev == '/')
      rd->noncanon = 1; /* an empty segment before the last */
    if ((rd->seg_len == 1 && rd->seg_dots == 1) || (rd->seg_len == 2 && rd->seg_dots == 2))
      rd->noncanon = 1;
    rd->seg_len = 0;
    rd->seg_dots = 0;
  } else {
    rd->seg_len++;
    if (c == '.')
      rd->seg_dots++;
  }
  rd->prev = c;
}

static __always_inline void mb_http_value_byte(struct mb_http_scratch *s, mb_u8 c) {
  struct mb_http_reader *rd = &s->rd;
  if ((c < 0x20 && c != '\t') || c == 0x7f) {
    rd->bad = 1;
    return;
  }
  int ws = c == ' ' || c == '\t';
  if (!rd->vstarted) {
    if (ws)
      return;
    rd->vstarted = 1;
  }
  mb_u32 k = rd->vpos;
  rd->vpos = k + 1;
  if (!ws)
    rd->vtrim = k + 1;
  if (rd->table >= 0 && k < MB_HTTP_VALUE_BYTES)
    s->req.value[mb_http_idx((mb_u32)rd->table, MB_HTTP_HEADERS_MAX - 1)][mb_http_idx(k, MB_HTTP_VALUE_BYTES - 1)] = c;
  switch (rd->special) {
  case MB_HH_HOST:
    if (rd->hosts == 1 && k < MB_HTTP_HOST_BYTES)
      s->req.host[mb_http_idx(k, MB_HTTP_HOST_BYTES - 1)] = mb_http_lower(c);
    break;
  case MB_HH_CL:
    if (ws)
      break;
    if (c < '0' || c > '9' || rd->vtrim != k + 1 || rd->cl_digits != k) {
      rd->cl_bad = 1; /* not a digit, or a digit after a space */
      break;
    }
    rd->cl_digits++;
    if (rd->cl_digits <= 18)
      rd->cl = rd->cl * 10 + (c - '0');
    break;
  case MB_HH_TE:
    if (k < 8)
      rd->te[mb_http_idx(k, 7)] = mb_http_lower(c);
    break;
  }
}

/* One byte of the block (bpf_loop callback). */
static long mb_http_read_step(mb_u32 i, struct mb_http_loop *l) {
  struct mb_http_scratch *s = l->s;
  struct mb_http_reader *rd = &s->rd;
  if (i >= rd->len || rd->bad || rd->st == MB_HR_DONE)
    return 1;
  mb_u8 c = (mb_u8)s->buf[mb_http_idx(i, MB_HTTP_HEADER_MAX - 1)];

  if (c == '\n') {
    /* Every LF follows a CR (checked at the CR); a bare one is malformed. */
    if (i == 0 || s->buf[mb_http_idx((i - 1), MB_HTTP_HEADER_MAX - 1)] != '\r')
      rd->bad = 1;
    return 0;
  }
  if (c == '\r') {
    if (i + 1 >= rd->len || s->buf[mb_http_idx(i + 1, MB_HTTP_HEADER_MAX - 1)] != '\n') {
      rd->bad = 1;
      return 1;
    }
    switch (rd->st) {
    case MB_HR_VERSION: {
      const char *v = "HTTP/1.";
      int ok = rd->vlen == 8 && (rd->version[7] == '1' || rd->version[7] == '0');
      for (int k = 0; k < 7; k++)
        if (rd->version[k] != v[k])
          ok = 0;
      if (!ok)
        rd->bad = 1;
      rd->st = MB_HR_LINE;
      break;
    }
    case MB_HR_LINE:
      rd->st = MB_HR_DONE; /* the empty line */
      return 1;
    case MB_HR_VALUE:
      mb_http_value_done(s);
      rd->st = MB_HR_LINE;
      break;
    default: /* a request line cut short, a header line without ':' */
      rd->bad = 1;
    }
    return 0;
  }

  switch (rd->st) {
  case MB_HR_METHOD:
    if (c == ' ') {
      if (rd->mlen == 0)
        rd->bad = 1;
      s->req.method_len = rd->mlen <= MB_HTTP_METHOD_BYTES ? (mb_u8)rd->mlen : 0;
      rd->st = MB_HR_TARGET;
    } else if (!mb_http_token(c)) {
      rd->bad = 1;
    } else {
      if (rd->mlen < MB_HTTP_METHOD_BYTES)
        s->req.method[mb_http_idx(rd->mlen, MB_HTTP_METHOD_BYTES - 1)] = c;
      rd->mlen++;
    }
    break;
  case MB_HR_TARGET:
    if (c == ' ') {
      if (rd->tlen == 0)
        rd->bad = 1;
      if (!rd->in_query)
        mb_http_path_done(rd);
      rd->st = MB_HR_VERSION;
      break;
    }
    if (c < 0x21 || c > 0x7e) {
      rd->bad = 1;
      break;
    }
    rd->tlen++;
    if (rd->in_query)
      break;
    if (c == '?') {
      rd->in_query = 1;
      mb_http_path_done(rd);
      break;
    }
    mb_http_path_byte(s, c);
    break;
  case MB_HR_VERSION:
    if (c == ' ' || rd->vlen >= 8) {
      rd->bad = 1;
      break;
    }
    rd->version[mb_http_idx(rd->vlen, 7)] = c;
    rd->vlen++;
    break;
  case MB_HR_LINE:
    if (c == ' ' || c == '\t') {
      rd->bad = 1; /* folded */
      break;
    }
    rd->st = MB_HR_NAME;
    rd->nlen = 0;
    rd->nhash = 2166136261u;
    /* fall through: the byte starts the name */
  case MB_HR_NAME:
    if (c == ':') {
      if (rd->nlen == 0) {
        rd->bad = 1;
        break;
      }
      mb_http_name_done(s);
      rd->st = MB_HR_VALUE;
      rd->vstarted = rd->vpos = rd->vtrim = 0;
      rd->cl_digits = 0;
      break;
    }
    if (!mb_http_token(c)) {
      rd->bad = 1;
      break;
    }
    c = mb_http_lower(c);
    if (rd->nlen < MB_HTTP_HEADER_NAME_BYTES)
      rd->name[mb_http_idx(rd->nlen, MB_HTTP_HEADER_NAME_BYTES - 1)] = c;
    rd->nhash = mb_http_hash_step(rd->nhash, c);
    rd->nlen++;
    break;
  case MB_HR_VALUE:
    mb_http_value_byte(s, c);
    break;
  }
  return 0;
}

/* Post-pass over the host: find the last ':' and whether only digits follow. */
static long mb_http_host_step(mb_u32 i, struct mb_http_loop *l) {
  struct mb_http_scratch *s = l->s;
  struct mb_http_reader *rd = &s->rd;
  if (i >= rd->host_len)
    return 1;
  mb_u8 c = (mb_u8)s->req.host[mb_http_idx(i, MB_HTTP_HOST_BYTES - 1)];
  if (c == ':') {
    rd->colon = (int)i;
    rd->digits_after = 1;
  } else if (c < '0' || c > '9') {
    rd->digits_after = 0;
  }
  return 0;
}

/* Every host byte before the cut is a DNS name character; the rest zeroed. */
static long mb_http_host_check(mb_u32 i, struct mb_http_loop *l) {
  struct mb_http_scratch *s = l->s;
  struct mb_http_reader *rd = &s->rd;
  mb_u32 k = mb_http_idx(i, MB_HTTP_HOST_BYTES - 1);
  mb_u8 c = (mb_u8)s->req.host[k];
  if (i >= rd->host_len) {
    s->req.host[k] = 0;
    return 0;
  }
  if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
    rd->digits_after = 2; /* marks the host invalid */
  return 0;
}

/* Zeroes the request and the reader (too big for an unrolled memset): 8
 * bytes per step. */
#define MB_HTTP_ZERO_WORDS ((sizeof(struct mb_http_request) + sizeof(struct mb_http_reader)) / 8)
_Static_assert(sizeof(struct mb_http_request) % 8 == 0, "mb_http_request in words");
_Static_assert(__builtin_offsetof(struct mb_http_scratch, rd) ==
                   __builtin_offsetof(struct mb_http_scratch, req) + sizeof(struct mb_http_request),
               "req and rd adjacent");

static long mb_http_zero_step(mb_u32 i, struct mb_http_loop *l) {
  if (i >= MB_HTTP_ZERO_WORDS)
    return 1;
  mb_u64 *w = (mb_u64 *)&l->s->req;
  w[i] = 0;
  return 0;
}

/* Reads the header block in s->buf[0, len) (len ends after CRLFCRLF, at
 * most MB_HTTP_HEADER_MAX) into s->req. Returns MB_HTTP_READ_OK and the
 * body's framing, or a negative MB_HTTP_READ_*: unreadable (malformed
 * bytes are reported before the path, as the reference reader does). */
static __always_inline int mb_http_read(struct mb_http_scratch *s, mb_u32 len, struct mb_http_framing *fr) {
  struct mb_http_loop l = {.s = s};
  bpf_loop(MB_HTTP_ZERO_WORDS, mb_http_zero_step, &l, 0);
  s->rd.len = len;
  s->rd.table = -1;
  if (mb_http_header_count)
    bpf_loop(MB_HTTP_HEADERS_MAX * MB_HTTP_HEADER_NAME_BYTES, mb_http_table_step, &l, 0);
  bpf_loop(MB_HTTP_HEADER_MAX, mb_http_read_step, &l, 0);
  struct mb_http_reader *rd = &s->rd;
  if (rd->bad || rd->st != MB_HR_DONE)
    return MB_HTTP_READ_MALFORMED;
  if (rd->hosts > 1 || rd->cls > 1 || rd->tes > 1 || (rd->cls && rd->tes) || (rd->cls && rd->cl_bad))
    return MB_HTTP_READ_MALFORMED;
  if (rd->noncanon)
    return MB_HTTP_READ_PATH;
  fr->length = rd->cls ? rd->cl : 0;
  fr->chunked = rd->tes ? 1 : 0;
  s->req.path_len = (mb_u16)rd->plen;

  if (rd->hosts == 1 && rd->host_len > 0 && rd->host_len < MB_HTTP_HOST_BYTES) {
    rd->colon = -1;
    rd->digits_after = 0;
    bpf_loop(MB_HTTP_HOST_BYTES, mb_http_host_step, &l, 0);
    mb_u32 n = rd->host_len;
    if (rd->colon >= 0 && rd->digits_after && (mb_u32)rd->colon + 1 < n)
      n = (mb_u32)rd->colon;
    if (n > 0 && s->req.host[mb_http_idx((n - 1), MB_HTTP_HOST_BYTES - 1)] == '.')
      n--;
    rd->host_len = n;
    rd->digits_after = 0;
    bpf_loop(MB_HTTP_HOST_BYTES, mb_http_host_check, &l, 0);
    if (n > 0 && n <= 253 && rd->digits_after != 2) {
      s->req.flags |= MB_HTTP_REQ_HOST;
      s->req.host_len = (mb_u16)n;
    }
  }
  if (!(s->req.flags & MB_HTTP_REQ_HOST)) {
    rd->host_len = 0;
    bpf_loop(MB_HTTP_HOST_BYTES, mb_http_host_check, &l, 0);
  }
  return MB_HTTP_READ_OK;
}

#endif /* MB_LIB_HTTP_READ_H */
