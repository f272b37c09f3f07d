/* The datapath ABI: map keys and values, event records and constants shared by
 * the BPF datapath (bpf-templates/), the compiler and the node loader.
 *
 * Plain C with fixed-width types, no includes: it is compiled both as BPF C
 * (inside the compiler, with no system headers) and as C++ on the node.
 *
 * Stability: map names, key/value layouts and sizes below are the ABI that
 * lets a policy swap reuse pinned maps (conntrack, counters). Change them
 * only together with MB_ABI_VERSION.
 */
#ifndef MEMBRANE_ABI_DATAPATH_H
#define MEMBRANE_ABI_DATAPATH_H

#ifdef __cplusplus
#include <cstdint>
typedef uint8_t mb_u8;
typedef uint16_t mb_u16;
typedef uint32_t mb_u32;
typedef uint64_t mb_u64;
#else
typedef unsigned char mb_u8;
typedef unsigned short mb_u16;
typedef unsigned int mb_u32;
typedef unsigned long long mb_u64;
#endif

#define MB_ABI_VERSION 3 /* 3: mb_endpoint_addrs, MB_REASON_SPOOFED, MB_EVENT_SPOOFED */

/* The programs of every class object, by function name: the entry points of
 * bpf-templates/entry/, one file per program kind. The manifest lists them
 * per class with their kind and hook (runtime/artifacts/programs.h). */
#define MB_PROG_TC_FROM_ENDPOINT "mb_tc_from_endpoint" /* tc ingress of the host-side veth: egress */
#define MB_PROG_TC_TO_ENDPOINT "mb_tc_to_endpoint"     /* tc egress of the host-side veth: ingress */
#define MB_PROG_CGROUP_INGRESS "mb_cgroup_ingress"
#define MB_PROG_CGROUP_EGRESS "mb_cgroup_egress"

/* Peer membership: selector bits (and CIDR bits lowered into the identity
 * trie) per address. 4096 bits; membranec refuses a policy set needing more.
 * Raised from 1024 in ABI 2. */
#define MB_PEER_WORDS 64
#define MB_PEER_BITS (MB_PEER_WORDS * 64)

/* Map sizes. */
#define MB_IDENTITY_MAX 65536
#define MB_CONNTRACK_MAX 262144
#define MB_RULE_MAX 65536 /* rule ids are 1..MB_RULE_MAX-1 */
#define MB_EVENTS_BYTES (1 << 20)
#define MB_ENDPOINT_ADDRS_MAX 16384

/* Address families as stored in keys (not AF_*: these are ours). */
#define MB_FAMILY_V4 4
#define MB_FAMILY_V6 6

/* mb_identity.flags: who the peer is. An address missing from the trie is
 * MB_PEER_WORLD with no bits. */
#define MB_PEER_ENDPOINT 0x1u /* a known endpoint */
#define MB_PEER_HOST 0x2u     /* the node itself */
#define MB_PEER_WORLD 0x4u    /* anything else */

/* Identity trie (BPF_MAP_TYPE_LPM_TRIE, name "mb_identity").
 * prefixlen counts the family word too: 32 + prefix length. */
