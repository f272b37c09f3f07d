/* Which endpoint a packet program runs for.
 *
 * The loader loads a class's packet programs once for all of the class's
 * endpoints and attaches that one load at each of their hooks, so the
 * endpoint cannot be a constant of the program: each packet finds it in
 * mb_endpoints, by what its hook sees (runtime/abi/datapath.h). tc runs on
 * the host side of the endpoint's veth, so the ifindex names it; cgroup_skb
 * runs for sockets of the endpoint's cgroup or of cgroups below it (a
 * Kubernetes pod's containers sit one level below the pod's cgroup), so the
 * socket's ancestor at each depth where endpoints' cgroups sit is tried.
 *
 * An object loaded for a single endpoint (mb_config.endpoint_id set: the
 * loader's per-endpoint loads, and the tests' bpf_prog_test_run) never
 * looks: the id is a frozen constant and the lookup folds away.
 */
#ifndef MB_LIB_ENDPOINT_H
#define MB_LIB_ENDPOINT_H

#include "include/platform.h"
#include "lib/config.h"

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

static __always_inline mb_u32 mb_endpoint_lookup(mb_u32 kind, mb_u64 id) {
  struct mb_endpoint_key k = {.kind = kind, .pad = 0, .id = id};
  struct mb_endpoint_entry *e = bpf_map_lookup_elem(&mb_endpoints, &k);
  return e ? e->endpoint : 0;
}

/* The endpoint of a packet at a tc (l2) or cgroup_skb hook; 0 if none is
 * recorded for it. Endpoint ids are never 0. */
static __always_inline mb_u32 mb_endpoint_at_hook(struct __sk_buff *skb, const int l2) {
  if (mb_endpoint_id())
    return mb_endpoint_id();
  if (l2)
    return mb_endpoint_lookup(MB_ENDPOINT_BY_IFINDEX, skb->ifindex);
  for (mb_u32 i = 0; i < MB_ENDPOINT_DEPTHS_MAX; i++) {
    mb_u32 *depth = bpf_map_lookup_elem(&mb_endpoint_depths, &i);
    if (!depth || *depth == 0)
      break;
    mb_u64 cgroup = bpf_skb_ancestor_cgroup_id(skb, (int)*depth);
    if (!cgroup)
      continue; /* the socket's cgroup is above this depth */
    mb_u32 endpoint = mb_endpoint_lookup(MB_ENDPOINT_BY_CGROUP, cgroup);
    if (endpoint)
      return endpoint;
  }
  return 0;
}

#endif /* MB_LIB_ENDPOINT_H */
