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

#define MB_ABI_VERSION 13 /* 13: mb_identity.set, the entry's peer set among the manifest's peerSets (a
                            table-driven class's verdict per port leaf and set, without a scan); 12: peer bits past the first MB_PEER_WORDS words in mb_more_peer_bits
                            (mb_identity.more_bits); 11: rule ids are hashes below MB_RULE_MAX (2^24), mb_rule_stats a per-CPU
                            hash; 10: one dispatcher per packet hook and node (mb_dispatch_*, mb_active_slot,
                            mb_endpoint_entry has a slot per version, MB_REASON_NO_PROGRAM; a class's
                            shared load reads its endpoint from skb->cb[MB_CB_ENDPOINT]);
                            9: one load per class (mb_endpoints, mb_endpoint_depths, mb_pkt carries
                            the endpoint, MB_REASON_NO_ENDPOINT, mb_reasons has 32 entries);
                            8: process rules (the socket-call programs, mb_process_*, MB_VERDICT_PROCESS,
                            mb_decision_input.exe);
                            7: the socket layer's client side (mb_l7_msg_*, mb_l7_out_state);
                            6: the socket layer frames in its verdict alone (mb_l7_parser gone, mb_l7_held,
                            mb_l7_state's layout, mb_http_stats grew); 5: HTTP (mb_l7_*, mb_http_*), MB_CT_L7,
                            mb_config.flags; 4: DNS (mb_dns_*), mb_decision_input grew; 3: mb_endpoint_addrs,
                            MB_REASON_SPOOFED */

/* The programs of every class object, by function name: the entry points of
 * bpf-templates/entry/, one file per program kind. The manifest lists them
 * per class with their kind and hook (runtime/artifacts/programs.h). */
#define MB_PROG_TC_FROM_ENDPOINT "mb_tc_from_endpoint" /* tc ingress of the host-side veth: egress */
#define MB_PROG_TC_TO_ENDPOINT "mb_tc_to_endpoint"     /* tc egress of the host-side veth: ingress */
#define MB_PROG_CGROUP_INGRESS "mb_cgroup_ingress"
#define MB_PROG_CGROUP_EGRESS "mb_cgroup_egress"
/* The socket layer (docs/http.md, "Datapath"): node-wide programs that pick
 * the sockets whose requests are decided and hand what they receive or send
 * to the endpoint's verdict, entry/sockops.c and entry/sk_skb.c, entry/sk_msg.c ... */
#define MB_PROG_SOCKOPS "mb_sockops"                 /* the cgroup root: puts policed sockets in mb_l7_socks_* */
#define MB_PROG_L7_SKB_DISPATCH "mb_l7_skb_dispatch" /* mb_l7_socks_in's stream verdict: tail call to the endpoint's */
#define MB_PROG_L7_MSG_DISPATCH "mb_l7_msg_dispatch" /* mb_l7_socks_out's sk_msg verdict: tail call to the endpoint's */
/* ... and per endpoint, the class's request decisions, reached through the
 * prog arrays by the endpoint's slot (never attached themselves). */
#define MB_PROG_L7_SKB_VERDICT "mb_l7_skb_verdict" /* requests the endpoint receives (ingress rules) */
#define MB_PROG_L7_MSG_VERDICT "mb_l7_msg_verdict" /* requests the endpoint sends (egress rules) */

/* Process rules (docs/process.md): on the endpoint's cgroup, in the task
 * that makes the call, entry/sock_addr.c decides connect() and sendmsg()
 * with an address by the calling executable; and, for an endpoint whose
 * packet programs are on its veth, a cgroup_skb egress program records the
 * flows of sockets those calls let through (entry/process_gate.c). */
#define MB_PROG_CONNECT4 "mb_connect4"
#define MB_PROG_CONNECT6 "mb_connect6"
#define MB_PROG_SENDMSG4 "mb_sendmsg4"
#define MB_PROG_SENDMSG6 "mb_sendmsg6"
#define MB_PROG_PROCESS_GATE "mb_process_gate"

/* Peer membership: selector bits (and CIDR bits lowered into the identity
 * trie) per address. The first MB_PEER_BITS live in the trie's value, where
 * a decision reads them with a load; the rest, as many as a policy set
 * needs, in mb_more_peer_bits, one entry per 64-bit word that has a bit set,
 * where a decision looks them up (docs/datapath.md, "Peer bits"). */
#define MB_PEER_WORDS 64
#define MB_PEER_BITS (MB_PEER_WORDS * 64)

/* Map sizes. */
#define MB_IDENTITY_MAX 65536
#define MB_CONNTRACK_MAX 262144
#define MB_RULE_MAX (1u << 24) /* rule ids are 1..MB_RULE_MAX-1: a hash of the rule (the compiler's
                                  lower.cpp), so sparse; they fill bits 0-23 of a decision result */
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
  /* The key of this entry's words past bits[] in mb_more_peer_bits: a hash
   * of those words (so entries with the same ones share them, and a key
   * never names other words), or 0 when it has none set. */
  mb_u64 more_bits;
  mb_u64 bits[MB_PEER_WORDS];
  /* 1 + the index of this entry's peer set (its flags and every bit) in the
   * manifest's peerSets, or 0 when the set is not among them (an address
   * the compiler did not know of). Table-driven classes read their verdict
   * for a known set from a table built at compile time; for 0 they scan. */
  mb_u32 set;
  mb_u32 reserved;
};
/* mb_identity.set of the identity the datapath gives addresses outside the
 * trie (world, no bits): each table-driven class has a column for it too. */
