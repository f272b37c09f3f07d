/* The shell of a class's policy decision: the global functions the skeleton
 * calls (lib/policy.h), with their BTF. Compiled once per run; for each class
 * the compiler replaces the bodies of the three functions below with
 * generated LLVM IR (every rule folded in), then links this object with the
 * skeleton's. The bodies here only stand in: should one ever survive, it
 * denies.
 */
#define MB_SHARED_EXTERN /* the maps below are the skeleton's (lib/identity.h) */
#include "include/platform.h"
#include "lib/identity.h"

__attribute__((noinline)) mb_u64 mb_decide_ingress(const struct mb_identity *peer,
                                                   const struct mb_decision_input *in) {
  (void)peer, (void)in;
  return MB_RESULT_DENY | MB_RESULT_ENFORCED;
}

__attribute__((noinline)) mb_u64 mb_decide_egress(const struct mb_identity *peer,
                                                  const struct mb_decision_input *in) {
  (void)peer, (void)in;
  return MB_RESULT_DENY | MB_RESULT_ENFORCED;
}

__attribute__((noinline)) int mb_direction_enforced(int direction) {
  (void)direction;
  return 1;
}

/* ---- The class's DNS tables (runtime/abi/datapath.h, docs/dns.md) ---------
 *
 * Generated per class like the decision: the compiler sets the features'
 * initializer and replaces the two bodies. Stand-ins, should one survive:
 * those of a class without DNS rules. */
#include "include/dns_none.h"

/* ---- The class's HTTP tables and request decisions (docs/http.md) ---------
 *
 * Generated per class like the decision (codegen/http_codegen.cpp); the
 * stand-ins, should one survive, are those of a class without HTTP rules,
 * whose request decisions deny. */
#include "include/http_none.h"

/* ---- The socket calls' decision (docs/process.md) ---------------------------
 *
 * Generated per class with process rules (codegen/decision_codegen.cpp); the
 * stand-in, should it survive, is that of a class without any: it denies. */
#include "include/process_none.h"

/* ---- Peer bits past the trie value's (runtime/abi/datapath.h) -------------
 *
 * Bit b of a peer is in its trie value's bits[] below MB_PEER_BITS, and past
 * that in mb_more_peer_bits under the value's more_bits: a lookup instead of
 * a load. Generated code calls mb_peer_word once per such word a port leaf
 * tests; a class testing none carries no copy of it. */
static __always_inline mb_u64 mb_more_peer_word(mb_u64 set, mb_u32 word) {
  if (!set) return 0;
  struct mb_more_peer_bits_key key = {.set = set, .word = word, .pad = 0};
  mb_u64 *bits = bpf_map_lookup_elem(&mb_more_peer_bits, &key);
  return bits ? *bits : 0;
}

/* Called by generated code only: word `word` (>= MB_PEER_WORDS) of the peer
 * bits of the trie entry whose more_bits is `set`. */
__attribute__((noinline)) mb_u64 mb_peer_word(mb_u64 set, mb_u32 word) { return mb_more_peer_word(set, word); }

/* ---- Table-driven matching, for large rule sets ---------------------------
 *
 * Small classes get their rules folded into code. Past a size where that code
 * would be too large (for the verifier, for 16-bit jump offsets, for compile
 * time) the compiler keeps the same port search in code but hands each leaf
 * to this function: the leaf's rules live in .rodata as data the compiler
 * generates per class, one entry per (rule, 64-bit word of peer bits) in
 * verdict order (denies first), so the first entry that hits decides.
 * Word MB_TABLE_FLAGS_WORD of a mask stands for the peer's MB_PEER_* flags.
 */
#define MB_TABLE_FLAGS_WORD 0xffffffffu
#define MB_TABLE_SCAN_MAX 4096
#define MB_MATCH_DEFAULT_DENY 0x80000000u

struct mb_table_leaf {
  mb_u32 first; /* entries [first, first + count) */
  mb_u32 count;
};

