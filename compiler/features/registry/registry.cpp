// See registry.h: the rule kinds, dispatched to their folders.
#include "features/registry/registry.h"

namespace membrane::features {

namespace {
// One lambda per kind: a kind added to a variant and missing here does not compile.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;
}  // namespace

const char* kindName(const ir::Condition& condition) {
  return std::visit(Overloaded{[](const ir::L4Condition&) { return l4::kName; },
                                [](const ir::DnsCondition&) { return dns::kName; },
                                [](const ir::HttpCondition&) { return http::kName; },
                                [](const ir::ProcessCondition&) { return process::kName; }},
                    condition);
}

namespace {
// Checks the one `with NAME` of kind K on a rule: a second is an error.
template <class K, class Check>
bool checkOnce(const ast::Extension& extension, DiagnosticEngine& diags, std::vector<CheckedCondition>& out,
               const char* name, const char* hint, Check check) {
  for (const auto& c : out)
    if (const auto* first = std::get_if<K>(&c)) {
      auto& d = diags.error(extension.range, std::string("a rule has at most one `with ") + name + " { ... }`", hint);
      d.notes.push_back({Severity::Note, first->range, "the first one is here", "", {}});
      return false;
    }
  auto checked = check();
  if (!checked) return false;
  out.push_back(std::move(*checked));
  return true;
}
}  // namespace

bool checkWith(const ast::Extension& extension, const SourceManager& sources, DiagnosticEngine& diags,
               std::vector<CheckedCondition>& out) {
  if (extension.kind.text == dns::kName)
    return checkOnce<dns::Checked>(extension, diags, out, dns::kName, "list every name in one condition",
                                   [&] { return dns::check(extension, sources, diags); });
  if (extension.kind.text == http::kName)
    return checkOnce<http::Checked>(extension, diags, out, http::kName,
                                    "list every request in one condition, items separated by `;`",
                                    [&] { return http::check(extension, sources, diags); });
  if (extension.kind.text == process::kName)
    return checkOnce<process::Checked>(extension, diags, out, process::kName,
                                       "list every executable in one condition, items separated by `,`",
                                       [&] { return process::check(extension, sources, diags); });
  diags.error(extension.range, "`with " + extension.kind.text + "` rules are not supported yet",
              "membrane enforces L3/L4, DNS (`with dns`), HTTP (`with http`) and executables (`with process`) today");
  return false;
}

namespace {
// An http condition (docs/http.md): requests are read on TCP ports given by
// number, in either direction, for allow and deny rules alike; not with a
// dns condition (DNS is not HTTP).
bool checkHttpCombination(const http::Checked& httpCondition, const l4::Checked* l4Condition,
                          const dns::Checked* dnsCondition, DiagnosticEngine& diags) {
  if (dnsCondition) {
    auto& d = diags.error(httpCondition.range, "a rule cannot have both `with http` and `with dns`",
                          "DNS queries are not HTTP requests: write two rules");
    d.notes.push_back({Severity::Note, dnsCondition->range, "the dns condition is here", "", {}});
    return false;
  }
  const char* hint = "the ports are where requests are read, e.g. `on tcp/8080 with http { ... }`";
  if (!l4Condition) {
    diags.error(httpCondition.range, "a rule with `with http` must name its ports", hint);
    return false;
  }
  for (const auto& spec : l4Condition->specs) {
    if (spec.protocol != ir::kTCP || spec.allPorts) {
      diags.error(spec.range, "a rule with `with http` reads requests on TCP ports given by number", hint);
      return false;
    }
    if (!spec.namedPorts.empty()) {
      diags.error(spec.namedPorts.front().range,
                  "a rule with `with http` takes port numbers: named ports are not supported with `with http` yet",
                  "write the port's number, e.g. `on tcp/8080`");
      return false;
    }
  }
  return true;
}
}  // namespace

namespace {
// A process condition (docs/process.md): the executable that connects, so an
// egress allow rule; not beside http or dns conditions yet (their programs
// and the socket-call hooks do not share a verdict).
bool checkProcessCombination(const process::Checked& processCondition, const http::Checked* httpCondition,
                             const dns::Checked* dnsCondition, const l4::Checked* l4Condition,
                             ir::Direction direction, ir::Action action, DiagnosticEngine& diags) {
  if (direction != ir::Direction::Egress) {
    diags.error(processCondition.range, "`with process` is for egress rules",
                "it says which executables of the selected endpoints may connect; which executable accepts a "
                "connection is not decided yet (docs/process.md, \"Limits\")");
    return false;
  }
  if (action != ir::Action::Allow) {
    diags.error(processCondition.range, "`with process` is for allow rules",
                "list the executables that may connect; every other executable is refused (a deny list of "
                "executables is bypassed by copying the file)");
    return false;
  }
  // The socket calls see TCP and UDP sockets; a flow of another protocol
  // named here could never be let through (a rule without `on` still
  // covers TCP and UDP).
  if (l4Condition)
    for (const auto& spec : l4Condition->specs)
      if (spec.protocol != ir::kTCP && spec.protocol != ir::kUDP && spec.protocol != ir::kAnyProtocol) {
        diags.error(spec.range, "a rule with `with process` covers TCP and UDP only",
                    "the program that sends is known for TCP and UDP sockets' connect() and sendto(); other "
                    "protocols are never let through by a process rule (docs/process.md)");
        return false;
      }
  const char* otherKind = httpCondition ? http::kName : dnsCondition ? dns::kName : nullptr;
  if (otherKind) {
    auto& d = diags.error(processCondition.range,
                          std::string("a rule cannot have both `with process` and `with ") + otherKind + "` yet",
                          "the socket-call hooks and the programs that read requests do not share a verdict yet: "
                          "write the rule without the process condition");
    d.notes.push_back({Severity::Note, httpCondition ? httpCondition->range : dnsCondition->range,
                       "the other condition is here", "", {}});
    return false;
  }
  return true;
}
}  // namespace

bool checkCombination(const std::vector<CheckedCondition>& conditions, ir::Direction direction, ir::Action action,
                      DiagnosticEngine& diags) {
  const dns::Checked* dnsCondition = nullptr;
  const http::Checked* httpCondition = nullptr;
  const l4::Checked* l4Condition = nullptr;
  const process::Checked* processCondition = nullptr;
  for (const auto& c : conditions) {
    if (const auto* d = std::get_if<dns::Checked>(&c)) dnsCondition = d;
    if (const auto* h = std::get_if<http::Checked>(&c)) httpCondition = h;
    if (const auto* l = std::get_if<l4::Checked>(&c)) l4Condition = l;
    if (const auto* p = std::get_if<process::Checked>(&c)) processCondition = p;
  }
  if (processCondition &&
      !checkProcessCombination(*processCondition, httpCondition, dnsCondition, l4Condition, direction, action, diags))
    return false;
  if (httpCondition) return checkHttpCombination(*httpCondition, l4Condition, dnsCondition, diags);
  if (!dnsCondition) return true;
  if (direction != ir::Direction::Egress) {
    diags.error(dnsCondition->range, "`with dns` is for egress rules",
                "it says which names the selected endpoints may look up, on the rule that lets them reach their "
                "resolver");
    return false;
  }
  if (action != ir::Action::Allow) {
    diags.error(dnsCondition->range, "`with dns` is for allow rules",
                "list the names that may be looked up; every other name is refused");
    return false;
  }
  const char* hint = "the ports are where queries are read, e.g. `on udp/53, tcp/53 with dns { ... }`";
  if (!l4Condition) {
    diags.error(dnsCondition->range, "a rule with `with dns` must name its ports", hint);
    return false;
  }
  for (const auto& spec : l4Condition->specs) {
    if ((spec.protocol != ir::kUDP && spec.protocol != ir::kTCP) || spec.allPorts || !spec.namedPorts.empty()) {
      diags.error(spec.range, "a rule with `with dns` reads DNS on TCP and UDP ports given by number", hint);
      return false;
    }
  }
  return true;
}

std::optional<ir::Condition> lowerForSubject(const CheckedCondition& condition, const Subject& subject) {
  return std::visit(Overloaded{[&](const l4::Checked& c) -> std::optional<ir::Condition> {
                                  return l4::lowerForSubject(c, subject.direction, *subject.ports,
                                                             subject.unresolvedPort);
                                },
                                [&](const dns::Checked& c) -> std::optional<ir::Condition> { return dns::lower(c); },
                                [&](const http::Checked& c) -> std::optional<ir::Condition> { return http::lower(c); },
                                [&](const process::Checked& c) -> std::optional<ir::Condition> {
                                  return process::lower(c);
                                }},
                    condition);
}

bool matches(const ir::Condition& condition, const ir::Traffic& traffic) {
  return std::visit(Overloaded{[&](const ir::L4Condition& c) { return l4::matches(c, traffic); },
                                [&](const ir::DnsCondition& c) { return dns::matches(c, traffic); },
                                [&](const ir::HttpCondition& c) { return http::matches(c, traffic); },
                                [&](const ir::ProcessCondition& c) { return process::matches(c, traffic); }},
                    condition);
}

void printJson(const ir::Rule& rule, nlohmann::json& out) {
  l4::printJson(rule, out);
  dns::printJson(rule, out);
  http::printJson(rule, out);
  process::printJson(rule, out);
}

std::string describeConditions(const ir::Rule& rule) {
  return " on " + l4::describe(rule) + dns::describe(rule) + http::describe(rule) + process::describe(rule);
}

bool enforceableBy(const CheckedCondition& condition, ProgramKind kind) {
  return std::visit(Overloaded{[&](const l4::Checked&) { return l4::enforceableBy(kind); },
                                [&](const dns::Checked&) { return dns::enforceableBy(kind); },
                                [&](const http::Checked&) { return http::enforceableBy(kind); },
                                [&](const process::Checked&) { return process::enforceableBy(kind); }},
                    condition);
}

const char* kindName(const CheckedCondition& condition) {
  return std::visit(Overloaded{[](const l4::Checked&) { return l4::kName; },
                                [](const dns::Checked&) { return dns::kName; },
                                [](const http::Checked&) { return http::kName; },
                                [](const process::Checked&) { return process::kName; }},
                    condition);
}

bool checkEnforceable(const std::vector<CheckedCondition>& conditions, const std::string& ruleText,
                      const std::string& policy, SourceRange where, const Target& target, DiagnosticEngine& diags) {
  bool ok = true;
  for (const auto& c : conditions) {
    std::string missing;
    for (ProgramKind hook : target.packetHooks)
      if (!enforceableBy(c, hook)) missing += std::string(missing.empty() ? "" : " and ") + programKindName(hook);
    if (missing.empty() && !target.packetHooks.empty()) continue;
    // The socket layer decides what the packet programs pass on to it.
    bool bySockets = false;
    for (ProgramKind hook : target.socketHooks) bySockets |= enforceableBy(c, hook);
    if (bySockets) continue;
    ok = false;
    diags.error(where,
                "rule `" + ruleText + "` of policy " + policy + " has a condition of kind " + kindName(c) +
                    " that " +
                    (missing.empty() ? "no program of this target can enforce" : missing + " programs cannot enforce"),
                "membrane refuses a policy it cannot enforce rather than drop part of a rule");
  }
  return ok;
}

}  // namespace membrane::features
