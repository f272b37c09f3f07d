#include "labels/selector.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "io/json.h"

namespace membrane::labels {

bool Requirement::matches(const LabelSet& labels) const {
  auto it = labels.find(key);
  bool present = it != labels.end();
  auto contains = [&] {
    return present && std::binary_search(values.begin(), values.end(), it->second);
  };
  switch (op) {
    case Op::Equals:
    case Op::In:
      return contains();
    case Op::NotEquals:
    case Op::NotIn:
      // Kubernetes semantics: a missing key satisfies != and notin.
      return !contains();
    case Op::Exists:
      return present;
    case Op::DoesNotExist:
      return !present;
  }
  return false;
}

bool Selector::matches(const LabelSet& labels) const {
  return std::all_of(requirements.begin(), requirements.end(),
                     [&](const Requirement& r) { return r.matches(labels); });
}

void Selector::canonicalize() {
  for (auto& r : requirements) {
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    // `in (x)` and `= x` select the same endpoints; keep one spelling.
    if (r.op == Op::In && r.values.size() == 1) r.op = Op::Equals;
    if (r.op == Op::NotIn && r.values.size() == 1) r.op = Op::NotEquals;
  }
  std::sort(requirements.begin(), requirements.end());
  requirements.erase(std::unique(requirements.begin(), requirements.end()), requirements.end());
}

const char* opName(Op op) {
  switch (op) {
    case Op::Equals: return "=";
    case Op::NotEquals: return "!=";
    case Op::In: return "in";
    case Op::NotIn: return "notin";
    case Op::Exists: return "exists";
    case Op::DoesNotExist: return "!exists";
  }
  return "?";
}

static std::string quoteIfNeeded(const std::string& s) {
  bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_');
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
          c == ':' || c == '/'))
      plain = false;
  }
  if (plain) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Selector::str() const {
  std::string out = "{";
  bool first = true;
  for (const auto& r : requirements) {
    out += first ? "" : ", ";
    first = false;
    switch (r.op) {
      case Op::Equals: out += quoteIfNeeded(r.key) + " = " + quoteIfNeeded(r.values.at(0)); break;
      case Op::NotEquals: out += quoteIfNeeded(r.key) + " != " + quoteIfNeeded(r.values.at(0)); break;
      case Op::In:
      case Op::NotIn: {
        out += quoteIfNeeded(r.key) + (r.op == Op::In ? " in (" : " notin (");
        for (size_t i = 0; i < r.values.size(); ++i)
          out += (i ? ", " : "") + quoteIfNeeded(r.values[i]);
        out += ")";
        break;
      }
      case Op::Exists: out += quoteIfNeeded(r.key); break;
      case Op::DoesNotExist: out += "!" + quoteIfNeeded(r.key); break;
    }
  }
  return out + "}";
}

bool ScopedSelector::matches(const std::string& endpointNs, const LabelSet& endpointLabels,
                             const LabelSet& namespaceLabels) const {
  switch (scope) {
    case NamespaceScope::Exact:
      if (endpointNs != ns) return false;
      break;
    case NamespaceScope::Selector:
      if (!namespaces.matches(namespaceLabels)) return false;
      break;
    case NamespaceScope::Any: break;
  }
  return pods.matches(endpointLabels);
}

std::string ScopedSelector::str() const {
  std::string s = "pods " + pods.str();
  switch (scope) {
    case NamespaceScope::Exact: return s + " in namespace " + ns;
    case NamespaceScope::Selector: return s + " in namespaces " + namespaces.str();
    case NamespaceScope::Any: return s + " in namespaces {}";
  }
  return s;
}

std::string portProtocolName(uint8_t protocol) {
  switch (protocol) {
    case 6: return "tcp";
    case 17: return "udp";
    case 132: return "sctp";
  }
  return std::to_string(protocol);
}

std::optional<uint8_t> portProtocolFromName(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (uint8_t p : {6, 17, 132})
    if (lower == portProtocolName(p)) return p;
  return std::nullopt;
}

