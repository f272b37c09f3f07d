/* Floor 2 of the per-packet benchmark: membrane's datapath skeleton with the
 * policy decision replaced by "allow". Parsing, conntrack, identity lookup,
 * counters and conntrack creation all run as in a compiled class; only the
 * decision is free. Linked like the compiler links a class: global
 * functions, verified on their own. */
#include "include/platform.h"

__attribute__((noinline)) int mb_direction_enforced(int direction) {
  (void)direction;
  return 1;
}

/* Rule 1, enforced: counted and tracked like an allowed new flow. */
__attribute__((noinline)) mb_u64 mb_decide_ingress(const struct mb_identity *peer,
                                                   const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return 1 | MB_RESULT_ENFORCED;
}

__attribute__((noinline)) mb_u64 mb_decide_egress(const struct mb_identity *peer,
                                                  const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return 1 | MB_RESULT_ENFORCED;
}

#include "include/dns_none.h"
#include "include/http_none.h"
#include "include/process_none.h"
#include "endpoint.c"
