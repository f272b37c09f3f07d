/* The class DNS tables (runtime/abi/datapath.h) of a class without DNS
 * rules, for the hand-written decisions of section 1: no features (the
 * verifier prunes all DNS work), no names, no ports. What the compiler
 * generates for such a class. */
#ifndef MB_BENCH_NO_DNS_H
#define MB_BENCH_NO_DNS_H

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

#endif /* MB_BENCH_NO_DNS_H */
