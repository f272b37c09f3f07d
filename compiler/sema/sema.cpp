#include "sema/sema.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "ir/protocols.h"

namespace membrane::sema {

using namespace names;  // the Kubernetes name rules read as the checker's own
using features::l4::L4Spec;

namespace {

// The rule as written, for manifests and messages: comments dropped (label
// words cannot contain '#' or '/', so no comment marker hides in a word; a
// quoted string is copied as is), whitespace folded to single spaces.
std::string foldWhitespace(std::string_view raw) {
  std::string text;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '"') {
      size_t end = i + 1;
      while (end < raw.size() && raw[end] != '"' && raw[end] != '\n') end += raw[end] == '\\' ? 2 : 1;
      text.append(raw.substr(i, std::min(end + 1, raw.size()) - i));
      i = end;
      continue;
    }
    if (c == '#' || (c == '/' && i + 1 < raw.size() && raw[i + 1] == '/')) {
      while (i < raw.size() && raw[i] != '\n') ++i;
      text += ' ';
      continue;
    }
    if (c == '/' && i + 1 < raw.size() && raw[i + 1] == '*') {
      size_t end = raw.find("*/", i + 2);
      i = end == std::string_view::npos ? raw.size() : end + 1;
      text += ' ';
      continue;
    }
    text += c;
  }
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// A selector no label set can satisfy, e.g. `{app = a, app = b}` or `{x, !x}`.
bool neverMatches(const labels::Selector& sel) {
  std::map<std::string, std::vector<const labels::Requirement*>> byKey;
  for (const auto& r : sel.requirements) byKey[r.key].push_back(&r);
  for (const auto& [key, reqs] : byKey) {
    bool mustExist = false, mustNotExist = false;
    std::optional<std::set<std::string>> allowed;
    std::set<std::string> forbidden;
    for (const auto* r : reqs) {
      switch (r->op) {
        case labels::Op::Equals:
        case labels::Op::In: {
          mustExist = true;
          std::set<std::string> vals(r->values.begin(), r->values.end());
          if (!allowed) {
            allowed = vals;
          } else {
            std::set<std::string> both;
            std::set_intersection(allowed->begin(), allowed->end(), vals.begin(), vals.end(),
                                  std::inserter(both, both.begin()));
            allowed = both;
          }
          break;
        }
        case labels::Op::NotEquals:
        case labels::Op::NotIn: forbidden.insert(r->values.begin(), r->values.end()); break;
        case labels::Op::Exists: mustExist = true; break;
        case labels::Op::DoesNotExist: mustNotExist = true; break;
      }
    }
    if (mustExist && mustNotExist) return true;
    if (allowed && std::all_of(allowed->begin(), allowed->end(),
                               [&](const std::string& v) { return forbidden.count(v) > 0; }))
      return true;
  }
  return false;
}

enum class DefKind { Selector, Ports, Peers };
const char* defKindName(DefKind k) {
  switch (k) {
    case DefKind::Selector: return "selector";
    case DefKind::Ports: return "ports";
    case DefKind::Peers: return "peers";
  }
  return "";
}

// The namespace a `pods` peer without `in ...` looks in, filled in where a
// definition is used, since definitions are shared by policies of any namespace.
constexpr const char* kPolicyNamespace = "\x01policy-namespace";

// AdminNetworkPolicy's priorities: 0 (first) to 1000.
constexpr unsigned long kMaxAdminPriority = 1000;

// The budget of peers and protocol items that uses of definitions may copy in
// one run (see Checker::expand). A few hundred bytes each: a few hundred MB at most.
constexpr size_t kMaxExpandedItems = 1'000'000;

// 4000000 → "4,000,000".
std::string withThousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

class Checker {
 public:
  Checker(const ast::Program& program, const SourceManager& sources, DiagnosticEngine& diags)
      : program_(program), sources_(sources), diags_(diags) {}

  std::optional<CheckedProgram> run() {
    size_t before = diags_.errorCount();
    collectDefinitions();
    // Check every definition once, used or not, so errors in it are reported
    // once at the definition rather than at each use.
    for (const auto& [name, def] : defs_) {
      switch (def.kind) {
        case DefKind::Selector: resolveSelectorDef(name); break;
        case DefKind::Ports: resolvePortsDef(name); break;
        case DefKind::Peers: resolvePeersDef(name); break;
      }
    }
    CheckedProgram out;
    std::map<std::string, SourceRange> seen;
    for (const auto& file : program_.files) {
      for (const auto& p : file.policies) {
        auto checked = policy(p);
        if (!checked) continue;
        auto [it, fresh] = seen.emplace(checked->key(), p.name.range);
        if (!fresh) {
          auto& d = diags_.error(p.name.range, "duplicate policy '" + checked->key() + "'",
                                 "policy names are unique within a namespace");
          d.notes.push_back({Severity::Note, it->second, "previous definition is here", "", {}});
          continue;
        }
        out.policies.push_back(std::move(*checked));
      }
    }
    if (diags_.errorCount() > before) return std::nullopt;
    std::sort(out.policies.begin(), out.policies.end(),
              [](const CheckedPolicy& a, const CheckedPolicy& b) { return a.key() < b.key(); });
    warnSharedPriorities(out);
    return out;
  }

