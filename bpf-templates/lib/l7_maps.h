/* The socket layer's maps (runtime/abi/datapath.h, "The socket layer and
 * HTTP"): which sockets are policed, the two sockhashes, the prog arrays of
 * the endpoints' verdict programs, per-socket state, counters and per-CPU
 * scratch memory. Every map is pinned by name and shared by every class
 * object and policy version on the node.
 *
 * A server socket's state is a hash entry keyed by the socket cookie, not
 * socket-local storage: bpf_sk_storage_get is not among the helpers of
 * sk_skb programs (the stream verdict). sockops creates the entry when it
 * polices a socket and deletes it when the socket closes
 * (BPF_SOCK_OPS_STATE_CB). A client socket's state is socket-local storage
 * (mb_l7_out_state), since sk_msg programs have no socket cookie; it goes
 * with the socket. A state the map has no room for means the socket is
 * refused (MB_HTTP_STAT_SOCK_REFUSED).
 */
#ifndef MB_LIB_L7_MAPS_H
#define MB_LIB_L7_MAPS_H

#include "include/platform.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct mb_l7_endpoint_key);
  __type(value, struct mb_l7_endpoint);
  __uint(max_entries, MB_L7_ENDPOINTS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* written by the loader only: no memory until used */
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_endpoints MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __type(key, struct mb_l7_sock_key);
  __type(value, mb_u64);
  __uint(max_entries, MB_L7_SOCKS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_socks_in MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __type(key, struct mb_l7_sock_key);
  __type(value, mb_u64);
  __uint(max_entries, MB_L7_SOCKS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_socks_out MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u32);
  __uint(max_entries, MB_L7_SLOTS);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_skb_progs MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u32);
  __uint(max_entries, MB_L7_SLOTS);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_msg_progs MB_MAPS;

/* Where a socket's byte stream is: what the next message is. */
enum mb_l7_phase {
  MB_L7_HEAD = 0,       /* a request's header block */
  MB_L7_BODY = 1,       /* Content-Length body bytes (remaining) */
  MB_L7_CHUNK_SIZE = 2, /* a chunk-size line */
  MB_L7_CHUNK_DATA = 3, /* chunk data (remaining) */
  MB_L7_CHUNK_END = 4,  /* the CRLF after a chunk's data */
  MB_L7_TRAILERS = 5,   /* the trailer section after the last chunk, up to the empty line */
  MB_L7_DISCARD = 6,    /* after an unreadable request (or one cut): every byte dropped */
};

/* Per-socket state (BPF_MAP_TYPE_HASH "mb_l7_state", keyed by socket
 * cookie). The layout is private to the skeleton but pinned, so a change to
 * it goes with MB_ABI_VERSION like any map's. */
struct mb_l7_state {
  struct mb_l7_sock_key key; /* the socket's own key in its sockhash: a verdict redirects to it */
  mb_u64 remaining;          /* MB_L7_BODY / MB_L7_CHUNK_DATA: bytes still to come */
  mb_u32 slot;
  mb_u32 endpoint;
  mb_u8 protocol;  /* MB_L7_* */
  mb_u8 direction; /* MB_DIR_* */
  mb_u8 phase;     /* enum mb_l7_phase */
  mb_u8 deny;      /* the current request was denied: its body is dropped */
  mb_u32 held;     /* server side: bytes of an incomplete block held back in mb_l7_held (lib/l7_hold.h);
                      client side: 1 once the kernel keeps a cork message for the socket (lib/l7_msg.h) */
  /* The message being decided: cur_len bytes at cur_off in the context. */
  mb_u32 cur_off;
  mb_u32 cur_len;
};

#define MB_L7_STATE_MAX (2 * MB_L7_SOCKS_MAX)

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, mb_u64);
  __type(value, struct mb_l7_state);
  __uint(max_entries, MB_L7_STATE_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_state MB_MAPS;

/* The client sockets' state (direction egress), in the socket itself. */
MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct mb_l7_state);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_l7_out_state MB_MAPS;

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u64);
  __uint(max_entries, MB_HTTP_STAT_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_http_stats MB_MAPS;

static __always_inline void mb_http_count_n(mb_u32 stat, mb_u64 n) {
  mb_u64 *v = bpf_map_lookup_elem(&mb_http_stats, &stat);
  if (v)
    *v += n;
}

static __always_inline void mb_http_count(mb_u32 stat) { mb_http_count_n(stat, 1); }

#endif /* MB_LIB_L7_MAPS_H */
