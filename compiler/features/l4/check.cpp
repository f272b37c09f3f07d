// L4, checking (l4.h): one `on` item as written — protocol, port numbers,
// ranges and names, ICMP types by number or name — with every problem
// reported where it is written.
#include <algorithm>

#include "features/l4/l4.h"
#include "ir/protocols.h"
#include "names/names.h"

namespace membrane::features::l4 {

namespace {

bool checkIcmpType(const ast::PortSpec& ps, bool v6, DiagnosticEngine& diags, L4Spec& spec) {
  if (ps.name) {
    auto t = ir::icmpTypeByName(v6, *ps.name);
    if (!t) {
      std::string guess = closestMatch(*ps.name, ir::icmpTypeNames(v6));
      diags.error(ps.range, std::string("unknown ") + (v6 ? "ICMPv6" : "ICMP") + " type '" + *ps.name + "'",
                  guess.empty() ? "use a type number 0-255 or a name such as `echo-request`"
                                : "did you mean `" + guess + "`?");
      return false;
    }
    spec.ports.push_back({*t, *t});
    return true;
  }
  if (ps.first > 255) {
    diags.error(ps.range, (v6 ? "ICMPv6" : "ICMP") + std::string(" type ") + std::to_string(ps.first) +
                              " is out of range (0-255)",
                v6 ? "ICMPv6 has no ports; after `icmpv6/` come message types"
                   : "ICMP has no ports; after `icmp/` come message types");
    return false;
  }
  spec.ports.push_back({static_cast<uint16_t>(ps.first), static_cast<uint16_t>(ps.first)});
  return true;
}

bool checkPort(const ast::PortSpec& ps, const SourceManager& sources, DiagnosticEngine& diags, L4Spec& spec) {
  if (ps.name) {
    if (!names::isPortName(*ps.name)) {
      diags.error(ps.range, "invalid port name '" + *ps.name + "'",
                  "named ports are at most 15 lowercase letters, digits and '-'");
      return false;
    }
    spec.namedPorts.push_back({spec.protocol, *ps.name, ps.range});
    return true;
  }
  if (ps.first == 0 || ps.first > 65535 || ps.last == 0 || ps.last > 65535) {
    // Quote the number as written: the parsed value saturates.
    std::string text(sources.slice(ps.range));
    auto dash = text.find('-');
    bool firstBad = ps.first == 0 || ps.first > 65535;
    std::string bad = dash == std::string::npos ? text : firstBad ? text.substr(0, dash) : text.substr(dash + 1);
    diags.error(ps.range, "port " + bad + " is out of range (1-65535)");
    return false;
  }
  if (ps.last < ps.first) {
    diags.error(ps.range, "port range " + std::to_string(ps.first) + "-" + std::to_string(ps.last) + " is reversed",
                "did you mean `" + std::to_string(ps.last) + "-" + std::to_string(ps.first) + "`?");
    return false;
  }
  spec.ports.push_back({static_cast<uint16_t>(ps.first), static_cast<uint16_t>(ps.last)});
  return true;
}

}  // namespace

bool checkItem(const ast::L4Item& item, const SourceManager& sources, DiagnosticEngine& diags,
               std::vector<L4Spec>& out) {
  L4Spec spec;
  spec.protocol = static_cast<uint8_t>(item.protocol);
  spec.range = item.range;
  spec.allPorts = item.ports.empty();
  const bool icmp = item.protocol == ast::Protocol::ICMP || item.protocol == ast::Protocol::ICMPv6;
  const bool v6 = item.protocol == ast::Protocol::ICMPv6;
  bool ok = true;
  for (const auto& ps : item.ports)
    ok &= icmp ? checkIcmpType(ps, v6, diags, spec) : checkPort(ps, sources, diags, spec);
  if (!ok) return false;
  out.push_back(std::move(spec));
  return true;
}

std::optional<Checked> finish(std::vector<L4Spec> specs) {
  // `any` among other protocols makes the others redundant.
  if (specs.empty() ||
      std::any_of(specs.begin(), specs.end(), [](const L4Spec& s) { return s.protocol == ir::kAnyProtocol; }))
    return std::nullopt;
  return Checked{std::move(specs)};
}

}  // namespace membrane::features::l4
