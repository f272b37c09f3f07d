/* Test-only stand-in for the compiler's generated policy: defines the
 * functions lib/policy.h declares with a small fixed policy, then includes
 * the skeleton, so the datapath can be tested before the compiler emits
 * code. Global functions, as the compiler links the generated ones.
 *
 * Ingress (always enforced), first match wins:
 *   rule 2  deny  peers with bit 1
 *   rule 1  allow tcp/80-81  from peers with bit 0
 *   rule 3  allow udp/53     from peers with bit 0
 *   rule 5  allow tcp/8080   from peers with bit 0 (audit rule 6 would deny)
 *   rule 7  allow sctp/3868  from peers with bit 0
 *   rule 8  tcp/8443 from peers with bit 0: MB_VERDICT_L7, in the verdict
 *           field only (MB_RESULT_DENY clear), which no kind acts on yet
 *   rule 9  tcp/8444 from peers with bit 0: MB_VERDICT_REDIRECT, with
 *           MB_RESULT_DENY as generated code sets it
 *   rule 4  allow ICMP echo request from world
 *   default deny
 * Egress: open unless the test sets stub_egress_enforced before load; then
 *   rule 10 deny  tcp/25 to anyone
 *   rule 11 allow tcp/443 to peers with bit 0
 *   rule 12 allow udp/53, tcp/53 to peers with bit 0 with dns { "*.example.com",
 *           "api.stripe.com" } (MB_RESULT_DNS_LEARN); a TCP segment without
 *           a message passes, an unreadable message does not
 *   rule 13 allow tcp/443 to dns "api.stripe.com"
 *   rule 14 allow tcp/80 to dns "*.example.com"
 *   rule 15 tcp/8443 to peers with bit 0: MB_VERDICT_L7 (egress http rules)
 *   rule 16 allow tcp/5432, udp/5353 to peers with bit 0 with process
 *           { executable bit 0 }: MB_VERDICT_PROCESS here (with
 *           MB_RESULT_DENY, as generated code sets it); the socket calls'
 *           decision (mb_process_decide_egress) allows it when in->exe has
 *           bit 0, else default deny
 *   default deny
 *
 * DNS tables (runtime/abi/datapath.h): mb_dns_class_features is set by the
 * test through .rodata (0: no DNS work at all); name patterns
 *   bit 0  "*.example.com"  (one label of any characters before it)
 *   bit 1  "api.stripe.com"
 *   bit 2  "example.com"    (so a name can match two patterns)
 * and DNS ports udp/53 and tcp/53.
 *
 * HTTP (the socket layer's tests, http_test.cpp); header names table:
 *   0 "x-deny", 1 "x-env"
 * Requests received (ingress) and sent (egress) alike, first match wins:
 *   rule 22 deny  header "x-deny" present
 *   rule 23 allow POST "/ok/env" with header "x-env" = "prod" (exactly once)
 *   rule 21 allow GET on paths starting "/ok"
 *   rule 24 allow every method on host "api.test" (any path)
 *   default deny
 */
#include "include/platform.h"

/* Set by the test through .rodata, like mb_config. */
volatile const mb_u32 stub_egress_enforced = 0;
volatile const mb_u32 mb_dns_class_features = 0;

/* How often each decision ran (index MB_DIR_*): lets tests check that
 * conntrack hits skip policy. Not pinned. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, mb_u32);
  __type(value, mb_u64);
  __uint(max_entries, 2);
} stub_decide_calls SEC(".maps");

static __always_inline void stub_count(mb_u32 dir) {
  mb_u64 *n = bpf_map_lookup_elem(&stub_decide_calls, &dir);
  if (n)
    __sync_fetch_and_add(n, 1);
}

static __always_inline int stub_has_bit(const struct mb_identity *peer, int bit) {
  return (peer->bits[bit / 64] >> (bit % 64)) & 1;
}

static __always_inline mb_u64 stub_result(mb_u8 verdict, mb_u32 rule, mb_u8 enforced) {
  return rule | (enforced ? MB_RESULT_ENFORCED : 0) | (verdict == MB_VERDICT_DENY ? MB_RESULT_DENY : 0);
}

/* A verdict other than allow or deny, in bits 24-27. */
static __always_inline mb_u64 stub_verdict(mb_u64 verdict, mb_u32 rule) {
  return rule | MB_RESULT_ENFORCED | (verdict << MB_RESULT_VERDICT_SHIFT);
}

