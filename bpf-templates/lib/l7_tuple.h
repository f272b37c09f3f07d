/* A connection as the packet programs can name it: struct mb_l7_sock_key
 * with netns 0 (a packet carries its tuple, not its socket's namespace).
 * The maps the socket layer shares with the packet path (mb_l7_refused,
 * mb_l7_sent) are keyed so, from the endpoint's side: `local` is its own
 * address and port. */
#ifndef MB_LIB_L7_TUPLE_H
#define MB_LIB_L7_TUPLE_H

#include "include/platform.h"

/* A socket's own key (sockops, the verdicts) without its namespace. */
static __always_inline void mb_l7_tuple_of(struct mb_l7_sock_key *k, const struct mb_l7_sock_key *key) {
  *k = *key;
  k->netns = 0;
}

/* The key of a connection seen in a packet. */
static __always_inline void mb_l7_tuple(struct mb_l7_sock_key *k, mb_u8 family, const mb_u8 *local, mb_u16 local_port,
                                        const mb_u8 *remote, mb_u16 remote_port) {
  __builtin_memset(k, 0, sizeof(*k));
  k->family = family;
  k->local_port = local_port;
  k->remote_port = remote_port;
  __builtin_memcpy(k->local, local, 16);
  __builtin_memcpy(k->remote, remote, 16);
}

#endif /* MB_LIB_L7_TUPLE_H */
