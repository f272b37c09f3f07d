/* Program kind "sk_skb": the server side of the socket layer (docs/http.md,
 * "Datapath"). Sockets mb_sockops put in mb_l7_socks_in get
 *
 *   mb_l7_skb_dispatch  the stream verdict (node-wide, no stream parser):
 *                       tail call to the socket's endpoint's
 *                       mb_l7_skb_verdict, through mb_l7_skb_progs at the
 *                       endpoint's slot; an empty slot drops
 *                       (MB_HTTP_STAT_NO_PROGRAM);
 *   mb_l7_skb_verdict   the class's verdict on each segment the endpoint
 *                       receives (lib/l7_skb.h), never attached itself.
 *
 * Without a stream parser the kernel runs the verdict once per received
 * segment, on the whole segment, as it takes it off the TCP receive queue;
 * lib/l7_skb.h frames it with the state the socket carries from one segment
 * to the next. (With a parser, the programs would see skbs that start where
 * the message's first segment starts, at an offset they are not told.)
 *
 * The context is the skb's (include/ctx/skb.h), as for tc and cgroup_skb,
 * so these programs share endpoint.c's translation unit. Every class
 * object carries both; the loader attaches the dispatch once per node.
 */
#include "include/ctx/skb.h"
#include "lib/l7_maps.h"
#include "lib/l7_skb.h"

static __always_inline struct mb_l7_state *mb_l7_state_of(struct __sk_buff *skb) {
  mb_u64 cookie = bpf_get_socket_cookie(skb);
  return bpf_map_lookup_elem(&mb_l7_state, &cookie);
}

SEC("sk_skb/stream_verdict")
int mb_l7_skb_dispatch(struct __sk_buff *skb) {
  struct mb_l7_state *st = mb_l7_state_of(skb);
  if (st)
    bpf_tail_call(skb, &mb_l7_skb_progs, st->slot);
  mb_http_count(MB_HTTP_STAT_NO_PROGRAM);
  return SK_DROP;
}

SEC("sk_skb/stream_verdict")
int mb_l7_skb_verdict(struct __sk_buff *skb) {
  struct mb_l7_state *st = mb_l7_state_of(skb);
  /* A socket of another endpoint (its slot since given to this one) is
   * never decided by this endpoint's rules. */
  if (!st || st->direction != MB_DIR_INGRESS || st->endpoint != mb_endpoint_id()) {
    mb_http_count(MB_HTTP_STAT_NO_PROGRAM);
    return SK_DROP;
  }
  return mb_l7_skb_segment(skb, st);
}
