// Kubernetes-style label selectors: the one definition of "matches" shared by
// the compiler (selector bits at compile time) and the node (bits for
// endpoints it learns later).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace membrane::labels {

using LabelSet = std::map<std::string, std::string>;

// The label every namespace carries with its own name (the API server sets
// it), so that selecting namespaces by labels can select one by name.
inline constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };

struct Requirement {
  std::string key;
  Op op = Op::Exists;
  std::vector<std::string> values;  // sorted, unique; one value for (Not)Equals

  bool matches(const LabelSet& labels) const;
  friend auto operator<=>(const Requirement&, const Requirement&) = default;
};

// A conjunction of requirements. The empty selector matches everything.
struct Selector {
  std::vector<Requirement> requirements;  // canonical: sorted, unique

  bool matches(const LabelSet& labels) const;
  bool empty() const { return requirements.empty(); }
  // Sorts and deduplicates so that equal selectors compare equal.
  void canonicalize();
  // `{app = api, tier in (a, b)}` in policy-language syntax.
  std::string str() const;
  friend auto operator<=>(const Selector&, const Selector&) = default;
};

const char* opName(Op op);

// Which namespaces a pod selector looks in.
enum class NamespaceScope : uint8_t {
  Exact,     // one namespace, by name
  Selector,  // namespaces whose labels match `namespaces`
  Any,       // every namespace
};

// A pod selector within namespaces: what a policy peer names, and what the
// node evaluates for endpoints it learns after compile.
struct ScopedSelector {
  Selector pods;
  NamespaceScope scope = NamespaceScope::Exact;
  std::string ns;         // Exact
  Selector namespaces;    // Selector

  bool matches(const std::string& endpointNs, const LabelSet& endpointLabels, const LabelSet& namespaceLabels) const;
  // `pods {app = x} in namespace shop`, in policy-language syntax.
  std::string str() const;
  friend bool operator==(const ScopedSelector&, const ScopedSelector&) = default;
};

// A named container port: `web` is TCP port 80 in this pod.
struct NamedPort {
  std::string name;
  uint8_t protocol = 6;  // IANA number: 6 TCP, 17 UDP, 132 SCTP
  uint16_t port = 0;
  friend auto operator<=>(const NamedPort&, const NamedPort&) = default;
};

// What an endpoint gives one port name: a number, or nothing (undefined).
// Ingress rules on a named port resolve on the endpoint itself, so endpoints
// of one policy set are classed by these; a node matches endpoints it learns
// after the compile against them.
struct PortNameBinding {
  std::string name;
  uint8_t protocol = 6;
  std::optional<uint16_t> port;
  friend auto operator<=>(const PortNameBinding&, const PortNameBinding&) = default;
};

// The numbers `ports` give (protocol, name), in their order: the one lookup
// of a named port, for bindings here and for rules in the compiler.
std::vector<uint16_t> numbersNamed(const std::vector<NamedPort>& ports, uint8_t protocol, const std::string& name);

// The binding of each (protocol, name) of `names` among `ports`, in the
// order of `names`.
std::vector<PortNameBinding> bindingsOf(const std::vector<std::pair<uint8_t, std::string>>& names,
                                        const std::vector<NamedPort>& ports);

// "tcp", "udp" or "sctp" (the protocols a named port can have); any other
// number as digits.
std::string portProtocolName(uint8_t protocol);
// TCP, UDP or SCTP in any case; nullopt for anything else.
std::optional<uint8_t> portProtocolFromName(const std::string& name);

// What a peer bit stands for: a pod selector within namespaces and,
// optionally, a named port the pod must define with exactly that number.
// Kubernetes resolves an egress rule's named port in each destination pod, so
// `to pods {} port web` becomes one condition per number `web` has.
struct PeerCondition : ScopedSelector {
  std::optional<NamedPort> definesPort;

  bool matches(const std::string& endpointNs, const LabelSet& endpointLabels, const LabelSet& namespaceLabels,
               const std::vector<NamedPort>& endpointPorts) const;
  // `pods {} in namespaces {} defining tcp port web = 80`.
  std::string str() const;
  friend bool operator==(const PeerCondition&, const PeerCondition&) = default;
};

void to_json(nlohmann::json& j, const Requirement& r);
void from_json(const nlohmann::json& j, Requirement& r);
void to_json(nlohmann::json& j, const Selector& s);
void from_json(const nlohmann::json& j, Selector& s);
void to_json(nlohmann::json& j, const NamedPort& p);
// Throws nlohmann::json exceptions on a missing field or an unknown protocol.
void from_json(const nlohmann::json& j, NamedPort& p);
// {"name", "protocol", "port"}; "port" absent when the name is undefined.
void to_json(nlohmann::json& j, const PortNameBinding& b);
// {"pods", "namespaceScope": "exact" | "selector" | "any", "namespace" or
// "namespaces", "definesPort"}: the form the IR listing and the manifest share.
void to_json(nlohmann::json& j, const PeerCondition& c);

}  // namespace membrane::labels
