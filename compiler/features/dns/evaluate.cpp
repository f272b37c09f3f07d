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

namespace {
// One label (with at most one '*') covering another, label by label.
bool labelCovers(const std::string& outer, const std::string& inner) {
  size_t star = outer.find('*');
  if (star == std::string::npos) return outer == inner;
  std::string prefix = outer.substr(0, star), suffix = outer.substr(star + 1);
  size_t innerStar = inner.find('*');
  if (innerStar == std::string::npos) {
    names::DnsPattern glob{outer, {outer}, true};
    return names::dnsPatternMatches(glob, inner);
  }
  // Both globs: the inner one's fixed ends must extend the outer one's.
  std::string innerPrefix = inner.substr(0, innerStar), innerSuffix = inner.substr(innerStar + 1);
  return innerPrefix.starts_with(prefix) && innerSuffix.ends_with(suffix);
}
}  // namespace

bool covers(const std::string& outer, const std::string& inner) {
  if (outer == "*") return true;
  if (inner == "*") return false;
  auto o = names::parseDnsPattern(outer);
  auto i = names::parseDnsPattern(inner);
  const auto* op = std::get_if<names::DnsPattern>(&o);
  const auto* ip = std::get_if<names::DnsPattern>(&i);
  if (!op || !ip || op->labels.size() != ip->labels.size()) return false;
  for (size_t k = 0; k < op->labels.size(); ++k)
    if (!labelCovers(op->labels[k], ip->labels[k])) return false;
  return true;
}

}  // namespace membrane::features::dns
