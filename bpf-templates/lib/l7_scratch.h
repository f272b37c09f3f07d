/* The socket layer's per-CPU working memory: a message's first bytes and
 * the request read from them do not fit the 512-byte stack.
 *
 * sk_msg programs run in process context (sendmsg) and can be interrupted
 * on their CPU by a stream verdict in softirq, so each CPU has
 * MB_L7_SCRATCH_DEPTH entries and a nesting count (lib/scratch.h, shared
 * with DNS): mb_l7_enter takes the next entry, mb_l7_leave gives it back.
 * With no entry free the caller fails closed (MB_HTTP_STAT_BUSY).
 */
#ifndef MB_LIB_L7_SCRATCH_H
#define MB_LIB_L7_SCRATCH_H

#include "include/platform.h"
#include "lib/http_read.h"
#include "lib/l7_maps.h"
#include "lib/scratch.h"

#define MB_L7_SCRATCH_DEPTH 2

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, struct mb_http_scratch);
  __uint(max_entries, MB_L7_SCRATCH_DEPTH);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_scratch MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u32);
  __uint(max_entries, 1);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_nesting MB_MAPS;

static __always_inline struct mb_http_scratch *mb_l7_enter(void) {
  struct mb_http_scratch *s = mb_scratch_enter(&mb_l7_nesting, &mb_l7_scratch, MB_L7_SCRATCH_DEPTH);
  if (!s)
    mb_http_count(MB_HTTP_STAT_BUSY);
  return s;
}

static __always_inline void mb_l7_leave(void) { mb_scratch_leave(&mb_l7_nesting); }

#endif /* MB_LIB_L7_SCRATCH_H */
