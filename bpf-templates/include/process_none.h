/* The socket calls' decision (runtime/abi/datapath.h, "Process rules") of a
 * class without process rules: it denies, and is never asked (such a class
 * carries no socket-call program in its manifest, so none is loaded). The
 * decision shell (decision.c) starts from it and the compiler replaces it
 * per class with process rules (codegen/decision_codegen.cpp); hand-written
 * decisions (bench/, tests/bpf/) use it as it is or define their own.
 */
#ifndef MB_INCLUDE_PROCESS_NONE_H
#define MB_INCLUDE_PROCESS_NONE_H

#include "include/platform.h"

__attribute__((noinline)) mb_u64 mb_process_decide_egress(const struct mb_identity *peer,
                                                          const struct mb_decision_input *in) {
  (void)peer, (void)in;
  return MB_RESULT_DENY | MB_RESULT_ENFORCED;
}

#endif /* MB_INCLUDE_PROCESS_NONE_H */
