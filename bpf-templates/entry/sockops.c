/* Program kind "sockops": mb_sockops, attached once per node at the cgroup
 * root, picks the sockets whose requests the socket layer decides
 * (docs/http.md, "Datapath").
 *
 * On an established connection it looks the socket up in mb_l7_endpoints:
 * a server socket (passive) by its own address and port, direction
 * ingress; a client socket (active) by its own address and the peer's
 * port, direction egress. A hit records the socket's state (its own key,
 * slot, endpoint, protocol, direction) and puts it in mb_l7_socks_in or
 * mb_l7_socks_out under its own key. A server socket's state is keyed by
 * its cookie in mb_l7_state, and the TCP state callback removes it (and
 * any bytes held back for it, lib/l7_hold.h) when the socket closes; a
 * client socket's is socket-local storage (mb_l7_out_state), which the
 * kernel frees with the socket.
 *
 * If the sockhash (or the state map) refuses the socket, its requests
 * cannot be decided: it is counted (MB_HTTP_STAT_SOCK_REFUSED) and its
 * tuple recorded in mb_l7_refused, where the packet programs find it and
 * drop the connection's packets (fail closed: lib/datapath.h).
 *
 * IPv4-mapped IPv6 addresses (a dual-stack socket talking IPv4) are keyed
 * as IPv4, as the packet path sees them.
 */
#include "include/ctx/skb.h"
#include "lib/l7_hold.h"
#include "lib/l7_maps.h"
#include "lib/l7_refused.h"
#include "lib/l7_sent.h"

static __always_inline void mb_sockops_addr(mb_u8 *out, mb_u32 family, const mb_u32 *ip6, mb_u32 ip4) {
  __builtin_memset(out, 0, 16);
  if (family == MB_FAMILY_V4) {
    __builtin_memcpy(out, &ip4, 4);
    return;
  }
  mb_u32 w[4] = {ip6[0], ip6[1], ip6[2], ip6[3]};
  __builtin_memcpy(out, w, 16);
}

static __always_inline int mb_sockops_v4mapped(const mb_u32 *ip6) {
  return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

/* The socket's own key (netns left 0); 0, or -1 for a family not policed. */
static __always_inline int mb_sockops_key(struct bpf_sock_ops *skops, struct mb_l7_sock_key *key) {
  mb_u32 family;
  if (skops->family == AF_INET) {
    family = MB_FAMILY_V4;
    mb_sockops_addr(key->local, family, NULL, skops->local_ip4);
    mb_sockops_addr(key->remote, family, NULL, skops->remote_ip4);
  } else if (skops->family == AF_INET6) {
    mb_u32 l[4] = {skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2], skops->local_ip6[3]};
    mb_u32 r[4] = {skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2], skops->remote_ip6[3]};
    if (mb_sockops_v4mapped(l) && mb_sockops_v4mapped(r)) {
      family = MB_FAMILY_V4;
      mb_sockops_addr(key->local, family, NULL, l[3]);
      mb_sockops_addr(key->remote, family, NULL, r[3]);
    } else {
      family = MB_FAMILY_V6;
      mb_sockops_addr(key->local, family, l, 0);
      mb_sockops_addr(key->remote, family, r, 0);
    }
  } else {
    return -1;
  }
  key->family = (mb_u8)family;
  key->local_port = (mb_u16)skops->local_port;
  /* bpf_sock_ops.remote_port holds the port in network order in its upper
   * 16 bits (the kernel loads skc_dport and shifts it up), so as a 32-bit
   * network-order value it is the port: its low 16 bits are always 0, and
   * keying with them gave every connection from one client address to one
   * port the same key, each new one replacing the last in the sockhash. */
  key->remote_port = (mb_u16)bpf_ntohl(skops->remote_port);
  return 0;
}

static __always_inline void mb_sockops_police(struct bpf_sock_ops *skops, const int dir) {
  struct mb_l7_state st;
  struct mb_l7_endpoint_key ek;

  __builtin_memset(&st, 0, sizeof(st));
  __builtin_memset(&ek, 0, sizeof(ek));
  if (mb_sockops_key(skops, &st.key) < 0)
    return;
  mb_u8 family = st.key.family;

  ek.family = (mb_u8)family;
  ek.direction = (mb_u8)dir;
  ek.port = dir == MB_DIR_INGRESS ? st.key.local_port : st.key.remote_port;
  __builtin_memcpy(ek.addr, st.key.local, 16);
  struct mb_l7_endpoint *ep = bpf_map_lookup_elem(&mb_l7_endpoints, &ek);
  if (!ep)
    return;

  st.key.netns = bpf_get_netns_cookie(skops);
  st.slot = ep->slot;
  st.endpoint = ep->endpoint;
  st.protocol = ep->protocol;
  st.direction = (mb_u8)dir;
  st.phase = MB_L7_HEAD;

  mb_u64 cookie = bpf_get_socket_cookie(skops);
  long err;
  /* Both callbacks must be asked before the socket is policed: the state
   * callback deletes what this one creates. */
  bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
  if (dir == MB_DIR_INGRESS) {
    err = bpf_map_update_elem(&mb_l7_state, &cookie, &st, BPF_ANY);
    if (!err)
      err = bpf_sock_hash_update(skops, &mb_l7_socks_in, &st.key, BPF_ANY);
    if (err)
      bpf_map_delete_elem(&mb_l7_state, &cookie);
  } else {
    /* A client socket's state lives in the socket (sk_msg programs have
     * no cookie to find it by) and goes with it. */
    struct bpf_sock *sk = skops->sk;
    struct mb_l7_state *out =
        sk ? bpf_sk_storage_get(&mb_l7_out_state, sk, &st, BPF_SK_STORAGE_GET_F_CREATE) : NULL;
    if (out)
      *out = st; /* a socket policed before (a reused storage) starts over */
    /* Nothing may leave beyond what the verdict lets go, from the first
     * byte not yet acknowledged on (lib/l7_sent.h). */
    err = out ? mb_l7_sent_open(&st.key, skops->snd_una) : -1;
    if (!err)
      err = bpf_sock_hash_update(skops, &mb_l7_socks_out, &st.key, BPF_ANY);
    if (err)
      mb_l7_sent_close(&st.key);
  }
  if (err) {
    mb_http_count(MB_HTTP_STAT_SOCK_REFUSED);
    mb_l7_refuse(&st.key, cookie);
    return;
  }
  mb_http_count(dir == MB_DIR_INGRESS ? MB_HTTP_STAT_SOCKS_IN : MB_HTTP_STAT_SOCKS_OUT);
}

SEC("sockops")
int mb_sockops(struct bpf_sock_ops *skops) {
  switch (skops->op) {
  case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
    mb_sockops_police(skops, MB_DIR_INGRESS);
    break;
  case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
    mb_sockops_police(skops, MB_DIR_EGRESS);
    break;
  case BPF_SOCK_OPS_STATE_CB:
    if (skops->args[1] == BPF_TCP_CLOSE) {
      mb_u64 cookie = bpf_get_socket_cookie(skops);
      bpf_map_delete_elem(&mb_l7_state, &cookie);
      bpf_map_delete_elem(&mb_l7_held, &cookie);
      struct mb_l7_sock_key key;
      __builtin_memset(&key, 0, sizeof(key));
      if (mb_sockops_key(skops, &key) == 0) {
        mb_l7_unrefuse(&key);
        mb_l7_sent_close(&key);
      }
    }
    break;
  }
  return 1;
}
