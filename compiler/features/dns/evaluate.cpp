// DNS, meaning (dns.h): what the reference evaluator asks of a dns condition
// and of a name peer. The datapath (the generated mb_dns_match and the
// decision's dns tests, codegen/dns_codegen.cpp) is held to this by the
// differential tests.
#include "features/dns/dns.h"
#include "names/dns.h"

namespace membrane::features::dns {

bool anyMatches(const std::vector<std::string>& names, const std::string& name) {
  for (const auto& text : names) {
    auto parsed = names::parseDnsPattern(text);
    if (const auto* pattern = std::get_if<names::DnsPattern>(&parsed))
      if (names::dnsPatternMatches(*pattern, name)) return true;
  }
  return false;
}

bool matches(const ir::DnsCondition& condition, const ir::Traffic& traffic) {
  switch (traffic.dns.kind) {
    case ir::DnsMessage::Kind::None: return true;
    case ir::DnsMessage::Kind::Unreadable: return false;
    case ir::DnsMessage::Kind::Query: return anyMatches(condition.names, traffic.dns.name);
  }
  return false;
}

bool peerMatches(const std::vector<std::string>& names, const ir::Peer& peer) {
  for (const auto& learned : peer.learnedNames)
    if (anyMatches(names, learned)) return true;
  return false;
}

}  // namespace membrane::features::dns
