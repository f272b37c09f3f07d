/* How far the client side let a policed connection's bytes go (docs/http.md,
 * "Datapath"): the sk_msg verdict decides what a client socket sends, but
 * bytes can reach TCP without passing it, and they must not leave:
 *   - a sendmsg() that was already waiting for the connection when sockops
 *     put the socket in mb_l7_socks_out (a thread sending while another one
 *     connects) continues on TCP's own path;
 *   - TCP Fast Open data rides on the SYN, before the socket is policed;
 *   - a raw socket can write TCP segments of its own.
 * So each policed client connection has an entry here, keyed by its tuple
 * (struct mb_l7_sock_key, netns 0, as mb_l7_refused), holding the TCP
 * sequence number up to which its bytes were let go: sockops opens it at
 * the connection's first unacknowledged byte, the verdict moves it on by
 * every byte it passes, and the packet programs drop a data segment of the
 * connection that ends beyond it (MB_REASON_L7_UNDECIDED), as they drop
 * every IP fragment of it (its data cannot be measured). Bytes answered on
 * the client's own socket never enter TCP, so they move nothing.
 */
#ifndef MB_LIB_L7_SENT_H
#define MB_LIB_L7_SENT_H

#include "include/platform.h"
#include "lib/l7_tuple.h"

struct mb_l7_sent {
  mb_u32 end; /* TCP sequence number just past the last byte let go */
  mb_u32 pad;
};

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct mb_l7_sock_key);
  __type(value, struct mb_l7_sent);
  __uint(max_entries, MB_L7_SOCKS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_sent MB_MAPS;

/* A policed client connection: nothing let go beyond `una` yet. */
static __always_inline long mb_l7_sent_open(const struct mb_l7_sock_key *key, mb_u32 una) {
  struct mb_l7_sock_key k;
  mb_l7_tuple_of(&k, key);
  struct mb_l7_sent v = {.end = una};
  return bpf_map_update_elem(&mb_l7_sent, &k, &v, BPF_ANY);
}

static __always_inline void mb_l7_sent_close(const struct mb_l7_sock_key *key) {
  struct mb_l7_sock_key k;
  mb_l7_tuple_of(&k, key);
  bpf_map_delete_elem(&mb_l7_sent, &k);
}

/* The verdict lets `n` more bytes go; -1 when the connection has no entry. */
static __always_inline int mb_l7_sent_pass(const struct mb_l7_sock_key *key, mb_u32 n) {
  struct mb_l7_sock_key k;
  mb_l7_tuple_of(&k, key);
  struct mb_l7_sent *v = bpf_map_lookup_elem(&mb_l7_sent, &k);
  if (!v)
    return -1;
  v->end += n; /* one writer: the socket's sender, under its lock */
  return 0;
}

#endif /* MB_LIB_L7_SENT_H */
