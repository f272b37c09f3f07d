/* Platform layer for the datapath: everything the BPF C code needs from the
 * kernel and libbpf, written out here because the compiler builds the
 * skeleton in-process with -nostdinc (no <linux/bpf.h>, no libbpf headers).
 *
 * Every number below is a kernel uapi fact (include/uapi/linux/bpf.h,
 * if_ether.h, in.h, pkt_cls.h); the names follow the kernel's so the code
 * reads like any other BPF program.
 */
#ifndef MB_PLATFORM_H
#define MB_PLATFORM_H

/* The datapath ABI (runtime/abi/datapath.h, on the include path). Included
 * from here, not from lib/: inside lib/ a quoted "datapath.h" would find
 * lib/datapath.h first. It also supplies the fixed-width mb_u* types. */
#include "datapath.h"

#if !defined(__bpf__)
#error "platform.h is for BPF targets only (-target bpf)"
#endif

#ifndef NULL
#define NULL ((void *)0)
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* ---- ELF sections and BTF-defined maps (libbpf conventions) ------------ */

#define SEC(name) __attribute__((section(name), used))

/* BTF-defined map attributes: libbpf reads the map's parameters from the
 * *types* of these members (array length for integers), never from values. */
#define __uint(name, val) int(*name)[val]
#define __type(name, val) __typeof__(val) *name
#define __array(name, val) __typeof__(val) *name[]

/* bpf_map_def.pinning / libbpf_pin_type */
#define LIBBPF_PIN_NONE 0
#define LIBBPF_PIN_BY_NAME 1

/* A map or variable every translation unit of a class object shares
 * (bpf-templates/README.md, "Program kinds and contexts"): defined in the
 * skeleton's unit (endpoint.c), declared `extern` in the others, which
 * define MB_SHARED_EXTERN first; libbpf's linker joins them into one.
 * MB_SHARED_INIT gives the definition its initializer; MB_MAPS puts a map
 * in .maps (only a definition can be marked used). */
#ifdef MB_SHARED_EXTERN
#define MB_SHARED extern
#define MB_SHARED_INIT(...)
#define MB_MAPS __attribute__((section(".maps")))
#else
#define MB_SHARED
#define MB_SHARED_INIT(...) = __VA_ARGS__
#define MB_MAPS SEC(".maps")
#endif

/* enum bpf_map_type (only the ones we use) */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PROG_ARRAY 3
#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_LRU_HASH 9
#define BPF_MAP_TYPE_LRU_PERCPU_HASH 10
#define BPF_MAP_TYPE_LPM_TRIE 11
#define BPF_MAP_TYPE_SOCKHASH 18
#define BPF_MAP_TYPE_SK_STORAGE 24
#define BPF_MAP_TYPE_RINGBUF 27

/* map_flags */
#define BPF_F_NO_PREALLOC (1U << 0)
#define BPF_F_NO_COMMON_LRU (1U << 1) /* an LRU list per CPU: no lock shared across CPUs on update */

/* bpf_l4_csum_replace() flags; the low 4 bits are the field's size
 * (0: `to` is a checksum difference) */
#define BPF_F_PSEUDO_HDR (1ULL << 4)
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)

/* bpf_sk_redirect_hash() / bpf_msg_redirect_hash() flags */
#define BPF_F_INGRESS (1ULL << 0)

/* bpf_map_update_elem() flags */
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

/* ---- Helpers, declared by their kernel helper IDs (enum bpf_func_id) --- */

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   mb_u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static mb_u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, mb_u32 fmt_size, ...) = (void *)6;
static mb_u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static mb_u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static long (*bpf_skb_store_bytes)(void *skb, mb_u32 offset, const void *from, mb_u32 len,
                                   mb_u64 flags) = (void *)9;
static long (*bpf_l3_csum_replace)(void *skb, mb_u32 offset, mb_u64 from, mb_u64 to,
                                   mb_u64 size) = (void *)10;
static long (*bpf_l4_csum_replace)(void *skb, mb_u32 offset, mb_u64 from, mb_u64 to,
                                   mb_u64 flags) = (void *)11;