#define MB_PEER_SET_WORLD 0xffffffffu

/* Peer bits past the first MB_PEER_BITS (BPF_MAP_TYPE_HASH, name
 * "mb_more_peer_bits", one per policy version like mb_identity): the word
 * `word` (>= MB_PEER_WORDS) of the entries whose more_bits is `set`. A word
 * without an entry is zero. Written before the trie entries that name it,
 * deleted after the last of them. */
struct mb_more_peer_bits_key {
  mb_u64 set;  /* mb_identity.more_bits */
  mb_u32 word; /* bit / 64 */
  mb_u32 pad;
};
#define MB_MORE_PEER_BITS_MAX (1u << 20) /* words with a bit set, over the sets of one version */

/* The addresses each local endpoint owns (BPF_MAP_TYPE_HASH, name
 * "mb_endpoint_addrs"): a packet leaving an endpoint must carry one of them
 * as its source (or an ARP sender address), or it is dropped as spoofed.
 * Keyed by endpoint, so endpoints that share an address (host-network
 * workloads in cgroups) each own it. Filled by the loader before it attaches
 * an endpoint's programs; shared by every policy version. The value is
 * reserved (1). */
struct mb_endpoint_addr_key {
  mb_u32 endpoint; /* the endpoint's id (mb_endpoints) */
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
  mb_u32 endpoint; /* the endpoint's id */
};

#define MB_CT_NEW 0
#define MB_CT_ESTABLISHED 1 /* reply seen */
#define MB_CT_CLOSING 2     /* FIN or RST seen */

/* mb_ct_entry.flags */
#define MB_CT_FIN_ORIG 0x1
#define MB_CT_FIN_REPLY 0x2
#define MB_CT_EGRESS 0x4 /* opened by the endpoint (egress); else ingress */
#define MB_CT_AUDIT 0x8  /* allowed, but an audit policy would have denied */
#define MB_CT_L7 0x10    /* allowed for the socket layer to decide its requests (MB_VERDICT_L7) */

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

/* Per-rule counters (BPF_MAP_TYPE_PERCPU_HASH, name "mb_rule_stats",
 * key = rule id; 0 counts default deny). Rule ids are sparse: an entry is
 * made the first time its rule decides, in a map the loader sizes to the
 * version's rules. */
#define MB_RULE_STATS_UNSIZED 1024 /* its size in an object; the loader sizes it per version */
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
  MB_REASON_DNS_REFUSED = 12,   /* a query for a name no rule lets the endpoint look up: answered REFUSED */
  MB_REASON_L7_REFUSED = 13,    /* a packet of an MB_CT_L7 connection whose socket the socket layer
                                   could not take (its sockhash was full): dropped */
  MB_REASON_L7_UNDECIDED = 14,  /* data an endpoint sends on a connection whose requests its client side
                                   decides, beyond what the sk_msg verdict let go (mb_l7_sent), or in an
                                   IP fragment, or on the SYN: dropped */
  MB_REASON_PROCESS_UNAPPROVED = 15, /* a new flow only rules with a process condition allow, from a
                                        socket whose call the socket-call programs did not let through
                                        (a raw or packet socket, one opened before the rules): dropped */
  MB_REASON_NO_ENDPOINT = 16, /* a dispatcher found no endpoint for its hook in mb_endpoints (the
                                 loader fills it before attaching), or a class's shared load ran
                                 without one: dropped */
  MB_REASON_NO_PROGRAM = 17,  /* a dispatcher found the endpoint, but no program of the active
                                 version for it (an endpoint joining, before the flip, or leaving,
                                 after it): dropped */
  MB_REASON_MAX = 32, /* the map's size: room for reasons to come */
};
/* What the datapath learned (or refused to learn) from DNS is not a reason:
 * such packets pass or drop under one of the reasons above, and these are
 * facts about them, counted in mb_dns_stats (enum mb_dns_stat, below). */

/* Verdict events (BPF_MAP_TYPE_RINGBUF, name "mb_events"). */
#define MB_EVENT_ALLOW 1
#define MB_EVENT_DENY 2
#define MB_EVENT_AUDIT 3 /* allowed, would be denied by an audit policy */
#define MB_EVENT_SPOOFED 4 /* dropped: the source is not the endpoint's (rule_id 0) */
#define MB_EVENT_DNS_REFUSED 5 /* a query answered REFUSED by the datapath (rule_id: deciding rule, 0 default) */
#define MB_EVENT_HTTP_ALLOW 6  /* a request allowed (struct mb_http_event) */
#define MB_EVENT_HTTP_DENY 7   /* a request denied, or bytes that are not one (struct mb_http_event) */
#define MB_EVENT_HTTP_AUDIT 8  /* a request allowed that an audit policy would deny (struct mb_http_event) */
#define MB_EVENT_PROCESS_DENY 9  /* a call refused with EPERM for its executable (struct mb_process_event) */
#define MB_EVENT_PROCESS_AUDIT 10 /* a call allowed that an audit policy would refuse (struct mb_process_event) */

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

