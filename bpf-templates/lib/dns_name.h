/* DNS names: from the wire to struct mb_dns_name (runtime/abi/datapath.h),
 * and from a learned slot's text back to one, for mb_dns_match.
 *
 * A message is first copied into scratch memory (lib/dns_maps.h), so every
 * read here is an index into that copy, masked to its size for the
 * verifier and checked against the message's length for correctness. Names
 * are read one byte per bpf_loop step: the verifier checks the step once,
 * and a name costs what it is long, never the worst case.
 *
 * What a name may be (anything else is unreadable: fail closed):
 *   - labels of 1-63 bytes, at most MB_DNS_LABELS_MAX of them, at most 253
 *     characters of dotted text;
 *   - bytes 0x21-0x7e except '.', so the dotted text splits back into the
 *     same labels (a label holding a '.' or a NUL could otherwise pose as
 *     two), and except '*', which in a pattern is the wildcard (a query for
 *     the literal "*.example.com" must not pass as a name "*.example.com"
 *     matches: the evaluator matches no name holding one); upper case is
 *     folded to lower case;
 *   - compression pointers (RFC 1035 4.1.4) at most MB_DNS_POINTER_HOPS per
 *     name, each pointing before itself and past the header: a pointer
 *     loop cannot go on, and a pointer out of bounds fails.
 */
#ifndef MB_LIB_DNS_NAME_H
#define MB_LIB_DNS_NAME_H

#include "include/platform.h"

#define MB_DNS_MSG_MASK (MB_DNS_MSG_MAX - 1)
#define MB_DNS_HEADER_BYTES 12
#define MB_DNS_TEXT_MAX 253
#define MB_DNS_LABEL_MAX 63
/* Steps of one name walk: a byte per step, every length byte and pointer
 * included, with room to spare. */
#define MB_DNS_NAME_STEPS (MB_DNS_NAME_BYTES + 2 * MB_DNS_POINTER_HOPS + 8)

static __always_inline mb_u32 mb_dns_u8(const mb_u8 *msg, mb_u32 off) { return msg[off & MB_DNS_MSG_MASK]; }

static __always_inline mb_u32 mb_dns_u16(const mb_u8 *msg, mb_u32 off) {
  return (mb_dns_u8(msg, off) << 8) | mb_dns_u8(msg, off + 1);
}

static __always_inline mb_u32 mb_dns_u32(const mb_u8 *msg, mb_u32 off) {
  return (mb_dns_u16(msg, off) << 16) | mb_dns_u16(msg, off + 2);
}

/* 0 for a byte a name may not hold, else the byte lowercased. */
static __always_inline mb_u8 mb_dns_name_char(mb_u8 c) {
  if (c < 0x21 || c > 0x7e || c == '.' || c == '*')
    return 0;
  if (c >= 'A' && c <= 'Z')
    c += 'a' - 'A';
  return c;
}

/* Labels were recorded left to right; the ABI counts them from the right. */
static __always_inline void mb_dns_name_reverse(struct mb_dns_name *n) {
  mb_u32 count = n->labels;
#pragma unroll
  for (mb_u32 i = 0; i < MB_DNS_LABELS_MAX / 2; i++) {
    if (i >= count / 2)
      continue;
    mb_u32 j = (count - 1 - i) & (MB_DNS_LABELS_MAX - 1);
    mb_u8 start = n->start[i], size = n->size[i];
    n->start[i] = n->start[j];
    n->size[i] = n->size[j];
    n->start[j] = start;
    n->size[j] = size;
  }
}

static __always_inline void mb_dns_name_clear(struct mb_dns_name *n) { __builtin_memset(n, 0, sizeof(*n)); }

/* ---- Wire format ----------------------------------------------------------- */

#define MB_DNS_WALK_RUNNING 0
#define MB_DNS_WALK_DONE 1
#define MB_DNS_WALK_BAD 2

