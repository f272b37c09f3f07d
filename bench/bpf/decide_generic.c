/* The comparison point of the per-packet benchmark: a generic,
 * non-specialized, map-driven policy on membrane's skeleton (the model of
 * Cilium's policy map). The program is the same whatever the policy; the
 * policy is data the benchmark fills from the IR:
 *
 *   1. the skeleton looks the peer's address up in mb_identity (LPM trie) and
 *      passes its numeric identity (endpoints: their identity; addresses in
 *      CIDR rules: one identity per prefix; anything else: 0, world);
 *   2. {identity, protocol, port} is looked up in the direction's policy
 *      hash map, then {identity, protocol, any port}, then {identity, any
 *      protocol, any port}; the first hit decides, a miss is default deny.
 *
 * The benchmark writes each key's value as the first rule in verdict order
 * that covers it, wildcard rules included, so the lookup order above gives
 * the same verdict as the IR's first-match semantics. */
#include "include/platform.h"

struct bench_policy_key {
  mb_u32 identity;
  mb_u8 proto;     /* 0: any protocol */
  mb_u8 any_port;  /* 1: any port (port is 0) */
  mb_u16 port;     /* host order; ICMP type */
};

/* The packed result to return: rule id | MB_RESULT_ENFORCED | MB_RESULT_DENY. */
struct bench_policy_value {
  mb_u64 result;
};

/* Sized by the benchmark before load. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct bench_policy_key);
  __type(value, struct bench_policy_value);
  __uint(max_entries, 1);
} bench_policy_ingress SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct bench_policy_key);
  __type(value, struct bench_policy_value);
  __uint(max_entries, 1);
} bench_policy_egress SEC(".maps");

/* Set by the benchmark through .rodata: 1 when the direction is enforced. */
volatile const mb_u32 bench_enforced_ingress = 1;
volatile const mb_u32 bench_enforced_egress = 1;

static __always_inline mb_u64 bench_lookup(void *map, mb_u32 enforced, const struct mb_identity *peer,
                                           const struct mb_decision_input *in) {
  struct bench_policy_key key;
  struct bench_policy_value *v;

  if (!enforced) return 0; /* open direction */
  __builtin_memset(&key, 0, sizeof(key));
  key.identity = peer->identity;
  key.proto = in->proto;
  key.port = in->port;
  v = bpf_map_lookup_elem(map, &key);
  if (v) return v->result;
  key.any_port = 1;
  key.port = 0;
  v = bpf_map_lookup_elem(map, &key);
  if (v) return v->result;
  key.proto = 0;
  v = bpf_map_lookup_elem(map, &key);
  if (v) return v->result;
  return MB_RESULT_DENY | MB_RESULT_ENFORCED;
}

__attribute__((noinline)) int mb_direction_enforced(int direction) {
  return direction == MB_DIR_INGRESS ? bench_enforced_ingress != 0 : bench_enforced_egress != 0;
}

__attribute__((noinline)) mb_u64 mb_decide_ingress(const struct mb_identity *peer,
                                                   const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return bench_lookup(&bench_policy_ingress, bench_enforced_ingress, peer, in);
}

__attribute__((noinline)) mb_u64 mb_decide_egress(const struct mb_identity *peer,
                                                  const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return bench_lookup(&bench_policy_egress, bench_enforced_egress, peer, in);
}

#include "include/dns_none.h"
#include "include/http_none.h"
#include "include/process_none.h"
#include "endpoint.c"