/* The packet hooks' dispatchers (bpf-templates/dispatch.c): the programs a
 * node attaches at every tc and cgroup_skb hook of an endpoint, loaded once
 * per node. Each finds its packet's endpoint in mb_endpoints, by what its
 * hook sees: the host-side veth's ifindex (tc) or a cgroup id (cgroup_skb:
 * the socket's cgroup, or its ancestor at one of the depths in
 * mb_endpoint_depths). The entry holds, per version slot, the endpoint's id
 * and which load judges it; the dispatcher reads the active slot
 * (mb_active_slot) and tail-calls that load's program for its hook, in
 * its prog array at slot * MB_LOADS_MAX + load. A swap fills the inactive
 * slot, then flips mb_active_slot: one map update moves every endpoint of
 * the node to the new version at one instant.
 *
 * A packet at a hook no entry names is dropped (MB_REASON_NO_ENDPOINT); one
 * whose entry names no load in the active slot, or whose load has no
 * program there, too (MB_REASON_NO_PROGRAM). */
#define MB_PROG_DISPATCH_TC_FROM "mb_dispatch_tc_from"
#define MB_PROG_DISPATCH_TC_TO "mb_dispatch_tc_to"
#define MB_PROG_DISPATCH_CG_IN "mb_dispatch_cg_in"
#define MB_PROG_DISPATCH_CG_OUT "mb_dispatch_cg_out"
/* Their prog arrays (BPF_MAP_TYPE_PROG_ARRAY, pinned), one per hook: a prog
 * array only holds programs of its owner's type and attach type. */
#define MB_MAP_DISPATCH_TC_FROM "mb_progs_tc_from"
#define MB_MAP_DISPATCH_TC_TO "mb_progs_tc_to"
#define MB_MAP_DISPATCH_CG_IN "mb_progs_cg_in"
#define MB_MAP_DISPATCH_CG_OUT "mb_progs_cg_out"
#define MB_LOADS_MAX 4096 /* loads (of class objects) one version may attach on a node */
#define MB_DISPATCH_SLOTS 2
#define MB_LOAD_NONE 0xffffffffu /* an entry's slot with no load: its packets are dropped */
/* mb_active_slot (BPF_MAP_TYPE_ARRAY, pinned, one u32): the slot of
 * mb_endpoint_entry and the prog arrays that packets are judged by; or
 * MB_SLOT_DETACHED, written first by `membrane detach`: every dispatched hook
 * then passes every packet, so the node stops enforcing at one instant, as
 * it started. */
#define MB_SLOT_DETACHED 2

/* The skb control block word through which a dispatcher hands the
 * endpoint's id to a class's shared load (mb_config.endpoint_id 0). */
#define MB_CB_ENDPOINT 0

#define MB_ENDPOINT_BY_IFINDEX 1
#define MB_ENDPOINT_BY_CGROUP 2
#define MB_ENDPOINTS_MAX 65536
struct mb_endpoint_key {
  mb_u32 kind; /* MB_ENDPOINT_BY_* */
  mb_u32 pad;  /* 0 */
  mb_u64 id;   /* the ifindex, or the cgroup id (its directory's inode) */
};
struct mb_endpoint_slot {
  mb_u32 endpoint; /* the endpoint's id: conntrack, events, owned addresses, DNS */
  mb_u32 load;     /* its load's index in the prog arrays' slot, or MB_LOAD_NONE */
};
struct mb_endpoint_entry {
  struct mb_endpoint_slot slot[MB_DISPATCH_SLOTS]; /* by mb_active_slot's value */
};
/* The cgroup depths (levels below the cgroup v2 root) at which endpoints'
 * cgroups sit (BPF_MAP_TYPE_ARRAY, name "mb_endpoint_depths", pinned): a
 * cgroup_skb program looks up the socket's ancestor at each, in order, until
 * one is an endpoint; 0 ends the list. */
#define MB_ENDPOINT_DEPTHS_MAX 4

/* Per-load configuration, in the object's .rodata (set by the loader before
 * load): one compiled class object serves many endpoints. */
struct mb_config {
  mb_u32 endpoint_id; /* the endpoint this load serves alone (socket-call, socket-layer and
                         process programs are loaded per endpoint), or 0: a load shared by
                         the class's endpoints, run by the dispatchers, which hand it each
                         packet's (skb->cb[MB_CB_ENDPOINT]) */
  mb_u32 events; /* bitmask of MB_EVENT_* kinds to emit (1 << kind) */
  mb_u32 flags;  /* MB_CONFIG_* */
  mb_u32 l7_slot; /* the endpoint's slot in mb_l7_endpoints' values and the prog arrays */
};

