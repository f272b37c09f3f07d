/* Policed sockets the socket layer could not take (its sockhash or state
 * map was full): their connections must not carry undecided requests. The
 * tuple (struct mb_l7_sock_key with netns 0: the packet programs see the
 * tuple, not the namespace) goes into mb_l7_refused (LRU hash, pinned), and
 * the packet programs drop packets of MB_CT_L7 flows found there; mb_sockops
 * removes the entry when the socket closes. */
#ifndef MB_LIB_L7_REFUSED_H
#define MB_LIB_L7_REFUSED_H

#include "include/platform.h"
#include "lib/l7_tuple.h"

#define MB_L7_REFUSED_MAX 16384

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct mb_l7_sock_key);
  __type(value, mb_u64);
  __uint(max_entries, MB_L7_REFUSED_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_refused MB_MAPS;

static __always_inline void mb_l7_refuse(const struct mb_l7_sock_key *key, mb_u64 cookie) {
  struct mb_l7_sock_key k;
  mb_l7_tuple_of(&k, key);
  bpf_map_update_elem(&mb_l7_refused, &k, &cookie, BPF_ANY);
}

static __always_inline void mb_l7_unrefuse(const struct mb_l7_sock_key *key) {
  struct mb_l7_sock_key k;
  mb_l7_tuple_of(&k, key);
  bpf_map_delete_elem(&mb_l7_refused, &k);
}

/* Whether the connection (the endpoint's side: its address and port are
 * `local`) was refused by the socket layer. */
static __always_inline int mb_l7_is_refused(mb_u8 family, const mb_u8 *local, mb_u16 local_port, const mb_u8 *remote,
                                            mb_u16 remote_port) {
  struct mb_l7_sock_key k;
  mb_l7_tuple(&k, family, local, local_port, remote, remote_port);
  return bpf_map_lookup_elem(&mb_l7_refused, &k) != NULL;
}

#endif /* MB_LIB_L7_REFUSED_H */
