/* The shell of a class's policy decision: the global functions the skeleton
 * calls (lib/policy.h), with their BTF. Compiled once per run; for each class
 * the compiler defines the three mb_class_* functions below in generated LLVM
 * IR (internal, inlined here), then links this object with the skeleton's.
 */
#include "include/platform.h"

/* Generated per class. */
extern mb_u64 mb_class_ingress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern mb_u64 mb_class_egress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern int mb_class_enforced(int direction);

/* The verifier treats a global function's pointer arguments as possibly
 * NULL; a NULL here is impossible (the skeleton passes a stack variable and
 * a map value), and would be denied. */
__attribute__((noinline)) mb_u64 mb_decide_ingress(const struct mb_identity *peer,
                                                   const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return mb_class_ingress(peer, in);
}

__attribute__((noinline)) mb_u64 mb_decide_egress(const struct mb_identity *peer,
                                                  const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return mb_class_egress(peer, in);
}

__attribute__((noinline)) int mb_direction_enforced(int direction) {
  return mb_class_enforced(direction);
}