/* mb_config.flags */
#define MB_CONFIG_SOCKETS 0x1u /* the node's socket layer is attached and this endpoint's
                                  addresses are in mb_l7_endpoints: a packet program may
                                  pass an MB_VERDICT_L7 flow (else it drops it) */

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
  /* DNS (docs/dns.md); all zero in classes without DNS rules. */
  mb_u8 dns;       /* MB_DNS_MSG_*: what the packet carries on a port a dns condition covers */
  mb_u8 pad[7];
  mb_u64 dns_query; /* the query's name: bits of the class's name patterns it matches */
  mb_u64 dns_peer;  /* egress: bits of the patterns some live learned name of the peer address matches */
  /* Process (docs/process.md): in mb_process_decide_egress, bits of the
   * class's executables (mb_process_exe) the calling task runs; 0 in the
   * packet decisions, which test no executable. */
  mb_u64 exe;
};

/* mb_decision_input.dns */
#define MB_DNS_MSG_NONE 0  /* no DNS message: not a DNS port, or a TCP packet without payload */
#define MB_DNS_MSG_QUERY 1 /* a query the parser read; dns_query holds its name's bits */
#define MB_DNS_MSG_BAD 2   /* on a DNS port, but not a query the parser can read: a dns condition fails */

/* The packed result (a register, not an out-pointer):
 *   bits 0-23   deciding rule id (0: open direction or default deny; ids
 *               stay below MB_RULE_MAX)
 *   bits 24-27  a verdict other than allow or deny (MB_VERDICT_L7, ...);
 *               0 for those two
 *   bit  28     allowed by a rule with a dns condition (MB_RESULT_DNS_LEARN)
 *   bit  30     the direction is enforced
 *   bit  31     the packet may not simply pass: deny, or any verdict of
 *               bits 24-27 (so code that only tests this bit drops it)
 *   bits 32-55  with MB_RESULT_AUDIT_DENY: the audit rule (0: audit default deny)
 *   bit  63     allowed, but audit-mode policies would deny
 * Other bits are 0. */
#define MB_RESULT_RULE_MASK 0xffffffull
#define MB_RESULT_VERDICT_SHIFT 24
#define MB_RESULT_VERDICT_MASK 0xfull
#define MB_RESULT_DNS_LEARN (1ull << 28) /* allowed by a rule with a dns condition: record the
                                           query, learn from its answer */
#define MB_RESULT_ENFORCED (1ull << 30)
#define MB_RESULT_DENY (1ull << 31)
#define MB_RESULT_AUDIT_SHIFT 32
#define MB_RESULT_AUDIT_DENY (1ull << 63)

/* What the decision says to do with a new flow. Each program kind acts on
 * the verdicts it supports and drops every other one (fail closed), so a
 * verdict added here never passes a packet through a kind that predates it.
 * Generated code returns ALLOW, DENY and (a connection whose requests the
 * socket layer decides) L7; the packet kinds pass L7 only under
 * MB_CONFIG_SOCKETS. */
#define MB_VERDICT_ALLOW 0
#define MB_VERDICT_DENY 1
#define MB_VERDICT_L7 2       /* allow the connection; the socket layer decides each request
                                 (docs/http.md); passed only under MB_CONFIG_SOCKETS */
#define MB_VERDICT_REDIRECT 3 /* deliver the packet elsewhere (the datapath's own answer) */
#define MB_VERDICT_PROCESS 4  /* allow the flow only from a socket whose call the socket-call
                                 programs let through (docs/process.md): only rules with a
                                 process condition allow it */

/* The result unpacked, as the skeleton uses it. */
struct mb_decision {
  mb_u32 rule_id;
  mb_u32 audit_rule_id;
  mb_u8 verdict; /* MB_VERDICT_* */
  mb_u8 audit_would_deny;
  mb_u8 enforced;
  mb_u8 pad;
};

/* ---- Process rules (docs/process.md) ----------------------------------------
 *
 * A class with process rules carries the socket-call programs
 * (MB_PROG_CONNECT4 ...), attached to the endpoint's cgroup. They run in the
 * calling task: its executable, as (device, inode) of mm->exe_file, is
 * looked up in mb_process_exe (per endpoint, filled by the loader from the
 * manifest's executables resolved in the endpoint's root) for the bits of
 * mb_decision_input.exe, and the generated
 *
 *   mb_u64 mb_process_decide_egress(const struct mb_identity *peer,
 *                                   const struct mb_decision_input *in);
 *
 * decides the call with every process condition tested on those bits. A call
 * the packet decision leaves to them (MB_VERDICT_PROCESS) fails with EPERM
 * when this decision denies it, and marks its socket (by cookie, in
 * mb_process_socks) when it allows it. The packet programs pass an
 * MB_VERDICT_PROCESS flow only from a marked socket: cgroup_skb asks the
 * socket's cookie itself, tc asks mb_process_flows, where the gate
 * (MB_PROG_PROCESS_GATE, cgroup_skb egress on the endpoint's cgroup) records
 * the tuples marked sockets send. */
