// The artifact contract between membranec and the node: manifest.json next
// to one BPF object per endpoint class. Schema: docs/artifacts.md.
//
// The runtime owns this model (read and write); the compiler links it to
// write manifests. Reading validates everything a node relies on and never
// throws: a bad manifest is refused with a message naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labels/selector.h"
#include "net/address.h"

namespace membrane::artifacts {

inline constexpr const char* kFormatName = "membrane-artifacts";
// 2: every class lists its programs (`programs`), with their kind, hook and
// kernel features.
// 3: policies may have a tier, a priority and subject namespaces; classes'
// directions may list `admin` and `baseline` rules (an older node would
// place endpoints and read verdicts without them).
inline constexpr int kFormatVersion = 3;
// In requiredFeatures when some selector carries definesPort (egress named
// ports): a loader that does not know the field must refuse, not over-allow.
inline constexpr const char* kNamedPortPeersFeature = "manifest:named-port-peers";

using labels::NamespaceScope;

struct SelectorEntry : labels::PeerCondition {
  uint32_t bit = 0;
  std::string text;  // readable form
};

// A CIDR (with excepts) lowered into the identity trie as a peer bit.
struct CidrEntry {
  uint32_t bit = 0;
  net::Prefix prefix;
  std::vector<net::Prefix> except;
  bool matches(const net::Address& a) const;
  // For the trie entry of prefix p (whose longer sub-prefixes have entries
  // of their own): does this CIDR match the addresses that entry stands for?
  bool matchesRegion(const net::Prefix& p) const;
};

struct IdentityEntry {
  uint32_t id = 0;
  std::string ns;
  labels::LabelSet labels;
  labels::LabelSet namespaceLabels;
  std::vector<labels::NamedPort> ports;  // those some selector's definesPort names
  std::vector<uint32_t> bits;            // sorted selector bits
};

struct EndpointEntry {
  std::string name, ns;
  uint32_t identity = 0;
  std::vector<net::Address> addresses;
  std::optional<uint32_t> classId;  // always set by check(): the open class when no policy selects it
};

// The tiers of Kubernetes' AdminNetworkPolicy API, in the order they decide
// (docs/language.md, "Tiers"): the admin tier (`tier admin priority N`),
// the ordinary policies (NetworkPolicy's tier), the baseline tier.
enum class Tier : uint8_t { Admin, Network, Baseline };
// "admin", "network", "baseline".
const char* tierName(Tier t);

// A policy's subject selector, so a node can tell which class an endpoint it
// learns after compile belongs to.
struct PolicyEntry {
  std::string key;  // "namespace/name", or "name" when clusterwide
  std::string ns;   // empty when clusterwide
  bool clusterwide = false;
  bool audit = false;
  labels::Selector selects;
  // `selects ... in namespaces SEL` (clusterwide only): the subjects'
  // namespaces' labels must match too.
  std::optional<labels::Selector> namespaces;
  Tier tier = Tier::Network;
  uint32_t priority = 0;  // admin tier: lower decides first