static long (*bpf_tail_call)(void *ctx, void *prog_array, mb_u32 index) = (void *)12;
static long (*bpf_redirect)(mb_u32 ifindex, mb_u64 flags) = (void *)23;
static long (*bpf_skb_load_bytes)(const void *skb, mb_u32 offset, void *to,
                                  mb_u32 len) = (void *)26;
static long (*bpf_skb_change_tail)(void *skb, mb_u32 len, mb_u64 flags) = (void *)38;
static long (*bpf_skb_pull_data)(void *skb, mb_u32 len) = (void *)39;
static mb_u64 (*bpf_get_socket_cookie)(void *ctx) = (void *)46;
static mb_u64 (*bpf_skb_ancestor_cgroup_id)(void *skb, int ancestor_level) = (void *)83;
static long (*bpf_skb_adjust_room)(void *skb, int len_diff, mb_u32 mode, mb_u64 flags) = (void *)50;
static long (*bpf_sock_ops_cb_flags_set)(void *skops, int flags) = (void *)59;
static long (*bpf_msg_apply_bytes)(void *msg, mb_u32 bytes) = (void *)61;
static long (*bpf_msg_cork_bytes)(void *msg, mb_u32 bytes) = (void *)62;
static long (*bpf_msg_pull_data)(void *msg, mb_u32 start, mb_u32 end, mb_u64 flags) = (void *)63;
static long (*bpf_sock_hash_update)(void *skops, void *map, void *key, mb_u64 flags) = (void *)70;
static long (*bpf_msg_redirect_hash)(void *msg, void *map, void *key, mb_u64 flags) = (void *)71;
static long (*bpf_sk_redirect_hash)(void *skb, void *map, void *key, mb_u64 flags) = (void *)72;
static long (*bpf_msg_push_data)(void *msg, mb_u32 start, mb_u32 len, mb_u64 flags) = (void *)90;
static long (*bpf_msg_pop_data)(void *msg, mb_u32 start, mb_u32 len, mb_u64 flags) = (void *)91;
static void *(*bpf_sk_storage_get)(void *map, void *sk, void *value, mb_u64 flags) = (void *)107;
static mb_u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_get_current_comm)(void *buf, mb_u32 size) = (void *)16;
static struct bpf_sock *(*bpf_sk_fullsock)(struct bpf_sock *sk) = (void *)95;
/* The calling task as a pointer the verifier types by the kernel's BTF
 * (Linux 5.11+); fields are read with CO-RE relocations (lib/process.h). */
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
static long (*bpf_probe_read_kernel)(void *dst, mb_u32 size, const void *unsafe_ptr) = (void *)113;
static mb_u64 (*bpf_get_netns_cookie)(void *ctx) = (void *)122;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, mb_u64 size,
                                  mb_u64 flags) = (void *)130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, mb_u64 size, mb_u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, mb_u64 flags) = (void *)132;
static void (*bpf_ringbuf_discard)(void *data, mb_u64 flags) = (void *)133;
/* Runs callback(i, ctx) for i in [0, nr) until it returns 1; the verifier
 * checks the callback once, not once per iteration (Linux 5.17+). */
static long (*bpf_loop)(mb_u32 nr_loops, void *callback_fn, void *callback_ctx, mb_u64 flags) = (void *)181;

/* ---- Program context ---------------------------------------------------- */

/* struct __sk_buff, the uapi view of an skb, with the kernel's exact field
 * offsets. Only the leading fields are spelled out (the verifier checks
 * accesses by offset, so a prefix is enough); do not reorder. */
