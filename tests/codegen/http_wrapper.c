/* Test-only programs that ask a class's generated decisions one question
 * (the HTTP and process differential tests, decision_wrapper.h):
 * the case in map mbt_http_case (a peer, the connection's input, a request)
 * goes to mb_http_decide_ingress/egress (request), mb_decide_ingress/
 * egress (connection) or mb_process_decide_egress (a socket call, its
 * executable's bits in the input), and the packed result is written back into the
 * case (mbt_http_decide). Or the datapath's reader (lib/http_read.h) first
 * reads a raw header block from mbt_http_scratch, as the socket layer's
 * verdict does, and what it read is decided (mbt_http_read).
 * http_differential_test.cpp links this object with a compiled class
 * (codegen::linkBpfObjects) and runs it with BPF_PROG_TEST_RUN: the socket
 * layer that asks these decisions in production is built separately. */

/* platform.h defines the license, which the class object already carries:
 * under another name here, two symbols of the one section do not clash. */
#define mb_license mbt_http_wrapper_license
#include "include/platform.h"
#include "lib/http_read.h"

#define MBT_CONNECTION 0 /* mbt_http_decide: the packet decision */
#define MBT_REQUEST 1    /* mbt_http_decide: the request decision, on the request in the case */
#define MBT_CALL 2       /* mbt_http_decide: the socket calls' decision (mb_process_decide_egress, docs/process.md) */

struct mbt_http_case {
  struct mb_identity peer;
  struct mb_decision_input in;
  struct mb_http_request req;
  mb_u32 egress;    /* the direction */
  mb_u32 request;   /* MBT_* */
  mb_u32 block_len; /* mbt_http_read: bytes of the block, ending in CRLFCRLF */
  int read;         /* mbt_http_read: mb_http_read's result (MB_HTTP_READ_*) */
  mb_u64 result;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, mb_u32);
  __type(value, struct mbt_http_case);
} mbt_http_case SEC(".maps");

/* The block at the start (buf); the reader's request and state after it. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, mb_u32);
  __type(value, struct mb_http_scratch);
} mbt_http_scratch SEC(".maps");

extern mb_u64 mb_decide_ingress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern mb_u64 mb_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in);
extern mb_u64 mb_process_decide_egress(const struct mb_identity *peer, const struct mb_decision_input *in);

static __always_inline mb_u64 mbt_decide_request(const struct mbt_http_case *c, const struct mb_http_request *req) {
  return c->egress ? mb_http_decide_egress(&c->peer, &c->in, req) : mb_http_decide_ingress(&c->peer, &c->in, req);
}

/* MBT_CONNECTION and MBT_REQUEST: the decisions alone (their verified size
 * is what HttpDifferential.AThousandPathRulesOnOnePortLoad reports). */
SEC("tc") int mbt_http_decide(void *skb) {
  (void)skb;
  mb_u32 key = 0;
  struct mbt_http_case *c = bpf_map_lookup_elem(&mbt_http_case, &key);
  if (!c)
    return 0;
  if (c->request == MBT_REQUEST)
    c->result = mbt_decide_request(c, &c->req);
  else if (c->request == MBT_CALL)
    c->result = mb_process_decide_egress(&c->peer, &c->in);
  else
    c->result = c->egress ? mb_decide_egress(&c->peer, &c->in) : mb_decide_ingress(&c->peer, &c->in);
  return 1;
}

/* The reader, then the request decision on what it read. */
SEC("tc") int mbt_http_read(void *skb) {
  (void)skb;
  mb_u32 key = 0;
  struct mbt_http_case *c = bpf_map_lookup_elem(&mbt_http_case, &key);
  struct mb_http_scratch *s = bpf_map_lookup_elem(&mbt_http_scratch, &key);
  if (!c || !s)
    return 0;
  struct mb_http_framing fr = {0};
  mb_u32 len = c->block_len > MB_HTTP_HEADER_MAX ? MB_HTTP_HEADER_MAX : c->block_len;
  c->read = mb_http_read(s, len, &fr);
  if (c->read == MB_HTTP_READ_OK)
    c->result = mbt_decide_request(c, &s->req);
  return 1;
}