  bool selectsEndpoint(const std::string& endpointNs, const labels::LabelSet& endpointLabels,
                       const labels::LabelSet& namespaceLabels) const;
};

struct DirectionSummary {
  bool enforced = false;
  bool audited = false;
  std::vector<uint32_t> rules;  // rule ids in verdict order
  // The tier policies' rules, each in verdict order (admin: policies by
  // priority, then key; baseline: by key; a policy's rules as written).
  std::vector<uint32_t> admin, baseline;
};

// One program of a class object, where it runs and what it needs
// (programs.h has the kinds and hooks a manifest may name).
struct ProgramEntry {
  std::string name;       // the program (function) in the object, e.g. "mb_tc_to_endpoint"
  std::string kind;       // "tc" | "cgroup_skb"
  std::string hook;       // "tc-from" | "tc-to" | "cg-in" | "cg-out"
  std::string direction;  // the endpoint's: "ingress" | "egress"
  std::vector<std::string> requiredFeatures;  // kernel features it needs, besides the manifest's own
};

// The programs every class object carries (each is the skeleton linked with
// its decision), as the manifest lists them; and, for a class with process
// rules, those it lists besides.
std::vector<ProgramEntry> skeletonProgramEntries();
std::vector<ProgramEntry> processProgramEntries();

// Ports whose connections the socket layer reads (docs/http.md): per
// protocol and direction, every TCP port some rule of the class's with that
// protocol's condition covers, as sorted, disjoint ranges. The node loader
// fills mb_l7_endpoints from them (runtime/abi/datapath.h).
struct PortSpan {
  uint16_t first = 0, last = 0;
  friend bool operator==(const PortSpan&, const PortSpan&) = default;
};

struct L7Ports {
  std::vector<PortSpan> httpIngress, httpEgress;
  bool empty() const { return httpIngress.empty() && httpEgress.empty(); }
  friend bool operator==(const L7Ports&, const L7Ports&) = default;
};

struct ClassEntry {
  uint32_t id = 0;
  std::string object;  // file name relative to the manifest
  std::string sha256;  // hex, of the object file
  std::vector<std::string> policies;   // policy keys, sorted
  std::vector<std::string> endpoints;  // "namespace/name"
  // What the class's endpoints give the port names its ingress rules use:
  // an endpoint learned after compile belongs here only if it gives the same.
  std::vector<labels::PortNameBinding> ingressNamedPorts;
  DirectionSummary ingress, egress;
  // "l7": absent when the class has no http rules.
  L7Ports l7;
  // "process": the executables of the class's process rules, sorted and
  // unique; bit i of mb_process_exe's values is executables[i]. The node
  // resolves each in the endpoint's root (docs/process.md).
  std::vector<std::string> executables;
  // The object's programs, each at its hook; a node attaches what this lists.
  std::vector<ProgramEntry> programs;
  // How the compiler lowered the decision (for review and benchmarks).
  uint64_t portIntervals = 0;
  uint64_t leafRuleTests = 0;
  uint64_t maxLeafRules = 0;
  uint64_t foldedCidrs = 0;
  uint64_t tableLeaves = 0;   // port leaves decided from .rodata tables
  uint64_t tableEntries = 0;
  uint64_t verdictColumns = 0;  // distinct columns of the table's verdicts by peer set (0: it scans)
};

struct RuleEntry {
  uint32_t id = 0;
  std::string policy;
  std::string direction;  // "ingress" | "egress"
  std::string action;     // "allow" | "deny"
  bool audit = false;
  std::string text;
  std::string location;  // "file:line:col"
};

struct Manifest {
  int formatVersion = kFormatVersion;
  int abiVersion = 0;
  std::string compilerVersion;
  // Kernel features every object needs (BTF, map types, helpers) and
  // promises about the manifest's content; each program lists its own too.
  std::vector<std::string> requiredFeatures;
  std::vector<SelectorEntry> selectors;
  std::vector<CidrEntry> cidrs;  // bits after the selectors'
  std::vector<IdentityEntry> identities;
  // The peer sets (an identity trie entry's flags and bits, keyed by
  // identity::peerSetKey) the compiler knew of when a class is table-driven:
  // such a class decides a peer whose set is listed here with one load from
  // a table built for these sets (mb_identity.set is 1 + the index). Empty
  // when no class is table-driven.
  std::vector<std::string> peerSets;
  std::vector<EndpointEntry> endpoints;
  std::vector<PolicyEntry> policies;
  std::vector<ClassEntry> classes;
  std::vector<RuleEntry> rules;

  // Deterministic JSON text (sorted keys, 2-space indent, trailing newline).
  std::string toJson() const;
  // Parses and validates, including check(); nullopt with `error` naming the
  // field on failure. A key repeated in an object is refused, with its line
  // and column ("manifest.json:12:7: ...").
  static std::optional<Manifest> fromJson(const std::string& text, std::string* error);
  // Whether the parts agree with each other (docs/artifacts.md, "What the
  // reader checks"): ids unique; every rule a class lists exists, belongs to
  // one of the class's policies and has the list's direction; classes and
  // endpoints name each other; each endpoint's class is the one for exactly
  // the policies that select it; identities' bits are those their labels
  // give, within the datapath's bits; every class's programs of known kinds
  // at hooks of their kind and direction, each once. False with `error`
  // naming the field.
  bool check(std::string* error) const;
  // requiredFeatures and every program's, each once, in order of first
  // appearance: what a node must offer to load these artifacts.
  std::vector<std::string> allRequiredFeatures() const;

  const ClassEntry* findClass(uint32_t id) const;
  const IdentityEntry* findIdentity(uint32_t id) const;
  // Keys of the policies that select an endpoint with these labels in `ns`
  // (its namespace's, and clusterwide ones), sorted: the `policies` of the
  // class it belongs to; empty when it is unrestricted.
  std::vector<std::string> selectingPolicies(const std::string& ns, const labels::LabelSet& labels,
                                             const labels::LabelSet& namespaceLabels) const;
  // The labels of namespace `ns`, as the compile saw them (on its
  // identities); only its name label for a namespace it did not see.
  labels::LabelSet namespaceLabels(const std::string& ns) const;
  // Selector bits for an endpoint the node learns after compile.
  std::vector<uint32_t> bitsFor(const std::string& ns, const labels::LabelSet& labels,
                                const labels::LabelSet& namespaceLabels,
                                const std::vector<labels::NamedPort>& ports) const;
};

// Lowercase hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

}  // namespace membrane::artifacts
