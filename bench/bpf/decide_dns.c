/* The DNS figures of section 1: floor 2 (decide_allow.c) with the class DNS
 * tables of a class that has a dns condition and name peers, so responses
 * on udp/53 and tcp/53 are parsed and learned from at ingress. The name
 * table is a single pattern that matches every name: the benchmark
 * measures the parser and the maps, not the compiler's trie. */
#include "include/platform.h"

volatile const mb_u32 mb_dns_class_features = MB_DNS_F_QUERIES | MB_DNS_F_NAMES;

__attribute__((noinline)) mb_u64 mb_dns_match(const struct mb_dns_name *name) { return name ? 1 : 0; }

__attribute__((noinline)) int mb_dns_port(int proto, int port) {
  return (proto == IPPROTO_UDP || proto == IPPROTO_TCP) && port == 53;
}

__attribute__((noinline)) int mb_direction_enforced(int direction) {
  (void)direction;
  return 1;
}

/* Rule 1, enforced, as in decide_allow.c; egress with a dns condition. */
__attribute__((noinline)) mb_u64 mb_decide_ingress(const struct mb_identity *peer,
                                                   const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return 1 | MB_RESULT_ENFORCED;
}

__attribute__((noinline)) mb_u64 mb_decide_egress(const struct mb_identity *peer,
                                                  const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return 1 | MB_RESULT_ENFORCED | MB_RESULT_DNS_LEARN;
}

#include "include/http_none.h"
#include "include/process_none.h"
#include "endpoint.c"
