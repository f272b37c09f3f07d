/* Program kind "sk_skb": the server side of the socket layer (docs/http.md,
 * "Datapath"). Sockets mb_sockops put in mb_l7_socks_in get
 *
 *   mb_l7_parser        the stream parser (node-wide): how long the next
 *                       message is (lib/l7_frame.h);
 *   mb_l7_skb_dispatch  the stream verdict (node-wide): tail call to the
 *                       socket's endpoint's mb_l7_skb_verdict, through
 *                       mb_l7_skb_progs at the endpoint's slot; an empty
 *                       slot drops (MB_HTTP_STAT_NO_PROGRAM);
 *   mb_l7_skb_verdict   the class's verdict on requests the endpoint
 *                       receives (lib/l7_verdict.h), never attached itself.
 *
 * The context is the skb's (include/ctx/skb.h), as for tc and cgroup_skb,
 * so these programs share endpoint.c's translation unit. Every class
 * object carries all three; the loader attaches the node-wide ones once.
 *
 * Where a message is. The kernel's stream parser (strparser) hands both
 * programs an skb that starts where the TCP segment holding the message's
 * first byte starts, not at the message: a message that begins after an
 * earlier one in the same segment sits at an offset the programs are not
 * told, and the skb runs on past the message's end. The kernel itself
 * passes, drops or redirects exactly the message (offset, length). So the
 * socket's state tracks it: when a message is decided, the bytes after it
 * in its skb (`extra`) are where the next one starts, and the next skb the
 * parser sees is that same segment again, so the next message starts at
 * skb->len - extra on the parser's first look at it (0 when nothing
 * followed). The parser records the offset and the length it measured;
 * the dispatch moves them to cur_off/cur_len for the verdict.
 */
#include "include/ctx/skb.h"
#include "lib/l7_maps.h"

/* A denied or unreadable message becomes the answer in `resp` (exactly
 * its length) and goes back out of the socket it arrived on, to the
 * client (lib/l7_verdict.h). */
static __always_inline int mb_l7_answer_ctx(struct __sk_buff *skb, struct mb_l7_state *st, mb_u32 off,
                                            const char *resp, mb_u32 n) {
  if (n == 0 || n > MB_HTTP_HEADER_MAX || bpf_skb_store_bytes(skb, off, resp, n, 0) < 0)
    return SK_DROP;
  return bpf_sk_redirect_hash(skb, &mb_l7_socks_in, &st->key, 0) == SK_PASS ? SK_PASS : SK_DROP;
}

#include "lib/l7_verdict.h"

static __always_inline struct mb_l7_state *mb_l7_state_of(struct __sk_buff *skb) {
  mb_u64 cookie = bpf_get_socket_cookie(skb);
  return bpf_map_lookup_elem(&mb_l7_state, &cookie);
}

SEC("sk_skb/stream_parser")
int mb_l7_parser(struct __sk_buff *skb) {
  struct mb_l7_state *st = mb_l7_state_of(skb);
  mb_u32 len = skb->len;
  if (!st)
    return (int)len; /* one message, which the dispatch drops */
  if (!st->in_msg) {
    st->msg_off = st->extra && st->extra <= len ? len - st->extra : 0;
    st->in_msg = 1;
  }
  mb_u32 off = st->msg_off;
  if (off >= len)
    return 0;
  mb_u32 n = mb_l7_frame(skb, st, off, len - off);
  if (n)
    st->msg_len = n;
  return (int)n;
}

SEC("sk_skb/stream_verdict")
int mb_l7_skb_dispatch(struct __sk_buff *skb) {
  struct mb_l7_state *st = mb_l7_state_of(skb);
  if (st) {
    mb_u32 len = skb->len;
    st->cur_off = st->msg_off;
    st->cur_len = st->msg_len;
    st->extra = len > st->cur_off + st->cur_len ? len - st->cur_off - st->cur_len : 0;
    st->in_msg = 0;
    bpf_tail_call(skb, &mb_l7_skb_progs, st->slot);
  }
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
  return mb_l7_message(skb, st, MB_DIR_INGRESS) == MB_L7_PASS ? SK_PASS : SK_DROP;
}
