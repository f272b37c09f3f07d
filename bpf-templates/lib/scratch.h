/* Per-CPU scratch memory that nests: what DNS (lib/dns_maps.h) and the
 * socket layer (lib/l7_scratch.h) read messages into, since neither fits
 * the 512-byte stack.
 *
 * A program in process context (cgroup egress, sk_msg on sendmsg) can be
 * interrupted on its CPU by one in softirq using the same memory, so each
 * user has a per-CPU array of entries (one per nesting level) and a per-CPU
 * nesting count: mb_scratch_enter takes the next free entry, mb_scratch_leave
 * gives it back. NULL when none is free; the caller counts it and fails
 * closed.
 */
#ifndef MB_LIB_SCRATCH_H
#define MB_LIB_SCRATCH_H

#include "include/platform.h"

/* `nesting`: a per-CPU array of one mb_u32; `entries`: a per-CPU array of
 * `depth` scratch values. Every non-NULL return is paired with
 * mb_scratch_leave(nesting). */
static __always_inline void *mb_scratch_enter(void *nesting, void *entries, mb_u32 depth) {
  mb_u32 zero = 0;
  mb_u32 *used = bpf_map_lookup_elem(nesting, &zero);
  if (!used)
    return NULL;
  mb_u32 level = *used;
  void *s = NULL;
  if (level < depth)
    s = bpf_map_lookup_elem(entries, &level);
  if (!s)
    return NULL;
  *used = level + 1;
  return s;
}

static __always_inline void mb_scratch_leave(void *nesting) {
  mb_u32 zero = 0;
  mb_u32 *used = bpf_map_lookup_elem(nesting, &zero);
  if (used && *used)
    *used -= 1;
}

#endif /* MB_LIB_SCRATCH_H */