struct __sk_buff {
  mb_u32 len;            /*  0: bytes from skb->data (tc: L2, cgroup_skb: L3) */
  mb_u32 pkt_type;       /*  4 */
  mb_u32 mark;           /*  8 */
  mb_u32 queue_mapping;  /* 12 */
  mb_u32 protocol;       /* 16: ETH_P_* in network order */
  mb_u32 vlan_present;   /* 20 */
  mb_u32 vlan_tci;       /* 24 */
  mb_u32 vlan_proto;     /* 28 */
  mb_u32 priority;       /* 32 */
  mb_u32 ingress_ifindex; /* 36 */
  mb_u32 ifindex;        /* 40 */
  mb_u32 tc_index;       /* 44 */
  mb_u32 cb[5];          /* 48 */
  mb_u32 hash;           /* 68 */
  mb_u32 tc_classid;     /* 72 */
  mb_u32 data;           /* 76 */
  mb_u32 data_end;       /* 80 */
  mb_u32 napi_id;        /* 84 */
  mb_u32 sk_fields[13];  /* 88: family ... local_port (sk_skb), data_meta */
  mb_u64 flow_keys;      /* 144 */
  mb_u64 tstamp;         /* 152 */
  mb_u32 wire_len;       /* 160 */
  mb_u32 gso_segs;       /* 164 */
  union { struct bpf_sock *sk; mb_u64 sk_u64; }; /* 168: the sending socket (cgroup_skb egress), or NULL */
};

_Static_assert(__builtin_offsetof(struct __sk_buff, protocol) == 16, "uapi __sk_buff layout");
_Static_assert(__builtin_offsetof(struct __sk_buff, cb) == 48, "uapi __sk_buff layout");
_Static_assert(__builtin_offsetof(struct __sk_buff, data_end) == 80, "uapi __sk_buff layout");
_Static_assert(__builtin_offsetof(struct __sk_buff, sk) == 168, "uapi __sk_buff layout");

struct bpf_sock; /* a socket: only passed on to helpers */

/* struct bpf_sock_ops (sockops programs), with the kernel's offsets up to
 * the fields the socket layer reads. */
struct bpf_sock_ops {
  mb_u32 op;              /*  0: BPF_SOCK_OPS_* */
  mb_u32 args[4];         /*  4 */
  mb_u32 family;          /* 20: AF_INET / AF_INET6 */
  mb_u32 remote_ip4;      /* 24: network order */
  mb_u32 local_ip4;       /* 28: network order */
  mb_u32 remote_ip6[4];   /* 32: network order */
  mb_u32 local_ip6[4];    /* 48: network order */
  mb_u32 remote_port;     /* 64: network order, in the upper 16 bits */
  mb_u32 local_port;      /* 68: host order */
  mb_u32 is_fullsock;     /* 72 */
  mb_u32 snd_cwnd;        /* 76 */
  mb_u32 srtt_us;         /* 80 */
  mb_u32 bpf_sock_ops_cb_flags; /* 84 */
  mb_u32 state;           /* 88 */
  mb_u32 rtt_min;         /* 92 */
  mb_u32 snd_ssthresh;    /* 96 */
  mb_u32 rcv_nxt;         /* 100 */
  mb_u32 snd_nxt;         /* 104 */
  mb_u32 snd_una;         /* 108: the first byte not yet acknowledged */
  mb_u32 unread[18];      /* 112: mss_cache ... bytes_acked */
  union { struct bpf_sock *sk; mb_u64 sk_u64; }; /* 184: the socket (a full one in the *_ESTABLISHED_CB ops) */
};
_Static_assert(__builtin_offsetof(struct bpf_sock_ops, remote_port) == 64, "uapi bpf_sock_ops layout");
_Static_assert(__builtin_offsetof(struct bpf_sock_ops, bpf_sock_ops_cb_flags) == 84, "uapi bpf_sock_ops layout");
_Static_assert(__builtin_offsetof(struct bpf_sock_ops, snd_una) == 108, "uapi bpf_sock_ops layout");
_Static_assert(__builtin_offsetof(struct bpf_sock_ops, sk) == 184, "uapi bpf_sock_ops layout");

