/* Counters: per-rule packets/bytes and per-reason packet counts.
 *
 * Per-CPU arrays, so the hot path never contends on a cache line and needs
 * no atomics; the loader sums over CPUs. Pinned by name: a policy swap
 * keeps the numbers.
 */
#ifndef MB_LIB_COUNTERS_H
#define MB_LIB_COUNTERS_H

#include "include/platform.h"
#include "lib/reasons.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, struct mb_rule_stats);
  __uint(max_entries, MB_RULE_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_rule_stats MB_MAPS;

/* Counts a policy decision under the rule that made it (0: default deny).
 * Only decisions are counted here; packets of established flows are counted
 * in their conntrack entry. Out-of-range ids simply miss the array. */
static __always_inline void mb_count_rule(mb_u32 rule_id, mb_u32 bytes) {
  struct mb_rule_stats *s = bpf_map_lookup_elem(&mb_rule_stats, &rule_id);
  if (s) {
    s->packets += 1;
    s->bytes += bytes;
  }
}

#endif /* MB_LIB_COUNTERS_H */