struct mb_process_exe_key {
  mb_u64 ino;
  mb_u32 dev; /* the kernel's dev_t: major << 20 | minor */
  mb_u32 pad;
};
#define MB_PROCESS_EXE_MAX 1024 /* (device, inode) pairs per endpoint */
#define MB_PROCESS_EXE_BITS 64  /* executables per class */
#define MB_PROCESS_FLOWS_MAX 65536
#define MB_PROCESS_SOCKS_MAX 65536

/* mb_process_socks (BPF_MAP_TYPE_LRU_HASH, pinned): key the socket's cookie
 * (bpf_get_socket_cookie, never reused while the machine runs), value: */
struct mb_process_sock {
  mb_u32 endpoint; /* mb_config.endpoint_id of the program that let the call through */
  mb_u32 pad;
};

/* mb_process_flows: key struct mb_ct_key as the endpoint sent the packet
 * (endpoint set), value mb_u64 (when the gate last recorded it,
 * bpf_ktime_get_ns). LRU, pinned. The gate records a marked socket's tuple
 * at most once per MB_PROCESS_FLOW_REFRESH_NS; tc takes an entry at most
 * MB_PROCESS_FLOW_FRESH_NS old as approval, so a tuple an approved socket
 * once sent does not approve another socket's (a raw one's) packets later. */
#define MB_PROCESS_FLOW_REFRESH_NS 1000000000ull
#define MB_PROCESS_FLOW_FRESH_NS 2000000000ull

/* MB_EVENT_PROCESS_*: the call, and who made it. */
struct mb_process_event {
  struct mb_event flow; /* daddr/dport: where the call was to; saddr unset */
  mb_u32 pid;           /* the calling thread group */
  mb_u32 exe_dev;       /* its executable's device (kernel dev_t) and inode */
  mb_u64 exe_ino;
  mb_u64 exe_bits;      /* the class's executables it is (0: none of them) */
  mb_u32 audit_rule_id; /* MB_EVENT_PROCESS_AUDIT: the audit rule (0: audit default deny) */
  mb_u32 pad;
  char comm[16];        /* the calling thread's name */
};

/* ---- DNS (docs/dns.md) -----------------------------------------------------
 *
 * Queries on ports that a rule's dns condition covers are read at egress and
 * decided with their name (mb_decision_input.dns_query); an allowed query
 * whose rule has a dns condition is recorded in mb_dns_pending. A response
 * on ingress teaches only if it answers a recorded query (endpoint, both
 * addresses and ports, protocol, message id, and the question's name); its
 * A/AAAA answers (through CNAME chains, credited to the name asked) go into
 * mb_dns_learned for the endpoint, with their TTL. A new egress flow to an
 * address with live learned names gets their pattern bits in
 * mb_decision_input.dns_peer. Both maps are pinned and shared by every
 * policy version: learned state is facts (this endpoint asked this name and
 * was told this address until then), never compiled bits, so a version swap
 * re-reads it with the new patterns. */
#define MB_DNS_NAME_BYTES 256  /* name text incl. NUL (253 chars at most); a power of two for masks */
#define MB_DNS_LABELS_MAX 32   /* names with more labels are not understood: fail closed */
#define MB_DNS_SLOTS 4         /* names remembered per learned address (oldest-expiring replaced) */
#define MB_DNS_LEARNED_MAX 16384
#define MB_DNS_PENDING_MAX 16384
#define MB_DNS_RECORDS_MAX 64  /* resource records read per response; later ones teach nothing */
#define MB_DNS_POINTER_HOPS 8  /* compression pointers followed per name */
#define MB_DNS_TTL_FLOOR_S 5   /* a learned address lives at least this long (a TTL of 0 still connects) */
#define MB_DNS_TTL_CAP_S 86400 /* and at most this long */
#define MB_DNS_PENDING_NS (10ull * 1000000000ull) /* a query's answer must come within */

/* A name as the datapath keeps and matches it: lowercased dotted text
 * without the trailing dot ("api.stripe.com"), NUL-terminated, the rest of
 * `text` zero; its labels counted from the right (label 0 is the top-level
 * domain "com"), each by its offset in `text` and its size. The root name
 * has no labels and empty text. */
struct mb_dns_name {
  mb_u8 labels; /* number of labels, at most MB_DNS_LABELS_MAX */
  mb_u8 pad;
  mb_u16 len;   /* bytes of text before the NUL */
  mb_u8 start[MB_DNS_LABELS_MAX];
  mb_u8 size[MB_DNS_LABELS_MAX];
  char text[MB_DNS_NAME_BYTES];
};

/* Queries awaiting their answer (BPF_MAP_TYPE_LRU_HASH, name "mb_dns_pending"). */
struct mb_dns_pending_key {
  mb_u32 endpoint; /* the endpoint's id */
  mb_u8 family;    /* MB_FAMILY_* */
  mb_u8 proto;     /* IPPROTO_UDP or IPPROTO_TCP */
  mb_u16 id;       /* DNS message id, as on the wire */
  mb_u16 client_port;   /* network order: the endpoint's port */
  mb_u16 resolver_port; /* network order */
  mb_u8 client[16];     /* the endpoint's address */
  mb_u8 resolver[16];
};