std::vector<uint16_t> numbersNamed(const std::vector<NamedPort>& ports, uint8_t protocol, const std::string& name) {
  std::vector<uint16_t> out;
  for (const auto& p : ports)
    if (p.protocol == protocol && p.name == name) out.push_back(p.port);
  return out;
}

std::vector<PortNameBinding> bindingsOf(const std::vector<std::pair<uint8_t, std::string>>& names,
                                        const std::vector<NamedPort>& ports) {
  std::vector<PortNameBinding> out;
  for (const auto& [protocol, name] : names) {
    PortNameBinding b{name, protocol, std::nullopt};
    auto numbers = numbersNamed(ports, protocol, name);
    if (!numbers.empty()) b.port = numbers.back();
    out.push_back(std::move(b));
  }
  return out;
}

bool PeerCondition::matches(const std::string& endpointNs, const LabelSet& endpointLabels,
                            const LabelSet& namespaceLabels, const std::vector<NamedPort>& endpointPorts) const {
  if (definesPort && std::find(endpointPorts.begin(), endpointPorts.end(), *definesPort) == endpointPorts.end())
    return false;
  return ScopedSelector::matches(endpointNs, endpointLabels, namespaceLabels);
}

std::string PeerCondition::str() const {
  std::string s = ScopedSelector::str();
  if (!definesPort) return s;
  return s + " defining " + portProtocolName(definesPort->protocol) + " port " + definesPort->name + " = " + std::to_string(definesPort->port);
}

static Op opFromName(const std::string& s) {
  for (Op op : {Op::Equals, Op::NotEquals, Op::In, Op::NotIn, Op::Exists, Op::DoesNotExist})
    if (s == opName(op)) return op;
  throw nlohmann::json::other_error::create(501, "unknown selector operator '" + s + "'", nullptr);
}

void to_json(nlohmann::json& j, const Requirement& r) {
  j = {{"key", r.key}, {"op", opName(r.op)}};
  if (!r.values.empty()) j["values"] = r.values;
}

void from_json(const nlohmann::json& j, Requirement& r) {
  r.key = j.at("key").get<std::string>();
  r.op = opFromName(j.at("op").get<std::string>());
  r.values = j.value("values", std::vector<std::string>{});
}

void to_json(nlohmann::json& j, const Selector& s) { j = s.requirements; }

void to_json(nlohmann::json& j, const NamedPort& p) {
  j = {{"name", p.name}, {"protocol", portProtocolName(p.protocol)}, {"port", p.port}};
}

void from_json(const nlohmann::json& j, NamedPort& p) {
  p.name = j.at("name").get<std::string>();
  auto port = io::integerIn<uint16_t>(j.at("port"));
  if (!port || *port == 0) throw nlohmann::json::other_error::create(501, "port " + j.at("port").dump() + " is not 1-65535", nullptr);
  p.port = *port;
  std::string proto = j.at("protocol").get<std::string>();
  auto number = portProtocolFromName(proto);
  if (!number) throw nlohmann::json::other_error::create(501, "unknown port protocol '" + proto + "'", nullptr);
  p.protocol = *number;
}

void to_json(nlohmann::json& j, const PortNameBinding& b) {
  j = {{"name", b.name}, {"protocol", portProtocolName(b.protocol)}};
  if (b.port) j["port"] = *b.port;
}

void to_json(nlohmann::json& j, const PeerCondition& c) {
  static constexpr const char* scopes[] = {"exact", "selector", "any"};
  j = {{"pods", c.pods}, {"namespaceScope", scopes[static_cast<int>(c.scope)]}};
  if (c.scope == NamespaceScope::Exact) j["namespace"] = c.ns;
  if (c.scope == NamespaceScope::Selector) j["namespaces"] = c.namespaces;
  if (c.definesPort) j["definesPort"] = *c.definesPort;
}
void from_json(const nlohmann::json& j, Selector& s) {
  s.requirements = j.get<std::vector<Requirement>>();
  s.canonicalize();
}

}  // namespace membrane::labels