 private:
  struct Def {
    DefKind kind;
    const void* node;
    SourceRange range;
  };

  const ast::Program& program_;
  const SourceManager& sources_;
  DiagnosticEngine& diags_;
  std::map<std::string, Def> defs_;
  // Resolution caches; nullopt = the definition has errors (already reported).
  std::map<std::string, std::optional<labels::Selector>> selectorCache_;
  std::map<std::string, std::optional<std::vector<L4Spec>>> portsCache_;
  std::map<std::string, std::optional<std::vector<PeerSpec>>> peersCache_;
  std::set<std::string> resolving_;  // on resolve()'s stack: a reference to one is a cycle
  size_t expanded_ = 0;              // items copied out of definitions so far
  bool expansionExhausted_ = false;  // past kMaxExpandedItems, reported once
  std::set<SourceLoc> badFileNamespaces_;  // already reported

  // Kubernetes leaves the order of two AdminNetworkPolicies of one priority
  // undefined; membrane decides them by name, and says so.
  void warnSharedPriorities(const CheckedProgram& program) {
    std::map<uint32_t, const CheckedPolicy*> first;
    for (const auto& pol : program.policies) {
      if (pol.tier != ir::Tier::Admin) continue;
      auto [it, fresh] = first.emplace(pol.priority, &pol);
      if (fresh) continue;
      auto& d = diags_.warning(pol.tierRange,
                               "policies " + it->second->key() + " and " + pol.key() + " share priority " +
                                   std::to_string(pol.priority) + ": " + it->second->key() +
                                   "'s rules decide first (by name)",
                               "Kubernetes leaves the order of admin policies of one priority undefined; give each "
                               "its own priority");
      d.notes.push_back({Severity::Note, it->second->tierRange, "the priority of " + it->second->key() + " is here", "", {}});
    }
  }

  void collectDefinitions() {
    // A definition named like a keyword could never be referred to by that
    // name (`allow to world` means the entity), so refuse the name.
    static const std::set<std::string> kReserved = {
        "namespace", "selector", "ports", "peers", "policy", "clusterwide", "selects", "mode", "ingress", "egress",
        "allow", "deny", "from", "to", "on", "with", "pods", "namespaces", "in", "notin", "cidr", "except",
        "service", "world", "cluster", "host", "all", "any", "tcp", "udp", "sctp", "icmp", "icmpv6", "nodes"};
    auto add = [&](const ast::Name& name, DefKind kind, const void* node) {
      if (kReserved.count(name.text)) {
        diags_.error(name.range, "'" + name.text + "' is a keyword and cannot name a definition",
                     "a reference to it would mean the keyword; choose another name");
        return;
      }
      auto [it, fresh] = defs_.emplace(name.text, Def{kind, node, name.range});
      if (!fresh) {
        auto& d = diags_.error(name.range, std::string("redefinition of '") + name.text + "'");
        d.notes.push_back({Severity::Note, it->second.range,
                           std::string("previous definition (") + defKindName(it->second.kind) + ") is here", "", {}});
      }
    };
    // In source order, so a redefinition is reported at the later one.
    for (const auto& f : program_.files) {
      std::vector<std::tuple<uint32_t, const ast::Name*, DefKind, const void*>> inFile;
      for (const auto& d : f.selectors) inFile.emplace_back(d.range.begin.offset, &d.name, DefKind::Selector, &d);
      for (const auto& d : f.ports) inFile.emplace_back(d.range.begin.offset, &d.name, DefKind::Ports, &d);
      for (const auto& d : f.peers) inFile.emplace_back(d.range.begin.offset, &d.name, DefKind::Peers, &d);
      std::sort(inFile.begin(), inFile.end(),
                [](const auto& x, const auto& y) { return std::get<0>(x) < std::get<0>(y); });
      for (const auto& [offset, name, kind, node] : inFile) add(*name, kind, node);
    }
  }

