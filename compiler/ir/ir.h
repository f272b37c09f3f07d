// The policy IR: per endpoint class and direction, the effective rules in a
// normalized form. Everything downstream (codegen, evaluator, lint, reach,
// diff) reads this and nothing else. Documented in docs/architecture.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "artifacts/manifest.h"
#include "labels/selector.h"
#include "net/address.h"
#include "support/source.h"

namespace membrane::ir {

enum class Direction : uint8_t { Ingress, Egress };
// Pass: an admin-tier rule's third action (docs/language.md, "Tiers"): the
// admin tier does not decide the flow, the ordinary policies do.
enum class Action : uint8_t { Allow, Deny, Pass };
using artifacts::Tier;

// IANA protocol numbers; 0 = any protocol.
inline constexpr uint8_t kAnyProtocol = 0;
inline constexpr uint8_t kICMP = 1;
inline constexpr uint8_t kTCP = 6;
inline constexpr uint8_t kUDP = 17;
inline constexpr uint8_t kICMPv6 = 58;
inline constexpr uint8_t kSCTP = 132;

struct PortRange {
  uint16_t first = 0, last = 0;  // inclusive
  friend auto operator<=>(const PortRange&, const PortRange&) = default;
};

// One protocol with its ports (TCP/UDP/SCTP) or types (ICMP/ICMPv6).
// `ports` is sorted, non-overlapping, non-adjacent; empty = all.
struct L4Match {
  uint8_t protocol = kAnyProtocol;
  std::vector<PortRange> ports;
  friend auto operator<=>(const L4Match&, const L4Match&) = default;
};

using labels::NamespaceScope;

// A distinct peer condition (pod selector, and for egress named ports the
// number the pod must define); each one owns a membership bit. An endpoint's
// identity carries the bits of every condition it matches, so the datapath
// tests membership with one AND.
struct PeerSelector : labels::PeerCondition {
  uint32_t bit = 0;
};

// All endpoints with the same namespace, labels and (of the names some
// condition looks at) named ports share an identity.
struct Identity {
  uint32_t id = 0;
  std::string ns;
  labels::LabelSet labels;
  labels::LabelSet namespaceLabels;
  std::vector<labels::NamedPort> ports;  // sorted; only names a condition looks at
  std::vector<uint32_t> selectorBits;    // sorted
  bool hasBit(uint32_t bit) const;
};

struct CidrMatch {
  net::Prefix prefix;
  std::vector<net::Prefix> except;  // each inside `prefix`, sorted
  bool matches(const net::Address& a) const;
  friend auto operator<=>(const CidrMatch&, const CidrMatch&) = default;
};

// The peer side of a rule: it matches when any part matches.
struct PeerMatch {
  std::vector<uint32_t> selectorBits;  // sorted; endpoint whose identity has one of them
  bool world = false;    // an address that is no known endpoint and not the host
  bool host = false;     // the node itself
  bool cluster = false;  // any known endpoint, or the host
  bool all = false;      // anything
  std::vector<CidrMatch> cidrs;  // by address, whoever the peer is
  // Egress: an address the subject learned from a DNS answer to a name one
  // of these matches (docs/dns.md), whoever owns it. Normalized names and
  // patterns (names/dns.h), sorted, unique.
  std::vector<std::string> dnsNames;
};

// A rule's conditions beside its peer: each kind of rule (compiler/features/
// <kind>/) adds one data type here and owns everything else about it —
// checking, lowering, its meaning in the evaluator, printing, and which
// program kinds can enforce it (docs/extending.md). A rule holds at most one
// condition of each kind; all must hold for the rule to match.

// L4: the protocols and ports (or ICMP types) the rule applies to. A rule
// without one applies to any protocol and port. `matches` is non-empty,
// sorted, one entry per protocol.
struct L4Condition {
  std::vector<L4Match> matches;
  friend auto operator<=>(const L4Condition&, const L4Condition&) = default;
};

// DNS (compiler/features/dns/): on an egress rule to a resolver, a query on
// the rule's ports matches only if its name matches one of `names`
// (normalized names and patterns, names/dns.h; sorted, unique, non-empty).
// Answers to queries such a rule allows teach the subject addresses.
struct DnsCondition {
  std::vector<std::string> names;
  friend auto operator<=>(const DnsCondition&, const DnsCondition&) = default;
};

// HTTP (compiler/features/http/, docs/http.md): on a rule whose ports are
// TCP numbers, a request on the connection matches only if one of
// `requests` matches it; the connection itself is allowed for the socket
// layer to decide its requests one by one.
struct HttpHeaderMatch {
  std::string name;                  // lowercase
  std::optional<std::string> value;  // none: the header need only be present
  friend auto operator<=>(const HttpHeaderMatch&, const HttpHeaderMatch&) = default;
};

// Every part given must match; an empty part matches anything.
struct HttpRequestMatch {
  std::string method;  // "GET"; "" = any method
  std::string path;    // a path pattern (names/http.h); "" = any path
  std::string host;    // a DNS name or pattern, normalized (names/dns.h); "" = any host
  std::vector<HttpHeaderMatch> headers;  // sorted by name, names unique
  friend auto operator<=>(const HttpRequestMatch&, const HttpRequestMatch&) = default;
};

struct HttpCondition {
  std::vector<HttpRequestMatch> requests;  // sorted, unique, non-empty
  friend auto operator<=>(const HttpCondition&, const HttpCondition&) = default;
};

// Process (compiler/features/process/, docs/process.md): on an egress allow
// rule, a connection or datagram matches only if the task that opens it
// (connect) or sends it (sendmsg without a connection) runs one of
// `executables`: absolute, normalized paths (labels/names.h), sorted,
// unique, non-empty. The packet programs see no task: for them the rule
// stands for the calls the socket hooks allowed (Verdict::needsProcess).
struct ProcessCondition {
  std::vector<std::string> executables;
  friend auto operator<=>(const ProcessCondition&, const ProcessCondition&) = default;
};

using Condition = std::variant<L4Condition, DnsCondition, HttpCondition, ProcessCondition>;

// One rule of the policy as it applies to one class. A rule with egress named
// ports lowers to several of these with the same id: one per number the name
// has among the destinations, each with peers narrowed to the pods defining it.
struct Rule {
  uint32_t id = 0;  // a hash of the rule and its policy (lower.cpp), below MB_RULE_MAX; 0 is never a rule
  Action action = Action::Allow;
  bool audit = false;  // from a policy in audit mode: logged, not enforced
  PeerMatch peer;
  std::vector<Condition> conditions;  // at most one of each kind; none = the peer decides
  std::string policy;       // "namespace/name" (or "name" when clusterwide)
  SourceRange loc;

