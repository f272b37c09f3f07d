// DNS names and patterns as policies write them (docs/dns.md, "Names and
// patterns"): the one place that normalizes and checks them, shared by the
// checker (strings in `to dns` and `with dns`), the Kubernetes import
// (Cilium's matchName and matchPattern, checked at their YAML node) and the
// reference meaning of a pattern that the evaluator and tests match against.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace membrane::names {

// Limits docs/dns.md states (and the datapath's name layout assumes).
inline constexpr size_t kDnsNameMaxChars = 253;
inline constexpr size_t kDnsNameMaxLabels = 32;
inline constexpr size_t kDnsLabelMaxChars = 63;

// A DNS name or pattern as docs/dns.md defines them.
struct DnsPattern {
  std::string text;                 // normalized: lowercase, no trailing dot ("*" alone allowed)
  std::vector<std::string> labels;  // text split at '.', left to right
  bool wildcard = false;            // holds a '*'
};

// Normalizes and checks `written` (the string's content, without quotes).
// On error returns the message (e.g. "label \"a*b*\" has more than one '*'")
// and, in *column, the 0-based offset into `written` of the offending
// character when there is one (std::string::npos when the whole string is at
// fault, e.g. an empty one). Normalizing only lowercases and drops one
// trailing dot, so offsets into the text are offsets into `written`.
std::variant<DnsPattern, std::string> parseDnsPattern(std::string_view written, size_t* column = nullptr);

// Does `name` (a normalized name, no '*') match `pattern`? The reference
// meaning, used by the evaluator and tests: '*' is any run of characters
// within one label (never '.'), a label that is '*' alone needs at least one
// character, "*" alone matches every name. ASCII case is ignored; a name
// with an empty label or a '*' matches nothing (fail closed).
bool dnsPatternMatches(const DnsPattern& pattern, std::string_view name);

}  // namespace membrane::names