struct mb_table_entry {
  mb_u64 mask;
  mb_u32 code; /* rule id, with MB_MATCH_DEFAULT_DENY's bit for a deny rule */
  mb_u32 word; /* which word of peer bits `mask` applies to */
};

/* Defined per class by the compiler (a single zero leaf when unused). */
extern const struct mb_table_leaf mb_table_leaves[];
extern const struct mb_table_entry mb_table_entries[];
extern const mb_u32 mb_table_leaf_count;
extern const mb_u32 mb_table_entry_count;

/* Verdicts by peer set, for the sets the compiler knew of (the manifest's
 * peerSets; mb_identity.set is 1 + the index): cell [leaf * width + column]
 * is 1 + the position in the leaf of the entry that decides for the sets of
 * that column (sets alike at every leaf of the class share a column), or 0
 * when none does. One load, whatever the leaf's length; a peer whose set the
 * compiler did not know (set 0) is scanned. Addresses outside the trie
 * (MB_PEER_SET_WORLD) have a column of their own. Defined per class (zero
 * columns when the class has no table, or the table would be too large). */
extern const mb_u16 mb_dense_columns[]; /* per set: its column */
extern const mb_u32 mb_dense_set_count;
extern const mb_u16 mb_dense_cells[];
extern const mb_u32 mb_dense_cell_count;
extern const mb_u32 mb_dense_width; /* columns */
extern const mb_u32 mb_dense_world_column; /* MB_PEER_SET_WORLD's */

struct mb_table_scan {
  const struct mb_identity *peer;
  mb_u64 more; /* peer->more_bits */
  mb_u32 flags;
  mb_u32 first;
  mb_u32 count;
  mb_u32 code;
};

/* Entries per bpf_loop callback: the call costs about as much as testing a
 * few entries, so each call tests a block of them. */
#define MB_TABLE_BLOCK 8

/* Block `block` of a leaf's entries; returns 1 to stop the scan. */
static long mb_table_scan_block(mb_u64 block, void *ctx) {
  struct mb_table_scan *scan = ctx;
#pragma unroll
  for (mb_u32 k = 0; k < MB_TABLE_BLOCK; k++) {
    mb_u32 i = (mb_u32)block * MB_TABLE_BLOCK + k;
    if (i >= scan->count) return 1;
    mb_u32 index = scan->first + i;
    if (index >= mb_table_entry_count) return 1;
    /* Keep clang from folding the index into a pointer computed before the
     * bounds check, which the verifier cannot follow. */
    asm volatile("" : "+r"(index));
    const struct mb_table_entry *e = &mb_table_entries[index];
    mb_u32 w = e->word;
    mb_u64 word = scan->flags;
    if (w < MB_PEER_WORDS) {
      /* The mask below is what bounds the load for the verifier; keep clang
       * from dropping it as redundant after the comparison. */
      asm volatile("" : "+r"(w));
      word = scan->peer->bits[w & (MB_PEER_WORDS - 1)];
    } else if (w != MB_TABLE_FLAGS_WORD) {
      word = mb_more_peer_word(scan->more, w);
    }
    if (word & e->mask) {
      scan->code = e->code;
      return 1;
    }
  }
  return 0;
}

/* Called by generated code only. A global function, so the verifier checks
 * it once rather than once per port leaf that calls it; the scan runs in
 * bpf_loop so its length costs the verifier nothing either. No early exit
 * on the leaf's `any` words: with 64 words of peer bits that test costs more
 * than the scan of a typical leaf. */
