/* The node's dispatchers (dispatch.c): which load judges a packet, and the
 * one map update that moves every endpoint to a new version.
 *
 * A dispatcher runs at a tc or cgroup_skb hook of an endpoint. It finds the
 * endpoint in mb_endpoints by what the hook sees: tc runs on the host side
 * of the endpoint's veth, so the ifindex names it; cgroup_skb runs for
 * sockets of the endpoint's cgroup or of cgroups below it (a Kubernetes
 * pod's containers sit one level below the pod's cgroup), so the socket's
 * ancestor at each depth where endpoints' cgroups sit is tried. The entry
 * has two slots, one per version the node may hold at once; mb_active_slot
 * says which one packets follow. The slot names the endpoint's id and its
 * load, whose program for this hook sits in the hook's prog array at
 * slot * MB_LOADS_MAX + load. apply fills the inactive slot's entries and
 * arrays, then flips mb_active_slot (runtime/loader/dispatch.h).
 *
 * Everything that cannot be followed drops, counted: no entry
 * (MB_REASON_NO_ENDPOINT), no load or no program in the active slot
 * (MB_REASON_NO_PROGRAM).
 */
#ifndef MB_LIB_DISPATCH_H
#define MB_LIB_DISPATCH_H

#include "include/platform.h"
#include "lib/reasons.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct mb_endpoint_key);
  __type(value, struct mb_endpoint_entry);
  __uint(max_entries, MB_ENDPOINTS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* written by the loader only: no memory until used */
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_endpoints MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u32);
  __uint(max_entries, MB_ENDPOINT_DEPTHS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_endpoint_depths MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u32);
  __uint(max_entries, 1);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_active_slot MB_MAPS;

#define MB_DISPATCH_PROGS(name)                                  \
  MB_SHARED struct {                                             \
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);                       \
    __type(key, mb_u32);                                         \
    __type(value, mb_u32);                                       \
    __uint(max_entries, MB_DISPATCH_SLOTS * MB_LOADS_MAX);       \
    __uint(pinning, LIBBPF_PIN_BY_NAME);                         \
  } name MB_MAPS

MB_DISPATCH_PROGS(mb_progs_tc_from);
MB_DISPATCH_PROGS(mb_progs_tc_to);
MB_DISPATCH_PROGS(mb_progs_cg_in);
MB_DISPATCH_PROGS(mb_progs_cg_out);

static __always_inline struct mb_endpoint_entry *mb_endpoint_lookup(mb_u32 kind, mb_u64 id) {
  struct mb_endpoint_key k = {.kind = kind, .pad = 0, .id = id};
  return bpf_map_lookup_elem(&mb_endpoints, &k);
}

/* Looks the socket's ancestor at the depth listed at `index` up; 0 when
 * the list ends before `index`. */
static __always_inline int mb_endpoint_at_depth(struct __sk_buff *skb, mb_u32 index,
                                                struct mb_endpoint_entry **found) {
  mb_u32 key = index;
  mb_u32 *depth = bpf_map_lookup_elem(&mb_endpoint_depths, &key);
  if (!depth || *depth == 0)
    return 0;
  mb_u64 cgroup = bpf_skb_ancestor_cgroup_id(skb, (int)*depth);
  if (cgroup) /* else the socket's cgroup is above this depth */
    *found = mb_endpoint_lookup(MB_ENDPOINT_BY_CGROUP, cgroup);
  return 1;
}

/* The entry of a packet's endpoint at a tc (`by_ifindex`) or cgroup_skb
 * hook; NULL if none is recorded for it. The depths are tried one by one,
 * written out: a loop whose counter is also a map key lives on the stack,
 * where the verifier cannot tell one iteration from the next. */
static __always_inline struct mb_endpoint_entry *mb_endpoint_entry_at_hook(struct __sk_buff *skb,
                                                                           const int by_ifindex) {
  if (by_ifindex)
    return mb_endpoint_lookup(MB_ENDPOINT_BY_IFINDEX, skb->ifindex);
  _Static_assert(MB_ENDPOINT_DEPTHS_MAX == 4, "one try per depth below");
  struct mb_endpoint_entry *e = NULL;
  if (mb_endpoint_at_depth(skb, 0, &e) && !e && mb_endpoint_at_depth(skb, 1, &e) && !e &&
      mb_endpoint_at_depth(skb, 2, &e) && !e)
    mb_endpoint_at_depth(skb, 3, &e);
  return e;
}

/* Tail-calls the program that judges the packet and does not return. When
 * there is none, counts why and returns 0: the caller drops. Returns 1 (the
 * caller passes) only while the node is being detached (MB_SLOT_DETACHED). */
static __always_inline int mb_dispatch(struct __sk_buff *skb, void *progs, const int by_ifindex) {
  mb_u32 zero = 0;
  mb_u32 *active = bpf_map_lookup_elem(&mb_active_slot, &zero);
  if (active && *active == MB_SLOT_DETACHED)
    return 1;
  struct mb_endpoint_entry *e = mb_endpoint_entry_at_hook(skb, by_ifindex);
  if (!e) {
    mb_count_reason(MB_REASON_NO_ENDPOINT);
    return 0;
  }
  mb_u32 slot = active && *active == 1 ? 1 : 0;
  mb_u32 endpoint = slot ? e->slot[1].endpoint : e->slot[0].endpoint;
  mb_u32 load = slot ? e->slot[1].load : e->slot[0].load;
  if (load < MB_LOADS_MAX) {
    skb->cb[MB_CB_ENDPOINT] = endpoint;
    bpf_tail_call(skb, progs, slot * MB_LOADS_MAX + load);
  }
  mb_count_reason(MB_REASON_NO_PROGRAM);
  return 0;
}

#endif /* MB_LIB_DISPATCH_H */