/* A walk's state. It lives in map memory (the caller's scratch), never on
 * the stack: the verifier follows stack values from one bpf_loop step to
 * the next and, with a position that moves every step, would check each
 * step anew; values in a map are just numbers to it, so it checks the step
 * once. The steps mask every index they use. */
struct mb_dns_walk {
  mb_u32 pos;         /* where the next byte is read */
  mb_u32 end;         /* bytes of the message */
  mb_u32 next;        /* where the name ends in its record (after the first pointer) */
  mb_u32 remaining;   /* bytes left in the current label */
  mb_u32 tlen;        /* text written */
  mb_u32 hops;
  mb_u32 label_start; /* text: where the current label started */
  mb_u32 state;       /* MB_DNS_WALK_* */
};

/* What a step reads: pointers only, the same at every step. */
struct mb_dns_walk_ctx {
  const mb_u8 *msg; /* the message copy (wire), or */
  const char *text; /* a name's text */
  struct mb_dns_name *out;
  struct mb_dns_walk *w;
};

static long mb_dns_walk_step(mb_u64 index, void *vctx) {
  struct mb_dns_walk_ctx *c = vctx;
  struct mb_dns_walk *w = c->w;
  struct mb_dns_name *n = c->out;
  mb_u32 pos = w->pos;
  (void)index;

  if (pos >= w->end || pos >= MB_DNS_MSG_MAX)
    goto bad;
  mb_u32 b = mb_dns_u8(c->msg, pos);

  if (w->remaining) {
    mb_u8 ch = mb_dns_name_char((mb_u8)b);
    if (!ch)
      goto bad;
    n->text[w->tlen & (MB_DNS_NAME_BYTES - 1)] = ch;
    w->tlen++;
    w->remaining--;
    w->pos = pos + 1;
    return 0;
  }
  if (b == 0) {
    if (!w->hops)
      w->next = pos + 1;
    n->len = (mb_u16)w->tlen;
    w->state = MB_DNS_WALK_DONE;
    return 1;
  }
  if ((b & 0xc0) == 0xc0) {
    if (pos + 1 >= w->end)
      goto bad;
    mb_u32 target = ((b & 0x3f) << 8) | mb_dns_u8(c->msg, pos + 1);
    if (target < MB_DNS_HEADER_BYTES || target >= pos || w->hops >= MB_DNS_POINTER_HOPS)
      goto bad;
    if (!w->hops)
      w->next = pos + 2;
    w->hops++;
    w->pos = target;
    return 0;
  }
  if (b & 0xc0) /* the extended label types of RFC 6891 and the obsolete ones */
    goto bad;
  {
    mb_u32 dot = w->tlen ? 1 : 0;
    mb_u32 labels = n->labels;
    if (labels >= MB_DNS_LABELS_MAX || w->tlen + dot + b > MB_DNS_TEXT_MAX)
      goto bad;
    if (dot)
      n->text[w->tlen & (MB_DNS_NAME_BYTES - 1)] = '.';
    w->tlen += dot;
    n->start[labels & (MB_DNS_LABELS_MAX - 1)] = (mb_u8)w->tlen;
    n->size[labels & (MB_DNS_LABELS_MAX - 1)] = (mb_u8)b;
    n->labels = labels + 1;
    w->remaining = b;
    w->pos = pos + 1;
    return 0;
  }
bad:
  w->state = MB_DNS_WALK_BAD;
  return 1;
}

/* Reads the name at `pos` of `msg` (`end` bytes) into `out` (cleared
 * first), keeping the walk's state in `w` (map memory). Returns 0 and the
 * offset after the name in its record (`*next`), or -1: unreadable.
 * `*hops` gets the pointers followed. */
