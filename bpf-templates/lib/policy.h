/* The contract with generated code.
 *
 * The per-class policy decision is not written here: the compiler generates
 * it as LLVM IR and links it into this skeleton before code generation. The
 * definitions must end up inlined (always_inline, internal linkage): a
 * non-inlined global function is verified on its own, and the verifier would
 * then treat `in->peer` as an unknown pointer.
 *
 *   mb_decide_ingress / mb_decide_egress
 *     Called once per new flow, never for conntrack hits. `in` is fully
 *     initialised (peer is never NULL). The callee must set every field of
 *     `out`; the skeleton pre-fills it with an enforced default deny, so a
 *     decision that writes nothing fails closed.
 *   mb_direction_enforced(MB_DIR_*)
 *     1 if any policy restricts that direction. Only used to decide what
 *     happens to packets that cannot be classified (unparseable, unknown L3,
 *     unsupported IPv6 extension headers, orphan fragments): dropped where
 *     policy applies, passed where the direction is open. Must fold to a
 *     constant.
 */
#ifndef MB_LIB_POLICY_H
#define MB_LIB_POLICY_H

#include "include/platform.h"

extern void mb_decide_ingress(const struct mb_decision_input *in, struct mb_decision *out);
extern void mb_decide_egress(const struct mb_decision_input *in, struct mb_decision *out);
extern int mb_direction_enforced(int direction);

#endif /* MB_LIB_POLICY_H */
