// See reasons.h: the datapath's counters and event kinds, named.
#include "loader/reasons.h"

#include "abi/datapath.h"

namespace membrane::loader {

const std::vector<ReasonCounter>& reasonCounters() {
  static const std::vector<ReasonCounter> counters = {
      {"allowed-new", "mb_reasons", MB_REASON_ALLOWED_NEW},
      {"established", "mb_reasons", MB_REASON_ESTABLISHED},
      {"reply", "mb_reasons", MB_REASON_REPLY},
      {"denied-rule", "mb_reasons", MB_REASON_DENIED_RULE},
      {"denied-default", "mb_reasons", MB_REASON_DENIED_DEFAULT},
      {"unparseable", "mb_reasons", MB_REASON_UNPARSEABLE},
      {"fragment", "mb_reasons", MB_REASON_FRAGMENT},
      {"unknown-l3", "mb_reasons", MB_REASON_UNKNOWN_L3},
      {"ipv6-ext", "mb_reasons", MB_REASON_IPV6_EXT},
      {"open", "mb_reasons", MB_REASON_OPEN},
      {"always", "mb_reasons", MB_REASON_ALWAYS},
      {"spoofed", "mb_reasons", MB_REASON_SPOOFED},
      {"dns-refused", "mb_reasons", MB_REASON_DNS_REFUSED},  // docs/dns.md
      {"l7-refused", "mb_reasons", MB_REASON_L7_REFUSED},    // docs/http.md
      {"l7-undecided", "mb_reasons", MB_REASON_L7_UNDECIDED},  // docs/http.md
      {"process-unapproved", "mb_reasons", MB_REASON_PROCESS_UNAPPROVED},  // docs/process.md
      {"no-endpoint", "mb_reasons", MB_REASON_NO_ENDPOINT},  // docs/runtime.md
      {"no-program", "mb_reasons", MB_REASON_NO_PROGRAM},    // docs/runtime.md
  };
  static_assert(MB_REASON_NO_PROGRAM + 1 == 18, "a new mb_reason needs its name in reasonCounters()");
  return counters;
}

const std::vector<ReasonCounter>& dnsCounters() {
  static const std::vector<ReasonCounter> counters = {
      {"dns-queries", "mb_dns_stats", MB_DNS_STAT_QUERY},
      {"dns-query-unreadable", "mb_dns_stats", MB_DNS_STAT_QUERY_UNREADABLE},
      {"dns-recorded", "mb_dns_stats", MB_DNS_STAT_RECORDED},
      {"dns-learned", "mb_dns_stats", MB_DNS_STAT_LEARNED},
      {"dns-nothing", "mb_dns_stats", MB_DNS_STAT_NOTHING},
      {"dns-unsolicited", "mb_dns_stats", MB_DNS_STAT_UNSOLICITED},
      {"dns-unreadable", "mb_dns_stats", MB_DNS_STAT_RESPONSE_UNREADABLE},
      {"dns-addresses", "mb_dns_stats", MB_DNS_STAT_ADDRESSES},
      {"dns-over-limit", "mb_dns_stats", MB_DNS_STAT_OVER_LIMIT},
      {"dns-busy", "mb_dns_stats", MB_DNS_STAT_BUSY},
  };
  static_assert(MB_DNS_STAT_MAX == 10, "a new mb_dns_stat needs its name in dnsCounters()");
  return counters;
}

const std::vector<ReasonCounter>& httpCounters() {
  static const std::vector<ReasonCounter> counters = {
      {"http-allowed", "mb_http_stats", MB_HTTP_STAT_ALLOWED},
      {"http-denied", "mb_http_stats", MB_HTTP_STAT_DENIED},
      {"http-audit", "mb_http_stats", MB_HTTP_STAT_AUDIT},
      {"http-malformed", "mb_http_stats", MB_HTTP_STAT_MALFORMED},
      {"http-too-long", "mb_http_stats", MB_HTTP_STAT_TOO_LONG},
      {"http-tls", "mb_http_stats", MB_HTTP_STAT_TLS},
      {"http-http2", "mb_http_stats", MB_HTTP_STAT_HTTP2},
      {"http-discarded", "mb_http_stats", MB_HTTP_STAT_DISCARDED},
      {"http-body-bytes", "mb_http_stats", MB_HTTP_STAT_BODY_BYTES},
      {"l7-sockets-in", "mb_http_stats", MB_HTTP_STAT_SOCKS_IN},
      {"l7-sockets-out", "mb_http_stats", MB_HTTP_STAT_SOCKS_OUT},
      {"l7-socket-refused", "mb_http_stats", MB_HTTP_STAT_SOCK_REFUSED},
      {"l7-no-program", "mb_http_stats", MB_HTTP_STAT_NO_PROGRAM},
      {"http-answer-failed", "mb_http_stats", MB_HTTP_STAT_ANSWER_FAILED},
      {"http-busy", "mb_http_stats", MB_HTTP_STAT_BUSY},
      {"http-held", "mb_http_stats", MB_HTTP_STAT_HELD},
      {"http-hold-failed", "mb_http_stats", MB_HTTP_STAT_HOLD_FAILED},
      {"http-cut", "mb_http_stats", MB_HTTP_STAT_CUT},
      {"http-path", "mb_http_stats", MB_HTTP_STAT_PATH},
  };
  static_assert(MB_HTTP_STAT_PATH + 1 == 19, "a new mb_http_stat needs its name in httpCounters()");
  return counters;
}

std::string eventKindName(uint8_t kind) {
  switch (kind) {
    case MB_EVENT_ALLOW: return "allow";
    case MB_EVENT_DENY: return "deny";
    case MB_EVENT_AUDIT: return "audit";
    case MB_EVENT_SPOOFED: return "spoofed";
    case MB_EVENT_DNS_REFUSED: return "dns-refused";
    case MB_EVENT_HTTP_ALLOW: return "http-allow";
    case MB_EVENT_HTTP_DENY: return "http-deny";
    case MB_EVENT_HTTP_AUDIT: return "http-audit";
    case MB_EVENT_PROCESS_DENY: return "process-deny";
    case MB_EVENT_PROCESS_AUDIT: return "process-audit";
  }
  return "kind-" + std::to_string(kind);
}

}  // namespace membrane::loader