  // The rule's condition of kind C, or null when it has none.
  template <class C>
  const C* condition() const {
    for (const auto& c : conditions)
      if (const C* found = std::get_if<C>(&c)) return found;
    return nullptr;
  }
};

struct DirectionPolicy {
  // The rules of the admin tier's policies (docs/language.md, "Tiers"),
  // decided before everything else: policies by priority, then key, each
  // policy's rules as written. The first match decides; a `pass` (or no
  // match) leaves the flow to the ordinary policies.
  std::vector<Rule> admin;
  // Some enforcing policy that selects the class has this section: the
  // direction is default-deny and only allow rules let traffic through.
  // (Sections of tier policies isolate nothing.)
  bool enforced = false;
  // Some audit-mode policy has this section: verdicts are also computed as if
  // audit policies were enforced, and differences are reported.
  bool audited = false;
  std::vector<Rule> rules;  // deny rules first, then allow rules; each group in the order written
  // Egress: the `processes` clauses of the policies that select the class
  // (docs/process.md), in policy order, each by its id (RuleInfo::clause). A call
  // (Traffic::executable set) is allowed only when every one lists its
  // executable. Lowering has put their intersection on every allow rule as
  // its process condition and, where no enforcing policy had isolated the
  // direction, added an allow rule of the clause's own (peer `all`); the
  // evaluator checks the clauses as well, so the two are held to each other.
  struct ProcessClause {
    uint32_t rule = 0;                     // the clause's id in Program::rules
    std::vector<std::string> executables;  // sorted, unique, non-empty
  };
  std::vector<ProcessClause> processClauses;
  // The baseline tier's rules, by policy key, each policy's as written:
  // where no admin rule decided and nothing isolated the direction, the
  // first match decides; no match allows.
  std::vector<Rule> baseline;