struct mb_dns_pending {
  mb_u64 expires_ns; /* recorded + MB_DNS_PENDING_NS */
  mb_u32 rule_id;    /* the rule that allowed the query */
  mb_u32 pad;
  char name[MB_DNS_NAME_BYTES]; /* the question, as mb_dns_name.text */
};

/* Learned addresses (BPF_MAP_TYPE_LRU_HASH, name "mb_dns_learned"). */
struct mb_dns_learned_key {
  mb_u32 endpoint; /* the endpoint's id */
  mb_u32 family;   /* MB_FAMILY_* */
  mb_u8 addr[16];  /* network order; IPv4 in the first 4 bytes, rest zero */
};

struct mb_dns_learned_slot {
  mb_u64 expires_ns; /* bpf_ktime_get_ns() deadline; 0 or past: empty */
  mb_u64 learned_ns; /* when the answer arrived */
  char name[MB_DNS_NAME_BYTES]; /* the name the endpoint asked, as mb_dns_name.text */
};

struct mb_dns_learned {
  struct mb_dns_learned_slot slot[MB_DNS_SLOTS];
};

/* The class's DNS tables, generated by the compiler beside the decision:
 *
 *   extern const mb_u32 mb_dns_class_features;  MB_DNS_F_* (.rodata: the
 *       verifier prunes all DNS work from classes without DNS rules)
 *   mb_u64 mb_dns_match(const struct mb_dns_name *name);
 *       bit i set: the name matches the class's name pattern i (every
 *       pattern of the class, name peers and dns conditions, in one table)
 *   int mb_dns_port(int proto, int port);
 *       1 if a rule's dns condition covers that protocol and port (host
 *       order): queries to it are read, responses from it are learned from
 */
#define MB_DNS_F_QUERIES 0x1u /* some egress rule has a dns condition */
#define MB_DNS_F_NAMES 0x2u   /* some egress rule has name peers */

/* DNS counters (BPF_MAP_TYPE_PERCPU_ARRAY, name "mb_dns_stats", index =
 * enum mb_dns_stat, value = count; pinned, shared by every version). Each
 * message is counted under at most one of QUERY..RESPONSE_UNREADABLE;
 * ADDRESSES and OVER_LIMIT add detail, BUSY is the rare case where the
 * datapath had no scratch memory (then it fails closed: the query is
 * unreadable, the response teaches nothing). */
enum mb_dns_stat {
  MB_DNS_STAT_QUERY = 0,              /* a query read at egress and decided by its name */
  MB_DNS_STAT_QUERY_UNREADABLE = 1,   /* on a DNS port at egress, but not a query the parser can read */
  MB_DNS_STAT_RECORDED = 2,           /* an allowed query recorded in mb_dns_pending (also counted as QUERY) */
  MB_DNS_STAT_LEARNED = 3,            /* a response that taught addresses */
  MB_DNS_STAT_NOTHING = 4,            /* a response to a recorded query that taught nothing (error RCODE, no A/AAAA for the name) */
  MB_DNS_STAT_UNSOLICITED = 5,        /* a response to no recorded query (wrong id, addresses, ports or name) */
  MB_DNS_STAT_RESPONSE_UNREADABLE = 6, /* a response the parser could not read: teaches nothing */
  MB_DNS_STAT_ADDRESSES = 7,          /* addresses learned or refreshed */
  MB_DNS_STAT_OVER_LIMIT = 8,         /* responses with more than MB_DNS_RECORDS_MAX answers (the rest unread) */
  MB_DNS_STAT_BUSY = 9,               /* no scratch memory free on this CPU */
  MB_DNS_STAT_MAX = 10,
};

/* The datapath's working memory for DNS (BPF_MAP_TYPE_PERCPU_ARRAY, name
 * "mb_dns_scratch", MB_DNS_SCRATCH_DEPTH entries; the value's layout and
 * size are private to bpf-templates/lib/dns_maps.h, but being pinned, a
 * change to them goes with MB_ABI_VERSION like any map's). Pinned so a node
 * allocates it once, not once per endpoint object. One entry per nesting
 * level: a program in process context (cgroup egress) can be interrupted
 * by one in softirq on the same CPU; "mb_dns_nesting" (per-CPU array of
 * one mb_u32, pinned) counts the levels in use. */
#define MB_DNS_SCRATCH_DEPTH 2
#define MB_DNS_MSG_MAX 4096 /* bytes of a DNS message read; a power of two for masks */