__attribute__((noinline)) mb_u32 mb_table_match(const struct mb_identity *peer, mb_u32 flags,
                                                mb_u32 leaf_index) {
  if (!peer || leaf_index >= mb_table_leaf_count) return MB_MATCH_DEFAULT_DENY;
  const struct mb_table_leaf *leaf = &mb_table_leaves[leaf_index];
  /* The table is built from each set's flags: it holds when the flags to
   * decide by are the entry's own, as every caller's are. */
  mb_u32 set = peer->set - 1; /* 0: unknown, wraps past every count */
  mb_u32 column = mb_dense_width; /* none */
  if (peer->set == MB_PEER_SET_WORLD) {
    column = mb_dense_world_column;
  } else if (set < mb_dense_set_count) {
    asm volatile("" : "+r"(set));
    column = mb_dense_columns[set];
  }
  if (column < mb_dense_width && flags == peer->flags) {
    mb_u32 cell = (mb_u32)leaf_index * mb_dense_width + column;
    if (cell < mb_dense_cell_count) {
      asm volatile("" : "+r"(cell));
      mb_u32 at = mb_dense_cells[cell];
      if (!at) return MB_MATCH_DEFAULT_DENY;
      mb_u32 index = leaf->first + at - 1;
      if (index < mb_table_entry_count) {
        asm volatile("" : "+r"(index));
        return mb_table_entries[index].code;
      }
    }
  }
  struct mb_table_scan scan = {.peer = peer,
                               .more = peer->more_bits,
                               .flags = flags,
                               .first = leaf->first,
                               .count = leaf->count,
                               .code = MB_MATCH_DEFAULT_DENY};
  bpf_loop((MB_TABLE_SCAN_MAX + MB_TABLE_BLOCK - 1) / MB_TABLE_BLOCK, mb_table_scan_block, &scan, 0);
  return scan.code;
}

/* ---- Port search as data, for classes with very many port intervals -------
 *
 * The port search is code: a balanced tree of comparisons, one per interval
 * boundary. Past a few thousand intervals for one protocol (every rule with a
 * port of its own), that code costs the compiler and the verifier more than
 * it saves, so a table-driven matcher keeps the intervals as data instead:
 * per protocol, a run of interval starts in increasing order (the first is
 * 0), each with the table leaf its ports go to. */
#define MB_PORT_NO_LEAF 0xffffffffu /* no rule applies: default deny */
#define MB_PORT_SEARCH_STEPS 17      /* ceil(log2(65536 intervals)) + 1 */

struct mb_port_interval {
  mb_u32 start;
  mb_u32 leaf; /* index into mb_table_leaves, or MB_PORT_NO_LEAF */
};

/* Defined per class by the compiler (a single zero interval when unused). */
extern const struct mb_port_interval mb_port_intervals[];
extern const mb_u32 mb_port_interval_count;

/* Called by generated code only: the leaf of the last interval among
 * [first, first + count) whose start is at most `port`. A global function,
 * verified once; the search is a fixed number of halvings. */
__attribute__((noinline)) mb_u32 mb_port_leaf(mb_u32 first, mb_u32 count, mb_u32 port) {
  mb_u32 base = 0, len = count, outside = 0;
  /* Halving `len` 17 times brings any count up to 65,536 down to 1; steps
   * after that change nothing (half is 0). No early exit, so it unrolls. */
#pragma unroll
  for (int step = 0; step < MB_PORT_SEARCH_STEPS; step++) {
    mb_u32 half = len / 2;
    mb_u32 index = first + base + half;
    if (index >= mb_port_interval_count)
      outside = 1;
    else if (half && mb_port_intervals[index].start <= port)
      base += half;
    len -= half;
  }
  mb_u32 index = first + base;
  if (outside || index >= mb_port_interval_count)
    return MB_PORT_NO_LEAF;
  asm volatile("" : "+r"(index));
  return mb_port_intervals[index].leaf;
}

/* ---- HTTP paths and hosts, by automaton (codegen/http_codegen.cpp) ---------
 *
 * The class's path patterns and host patterns compile into one DFA over
 * bytes (no backtracking): bytes map to classes, each state has a next
 * state per class, state 0 is dead. Each state names a row of bits: bit i
 * set when pattern i (the compiler's numbering: path patterns, then host
 * patterns) matches the bytes that reached it. The walk runs in bpf_loop,
 * so the verifier checks one step however long the path; the generated
 * request decision calls the two functions below and tests the bits it
 * needs. A class without HTTP rules has the one dead state. */
