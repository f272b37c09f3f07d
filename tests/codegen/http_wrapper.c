/* A test-only program that asks a class's generated decisions one question:
 * the case in map mbt_http_case (a peer, the connection's input, a request)
 * goes to mb_http_decide_ingress/egress (request) or mb_decide_ingress/
 * egress (connection), and the packed result is written back into the
 * case. http_differential_test.cpp links this object with a compiled class
 * (codegen::linkBpfObjects) and runs it with BPF_PROG_TEST_RUN: the socket
 * layer that asks these decisions in production is built separately. */
#include "datapath.h"

/* Not platform.h: it defines the license, which the class object already
 * carries (two would not link). */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) __typeof__(val) *name
#define BPF_MAP_TYPE_ARRAY 2
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct mbt_http_case {
  struct mb_identity peer;
  struct mb_decision_input in;
  struct mb_http_request req;
  mb_u32 egress;  /* the direction */
  mb_u32 request; /* 1: the request decision; 0: the packet decision */
  mb_u64 result;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, mb_u32);
  __type(value, struct mbt_http_case);
} mbt_http_case SEC(".maps");

extern mb_u64 mb_http_decide_ingress(const struct mb_identity *peer, const struct mb_decision_input *in,
                                     const struct mb_http_request *req);
extern mb_u64 mb_http_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in,
                                    const struct mb_http_request *req);
extern mb_u64 mb_decide_ingress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern mb_u64 mb_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in);

SEC("tc") int mbt_http_decide(void *skb) {
  (void)skb;
  mb_u32 key = 0;
  struct mbt_http_case *c = bpf_map_lookup_elem(&mbt_http_case, &key);
  if (!c) return 0;
  if (c->request)
    c->result = c->egress ? mb_http_decide_egress(&c->peer, &c->in, &c->req)
                          : mb_http_decide_ingress(&c->peer, &c->in, &c->req);
  else
    c->result = c->egress ? mb_decide_egress(&c->peer, &c->in) : mb_decide_ingress(&c->peer, &c->in);
  return 1;
}