static __always_inline int mb_dns_read_name(const mb_u8 *msg, mb_u32 end, mb_u32 pos, struct mb_dns_name *out,
                                            struct mb_dns_walk *w, mb_u32 *next, mb_u32 *hops) {
  struct mb_dns_walk_ctx c = {.msg = msg, .out = out, .w = w};

  mb_dns_name_clear(out);
  __builtin_memset(w, 0, sizeof(*w));
  w->pos = pos;
  w->end = end;
  bpf_loop(MB_DNS_NAME_STEPS, mb_dns_walk_step, &c, 0);
  if (w->state != MB_DNS_WALK_DONE)
    return -1;
  mb_dns_name_reverse(out);
  *next = w->next;
  *hops = w->hops;
  return 0;
}

/* ---- Text (a learned slot's name) ------------------------------------------ */

static long mb_dns_split_step(mb_u64 index, void *vctx) {
  struct mb_dns_walk_ctx *c = vctx;
  struct mb_dns_walk *w = c->w;
  struct mb_dns_name *n = c->out;
  mb_u32 i = (mb_u32)index & (MB_DNS_NAME_BYTES - 1);
  char ch = c->text[i];

  if (ch && ch != '.') {
    if (i >= MB_DNS_TEXT_MAX)
      goto bad;
    n->text[i] = ch;
    return 0;
  }
  /* The end of a label: non-empty, not too long, not too many. */
  mb_u32 size = i - w->label_start;
  mb_u32 labels = n->labels;
  if (w->label_start > i || size == 0 || size > MB_DNS_LABEL_MAX || labels >= MB_DNS_LABELS_MAX)
    goto bad;
  n->start[labels & (MB_DNS_LABELS_MAX - 1)] = (mb_u8)w->label_start;
  n->size[labels & (MB_DNS_LABELS_MAX - 1)] = (mb_u8)size;
  n->labels = labels + 1;
  if (!ch) {
    n->len = (mb_u16)i;
    w->state = MB_DNS_WALK_DONE;
    return 1;
  }
  n->text[i] = '.';
  w->label_start = i + 1;
  return 0;
bad:
  w->state = MB_DNS_WALK_BAD;
  return 1;
}

/* Turns dotted text (as the maps keep names: NUL-terminated within
 * MB_DNS_NAME_BYTES) into `out`, with `w` for state. Returns 0, or -1 for
 * text that is not a name the wire reader could have produced. The empty
 * text is the root. */
static __always_inline int mb_dns_name_from_text(const char *text, struct mb_dns_name *out, struct mb_dns_walk *w) {
  struct mb_dns_walk_ctx c = {.text = text, .out = out, .w = w};

  mb_dns_name_clear(out);
  if (!text[0])
    return 0;
  __builtin_memset(w, 0, sizeof(*w));
  bpf_loop(MB_DNS_NAME_BYTES, mb_dns_split_step, &c, 0);
  if (w->state != MB_DNS_WALK_DONE)
    return -1;
  mb_dns_name_reverse(out);
  return 0;
}

/* Whether two names' texts are equal. Every text the datapath keeps is
 * zero-padded to MB_DNS_NAME_BYTES, so comparing all of it, 8 bytes at a
 * time and without a branch, decides it: a branch per word would let the
 * verifier split on the length at every word of every compare. Both live
 * in map memory, where the verifier allows unaligned loads
 * (mb_dns_name.text sits at offset 68). */
static __always_inline int mb_dns_text_eq(const char *a, const char *b) {
  const mb_u64 *wa = (const mb_u64 *)a, *wb = (const mb_u64 *)b;
  mb_u64 diff = 0;
#pragma unroll
  for (mb_u32 i = 0; i < MB_DNS_NAME_BYTES / 8; i++) {
    diff |= wa[i] ^ wb[i];
    /* One word at a time: clang would otherwise load all 64 first (or
     * hoist them out of compares in a row) and spill them to the 512-byte
     * stack. */
    asm volatile("" ::: "memory");
  }
  return diff == 0;
}

#endif /* MB_LIB_DNS_NAME_H */
