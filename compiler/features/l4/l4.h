// The L4 rule kind: protocols and ports (or ICMP message types), written as a
// rule's `on` clause. Everything about it lives in this folder, one stage a
// file, the way every rule kind is laid out (docs/extending.md):
//   check.cpp     the `on` items, as the checker sees them
//   lower.cpp     checked items → ir::L4Condition, for one subject endpoint
//   evaluate.cpp  its meaning: does a packet's protocol and port match
//   print.cpp     its JSON and text in `membranec ir`
//   enforce.cpp   which program kinds can enforce it
// The IR's data type (ir::L4Condition) is in ir/ir.h with the others.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "features/program_kind.h"
#include "frontend/ast.h"
#include "ir/ir.h"
#include "ir/traffic.h"
#include "labels/selector.h"
#include "support/diagnostics.h"

namespace membrane::features::l4 {

inline constexpr const char* kName = "l4";

// ---- checking -----------------------------------------------------------

// A port given by name: resolved against the inventory when lowering (the
// subject's own ports on ingress, each destination's on egress).
struct NamedPortRef {
  uint8_t protocol = ir::kAnyProtocol;
  std::string name;
  SourceRange range;
};

// One checked `on` item: a protocol with numbers, ranges and names.
struct L4Spec {
  uint8_t protocol = ir::kAnyProtocol;
  std::vector<ir::PortRange> ports;      // numbers and ranges (or ICMP types)
  std::vector<NamedPortRef> namedPorts;  // resolved against the inventory later
  bool allPorts = true;                  // nothing after the protocol
  SourceRange range;
};

// A rule's checked L4 condition. A rule without one (no `on`, or `any`
// among its items) applies to any protocol.
struct Checked {
  std::vector<L4Spec> specs;  // non-empty
};

// Checks one `on` item written out (a reference to a `ports` definition is
// the checker's to resolve: it expands to items checked here). Reports every
// problem to `diags`; appends the item to `out` only when it is valid.
bool checkItem(const ast::L4Item& item, const SourceManager& sources, DiagnosticEngine& diags,
               std::vector<L4Spec>& out);

// The condition a rule's valid items make: none when they allow any protocol.
std::optional<Checked> finish(std::vector<L4Spec> specs);

// The checked specs of a rule (sema::CheckedRule), empty when it has no L4
// condition. A template so this folder needs nothing from the checker.
template <class CheckedRule>
const std::vector<L4Spec>& specsOf(const CheckedRule& rule) {
  static const std::vector<L4Spec> none;
  const Checked* c = rule.template condition<Checked>();
  return c ? c->specs : none;
}

// ---- lowering -----------------------------------------------------------

// Sorted, with overlapping and adjacent ranges merged.
std::vector<ir::PortRange> normalizeRanges(std::vector<ir::PortRange> ranges);

// The condition on one subject endpoint, or nullopt when it matches nothing
// there. Ingress named ports resolve to the subject's own ports (`unresolved`
// is called for a name the subject does not define); egress named ports are
// left out: they resolve per destination, which narrows the rule's peer
// (lower/lower.cpp splits the rule, one part per number, see single()).
std::optional<ir::L4Condition> lowerForSubject(const Checked& checked, ir::Direction direction,
                                               const std::vector<labels::NamedPort>& subjectPorts,
                                               const std::function<void(const NamedPortRef&)>& unresolved);

// The condition matching one protocol and port: an egress named port's part.
ir::L4Condition single(uint8_t protocol, uint16_t port);

// ---- meaning ------------------------------------------------------------

bool matches(const ir::L4Condition& condition, const ir::Traffic& traffic);

// The rule's L4 matches, empty when it has no L4 condition (any protocol).
const std::vector<ir::L4Match>& matchesOf(const ir::Rule& rule);

// ---- printing -----------------------------------------------------------

nlohmann::json toJson(const ir::L4Match& m);
// The rule's "l4" member of `membranec ir -o json`: the matches, or "any".
void printJson(const ir::Rule& rule, nlohmann::json& out);
// "tcp/80,443, udp/53" or "any", after " on " in `membranec ir`.
std::string describe(const ir::Rule& rule);

// ---- enforcement --------------------------------------------------------

// Packet programs see every packet's protocol and ports: both kinds enforce L4.
bool enforceableBy(ProgramKind kind);

}  // namespace membrane::features::l4
