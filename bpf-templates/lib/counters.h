/* Counters: per-rule packets/bytes and per-reason packet counts.
 *
 * Per-CPU maps, so the hot path never contends on a cache line and needs
 * no atomics; the loader sums over CPUs. Rule ids are sparse (hashes below
 * MB_RULE_MAX), so the rule counters are a hash the loader sizes to the
 * version's rules and pins with the version.
 */
#ifndef MB_LIB_COUNTERS_H
#define MB_LIB_COUNTERS_H

#include "include/platform.h"
#include "lib/reasons.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __type(key, mb_u32);
  __type(value, struct mb_rule_stats);
  __uint(max_entries, MB_RULE_STATS_UNSIZED);  /* the loader sets it: one entry per rule, and 0 */
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_rule_stats MB_MAPS;

/* Counts a policy decision under the rule that made it (0: default deny).
 * Only decisions are counted here; packets of established flows are counted
 * in their conntrack entry. A rule's entry is made by its first decision
 * (on this CPU's slot; the others start at zero); when the map is full, as
 * it never is for ids of its own version, the decision goes uncounted. */
static __always_inline void mb_count_rule(mb_u32 rule_id, mb_u32 bytes) {
  struct mb_rule_stats *s = bpf_map_lookup_elem(&mb_rule_stats, &rule_id);
  if (!s) {
    struct mb_rule_stats first = {1, bytes};
    /* BPF_NOEXIST: another CPU may have made it meanwhile; then count here. */
    if (bpf_map_update_elem(&mb_rule_stats, &rule_id, &first, BPF_NOEXIST) == 0) return;
    s = bpf_map_lookup_elem(&mb_rule_stats, &rule_id);
    if (!s) return;
  }
  s->packets += 1;
  s->bytes += bytes;
}

#endif /* MB_LIB_COUNTERS_H */