  // Some policy decides here; otherwise the direction is open.
  bool decides() const { return enforced || audited || !admin.empty() || !baseline.empty(); }
  // The baseline tier has a say: nothing isolates the direction (no
  // enforcing section, no `processes` clause).
  bool baselineDecides() const { return !enforced && processClauses.empty(); }
  // Traffic the datapath cannot classify is dropped here (fail closed):
  // some enforcing policy or tier has a say.
  bool restricted() const { return enforced || !admin.empty() || !baseline.empty(); }
  // Every rule: admin, ordinary, baseline, each in verdict order.
  template <class F>
  void forEachRule(F&& f) const {
    for (const auto* tier : {&admin, &rules, &baseline})
      for (const auto& r : *tier) f(r);
  }
};

// Endpoints selected by the same set of policies (and giving the port names
// their ingress rules use the same numbers) share a class and, later, one
// compiled program.
struct EndpointClass {
  uint32_t id = 0;
  std::vector<std::string> policies;  // sorted
  std::vector<std::string> endpoints; // "namespace/name", sorted
  // The port names its ingress rules use, sorted by (protocol, name), with
  // the number its endpoints give each (all the same, by construction).
  std::vector<labels::PortNameBinding> ingressNamedPorts;
  DirectionPolicy ingress, egress;

  const DirectionPolicy& direction(Direction d) const { return d == Direction::Ingress ? ingress : egress; }
};

struct Endpoint {
  std::string name, ns, workload;
  uint32_t identity = 0;
  std::vector<net::Address> addresses;
  // Index into classes; nullopt when no policy selects it (unrestricted).
  std::optional<uint32_t> classIndex;
  std::string key() const { return ns + "/" + name; }
};

// Where a rule came from, for messages, manifests and `explain`.
struct RuleInfo {
  uint32_t id = 0;
  std::string policy;
  Direction direction = Direction::Ingress;
  Action action = Action::Allow;
  bool audit = false;
  std::string text;     // the rule as written
  std::string location; // "file:line:col"
  SourceRange loc;
  // A policy's `processes { ... }` clause, not a rule: `text` is the clause
  // as written; it is the id of the allow rule lowering adds for it where
  // the clause alone isolates a class's egress.
  bool clause = false;
};

// A policy as the node needs it: its key, mode and whom it selects, so that
// an endpoint learned after the compile can be placed in a class. The
// manifest's own type: lowering fills what code generation copies.
using PolicyInfo = artifacts::PolicyEntry;

struct Program {
  std::vector<PolicyInfo> policies;      // every policy, sorted by key
  std::vector<PeerSelector> selectors;   // index == bit
  std::vector<Identity> identities;      // sorted by id
  std::vector<Endpoint> endpoints;       // sorted by (ns, name)
  std::vector<EndpointClass> classes;    // sorted by id
  std::map<uint32_t, RuleInfo> rules;

  const Identity* identity(uint32_t id) const;
  const Endpoint* findEndpoint(const std::string& ns, const std::string& name) const;
  // Endpoint owning an address, if any.
  const Endpoint* endpointByAddress(const net::Address& a) const;
};

const char* directionName(Direction d);
const char* actionName(Action a);
// "tcp", "udp", ... or the number.
std::string protocolName(uint8_t protocol);

}  // namespace membrane::ir
