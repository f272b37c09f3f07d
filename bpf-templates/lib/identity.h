/* Peer identity: which selectors (and CIDR rules) an address belongs to.
 *
 * The loader fills an LPM trie keyed by {family, address}; prefixlen counts
 * the 32-bit family word, so a /24 IPv4 entry has prefixlen 32 + 24 and a
 * lookup uses the full 32 + 32 (or 32 + 128). Addresses missing from the
 * trie are "world": no bits, MB_PEER_WORLD.
 */
#ifndef MB_LIB_IDENTITY_H
#define MB_LIB_IDENTITY_H

#include "include/platform.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __type(key, struct mb_lpm_key);
  __type(value, struct mb_identity);
  __uint(max_entries, MB_IDENTITY_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* the kernel requires it for LPM tries */
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_identity MB_MAPS;

/* Peer bits past the trie value's (runtime/abi/datapath.h): per version,
 * like the trie, and read only by the class's decision (decision.c,
 * mb_peer_word), which declares it extern. Allocated as filled. */
MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct mb_more_peer_bits_key);
  __type(value, mb_u64);
  __uint(max_entries, MB_MORE_PEER_BITS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_more_peer_bits MB_MAPS;

/* The identity of every address the trie does not know. It lives in .data,
 * not .rodata: the decision is a global function, and the verifier wants its
 * pointer arguments to be writable memory (nothing writes it). */
static struct mb_identity mb_world_identity = {.flags = MB_PEER_WORLD, .set = MB_PEER_SET_WORLD};

static __always_inline struct mb_identity *mb_identity_lookup(mb_u8 family,
                                                                    const mb_u8 addr[16]) {
  struct mb_lpm_key key;

  __builtin_memset(&key, 0, sizeof(key));
  key.prefixlen = 32 + (family == MB_FAMILY_V4 ? 32 : 128);
  key.family = family;
  /* The parser zeroes the tail of IPv4 addresses, so copying 16 bytes keeps
   * the (unused) key bytes zero as well. */
  __builtin_memcpy(key.addr, addr, 16);

  struct mb_identity *id = bpf_map_lookup_elem(&mb_identity, &key);
  return id ? id : &mb_world_identity;
}

#endif /* MB_LIB_IDENTITY_H */