  std::vector<std::string> namesOf(DefKind kind) const {
    std::vector<std::string> out;
    for (const auto& [n, d] : defs_)
      if (d.kind == kind) out.push_back(n);
    return out;
  }

  // Looks a reference up; reports unknown names and kind mismatches.
  const Def* lookup(const ast::Name& ref, DefKind want, std::vector<std::string> extraCandidates = {}) {
    auto it = defs_.find(ref.text);
    if (it == defs_.end()) {
      auto candidates = namesOf(want);
      candidates.insert(candidates.end(), extraCandidates.begin(), extraCandidates.end());
      std::string guess = closestMatch(ref.text, candidates);
      diags_.error(ref.range, std::string("unknown ") + defKindName(want) + " '" + ref.text + "'",
                   guess.empty() ? "" : "did you mean `" + guess + "`?");
      return nullptr;
    }
    if (it->second.kind != want) {
      auto& d = diags_.error(ref.range, "'" + ref.text + "' is a " + defKindName(it->second.kind) +
                                            " definition, not a " + defKindName(want));
      d.notes.push_back({Severity::Note, it->second.range, "defined here", "", {}});
      return nullptr;
    }
    return &it->second;
  }

  // ---- definitions using definitions -------------------------------------
  //
  // `peers` and `ports` definitions may use others of their kind, in chains
  // as long as the input. Each definition is checked once, after everything
  // it uses: resolve() walks the references with an explicit stack (a chain
  // of 10,000 definitions overflowed the call stack when this recursed), so
  // when a body is checked every definition it names is either resolved
  // (cached) or still on the stack, which is a cycle.

  bool resolved(const std::string& name) const { return peersCache_.count(name) || portsCache_.count(name); }

  // The definitions of its own kind that `name`'s body names; unknown names
  // and other kinds are reported when the body is checked.
  std::vector<std::string> dependencies(const std::string& name) const {
    std::vector<std::string> out;
    const Def& def = defs_.at(name);
    auto add = [&](const std::string& ref) {
      auto it = defs_.find(ref);
      if (it != defs_.end() && it->second.kind == def.kind) out.push_back(ref);
    };
    if (def.kind == DefKind::Peers) {
      for (const auto& p : static_cast<const ast::PeersDef*>(def.node)->peers)
        if (auto* ref = std::get_if<ast::Name>(&p.value)) add(ref->text);
    } else if (def.kind == DefKind::Ports) {
      for (const auto& item : static_cast<const ast::PortsDef*>(def.node)->items)
        if (item.ref) add(item.ref->text);
    }
    return out;
  }

