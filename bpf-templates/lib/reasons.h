/* Why packets passed or dropped: mb_reasons, a per-CPU count per
 * MB_REASON_* (runtime/abi/datapath.h), pinned by name so a policy swap
 * keeps the numbers. Its own header because the node's dispatchers
 * (dispatch.c) count into it too, and carry no other counter.
 */
#ifndef MB_LIB_REASONS_H
#define MB_LIB_REASONS_H

#include "include/platform.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u64);
  __uint(max_entries, MB_REASON_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_reasons MB_MAPS;

static __always_inline void mb_count_reason(mb_u32 reason) {
  mb_u64 *n = bpf_map_lookup_elem(&mb_reasons, &reason);
  if (n)
    *n += 1;
}

#endif /* MB_LIB_REASONS_H */