/* ---- The socket layer and HTTP (docs/http.md) ----------------------------
 *
 * A connection whose packet decision says MB_VERDICT_L7 carries requests the
 * class decides one by one. mb_sockops (attached once per node at the cgroup
 * root) looks every newly established TCP socket up in mb_l7_endpoints: a
 * server socket by (its address, its port, ingress), a client socket by (its
 * address, the peer's port, egress). A hit puts it in mb_l7_socks_in (server
 * side: the stream verdict, without a stream parser, frames each received
 * segment into messages and decides them, holding an incomplete header block
 * back until the rest arrives) or mb_l7_socks_out (client side: the sk_msg verdict
 * decides what it sends), and records the slot in the socket's state. The
 * programs attached to the two sockhashes are node-wide dispatchers: they
 * tail-call the endpoint's own verdict program through mb_l7_skb_progs /
 * mb_l7_msg_progs at the slot, which the loader points at the endpoint's
 * current policy version, so a swap changes the decision of live
 * connections at once. A missing program drops (fail closed). Every map
 * here is pinned by name and shared by every object and version. The
 * protocol of a slot's port (MB_L7_HTTP; Kafka next) picks the framing. */
#define MB_L7_SLOTS 4096         /* endpoints with L7 rules per node */
#define MB_L7_ENDPOINTS_MAX 65536 /* (address, port, direction) entries */
#define MB_L7_SOCKS_MAX 65536     /* policed sockets per direction */

#define MB_L7_HTTP 1 /* HTTP/1.x requests */

/* Which sockets are policed (BPF_MAP_TYPE_HASH, name "mb_l7_endpoints"):
 * filled by the loader from each class's L7 ports (the manifest's
 * classes[].l7), for every address of every local endpoint of the class. */
struct mb_l7_endpoint_key {
  mb_u8 family;    /* MB_FAMILY_* */
  mb_u8 direction; /* MB_DIR_*: ingress = the endpoint serves on `port` */
  mb_u16 port;     /* host order: the endpoint's port (ingress), the peer's (egress) */
  mb_u8 addr[16];  /* the endpoint's address, network order, IPv4 in the first 4 bytes */
};

struct mb_l7_endpoint {
  mb_u32 slot;     /* index into mb_l7_skb_progs / mb_l7_msg_progs */
  mb_u32 endpoint; /* the endpoint's id */
  mb_u8 protocol;  /* MB_L7_* */
  mb_u8 pad[7];
};

/* The sockhashes' key (mb_l7_socks_in, mb_l7_socks_out): the socket's own
 * connection, so a verdict can redirect to the socket itself. */
struct mb_l7_sock_key {
  mb_u64 netns;       /* the socket's network namespace cookie */
  mb_u8 family;       /* MB_FAMILY_* */
  mb_u8 pad;
  mb_u16 local_port;  /* host order */
  mb_u16 remote_port; /* host order */
  mb_u16 pad2;
  mb_u8 local[16];
  mb_u8 remote[16];
};

/* HTTP requests as the socket layer reads them. A header block (request
 * line, headers, the empty line) longer than MB_HTTP_HEADER_MAX is not
 * read: the request is denied (unreadable). */
#define MB_HTTP_HEADER_MAX 8192
#define MB_HTTP_METHOD_BYTES 16  /* longer methods match no rule's method */
#define MB_HTTP_PATH_BYTES 512   /* a path of more than MB_HTTP_PATH_BYTES - 1 bytes makes the request unreadable */
#define MB_HTTP_HOST_BYTES 256   /* hosts of more than 253 characters match no host pattern */
#define MB_HTTP_HEADERS_MAX 16   /* distinct header names a class's rules may name */
#define MB_HTTP_HEADER_NAME_BYTES 64
#define MB_HTTP_VALUE_BYTES 128  /* header values a rule may require are at most this long */
#define MB_HTTP_EVENT_PATH_BYTES 128

/* mb_http_request.flags */
#define MB_HTTP_REQ_HOST 0x1u /* exactly one Host header; `host` holds it */
/* 0x2 was MB_HTTP_REQ_PATH_NOMATCH: a request whose path is not canonical
 * or too long is now unreadable and never reaches the decision. */

/* One request's header block, read into scratch memory and handed to the
 * class's generated request decision:
 *
 *   mb_u64 mb_http_decide_ingress(const struct mb_identity *peer,
 *                                 const struct mb_decision_input *in,
 *                                 const struct mb_http_request *req);
 *   mb_u64 mb_http_decide_egress(...);
 *
 * `in` is the connection's (peer flags, family, proto, port, peer address;
 * its DNS fields zero), the result packed as mb_decide_*'s with verdict
 * ALLOW or DENY. With them the compiler generates the class's table of
 * header names (lowercase, NUL-padded):
 *
 *   extern const char mb_http_header_names[MB_HTTP_HEADERS_MAX][MB_HTTP_HEADER_NAME_BYTES];
 *   extern const mb_u32 mb_http_header_count;
 *   extern const mb_u32 mb_http_class_features;  MB_HTTP_F_*
 */
