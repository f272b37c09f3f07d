// See dns.h: DNS names and patterns, checked and matched.
#include "names/dns.h"

namespace membrane::names {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// A character as an error message shows it: printable ASCII quoted, any
// other byte in hex (manifests are hostile; their bytes never reach a
// terminal raw).
std::string shown(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char hex[] = "0123456789abcdef";
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

// The label as an error message quotes it: printable ASCII only (a bad byte
// is reported before any message quotes its label).
std::string quotedLabel(std::string_view label) { return "\"" + std::string(label) + "\""; }

}  // namespace

std::variant<DnsPattern, std::string> parseDnsPattern(std::string_view written, size_t* column) {
  size_t unusedColumn = 0;
  size_t& col = column ? *column : unusedColumn;
  col = std::string::npos;
  auto fail = [&](size_t at, std::string message) -> std::variant<DnsPattern, std::string> {
    col = at;
    return message;
  };

  // One trailing dot is the root, written or not; a second one is an empty
  // label (reported below).
  std::string_view body = written;
  if (!body.empty() && body.back() == '.') body.remove_suffix(1);
  if (body.empty()) return written.empty() ? fail(std::string::npos, "the name is empty")
                                           : fail(0, "the name has no label before the final '.'");

  // Characters first, so every later message quotes only printable text.
  for (size_t i = 0; i < body.size(); ++i) {
    char c = lower(body[i]);
    if (!isNameChar(c) && c != '.' && c != '*')
      return fail(i, "character " + shown(body[i]) +
                         " is not allowed in a DNS name (letters, digits, '-', '_', and '*' in patterns)");
  }
  if (body.size() > kDnsNameMaxChars)
    return fail(kDnsNameMaxChars, "the name is " + std::to_string(body.size()) + " characters long, more than " +
                                      std::to_string(kDnsNameMaxChars));

  DnsPattern p;
  p.text.reserve(body.size());
  for (char c : body) p.text += lower(c);
  size_t start = 0;
  for (;;) {
    size_t dot = p.text.find('.', start);
    size_t end = dot == std::string::npos ? p.text.size() : dot;
    std::string_view label = std::string_view(p.text).substr(start, end - start);
    // The offending character is the '.' that ends the empty label.
    if (label.empty()) return fail(start, "empty label: a leading '.' or two '.' in a row");
    if (p.labels.size() == kDnsNameMaxLabels)
      return fail(start, "the name has more than " + std::to_string(kDnsNameMaxLabels) + " labels");
    if (label.size() > kDnsLabelMaxChars)
      return fail(start + kDnsLabelMaxChars, "label " + quotedLabel(label) + " is longer than " +
                                                 std::to_string(kDnsLabelMaxChars) + " characters");
    size_t star = label.find('*');
    if (star != std::string_view::npos) {
      p.wildcard = true;
      size_t second = label.find('*', star + 1);
      if (second != std::string_view::npos) {
        if (second == star + 1)
          return fail(start + second, "\"**\" is not a pattern: a '*' matches within one label only, so a "
                                      "pattern has one '*' per label it stands for");
        return fail(start + second, "label " + quotedLabel(label) + " has more than one '*'");
      }
    }
    p.labels.emplace_back(label);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return p;
}

namespace {

// One pattern label against one name label (both lowercase).
bool labelMatches(std::string_view pattern, std::string_view name) {
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == name;
  std::string_view prefix = pattern.substr(0, star), suffix = pattern.substr(star + 1);
  // The star's run may be empty ("api-*" matches "api-"), but the label as a
  // whole never is: a label of '*' alone needs one character.
  return name.size() >= prefix.size() + suffix.size() && !name.empty() && name.substr(0, prefix.size()) == prefix &&
         name.substr(name.size() - suffix.size()) == suffix;
}

}  // namespace

bool dnsPatternMatches(const DnsPattern& pattern, std::string_view name) {
  std::string lowered;
  lowered.reserve(name.size());
  for (char c : name) {
    if (c == '*') return false;
    lowered += lower(c);
  }
  std::vector<std::string_view> labels;
  size_t start = 0;
  for (;;) {
    size_t dot = lowered.find('.', start);
    size_t end = dot == std::string::npos ? lowered.size() : dot;
    if (end == start) return false;  // an empty label: not a name
    labels.push_back(std::string_view(lowered).substr(start, end - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (pattern.text == "*") return true;
  if (labels.size() != pattern.labels.size()) return false;
  for (size_t i = 0; i < labels.size(); ++i)
    if (!labelMatches(pattern.labels[i], labels[i])) return false;
  return true;
}

}  // namespace membrane::names