#define MB_HTTP_DFA_PATH 0
#define MB_HTTP_DFA_HOST 1
#define MB_HTTP_HOST_MAX 253 /* longer hosts match no host pattern */

extern const mb_u8 mb_http_byte_class[256];
extern const mb_u16 mb_http_dfa_next[];   /* [state * mb_http_dfa_classes + class] */
extern const mb_u16 mb_http_dfa_accept[]; /* [state]: row of mb_http_dfa_bits */
extern const mb_u64 mb_http_dfa_bits[];   /* [row * mb_http_dfa_words + word] */
extern const mb_u32 mb_http_dfa_start[2]; /* MB_HTTP_DFA_PATH, MB_HTTP_DFA_HOST */
extern const mb_u32 mb_http_dfa_classes;
extern const mb_u32 mb_http_dfa_states;
extern const mb_u32 mb_http_dfa_words;
extern const mb_u32 mb_http_dfa_cells; /* entries of mb_http_dfa_next */
extern const mb_u32 mb_http_dfa_bit_count; /* entries of mb_http_dfa_bits */

struct mb_http_dfa_walk {
  const struct mb_http_request *req;
  mb_u32 which;
  mb_u32 len;
  mb_u32 state;
};

static long mb_http_dfa_step(mb_u64 i, void *ctx) {
  struct mb_http_dfa_walk *w = ctx;
  if (i >= w->len || w->state == 0) return 1;
  mb_u8 c = w->which == MB_HTTP_DFA_HOST ? (mb_u8)w->req->host[i & (MB_HTTP_HOST_BYTES - 1)]
                                         : (mb_u8)w->req->path[i & (MB_HTTP_PATH_BYTES - 1)];
  mb_u32 index = w->state * mb_http_dfa_classes + mb_http_byte_class[c];
  if (index >= mb_http_dfa_cells) {
    w->state = 0;
    return 1;
  }
  asm volatile("" : "+r"(index));
  w->state = mb_http_dfa_next[index];
  return 0;
}

/* Called by generated code only: the DFA state the request's path
 * (MB_HTTP_DFA_PATH) or host (MB_HTTP_DFA_HOST) ends in; 0 (no pattern)
 * for a path longer than the buffer (the reader hands over canonical paths
 * of at most MB_HTTP_PATH_BYTES - 1 only), and for a missing or over-long
 * host. */
__attribute__((noinline)) mb_u32 mb_http_dfa_run(const struct mb_http_request *req, mb_u32 which) {
  if (!req || which > MB_HTTP_DFA_HOST) return 0;
  struct mb_http_dfa_walk w = {.req = req, .which = which, .state = mb_http_dfa_start[which & 1]};
  if (which == MB_HTTP_DFA_HOST) {
    if (!(req->flags & MB_HTTP_REQ_HOST) || req->host_len > MB_HTTP_HOST_MAX) return 0;
    w.len = req->host_len;
  } else {
    if (req->path_len >= MB_HTTP_PATH_BYTES) return 0;
    w.len = req->path_len;
  }
  if (w.state >= mb_http_dfa_states) return 0;
  bpf_loop(MB_HTTP_PATH_BYTES, mb_http_dfa_step, &w, 0);
  return w.state < mb_http_dfa_states ? w.state : 0;
}

/* Called by generated code only: word `word` of the pattern bits of `state`. */
__attribute__((noinline)) mb_u64 mb_http_dfa_word(mb_u32 state, mb_u32 word) {
  if (state >= mb_http_dfa_states || word >= mb_http_dfa_words) return 0;
  asm volatile("" : "+r"(state));
  mb_u32 index = (mb_u32)mb_http_dfa_accept[state] * mb_http_dfa_words + word;
  if (index >= mb_http_dfa_bit_count) return 0;
  asm volatile("" : "+r"(index));
  return mb_http_dfa_bits[index];
}
