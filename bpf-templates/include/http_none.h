/* The HTTP tables and request decisions (runtime/abi/datapath.h, "The
 * socket layer and HTTP") of a class without HTTP rules: no features (the
 * verifier prunes the request work), no header names, and decisions that
 * deny (they are never asked: no socket of such a class is policed). The
 * decision shell (decision.c) starts from these and the compiler replaces
 * them per class (codegen/http_codegen.cpp); hand-written decisions (bench/,
 * tests/bpf/) use them as they are or define their own. `volatile` keeps
 * clang from folding the zeros into the skeleton's code; the loader's
 * frozen .rodata lets the verifier see a class's values as constants.
 */
#ifndef MB_INCLUDE_HTTP_NONE_H
#define MB_INCLUDE_HTTP_NONE_H

#include "include/platform.h"

volatile const mb_u32 mb_http_class_features = 0;
volatile const mb_u32 mb_http_header_count = 0;
volatile const char mb_http_header_names[MB_HTTP_HEADERS_MAX][MB_HTTP_HEADER_NAME_BYTES] = {{0}};

__attribute__((noinline)) mb_u64 mb_http_decide_ingress(const struct mb_identity *peer,
                                                        const struct mb_decision_input *in,
                                                        const struct mb_http_request *req) {
  (void)peer, (void)in, (void)req;
  return MB_RESULT_DENY | MB_RESULT_ENFORCED;
}

__attribute__((noinline)) mb_u64 mb_http_decide_egress(const struct mb_identity *peer,
                                                       const struct mb_decision_input *in,
                                                       const struct mb_http_request *req) {
  (void)peer, (void)in, (void)req;
  return MB_RESULT_DENY | MB_RESULT_ENFORCED;
}

#endif /* MB_INCLUDE_HTTP_NONE_H */