  // Resolves `root` and, first, everything it depends on.
  void resolve(const std::string& root) {
    struct Frame {
      std::string name;
      std::vector<std::string> dependencies;
      size_t next = 0;
    };
    std::vector<Frame> stack;
    auto enter = [&](const std::string& name) {
      resolving_.insert(name);
      stack.push_back({name, dependencies(name)});
    };
    if (resolved(root) || resolving_.count(root)) return;
    enter(root);
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next < top.dependencies.size()) {
        std::string dep = top.dependencies[top.next++];
        if (!resolved(dep) && !resolving_.count(dep)) enter(dep);  // may invalidate `top`
        continue;
      }
      std::string name = std::move(top.name);
      if (defs_.at(name).kind == DefKind::Peers)
        checkPeersBody(name);
      else
        checkPortsBody(name);
      resolving_.erase(name);
      stack.pop_back();
    }
  }

  // A reference inside a body being checked: false (reported) when it
  // closes a cycle.
  bool notCyclic(const ast::Name& ref) {
    if (!resolving_.count(ref.text)) return true;
    diags_.error(ref.range, "definition '" + ref.text + "' is defined in terms of itself",
                 "definitions may use other definitions, but not in a cycle");
    return false;
  }

  // Every use of a definition copies its items, so definitions that use
  // others several times multiply: 40 lines that each use the next line
  // twice would expand to 2^40 peers. The copies of a whole run share one
  // budget, far above what real policies use; past it the run fails once,
  // at the reference that crossed it.
  template <typename T>
  bool expand(const ast::Name& ref, const std::vector<T>& items, std::vector<T>& out) {
    if (expansionExhausted_) return false;
    expanded_ += items.size();
    if (expanded_ > kMaxExpandedItems) {
      expansionExhausted_ = true;
      diags_.error(ref.range, "definitions expand to more than " + withThousands(kMaxExpandedItems) +
                                  " peers and protocol items",
                   "every use of a definition copies its items, so definitions that use others several times "
                   "multiply; list the items once");
      return false;
    }
    out.insert(out.end(), items.begin(), items.end());
    return true;
  }

  // ---- selectors --------------------------------------------------------

  std::optional<labels::Selector> resolveSelectorDef(const std::string& name) {
    if (auto it = selectorCache_.find(name); it != selectorCache_.end()) return it->second;
    const auto* def = static_cast<const ast::SelectorDef*>(defs_.at(name).node);
    auto sel = selector(def->body);
    selectorCache_[name] = sel;
    return sel;
  }

  std::optional<labels::Selector> selector(const ast::SelectorRef& ref) {
    if (ref.ref) {
      if (!lookup(*ref.ref, DefKind::Selector)) return std::nullopt;
      return resolveSelectorDef(ref.ref->text);
    }
    labels::Selector sel;
    bool ok = true;
    for (ast::LabelRequirement lr : ref.requirements) {
      // Cilium writes Kubernetes labels with the source `k8s:`; they are the
      // labels the inventory has, so the prefix is dropped.
      if (lr.req.key.rfind("k8s:", 0) == 0) lr.req.key = lr.req.key.substr(4);
      if (auto colon = lr.req.key.find(':'); colon != std::string::npos) {
        diags_.error(lr.range, "label source '" + lr.req.key.substr(0, colon) + "' is not supported",
                     "membrane matches Kubernetes labels: write the key without a source, or with `k8s:`");
        ok = false;
        continue;
      }
      if (auto why = labelKeyProblem(lr.req.key); !why.empty()) {
        diags_.error(lr.range, "invalid label key '" + lr.req.key + "': " + why);
        ok = false;
      }
      for (const auto& v : lr.req.values) {
        if (auto why = labelValueProblem(v); !why.empty()) {
          diags_.error(lr.range, "invalid label value '" + v + "': " + why);
          ok = false;
        }
      }
      sel.requirements.push_back(lr.req);
    }
    if (!ok) return std::nullopt;
    sel.canonicalize();
    // Kubernetes accepts such selectors (they select nothing), and imported
    // manifests must keep compiling: a warning, and the selector stays.
    if (neverMatches(sel))
      diags_.warning(ref.range, "selector " + sel.str() + " can never match: its requirements contradict each other");
    return sel;
  }

  // ---- peers ------------------------------------------------------------

  const std::optional<std::vector<PeerSpec>>& resolvePeersDef(const std::string& name) {
    resolve(name);
    return peersCache_.at(name);
  }

  // Called by resolve() once every definition the body uses is resolved.
  void checkPeersBody(const std::string& name) {
    const auto* def = static_cast<const ast::PeersDef*>(defs_.at(name).node);
    std::vector<PeerSpec> out;
    bool ok = true;
    for (const auto& p : def->peers) ok &= peer(p, out);
    std::optional<std::vector<PeerSpec>> result;
    if (ok) result = std::move(out);
    peersCache_[name] = std::move(result);
  }

  bool namespaceScope(const ast::NamespaceRef& ns, PeerSpec& spec) {
    if (ns.kind == ast::NamespaceRef::Kind::ByName) {
      if (!isValidNamespaceName(ns.name.text)) {
        diags_.error(ns.name.range, "invalid namespace name '" + ns.name.text + "'",
                     "namespace names are lowercase letters, digits and '-', at most 63 characters");
        return false;
      }
      spec.scope = ir::NamespaceScope::Exact;
      spec.ns = ns.name.text;
      return true;
    }
    auto sel = selector(ns.selector);
    if (!sel) return false;
    spec.scope = sel->empty() ? ir::NamespaceScope::Any : ir::NamespaceScope::Selector;
    spec.namespaces = *sel;
    return true;
  }

  // `in NAMESPACES` when written, else the policy's namespace (filled in
  // once the policy is known).
  bool scopeOrPolicyNamespace(const std::optional<ast::NamespaceRef>& in, PeerSpec& spec) {
    if (in) return namespaceScope(*in, spec);
    spec.scope = ir::NamespaceScope::Exact;
    spec.ns = kPolicyNamespace;
    return true;
  }

  bool peer(const ast::Peer& p, std::vector<PeerSpec>& out) {
    PeerSpec spec;
    spec.range = p.range;
    if (auto* pods = std::get_if<ast::PodsPeer>(&p.value)) {
      auto sel = selector(pods->pods);
      if (!sel) return false;
      spec.kind = PeerSpec::Kind::Pods;
      spec.pods = *sel;
      if (!scopeOrPolicyNamespace(pods->ns, spec)) return false;
    } else if (auto* ns = std::get_if<ast::NamespaceRef>(&p.value)) {
      spec.kind = PeerSpec::Kind::Pods;
      if (!namespaceScope(*ns, spec)) return false;
    } else if (auto* ent = std::get_if<ast::Entity>(&p.value)) {
      spec.kind = PeerSpec::Kind::Entity;
      spec.entity = *ent;
    } else if (auto* cidr = std::get_if<ast::CidrPeer>(&p.value)) {
      spec.kind = PeerSpec::Kind::Cidr;
      auto prefix = parsePrefix(cidr->prefix, cidr->prefixRange);
      if (!prefix) return false;
      spec.cidr.prefix = *prefix;
      bool ok = true;
      for (const auto& ex : cidr->except) {
        auto e = parsePrefix(ex.text, ex.range);
        if (!e) {
          ok = false;
          continue;
        }
        if (!prefix->contains(*e)) {
          diags_.error(ex.range, "except " + e->str() + " is not inside " + prefix->str(),
                       e->family() != prefix->family() ? "the except and the CIDR are of different IP versions"
                                                       : "an except must be a sub-range of its CIDR");
          ok = false;
          continue;
        }
        if (*e == *prefix) {
          diags_.error(ex.range, "except " + e->str() + " removes the whole of " + prefix->str());
          ok = false;
          continue;
        }
        spec.cidr.except.push_back(*e);
      }
      if (!ok) return false;
      std::sort(spec.cidr.except.begin(), spec.cidr.except.end());
      spec.cidr.except.erase(std::unique(spec.cidr.except.begin(), spec.cidr.except.end()), spec.cidr.except.end());
    } else if (auto* dns = std::get_if<ast::DnsPeer>(&p.value)) {
      spec.kind = PeerSpec::Kind::Dns;
      std::vector<features::dns::CheckedName> names;
      bool ok = true;
      for (const auto& n : dns->names) ok &= features::dns::checkName(n, diags_, names);
      if (!ok) return false;
      spec.dnsNames = features::dns::texts(names);
    } else if (auto* svc = std::get_if<ast::ServicePeer>(&p.value); svc && svc->selector) {
      spec.kind = PeerSpec::Kind::Service;
      auto sel = selector(*svc->selector);
      if (!sel) return false;
      spec.services = *sel;
      if (!scopeOrPolicyNamespace(svc->in, spec)) return false;
    } else if (svc) {
      spec.kind = PeerSpec::Kind::Service;
      // `service NS/NAME` is `service NAME in namespace NS`.
      std::optional<ast::NamespaceRef> in = svc->in;
      if (!in && !svc->ns.text.empty()) {
        in.emplace();
        in->kind = ast::NamespaceRef::Kind::ByName;
        in->name = svc->ns;
        in->range = svc->ns.range;
      }
      bool ok = scopeOrPolicyNamespace(in, spec);
      if (!names::isServiceName(svc->name.text)) {
        diags_.error(svc->name.range, "invalid service name '" + svc->name.text + "'",
                     "service names are lowercase letters, digits and '-', start with a letter and are at most "
                     "63 characters");
        ok = false;
      }
      if (svc->in && !svc->ns.text.empty()) {
        diags_.error(svc->in->range, "service " + svc->ns.text + "/" + svc->name.text + " names its namespace twice",
                     "write `service NAMESPACE/NAME` or `service NAME in namespaces { ... }`, not both");
        ok = false;
      }
      if (!ok) return false;
      spec.service = svc->name.text;
    } else if (auto* nodes = std::get_if<ast::NodesPeer>(&p.value)) {
      spec.kind = PeerSpec::Kind::Nodes;
      auto sel = selector(nodes->nodes);
      if (!sel) return false;
      spec.nodes = *sel;
    } else if (auto* ref = std::get_if<ast::Name>(&p.value)) {
      // A misspelt `world` parses as a reference: suggest the entity keywords too.
      if (!lookup(*ref, DefKind::Peers, {"world", "cluster", "host", "all"})) return false;
      if (!notCyclic(*ref)) return false;
      const auto& resolved = resolvePeersDef(ref->text);
      return resolved && expand(*ref, *resolved, out);
    }
    out.push_back(std::move(spec));
    return true;
  }

  std::optional<net::Prefix> parsePrefix(const std::string& text, SourceRange range) {
    bool hostBits = false;
    auto p = net::Prefix::parse(text, &hostBits);
    if (p) return p;
    if (hostBits) {
      auto slash = text.find('/');
      auto addr = net::Address::parse(text.substr(0, slash));
      std::string fixed;
      if (addr) {
        unsigned len = std::stoul(text.substr(slash + 1));
        net::Prefix canon{*addr, static_cast<uint8_t>(len)};
        for (unsigned i = len; i < addr->bits(); ++i)
          canon.addr.bytes[i / 8] &= static_cast<uint8_t>(~(1u << (7 - i % 8)));
        fixed = canon.str();
      }
      diags_.error(range, "CIDR '" + text + "' has host bits set",
                   fixed.empty() ? "" : "did you mean `" + fixed + "`?");
    } else {
      diags_.error(range, "invalid CIDR '" + text + "'",
                   "write an IPv4 or IPv6 prefix such as 198.18.0.0/15 or 2001:2::/48");
    }
    return std::nullopt;
  }

  // ---- ports ------------------------------------------------------------

  const std::optional<std::vector<L4Spec>>& resolvePortsDef(const std::string& name) {
    resolve(name);
    return portsCache_.at(name);
  }

  // Called by resolve() once every definition the body uses is resolved.
  void checkPortsBody(const std::string& name) {
    const auto* def = static_cast<const ast::PortsDef*>(defs_.at(name).node);
    std::vector<L4Spec> out;
    bool ok = true;
    for (const auto& item : def->items) ok &= l4Item(item, out);
    std::optional<std::vector<L4Spec>> result;
    if (ok) result = std::move(out);
    portsCache_[name] = std::move(result);
  }

  bool l4Item(const ast::L4Item& item, std::vector<L4Spec>& out) {
    if (item.ref) {
      if (!lookup(*item.ref, DefKind::Ports, {"tcp", "udp", "sctp", "icmp", "icmpv6", "any"})) return false;
      if (!notCyclic(*item.ref)) return false;
      const auto& resolved = resolvePortsDef(item.ref->text);
      return resolved && expand(*item.ref, *resolved, out);
    }
    return features::l4::checkItem(item, sources_, diags_, out);
  }

  // ---- policies ---------------------------------------------------------

  std::optional<CheckedPolicy> policy(const ast::Policy& p) {
    size_t before = diags_.errorCount();
    CheckedPolicy out;
    out.name = p.name.text;
    out.range = p.range;
    out.clusterwide = p.clusterwide;
    if (!isDnsSubdomain(p.name.text)) {
      diags_.error(p.name.range, "invalid policy name '" + p.name.text + "'",
                   "policy names are lowercase letters, digits, '-' and '.'");
    }
    for (const auto& [keyword, where] : p.repeated) {
      diags_.error(where, "policy '" + p.name.text + "' has more than one `" + keyword + "`",
                   keyword == "selects"     ? "combine the requirements into one selector"
                   : keyword == "processes" ? "list every executable in one `processes { ... }`"
                                            : "keep one of them");
    }
    if (p.clusterwide && p.ns) {
      auto& d = diags_.error(p.ns->range, "a clusterwide policy has no namespace");
      d.notes.push_back({Severity::Note, p.clusterwideRange, "declared clusterwide here", "", {}});
    }
    if (!p.clusterwide) {
      out.ns = p.ns ? p.ns->text : p.fileNamespace;
      if (!isValidNamespaceName(out.ns)) {
        // A bad file-level `namespace` is reported once, where it is written
        // (the run fails either way, so later policies need not repeat it).
        SourceRange where = p.ns ? p.ns->range : p.fileNamespaceRange.valid() ? p.fileNamespaceRange : p.name.range;
        if (p.ns || badFileNamespaces_.insert(where.begin).second)
          diags_.error(where, "invalid namespace name '" + out.ns + "'",
                       "namespace names are lowercase letters, digits and '-', at most 63 characters");
      }
    }
    if (p.mode) {
      if (p.mode->text == "audit") {
        out.audit = true;
      } else if (p.mode->text != "enforce") {
        std::string guess = closestMatch(p.mode->text, {"enforce", "audit"});
        diags_.error(p.mode->range, "unknown mode '" + p.mode->text + "'",
                     guess.empty() ? "the mode is `enforce` (the default) or `audit`" : "did you mean `" + guess + "`?");
      }
    }
    if (!p.selects) {
      diags_.error(p.name.range, "policy '" + p.name.text + "' does not say which endpoints it applies to",
                   "add `selects { app = ... }`; `selects {}` selects every endpoint in the namespace");
    } else if (auto sel = selector(*p.selects)) {
      out.selects = *sel;
    }
    if (p.selectsIn) subjectNamespaces(p, out);
    if (p.tier) tier(p, out);

    if (p.processes) {
      if (auto checked = features::process::check(*p.processes, sources_, diags_)) {
        if (out.audit) {
          // The clause restricts every allow rule of the class, also those
          // of enforcing policies: an audit-mode clause would have to hold
          // in the audited verdict only, which the IR cannot say yet.
          auto& d = diags_.error(checked->range, "a `processes` clause is not supported in an audit-mode policy yet",
                                 "put the clause in a policy that enforces, or drop `mode audit`");
          d.notes.push_back({Severity::Note, p.mode->range, "the policy is in audit mode here", "", {}});
        } else {
          out.processes = std::move(*checked);
        }
      }
    }

    std::map<ir::Direction, SourceRange> sectionSeen;
    for (const auto& section : p.sections) {
      auto dir = section.direction == ast::Direction::Ingress ? ir::Direction::Ingress : ir::Direction::Egress;
      auto [it, fresh] = sectionSeen.emplace(dir, section.range);
      if (!fresh) {
        auto& d = diags_.error(section.range, std::string("duplicate `") + ir::directionName(dir) + "` section",
                               "put all rules of one direction in one section");
        d.notes.push_back({Severity::Note, it->second, "previous section is here", "", {}});
        continue;
      }
      (dir == ir::Direction::Ingress ? out.hasIngress : out.hasEgress) = true;
      for (const auto& r : section.rules) {
        if (auto checked = rule(r, dir, out)) out.rules.push_back(std::move(*checked));
      }
    }
    if (p.sections.empty() && !p.processes && diags_.errorCount() == before) {
      diags_.warning(p.name.range, "policy '" + p.name.text + "' has neither an `ingress` nor an `egress` section",
                     "it selects endpoints but restricts nothing");
    }
    if (diags_.errorCount() > before) return std::nullopt;
    return out;
  }

  // `selects SEL in NAMESPACES`: a clusterwide policy's subjects, narrowed
  // to namespaces (a namespaced policy's are in its own namespace).
  void subjectNamespaces(const ast::Policy& p, CheckedPolicy& out) {
    if (!p.clusterwide) {
      diags_.error(p.selectsIn->range, "`selects ... in` is for clusterwide policies",
                   "a namespaced policy selects endpoints of its own namespace; add `clusterwide` to select in "
                   "other namespaces");
      return;
    }
    PeerSpec scope;
    if (!namespaceScope(*p.selectsIn, scope)) return;
    switch (scope.scope) {
      case ir::NamespaceScope::Any: break;  // `in namespaces {}`: every namespace, as without `in`
      case ir::NamespaceScope::Selector: out.namespaces = scope.namespaces; break;
      case ir::NamespaceScope::Exact:
        out.namespaces = labels::Selector{{{labels::kNamespaceNameLabel, labels::Op::Equals, {scope.ns}}}};
        break;
    }
  }

  // `tier admin priority N` / `tier baseline`: the AdminNetworkPolicy
  // tiers, whose policies are clusterwide, enforce, and have rules of
  // peers and ports only.
  void tier(const ast::Policy& p, CheckedPolicy& out) {
    const ast::TierStatement& t = *p.tier;
    out.tier = t.kind == ast::TierStatement::Kind::Admin ? ir::Tier::Admin : ir::Tier::Baseline;
    out.tierRange = t.range;
    if (t.priority) {
      const std::string& digits = t.priority->text;
      if (digits.size() > 4 || std::stoul(digits) > kMaxAdminPriority) {
        diags_.error(t.priority->range, "priority " + digits + " is out of range",
                     "priorities are 0 to " + std::to_string(kMaxAdminPriority) +
                         " (AdminNetworkPolicy's); a lower number decides first");
      } else {
        out.priority = static_cast<uint32_t>(std::stoul(digits));
      }
    }
    const char* tierText = out.tier == ir::Tier::Admin ? "an admin-tier" : "a baseline-tier";
    if (!p.clusterwide)
      diags_.error(t.range, std::string(tierText) + " policy must be clusterwide",
                   "tiers hold cluster administrators' policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy), "
                   "which belong to no namespace: add `clusterwide`");
    if (p.mode && p.mode->text == "audit") {
      auto& d = diags_.error(p.mode->range, std::string("audit mode is not supported in ") + tierText + " policy",
                             "enforce the policy, or test it as an ordinary policy in audit mode first");
      d.notes.push_back({Severity::Note, t.range, "the tier is given here", "", {}});
    }
    if (p.processes) {
      auto& d = diags_.error(p.processes->range, std::string("a `processes` clause is not supported in ") + tierText +
                                                     " policy",
                             "put the clause in an ordinary policy selecting the same endpoints");
      d.notes.push_back({Severity::Note, t.range, "the tier is given here", "", {}});
    }
  }

  // What a tier policy's rule may not have: conditions beside its ports,
  // `dns` peers; `pass` outside the admin tier.
  bool tierRule(const ast::Rule& r, const CheckedRule& checked, const CheckedPolicy& pol) {
    bool ok = true;
    if (r.action == ast::Action::Pass && pol.tier != ir::Tier::Admin) {
      diags_.error(r.range, "`pass` is an action of admin-tier policies",
                   pol.tier == ir::Tier::Network
                       ? "`pass` hands a flow from the admin tier to the ordinary policies; write `allow` or `deny`"
                       : "the baseline tier is the last: its rules allow or deny");
      ok = false;
    }
    if (pol.tier == ir::Tier::Network) return ok;
    for (const auto& ext : r.extensions) {
      diags_.error(ext.range, "`with " + ext.kind.text + "` is not supported in tier policies",
                   "tier rules match peers and ports (as AdminNetworkPolicy's do); put the condition in an ordinary "
                   "policy, which the admin tier can `pass` to");
      ok = false;
    }
    for (const auto& spec : checked.peers)
      if (spec.kind == PeerSpec::Kind::Dns) {
        diags_.error(spec.range, "`dns` peers are not supported in tier policies",
                     "name the destinations by cidr, or allow them by name in an ordinary policy");
        ok = false;
      }
    return ok;
  }

  std::optional<CheckedRule> rule(const ast::Rule& r, ir::Direction dir, const CheckedPolicy& pol) {
    bool ok = true;
    bool wantFrom = dir == ir::Direction::Ingress;
    if (r.fromKeyword != wantFrom) {
      diags_.error(r.dirRange,
                   std::string("`") + (r.fromKeyword ? "from" : "to") + "` in an `" + ir::directionName(dir) + "` section",
                   wantFrom ? "ingress rules name their sources: did you mean `from`?"
                            : "egress rules name their destinations: did you mean `to`?");
      ok = false;
    }
    CheckedRule out;
    for (const auto& ext : r.extensions) ok &= features::checkWith(ext, sources_, diags_, out.conditions);
    out.action = r.action == ast::Action::Allow  ? ir::Action::Allow
                 : r.action == ast::Action::Pass ? ir::Action::Pass
                                                 : ir::Action::Deny;
    out.direction = dir;
    out.range = r.range;
    out.text = foldWhitespace(sources_.slice(r.range));
    for (const auto& p : r.peers) ok &= peer(p, out.peers);
    std::vector<L4Spec> l4;
    for (const auto& item : r.l4) ok &= l4Item(item, l4);
    if (auto condition = features::l4::finish(std::move(l4))) out.conditions.push_back(std::move(*condition));
    for (const auto& spec : out.peers)
      if (spec.kind == PeerSpec::Kind::Dns && dir != ir::Direction::Egress) {
        diags_.error(spec.range, "a `dns` peer names destinations: it belongs in an `egress` section",
                     "an ingress rule cannot name its sources by DNS; use pods, namespaces or cidr");
        ok = false;
      }
    ok &= tierRule(r, out, pol);
    if (ok) ok = features::checkCombination(out.conditions, dir, out.action, diags_);
    if (!ok) return std::nullopt;
    // Fill in "the policy's namespace" now that we know the policy.
    for (auto& spec : out.peers) {
      if (spec.kind == PeerSpec::Kind::Service && spec.service.empty() && spec.ns == kPolicyNamespace) {
        // As for pods: the policy's namespace, every namespace if clusterwide.
        if (pol.clusterwide) {
          spec.scope = ir::NamespaceScope::Any;
          spec.ns.clear();
        } else {
          spec.ns = pol.ns;
        }
      }
      if (spec.kind == PeerSpec::Kind::Service && spec.ns == kPolicyNamespace) {
        if (pol.clusterwide) {
          diags_.error(spec.range, "service '" + spec.service + "' in a clusterwide policy needs its namespace",
                       "a clusterwide policy has no namespace of its own: write `service NAMESPACE/" +
                           spec.service + "`, or `service " + spec.service + " in namespaces {}` for every namespace");
          return std::nullopt;
        }
        spec.ns = pol.ns;
      }
      if (spec.kind == PeerSpec::Kind::Pods && spec.ns == kPolicyNamespace) {
        if (pol.clusterwide) {
          spec.scope = ir::NamespaceScope::Any;
          spec.ns.clear();
        } else {
          spec.ns = pol.ns;
        }
      }
    }
    return out;
  }
};

}  // namespace

std::optional<CheckedProgram> check(const ast::Program& program, const SourceManager& sources,
                                    DiagnosticEngine& diags) {
  return Checker(program, sources, diags).run();
}

}  // namespace membrane::sema