/* Global functions, as the compiler links them: verified on their own, so
 * the pointer arguments are checked for NULL. */
__attribute__((noinline)) int mb_direction_enforced(int direction) {
  return direction == MB_DIR_INGRESS ? 1 : stub_egress_enforced != 0;
}

__attribute__((noinline)) mb_u64 mb_decide_ingress(const struct mb_identity *peer,
                                                   const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  stub_count(MB_DIR_INGRESS);
  int icmp = in->family == MB_FAMILY_V4 ? in->proto == IPPROTO_ICMP : in->proto == IPPROTO_ICMPV6;
  int echo_request = icmp && in->port == (in->family == MB_FAMILY_V4 ? 8 : 128);

  if (stub_has_bit(peer, 1))
    return stub_result(MB_VERDICT_DENY, 2, 1);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_TCP && in->port >= 80 && in->port <= 81)
    return stub_result(MB_VERDICT_ALLOW, 1, 1);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_UDP && in->port == 53)
    return stub_result(MB_VERDICT_ALLOW, 3, 1);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_TCP && in->port == 8080)
    return stub_result(MB_VERDICT_ALLOW, 5, 1) | MB_RESULT_AUDIT_DENY | (6ull << MB_RESULT_AUDIT_SHIFT);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_SCTP && in->port == 3868)
    return stub_result(MB_VERDICT_ALLOW, 7, 1);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_TCP && in->port == 8443)
    return stub_verdict(MB_VERDICT_L7, 8);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_TCP && in->port == 8444)
    return stub_verdict(MB_VERDICT_REDIRECT, 9) | MB_RESULT_DENY;
  if ((in->peer_flags & MB_PEER_WORLD) && echo_request)
    return stub_result(MB_VERDICT_ALLOW, 4, 1);
  return stub_result(MB_VERDICT_DENY, 0, 1);
}

static __always_inline int stub_process_port(const struct mb_identity *peer, const struct mb_decision_input *in) {
  return stub_has_bit(peer, 0) &&
         ((in->proto == IPPROTO_TCP && in->port == 5432) || (in->proto == IPPROTO_UDP && in->port == 5353));
}

__attribute__((noinline)) mb_u64 mb_process_decide_egress(const struct mb_identity *peer,
                                                          const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  if (stub_process_port(peer, in) && (in->exe & 1))
    return stub_result(MB_VERDICT_ALLOW, 16, 1);
  return stub_result(MB_VERDICT_DENY, 0, 1);
}

__attribute__((noinline)) mb_u64 mb_decide_egress(const struct mb_identity *peer,
                                                  const struct mb_decision_input *in) {
  if (!peer || !in) return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  stub_count(MB_DIR_EGRESS);
  if (!stub_egress_enforced)
    return stub_result(MB_VERDICT_ALLOW, 0, 0);
  if (in->proto == IPPROTO_TCP && in->port == 25)
    return stub_result(MB_VERDICT_DENY, 10, 1);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_TCP && in->port == 8443)
    return stub_verdict(MB_VERDICT_L7, 15);
  if (stub_has_bit(peer, 0) && in->proto == IPPROTO_TCP && in->port == 443)
    return stub_result(MB_VERDICT_ALLOW, 11, 1);
  if (stub_process_port(peer, in))
    return stub_verdict(MB_VERDICT_PROCESS, 16) | MB_RESULT_DENY;
  if (stub_has_bit(peer, 0) && (in->proto == IPPROTO_UDP || in->proto == IPPROTO_TCP) && in->port == 53 &&
      (in->dns == MB_DNS_MSG_NONE || (in->dns == MB_DNS_MSG_QUERY && (in->dns_query & 0x3))))
    return stub_result(MB_VERDICT_ALLOW, 12, 1) | MB_RESULT_DNS_LEARN;
  if ((in->dns_peer & 0x2) && in->proto == IPPROTO_TCP && in->port == 443)
    return stub_result(MB_VERDICT_ALLOW, 13, 1);
  if ((in->dns_peer & 0x1) && in->proto == IPPROTO_TCP && in->port == 80)
    return stub_result(MB_VERDICT_ALLOW, 14, 1);
  return stub_result(MB_VERDICT_DENY, 0, 1);
}

