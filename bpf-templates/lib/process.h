/* Process rules (docs/process.md): which executable makes a call, whether a
 * socket's call was let through, and where the packet programs look that up.
 *
 *   the socket-call programs (entry/sock_addr.c), in the calling task:
 *     mb_process_current_exe → (device, inode) of the task's executable
 *     mb_process_exe         → the class's executable bits for it
 *     a call a process rule let through → its socket's cookie in mb_process_socks
 *   the gate (entry/process_gate.c), cgroup_skb egress, for tc endpoints:
 *     a packet of a marked socket, not on loopback → its tuple in mb_process_flows
 *   the packet programs, on an MB_VERDICT_PROCESS flow (lib/decide.h):
 *     cgroup_skb: is the sending socket marked?  tc: is the tuple recorded?
 *
 * The executable is mm->exe_file of the calling task, the file the kernel
 * mapped at exec: a symbolic link is already resolved, and a script's is
 * its interpreter's.
 */
#ifndef MB_LIB_PROCESS_H
#define MB_LIB_PROCESS_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/parse.h"

/* The kernel's own types, with only the fields read: libbpf relocates each
 * access against the running kernel's BTF (CO-RE), so their layout here
 * does not matter. Loads through them are the verifier's checked probe
 * reads: a NULL anywhere on the way (a kernel thread has no mm) reads 0. */
struct super_block {
  mb_u32 s_dev;
} __attribute__((preserve_access_index));
struct inode {
  unsigned long i_ino;
  struct super_block *i_sb;
} __attribute__((preserve_access_index));
struct file {
  struct inode *f_inode;
} __attribute__((preserve_access_index));
struct mm_struct {
  struct file *exe_file;
} __attribute__((preserve_access_index));
struct task_struct {
  struct mm_struct *mm;
} __attribute__((preserve_access_index));

/* The class's executables, resolved by the loader in the endpoint's root:
 * (device, inode) → bit i for executable i of the manifest's class entry.
 * One per endpoint object (not pinned): two pods may resolve one path to
 * different files. */
MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, struct mb_process_exe_key);
  __type(value, mb_u64);
  __uint(max_entries, MB_PROCESS_EXE_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* written by the loader only: no memory until used */
} mb_process_exe MB_MAPS;

/* Sockets whose call a process rule let through, by cookie. An LRU hash, not
 * socket storage: creating a socket's storage cost about 0.6 us per connect
 * (bench/process), an LRU entry far less; an entry outlives its socket until
 * evicted, harmlessly (cookies are never reused). Pinned: a swap keeps what
 * earlier versions let through (a connected socket makes no second call). */
MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(map_flags, BPF_F_NO_COMMON_LRU);
  __type(key, mb_u64);
  __type(value, struct mb_process_sock);
  __uint(max_entries, MB_PROCESS_SOCKS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_process_socks MB_MAPS;

/* Tuples marked sockets sent, as the endpoint sent them (struct mb_ct_key,
 * endpoint set): what tc, which sees no socket, asks. Pinned, for the same
 * reason. */
MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __type(key, struct mb_ct_key);
  __type(value, mb_u64);
  __uint(max_entries, MB_PROCESS_FLOWS_MAX);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_process_flows MB_MAPS;

/* The executable of the calling task; zero when it has none. */
static __always_inline void mb_process_current_exe(struct mb_process_exe_key *k) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct inode *inode = task->mm->exe_file->f_inode;
  k->ino = inode->i_ino;
  k->dev = inode->i_sb->s_dev;
  k->pad = 0;
}

/* Bits of the class's executables that `k` is (0: none). */
static __always_inline mb_u64 mb_process_exe_bits(const struct mb_process_exe_key *k) {
  mb_u64 *bits = bpf_map_lookup_elem(&mb_process_exe, k);
  return bits ? *bits : 0;
}

/* Whether the socket with this cookie had a call a process rule let through
 * (0: no socket). */
static __always_inline int mb_process_sock_marked(mb_u64 cookie) {
  return cookie && bpf_map_lookup_elem(&mb_process_socks, &cookie) != NULL;
}

/* Whether a packet the endpoint sends, on a flow only rules with a process
 * condition allow (MB_VERDICT_PROCESS), comes from a socket whose call was
 * let through. With l2 (tc, no socket in sight): the gate recorded its
 * tuple within MB_PROCESS_FLOW_FRESH_NS. Else (cgroup_skb): its socket is
 * marked. */
static __always_inline int mb_process_approved(mb_ctx_t *ctx, const struct mb_pkt *pkt, const int l2) {
  if (l2) {
    struct mb_ct_key k;
    mb_ct_key_init(&k, &pkt->t, pkt->endpoint);
    mb_u64 *recorded = bpf_map_lookup_elem(&mb_process_flows, &k);
    return recorded && bpf_ktime_get_ns() - *recorded <= MB_PROCESS_FLOW_FRESH_NS;
  }
  return mb_ctx_socket(ctx) && mb_process_sock_marked(bpf_get_socket_cookie(ctx));
}

#endif /* MB_LIB_PROCESS_H */