struct mb_http_request {
  mb_u8 method_len;  /* bytes of `method`; 0 when longer than MB_HTTP_METHOD_BYTES */
  mb_u8 flags;       /* MB_HTTP_REQ_* */
  mb_u16 path_len;   /* bytes of `path`: the target up to '?', canonical (docs/http.md), 1 to 511 */
  mb_u16 host_len;   /* bytes of `host` (MB_HTTP_REQ_HOST) */
  mb_u16 pad;
  mb_u32 header_seen;     /* bit i: header name i of the class's table appears */
  mb_u32 header_repeated; /* bit i: ... more than once (a value condition then fails) */
  char method[MB_HTTP_METHOD_BYTES];
  char path[MB_HTTP_PATH_BYTES];  /* as sent, case kept; bytes past path_len zero */
  char host[MB_HTTP_HOST_BYTES];  /* lowercased, without ":port" and a trailing dot; rest zero */
  mb_u16 value_len[MB_HTTP_HEADERS_MAX]; /* length of header i's value, spaces around it trimmed */
  char value[MB_HTTP_HEADERS_MAX][MB_HTTP_VALUE_BYTES]; /* its first bytes; rest zero */
};

#define MB_HTTP_F_INGRESS 0x1u /* some ingress rule of the class has an http condition */
#define MB_HTTP_F_EGRESS 0x2u  /* some egress rule ... */

/* Why a request was denied, in mb_http_event.why. */
#define MB_HTTP_WHY_RULE 0        /* the decision (rule_id: the deny rule, or 0 for default deny) */
#define MB_HTTP_WHY_MALFORMED 1   /* not an HTTP/1.x request as docs/http.md reads them */
#define MB_HTTP_WHY_TOO_LONG 2    /* header block over MB_HTTP_HEADER_MAX */
#define MB_HTTP_WHY_TLS 3         /* a TLS ClientHello where HTTP/1.x is policed */
#define MB_HTTP_WHY_HTTP2 4       /* the HTTP/2 connection preface */
#define MB_HTTP_WHY_AFTER_ERROR 5 /* bytes after an unreadable request on the same connection */
#define MB_HTTP_WHY_PATH 6        /* a path that is not canonical or longer than MB_HTTP_PATH_BYTES - 1 */

/* An HTTP event: the flow's record followed by the request's. Ringbuf
 * records carry their size; readers tell the kinds apart by `flow.kind`. */
struct mb_http_event {
  struct mb_event flow; /* kind MB_EVENT_HTTP_*; sport/dport of the connection */
  mb_u8 why;            /* MB_HTTP_WHY_* (deny) */
  mb_u8 method_len;
  mb_u16 path_len;      /* bytes of `path` kept (at most MB_HTTP_EVENT_PATH_BYTES) */
  mb_u32 audit_rule_id; /* MB_EVENT_HTTP_AUDIT: the audit deny rule (0: audit default deny) */
  char method[MB_HTTP_METHOD_BYTES];
  char path[MB_HTTP_EVENT_PATH_BYTES];
};

/* HTTP and socket-layer counters (BPF_MAP_TYPE_PERCPU_ARRAY, name
 * "mb_http_stats", index = enum mb_http_stat, value = count; pinned). */
enum mb_http_stat {
  MB_HTTP_STAT_ALLOWED = 0,       /* requests allowed */
  MB_HTTP_STAT_DENIED = 1,        /* requests denied by the decision (answered 403) */
  MB_HTTP_STAT_AUDIT = 2,         /* allowed, an audit policy would deny */
  MB_HTTP_STAT_MALFORMED = 3,     /* unreadable requests (answered 400, connection discarded) */
  MB_HTTP_STAT_TOO_LONG = 4,
  MB_HTTP_STAT_TLS = 5,
  MB_HTTP_STAT_HTTP2 = 6,
  MB_HTTP_STAT_DISCARDED = 7,     /* messages dropped after an unreadable request */
  MB_HTTP_STAT_BODY_BYTES = 8,    /* body bytes passed */
  MB_HTTP_STAT_SOCKS_IN = 9,      /* server sockets put in mb_l7_socks_in */
  MB_HTTP_STAT_SOCKS_OUT = 10,    /* client sockets put in mb_l7_socks_out */
  MB_HTTP_STAT_SOCK_REFUSED = 11, /* a policed socket the sockhash refused (full): its flow is dropped */
  MB_HTTP_STAT_NO_PROGRAM = 12,   /* no verdict program at the slot: dropped */
  MB_HTTP_STAT_ANSWER_FAILED = 13, /* the 403/400 could not be written: the request dropped all the same */
  MB_HTTP_STAT_BUSY = 14,         /* no scratch memory free on this CPU: dropped */
  MB_HTTP_STAT_HELD = 15,         /* incomplete header blocks (or chunk lines) held back for the next segment
                                     (server side) or corked until more is written (client side) */
  MB_HTTP_STAT_HOLD_FAILED = 16,  /* one that could not be held or given back: the connection discarded */
  MB_HTTP_STAT_CUT = 17,          /* a request that could not be delivered or answered in order (behind
                                     another's bytes in one segment): the connection discarded from it on */
  MB_HTTP_STAT_PATH = 18,         /* unreadable for their path: not canonical or too long (answered 400) */
  MB_HTTP_STAT_MAX = 24,
};

#endif /* MEMBRANE_ABI_DATAPATH_H */