/* struct sk_msg_md (sk_msg programs). */
struct sk_msg_md {
  union { void *data; mb_u64 data_u64; };         /*  0 */
  union { void *data_end; mb_u64 data_end_u64; }; /*  8 */
  mb_u32 family;        /* 16 */
  mb_u32 remote_ip4;    /* 20 */
  mb_u32 local_ip4;     /* 24 */
  mb_u32 remote_ip6[4]; /* 28 */
  mb_u32 local_ip6[4];  /* 44 */
  mb_u32 remote_port;   /* 60: network order */
  mb_u32 local_port;    /* 64: host order */
  mb_u32 size;          /* 68: bytes of the whole message */
  union { struct bpf_sock *sk; mb_u64 sk_u64; };  /* 72: the sending socket */
};
_Static_assert(__builtin_offsetof(struct sk_msg_md, size) == 68, "uapi sk_msg_md layout");
_Static_assert(__builtin_offsetof(struct sk_msg_md, sk) == 72, "uapi sk_msg_md layout");

/* struct bpf_sock_addr (cgroup sock_addr programs: connect, sendmsg). */
struct bpf_sock_addr {
  mb_u32 user_family;    /*  0: AF_INET / AF_INET6, as the caller gave it */
  mb_u32 user_ip4;       /*  4: network order */
  mb_u32 user_ip6[4];    /*  8: network order */
  mb_u32 user_port;      /* 24: network order, in the low 16 bits */
  mb_u32 family;         /* 28: the socket's */
  mb_u32 type;           /* 32: SOCK_STREAM, SOCK_DGRAM, ... */
  mb_u32 protocol;       /* 36: IPPROTO_* */
  mb_u32 msg_src_ip4;    /* 40 */
  mb_u32 msg_src_ip6[4]; /* 44 */
  union { struct bpf_sock *sk; mb_u64 sk_u64; }; /* 64 */
};
_Static_assert(__builtin_offsetof(struct bpf_sock_addr, user_port) == 24, "uapi bpf_sock_addr layout");
_Static_assert(__builtin_offsetof(struct bpf_sock_addr, protocol) == 36, "uapi bpf_sock_addr layout");
_Static_assert(__builtin_offsetof(struct bpf_sock_addr, sk) == 64, "uapi bpf_sock_addr layout");

/* cgroup sock_addr return codes: 1 lets the call go on, 0 fails it with EPERM. */
#define MB_SOCK_ADDR_PASS 1
#define MB_SOCK_ADDR_EPERM 0

#define BPF_SK_STORAGE_GET_F_CREATE (1ULL << 0)

/* enum bpf_sock_ops op values and callback flags */
#define BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB 4
#define BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB 5
#define BPF_SOCK_OPS_STATE_CB 10
#define BPF_SOCK_OPS_STATE_CB_FLAG (1 << 2)
#define BPF_TCP_CLOSE 7

#define AF_INET 2
#define AF_INET6 10

/* sk_skb / sk_msg verdicts */
#define SK_DROP 0
#define SK_PASS 1

/* Program return codes. */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7
#define MB_CGROUP_PASS 1
#define MB_CGROUP_DROP 0

/* ---- Protocol numbers --------------------------------------------------- */

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86DD

#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ESP 50
#define IPPROTO_AH 51
#define IPPROTO_ICMPV6 58
#define IPPROTO_NONE 59
#define IPPROTO_DSTOPTS 60
#define IPPROTO_SCTP 132
#define IPPROTO_MH 135

/* ---- Byte order --------------------------------------------------------- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define bpf_htons(x) ((mb_u16)__builtin_bswap16((mb_u16)(x)))
#define bpf_htonl(x) ((mb_u32)__builtin_bswap32((mb_u32)(x)))
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define bpf_htons(x) ((mb_u16)(x))
#define bpf_htonl(x) ((mb_u32)(x))
#else
#error "unknown byte order"
#endif
#define bpf_ntohs(x) bpf_htons(x)
#define bpf_ntohl(x) bpf_htonl(x)

/* ---- License ------------------------------------------------------------- */

/* GPL-compatible: some helpers (e.g. bpf_trace_printk) are GPL-only. The
 * skeleton is one translation unit, so defining it in a header is fine. */
char mb_license[] SEC("license") = "GPL";

#endif /* MB_PLATFORM_H */
