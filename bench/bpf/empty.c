/* Floor 1 of the per-packet benchmark: a tc program that does nothing and
 * passes the packet. What BPF_PROG_TEST_RUN itself costs per repeat. */
#include "include/platform.h"

SEC("tc")
int bench_empty(struct __sk_buff *skb) {
  (void)skb;
  return TC_ACT_OK;
}
