/* The DNS tables (runtime/abi/datapath.h) of a class without DNS rules: no
 * features (the verifier prunes all DNS work), no name matches, no DNS
 * ports. The decision shell (decision.c) starts from these and the compiler
 * replaces them per class (codegen/dns_codegen.cpp); hand-written decisions
 * (bench/bpf/) use them as they are. `volatile` keeps clang from folding
 * the 0 into the skeleton's code; the loader's frozen .rodata lets the
 * verifier see the value a class has as a constant.
 */
#ifndef MB_INCLUDE_DNS_NONE_H
#define MB_INCLUDE_DNS_NONE_H

#include "include/platform.h"

volatile const mb_u32 mb_dns_class_features = 0;

__attribute__((noinline)) mb_u64 mb_dns_match(const struct mb_dns_name *name) {
  (void)name;
  return 0;
}

__attribute__((noinline)) int mb_dns_port(int proto, int port) {
  (void)proto, (void)port;
  return 0;
}

#endif /* MB_INCLUDE_DNS_NONE_H */