/* The name's label `i` from the right is `want` (of `size` bytes). */
static __always_inline int stub_label_is(const struct mb_dns_name *name, int i, const char *want, int size) {
  if (i >= name->labels || name->size[i] != size)
    return 0;
  int start = name->start[i];
  for (int k = 0; k < size; k++)
    if (name->text[(start + k) & (MB_DNS_NAME_BYTES - 1)] != want[k])
      return 0;
  return 1;
}

__attribute__((noinline)) mb_u64 mb_dns_match(const struct mb_dns_name *name) {
  if (!name)
    return 0;
  mb_u64 bits = 0;
  if (stub_label_is(name, 0, "com", 3) && stub_label_is(name, 1, "example", 7)) {
    if (name->labels == 3 && name->size[2] > 0)
      bits |= 1;
    if (name->labels == 2)
      bits |= 4;
  }
  if (name->labels == 3 && stub_label_is(name, 0, "com", 3) && stub_label_is(name, 1, "stripe", 6) &&
      stub_label_is(name, 2, "api", 3))
    bits |= 2;
  return bits;
}

__attribute__((noinline)) int mb_dns_port(int proto, int port) {
  return (proto == IPPROTO_UDP || proto == IPPROTO_TCP) && port == 53;
}

/* ---- HTTP ---------------------------------------------------------------- */

volatile const mb_u32 mb_http_class_features = MB_HTTP_F_INGRESS | MB_HTTP_F_EGRESS;
volatile const mb_u32 mb_http_header_count = 2;
volatile const char mb_http_header_names[MB_HTTP_HEADERS_MAX][MB_HTTP_HEADER_NAME_BYTES] = {"x-deny", "x-env"};

static __always_inline mb_u64 stub_http(const struct mb_http_request *req) {
  if (req->header_seen & 1)
    return 22 | MB_RESULT_ENFORCED | MB_RESULT_DENY;
  if (req->method_len == 4 && req->method[0] == 'P' && req->method[1] == 'O' && req->method[2] == 'S' &&
      req->method[3] == 'T' && req->path_len == 7 && req->path[0] == '/' && req->path[1] == 'o' &&
      req->path[2] == 'k' && req->path[3] == '/' && req->path[4] == 'e' && req->path[5] == 'n' &&
      req->path[6] == 'v' && (req->header_seen & 2) && !(req->header_repeated & 2) && req->value_len[1] == 4 &&
      req->value[1][0] == 'p' && req->value[1][1] == 'r' && req->value[1][2] == 'o' && req->value[1][3] == 'd')
    return 23 | MB_RESULT_ENFORCED;
  if (req->method_len == 3 && req->method[0] == 'G' && req->method[1] == 'E' && req->method[2] == 'T' &&
      req->path_len >= 3 && req->path[0] == '/' && req->path[1] == 'o' && req->path[2] == 'k')
    return 21 | MB_RESULT_ENFORCED;
  if ((req->flags & MB_HTTP_REQ_HOST) && req->host_len == 8 && req->host[0] == 'a' && req->host[1] == 'p' &&
      req->host[2] == 'i' && req->host[3] == '.' && req->host[4] == 't' && req->host[5] == 'e' &&
      req->host[6] == 's' && req->host[7] == 't')
    return 24 | MB_RESULT_ENFORCED;
  return MB_RESULT_ENFORCED | MB_RESULT_DENY;
}

__attribute__((noinline)) mb_u64 mb_http_decide_ingress(const struct mb_identity *peer,
                                                        const struct mb_decision_input *in,
                                                        const struct mb_http_request *req) {
  if (!peer || !in || !req)
    return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return stub_http(req);
}

__attribute__((noinline)) mb_u64 mb_http_decide_egress(const struct mb_identity *peer,
                                                       const struct mb_decision_input *in,
                                                       const struct mb_http_request *req) {
  if (!peer || !in || !req)
    return MB_RESULT_DENY | MB_RESULT_ENFORCED;
  return stub_http(req);
}

#include "endpoint.c"
