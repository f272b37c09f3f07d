/* The contract with generated code (runtime/abi/datapath.h).
 *
 * The per-class policy decision is not written here: the compiler generates
 * it and links it with this skeleton's object as global BPF functions, so the
 * skeleton is compiled once per run and the verifier checks the decision on
 * its own, once, however many call sites there are.
 *
 *   mb_decide_ingress / mb_decide_egress
 *     Called once per new flow, never for conntrack hits, with the peer's
 *     identity (never NULL: world is a zeroed entry) and the flow.
 *     Returns the packed result; mb_unpack_decision spells it out.
 *   mb_process_decide_egress
 *     The socket-call programs' (entry/sock_addr.c): a connect() or
 *     sendmsg() the egress decision left to them (MB_VERDICT_PROCESS),
 *     decided with the calling executable's bits in in->exe.
 *   mb_direction_enforced(MB_DIR_*)
 *     1 if any policy restricts that direction. Only used to decide what
 *     happens to packets that cannot be classified (unparseable, unknown L3,
 *     unsupported IPv6 extension headers, orphan fragments): dropped where
 *     policy applies, passed where the direction is open.
 */
#ifndef MB_LIB_POLICY_H
#define MB_LIB_POLICY_H

#include "include/platform.h"

extern mb_u64 mb_decide_ingress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern mb_u64 mb_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern int mb_direction_enforced(int direction);
/* The socket-call programs' decision (docs/process.md): mb_decide_egress's
 * rules with every process condition tested on in->exe. */
extern mb_u64 mb_process_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in);

static __always_inline void mb_unpack_decision(mb_u64 result, struct mb_decision *out) {
  out->rule_id = (mb_u32)(result & MB_RESULT_RULE_MASK);
  /* A verdict in bits 24-27 wins; without one, bit 31 is a deny. Either
   * way, a result is an allow only if it says nothing else. */
  mb_u8 verdict = (mb_u8)((result >> MB_RESULT_VERDICT_SHIFT) & MB_RESULT_VERDICT_MASK);
  out->verdict = verdict ? verdict : (result & MB_RESULT_DENY) ? MB_VERDICT_DENY : MB_VERDICT_ALLOW;
  out->enforced = (result & MB_RESULT_ENFORCED) ? 1 : 0;
  out->audit_would_deny = (result & MB_RESULT_AUDIT_DENY) ? 1 : 0;
  out->audit_rule_id = (mb_u32)((result >> MB_RESULT_AUDIT_SHIFT) & MB_RESULT_RULE_MASK);
  out->pad = 0;
}

#endif /* MB_LIB_POLICY_H */
