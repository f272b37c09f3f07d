// The policy AST: what the user wrote, with a source range on every node.
// Built from the ANTLR parse tree in one visitor (ast_builder.cpp); the parse
// tree is dropped right after. Names are not resolved here (see sema/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "labels/selector.h"
#include "support/source.h"

namespace membrane::ast {

struct Name {
  std::string text;
  SourceRange range;
};

struct LabelRequirement {
  labels::Requirement req;
  SourceRange range;
};

// `{ app = api, tier in (a, b) }` or a reference to a `selector` definition.
struct SelectorRef {
  std::vector<LabelRequirement> requirements;  // when inline
  std::optional<Name> ref;                     // when a reference
  SourceRange range;
};

struct NamespaceRef {
  enum class Kind { BySelector, ByName } kind = Kind::ByName;
  SelectorRef selector;  // BySelector
  Name name;             // ByName
  SourceRange range;
};

enum class Entity { World, Cluster, Host, All };

struct CidrPeer {
  std::string prefix;
  SourceRange prefixRange;
  std::vector<Name> except;  // prefix texts with their ranges
};

struct PodsPeer {
  SelectorRef pods;
  std::optional<NamespaceRef> ns;  // absent: the policy's namespace (all, if clusterwide)
};

// `service NAME`, `service NS/NAME`, `service NAME in NAMESPACES`, or
// `service { labels } [in NAMESPACES]`: the Services named, or those whose
// labels match `selector`.
struct ServicePeer {
  Name ns;    // `NS/`; empty when not given
  Name name;  // empty for the selector form
  std::optional<SelectorRef> selector;
  std::optional<NamespaceRef> in;  // absent: the policy's namespace (all, if clusterwide)
};

// `dns "api.example.com", "*.example.com"`: destinations by the names the
// endpoint looked up (docs/dns.md). Each name is the string's content,
// unescaped, with the range of the whole string.
struct DnsPeer {
  std::vector<Name> names;
};

// `nodes { labels }`: the cluster's nodes whose labels match, which the
// compiler replaces by their addresses from the inventory (docs/language.md,
// "Node peers").
struct NodesPeer {
  SelectorRef nodes;
};

struct Peer {
  std::variant<PodsPeer, NamespaceRef, Entity, CidrPeer, ServicePeer, Name /*peers ref*/, DnsPeer, NodesPeer> value;
  SourceRange range;
};

enum class Protocol : uint8_t { Any = 0, ICMP = 1, TCP = 6, UDP = 17, SCTP = 132, ICMPv6 = 58 };

struct PortSpec {
  // A number or range, or a named port (resolved against the inventory).
  uint32_t first = 0, last = 0;  // may be out of range here; checked by sema
  std::optional<std::string> name;
  SourceRange range;
};

struct L4Item {
  Protocol protocol = Protocol::Any;
  std::vector<PortSpec> ports;  // empty = every port / ICMP type
  std::optional<Name> ref;      // a `ports` definition instead
  SourceRange range;
};

// `with NAME { ... }`: a condition of the rule kind NAME. The grammar only
// balances its braces; the kind's module parses the body (docs/extending.md),
// so it is kept here as the tokens between the outer braces, as written
// (strings with their quotes, nested braces included).
struct Extension {
  Name kind;
  std::vector<Name> body;
  SourceRange range;
};

enum class Action { Allow, Deny, Pass };
enum class Direction { Ingress, Egress };

struct Rule {
  Action action = Action::Allow;
  bool fromKeyword = true;  // `from` or `to` as written; sema checks it fits the section
  SourceRange dirRange;
  std::vector<Peer> peers;
  std::vector<L4Item> l4;  // empty = any protocol (no `on`)
  std::vector<Extension> extensions;
  SourceRange range;
};

struct Section {
  Direction direction = Direction::Ingress;
  std::vector<Rule> rules;
  SourceRange range;  // the keyword
};

// `tier admin priority N` or `tier baseline`: the policy belongs to an
// AdminNetworkPolicy tier (docs/language.md, "Tiers") rather than to the
// ordinary policies between them.
struct TierStatement {
  enum class Kind { Admin, Baseline } kind = Kind::Admin;
  std::optional<Name> priority;  // Admin: the number as written
  SourceRange range;
};

struct Policy {
  Name name;
  std::optional<Name> ns;  // `namespace` statement inside the policy
  bool clusterwide = false;
  SourceRange clusterwideRange;
  std::optional<SelectorRef> selects;
  // `selects SEL in NAMESPACES`: only endpoints of those namespaces (a
  // clusterwide policy's; sema refuses it elsewhere).
  std::optional<NamespaceRef> selectsIn;
  std::optional<TierStatement> tier;
  std::optional<Name> mode;
  // `processes { exe "PATH", ... }`: the executables of the selected
  // endpoints that may open egress connections at all (docs/process.md).
  // Its body is kept like a `with process` body (kind: the keyword), for
  // the process kind's module to check.
  std::optional<Extension> processes;
  std::vector<Section> sections;  // in source order; duplicates are a sema error
  // Statements given more than once (keyword, where): a sema error.
  std::vector<std::pair<std::string, SourceRange>> repeated;
  std::string fileNamespace;       // the file's `namespace` in force at this policy
  SourceRange fileNamespaceRange;  // its name in that statement; invalid for the implicit "default"
  SourceRange range;
};

struct SelectorDef {
  Name name;
  SelectorRef body;
  SourceRange range;
};
struct PortsDef {
  Name name;
  std::vector<L4Item> items;
  SourceRange range;
};
struct PeersDef {
  Name name;
  std::vector<Peer> peers;
  SourceRange range;
};

struct File {
  FileId id = kNoFile;
  std::vector<SelectorDef> selectors;
  std::vector<PortsDef> ports;
  std::vector<PeersDef> peers;
  std::vector<Policy> policies;
};

// Everything parsed in one run: definitions are global across files.
struct Program {
  std::vector<File> files;
};

}  // namespace membrane::ast
