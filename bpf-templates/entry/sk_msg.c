/* Program kind "sk_msg": the client side of the socket layer (docs/http.md,
 * "Datapath"). Sockets mb_sockops put in mb_l7_socks_out get
 *
 *   mb_l7_msg_dispatch  the sk_msg verdict (node-wide): tail call to the
 *                       socket's endpoint's mb_l7_msg_verdict, through
 *                       mb_l7_msg_progs at the endpoint's slot; an empty
 *                       slot drops (MB_HTTP_STAT_NO_PROGRAM; sendmsg fails);
 *   mb_l7_msg_verdict   the class's verdict on what the endpoint sends
 *                       (lib/l7_msg.h), never attached itself.
 *
 * The context is the message's (include/ctx/msg.h), so these programs are a
 * translation unit of their own (msg.c), linked with the skeleton's into
 * each class object. A client socket's state is socket-local storage
 * (mb_l7_out_state): sk_msg programs have no socket cookie.
 */
#include "include/ctx/msg.h"
#include "lib/l7_maps.h"
#include "lib/l7_msg.h"

static __always_inline struct mb_l7_state *mb_l7_out_state_of(struct sk_msg_md *msg) {
  struct bpf_sock *sk = msg->sk;
  return sk ? bpf_sk_storage_get(&mb_l7_out_state, sk, NULL, 0) : NULL;
}

SEC("sk_msg")
int mb_l7_msg_dispatch(struct sk_msg_md *msg) {
  struct mb_l7_state *st = mb_l7_out_state_of(msg);
  if (st)
    bpf_tail_call(msg, &mb_l7_msg_progs, st->slot);
  mb_http_count(MB_HTTP_STAT_NO_PROGRAM);
  return SK_DROP;
}

SEC("sk_msg")
int mb_l7_msg_verdict(struct sk_msg_md *msg) {
  struct mb_l7_state *st = mb_l7_out_state_of(msg);
  /* A socket of another endpoint (its slot since given to this one) is
   * never decided by this endpoint's rules. */
  if (!st || st->direction != MB_DIR_EGRESS || st->endpoint != mb_endpoint_id()) {
    mb_http_count(MB_HTTP_STAT_NO_PROGRAM);
    return SK_DROP;
  }
  return mb_l7_msg_send(msg, st);
}