struct mb_lpm_key {
  mb_u32 prefixlen;
  mb_u32 family; /* MB_FAMILY_* */
  mb_u8 addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct mb_identity {
  mb_u32 flags;    /* MB_PEER_* */
  mb_u32 identity; /* numeric identity (informational) */
  mb_u64 bits[MB_PEER_WORDS];
};

/* The addresses each local endpoint owns (BPF_MAP_TYPE_HASH, name
 * "mb_endpoint_addrs"): a packet leaving an endpoint must carry one of them
 * as its source (or an ARP sender address), or it is dropped as spoofed.
 * Keyed by endpoint, so endpoints that share an address (host-network
 * workloads in cgroups) each own it. Filled by the loader before it attaches
 * an endpoint's programs; shared by every policy version. The value is
 * reserved (1). */
struct mb_endpoint_addr_key {
  mb_u32 endpoint; /* mb_config.endpoint_id */
  mb_u32 family;   /* MB_FAMILY_* */
  mb_u8 addr[16];  /* network order; IPv4 in the first 4 bytes, rest zero */
};

/* Conntrack (BPF_MAP_TYPE_LRU_HASH, name "mb_conntrack"). The key is the
 * tuple as the connection's first packet had it, plus the endpoint, so the
 * same flow seen at both ends on one node is tracked once per end. */
struct mb_ct_key {
  mb_u8 saddr[16];
  mb_u8 daddr[16];
  mb_u16 sport; /* network order; ICMP: echo id in sport, 0 in dport */
  mb_u16 dport;
  mb_u8 proto;
  mb_u8 family;
  mb_u16 pad;
  mb_u32 endpoint; /* mb_config.endpoint_id */
};

#define MB_CT_NEW 0
#define MB_CT_ESTABLISHED 1 /* reply seen */
#define MB_CT_CLOSING 2     /* FIN or RST seen */

/* mb_ct_entry.flags */
#define MB_CT_FIN_ORIG 0x1
#define MB_CT_FIN_REPLY 0x2
#define MB_CT_EGRESS 0x4 /* opened by the endpoint (egress); else ingress */
#define MB_CT_AUDIT 0x8  /* allowed, but an audit policy would have denied */

struct mb_ct_entry {
  mb_u64 expires_ns; /* bpf_ktime_get_ns() deadline; past it the entry is dead */
  mb_u32 rule_id;    /* rule that allowed the connection (0: no policy) */
  mb_u8 state;       /* MB_CT_* */
  mb_u8 flags;
  mb_u16 pad;
  mb_u64 packets;
  mb_u64 bytes;
};

/* Timeouts (ns). */
#define MB_CT_TIMEOUT_TCP_SYN (60ull * 1000000000ull)
#define MB_CT_TIMEOUT_TCP (6ull * 3600ull * 1000000000ull)
#define MB_CT_TIMEOUT_CLOSING (10ull * 1000000000ull)
#define MB_CT_TIMEOUT_OTHER (60ull * 1000000000ull)

/* Per-rule counters (BPF_MAP_TYPE_PERCPU_ARRAY, name "mb_rule_stats",
 * index = rule id; index 0 counts default-deny). */
struct mb_rule_stats {
  mb_u64 packets;
  mb_u64 bytes;
};

/* Drop and pass reasons (BPF_MAP_TYPE_PERCPU_ARRAY, name "mb_reasons",
 * index = reason, value = packet count). */
enum mb_reason {
  MB_REASON_ALLOWED_NEW = 0,    /* new flow allowed by policy */
  MB_REASON_ESTABLISHED = 1,    /* conntrack hit, original direction */
  MB_REASON_REPLY = 2,          /* conntrack hit, reply direction */
  MB_REASON_DENIED_RULE = 3,    /* a deny rule matched */
  MB_REASON_DENIED_DEFAULT = 4, /* no allow rule matched */
  MB_REASON_UNPARSEABLE = 5,    /* truncated or malformed headers */
  MB_REASON_FRAGMENT = 6,       /* non-first fragment without state */
  MB_REASON_UNKNOWN_L3 = 7,     /* neither IPv4, IPv6, nor ARP */
  MB_REASON_IPV6_EXT = 8,       /* too many / unsupported IPv6 extension headers */
  MB_REASON_OPEN = 9,           /* direction not restricted by any policy */
  MB_REASON_ALWAYS = 10,        /* ARP and IPv6 neighbour discovery */
  MB_REASON_SPOOFED = 11,       /* left an endpoint with a source it does not own */
  MB_REASON_MAX = 16,
};

/* Verdict events (BPF_MAP_TYPE_RINGBUF, name "mb_events"). */
#define MB_EVENT_ALLOW 1
#define MB_EVENT_DENY 2
#define MB_EVENT_AUDIT 3 /* allowed, would be denied by an audit policy */
#define MB_EVENT_SPOOFED 4 /* dropped: the source is not the endpoint's (rule_id 0) */

#define MB_DIR_INGRESS 0
#define MB_DIR_EGRESS 1

struct mb_event {
  mb_u64 timestamp_ns;
  mb_u32 endpoint;
  mb_u32 rule_id;
  mb_u8 kind; /* MB_EVENT_* */
  mb_u8 direction; /* MB_DIR_* */
  mb_u8 proto;
  mb_u8 family;
  mb_u16 sport; /* host order */
  mb_u16 dport;
  mb_u8 saddr[16];
  mb_u8 daddr[16];
};

/* Per-endpoint configuration, in the object's .rodata (set by the loader
 * before load): one compiled class object serves many endpoints. */
struct mb_config {
  mb_u32 endpoint_id;
  mb_u32 events; /* bitmask of MB_EVENT_* kinds to emit (1 << kind) */
};

/* The policy decision, generated per class by the compiler and linked into
 * the skeleton as global BPF functions (so the verifier checks them once, on
 * their own):
 *
 *   mb_u64 mb_decide_ingress(const struct mb_identity *peer,
 *                            const struct mb_decision_input *in);
 *   mb_u64 mb_decide_egress(...);
 *   int mb_direction_enforced(int direction);  1 if policy restricts it
 *
 * Both pointers must be writable memory (stack or map values): the verifier
 * checks global-function arguments that way. */
struct mb_decision_input {
  mb_u32 peer_flags; /* MB_PEER_* of the peer */
  mb_u8 family;
  mb_u8 proto;
  mb_u16 port; /* host order: destination port, or ICMP type */
  mb_u8 addr[16]; /* the peer's address, for CIDRs folded into code */
};

/* The packed result (a register, not an out-pointer):
 *   bits 0-23   deciding rule id (0: open direction or default deny; ids
 *               stay below MB_RULE_MAX)
 *   bits 24-27  a verdict other than allow or deny (MB_VERDICT_L7, ...);
 *               0 for those two
 *   bit  30     the direction is enforced
 *   bit  31     the packet may not simply pass: deny, or any verdict of
 *               bits 24-27 (so code that only tests this bit drops it)
 *   bits 32-55  with MB_RESULT_AUDIT_DENY: the audit rule (0: audit default deny)
 *   bit  63     allowed, but audit-mode policies would deny
 * Other bits are 0. */
#define MB_RESULT_RULE_MASK 0xffffffull
#define MB_RESULT_VERDICT_SHIFT 24
#define MB_RESULT_VERDICT_MASK 0xfull
#define MB_RESULT_ENFORCED (1ull << 30)
#define MB_RESULT_DENY (1ull << 31)
#define MB_RESULT_AUDIT_SHIFT 32
#define MB_RESULT_AUDIT_DENY (1ull << 63)

/* What the decision says to do with a new flow. Each program kind acts on
 * the verdicts it supports and drops every other one (fail closed), so a
 * verdict added here never passes a packet through a kind that predates it.
 * Today every kind supports ALLOW only; generated code returns ALLOW and
 * DENY. */
#define MB_VERDICT_ALLOW 0
#define MB_VERDICT_DENY 1
/* Reserved, not generated yet: */
#define MB_VERDICT_L7 2       /* hand the flow to an L7 parser before deciding */
#define MB_VERDICT_REDIRECT 3 /* deliver the packet elsewhere (a proxy, another interface) */

/* The result unpacked, as the skeleton uses it. */
struct mb_decision {
  mb_u32 rule_id;
  mb_u32 audit_rule_id;
  mb_u8 verdict; /* MB_VERDICT_* */
  mb_u8 audit_would_deny;
  mb_u8 enforced;
  mb_u8 pad;
};

#endif /* MEMBRANE_ABI_DATAPATH_H */
