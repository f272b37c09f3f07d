// Checks against the inventory (-i): MB103 peer-matches-nothing,
// MB104 policy-selects-nothing, MB105 unknown-label-key. Without an
// inventory they do not run (lint.cpp says so in the summary).
#include <algorithm>
#include <map>
#include <set>

#include "lint/check.h"
#include "lint/coverage.h"

namespace membrane::lint {

namespace {

bool isPositive(labels::Op op) {
  return op == labels::Op::Equals || op == labels::Op::In || op == labels::Op::Exists;
}

std::string stripSource(const std::string& key) { return key.rfind("k8s:", 0) == 0 ? key.substr(4) : key; }

class InventoryChecks {
 public:
  explicit InventoryChecks(Context& ctx) : ctx_(ctx), inv_(ctx.inventory()) {
    for (const auto& ep : inv_.endpoints) {
      namespaces_.insert(ep.ns);
      for (const auto& [k, v] : ep.labels) podValues_[k].insert(v);
    }
    for (const auto& ns : inv_.namespaces) {
      namespaces_.insert(ns.name);
      for (const auto& [k, v] : ns.labels) nsValues_[k].insert(v);
    }
    nsValues_[inventory::kNamespaceNameLabel].insert(namespaces_.begin(), namespaces_.end());
    for (const auto& node : inv_.nodes)
      for (const auto& [k, v] : node.labels) nodeValues_[k].insert(v);
  }

  void run() {
    peersMatchingNothing();
    policiesSelectingNothing();
    unknownLabelKeys();
  }

 private:
  Context& ctx_;
  const inventory::Inventory& inv_;
  std::set<std::string> namespaces_;
  std::map<std::string, std::set<std::string>> podValues_, nsValues_, nodeValues_;

  static std::vector<std::string> keysOf(const std::map<std::string, std::set<std::string>>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }

  // Why nothing matches, as a hint: an unknown namespace, or a label value
  // no endpoint has (with the closest one that exists).
  std::string whyNothing(const labels::ScopedSelector& sel) const {
    if (sel.scope == labels::NamespaceScope::Exact && !namespaces_.count(sel.ns)) {
      std::string guess = closestMatch(sel.ns, {namespaces_.begin(), namespaces_.end()});
      return "the inventory has no namespace '" + sel.ns + "'" + (guess.empty() ? "" : "; did you mean `" + guess + "`?");
    }
    for (const auto& r : sel.pods.requirements) {
      if (r.op != labels::Op::Equals && r.op != labels::Op::In) continue;
      auto it = podValues_.find(r.key);
      if (it == podValues_.end()) return "no endpoint has label key '" + r.key + "'";
      for (const auto& v : r.values) {
        if (it->second.count(v)) continue;
        std::string guess = closestMatch(v, {it->second.begin(), it->second.end()});
        return "no endpoint has " + r.key + " = " + v + (guess.empty() ? "" : "; did you mean `" + guess + "`?");
      }
    }
    return "no endpoint matches all of its requirements";
  }

  void peersMatchingNothing() {
    if (!ctx_.enabled("MB103")) return;
    std::set<std::pair<SourceLoc, std::string>> reported;
    for (const auto& pol : ctx_.checked().policies) {
      for (const auto& rule : pol.rules) {
        for (const auto& spec : rule.peers) {
          if (spec.kind != sema::PeerSpec::Kind::Pods) continue;
          auto sel = scopedOf(spec);
          bool any = std::any_of(inv_.endpoints.begin(), inv_.endpoints.end(), [&](const inventory::Endpoint& ep) {
            return sel.matches(ep.ns, ep.labels, inv_.namespaceLabels(ep.ns));
          });
          if (any) continue;
          std::string text = sel.str();
          if (!reported.insert({spec.range.begin, text}).second) continue;
          SourceRange anchor = within(spec.range, rule.range) ? rule.range : spec.range;
          ctx_.report("MB103", spec.range, anchor, "peer `" + text + "` matches no endpoint of the inventory",
                      whyNothing(sel));
        }
      }
    }
  }

  void policiesSelectingNothing() {
    if (!ctx_.enabled("MB104")) return;
    for (const auto& file : ctx_.ast().files) {
      for (const auto& p : file.policies) {
        if (!p.selects) continue;
        auto it = std::find_if(ctx_.checked().policies.begin(), ctx_.checked().policies.end(),
                               [&](const sema::CheckedPolicy& c) { return c.range.begin == p.range.begin; });
        if (it == ctx_.checked().policies.end()) continue;
        const auto& pol = *it;
        size_t inNamespace = 0;
        bool any = false;
        for (const auto& ep : inv_.endpoints) {
          if (!pol.clusterwide && ep.ns != pol.ns) continue;
          ++inNamespace;
          if (pol.selects.matches(ep.labels)) any = true;
        }
        if (any) continue;
        std::string hint;
        if (inNamespace == 0) {
          std::string guess = closestMatch(pol.ns, {namespaces_.begin(), namespaces_.end()});
          hint = "the inventory has no endpoint in namespace '" + pol.ns + "'" +
                 (guess.empty() ? "" : "; did you mean `" + guess + "`?");
        } else {
          labels::ScopedSelector sel;
          sel.pods = pol.selects;
          sel.scope = labels::NamespaceScope::Any;
          hint = whyNothing(sel);
        }
        std::string where = pol.clusterwide ? "in any namespace" : "in namespace " + pol.ns;
        ctx_.report("MB104", p.selects->range, p.range,
                    "policy '" + pol.key() + "' selects no endpoint of the inventory (" + where + ")", hint);
      }
    }
  }

  // ---- MB105 ----

  enum Position { kPods = 1, kNamespaces = 2, kNodes = 4 };
  std::map<std::string, int> defPositions_;  // selector definition -> where it is used

  void noteUse(const ast::SelectorRef& s, int pos) {
    if (s.ref) defPositions_[s.ref->text] |= pos;
  }
  void noteUses(const ast::Peer& p) {
    if (auto* pods = std::get_if<ast::PodsPeer>(&p.value)) {
      noteUse(pods->pods, kPods);
      if (pods->ns && pods->ns->kind == ast::NamespaceRef::Kind::BySelector) noteUse(pods->ns->selector, kNamespaces);
    } else if (auto* ns = std::get_if<ast::NamespaceRef>(&p.value)) {
      if (ns->kind == ast::NamespaceRef::Kind::BySelector) noteUse(ns->selector, kNamespaces);
    } else if (auto* svc = std::get_if<ast::ServicePeer>(&p.value)) {
      if (svc->in && svc->in->kind == ast::NamespaceRef::Kind::BySelector) noteUse(svc->in->selector, kNamespaces);
    } else if (auto* nodes = std::get_if<ast::NodesPeer>(&p.value)) {
      noteUse(nodes->nodes, kNodes);
    }
  }

  void checkSelector(const ast::SelectorRef& s, int pos, SourceRange anchor) {
    if (s.ref) return;  // checked at the definition
    for (const auto& lr : s.requirements) {
      std::string key = stripSource(lr.req.key);
      bool known = ((pos & kPods) && podValues_.count(key)) || ((pos & kNamespaces) && nsValues_.count(key)) ||
                   ((pos & kNodes) && nodeValues_.count(key));
      if (known) continue;
      // A selector used only for nodes, where the inventory lists none: no
      // node labels to hold it to.
      if (pos == kNodes && inv_.nodes.empty()) continue;
      std::vector<std::string> candidates;
      for (auto [bit, values] : {std::pair{kPods, &podValues_}, std::pair{kNamespaces, &nsValues_},
                                 std::pair{kNodes, &nodeValues_}})
        if (pos & bit) {
          auto more = keysOf(*values);
          candidates.insert(candidates.end(), more.begin(), more.end());
        }
      std::string guess = closestMatch(key, candidates);
      if (!isPositive(lr.req.op) && guess.empty()) continue;
      std::vector<std::string> kinds;
      if (pos & kPods) kinds.push_back("endpoint");
      if (pos & kNamespaces) kinds.push_back("namespace");
      if (pos & kNodes) kinds.push_back("node");
      std::string what = "no ";
      for (size_t i = 0; i < kinds.size(); ++i)
        what += (i == 0 ? "" : i + 1 == kinds.size() ? " or " : ", ") + kinds[i];
      what += " of the inventory has label key '";
      ctx_.report("MB105", lr.range, anchor, what + key + "'",
                  guess.empty() ? (pos == kNamespaces ? "namespace selectors look at namespace labels"
                                   : pos == kNodes    ? "node selectors look at the labels of the inventory's nodes"
                                                      : "pod selectors look at endpoint labels, not namespace labels")
                                : "did you mean `" + guess + "`?");
    }
  }

  void checkPeer(const ast::Peer& p, SourceRange anchor) {
    if (auto* pods = std::get_if<ast::PodsPeer>(&p.value)) {
      checkSelector(pods->pods, kPods, anchor);
      if (pods->ns && pods->ns->kind == ast::NamespaceRef::Kind::BySelector)
        checkSelector(pods->ns->selector, kNamespaces, anchor);
    } else if (auto* ns = std::get_if<ast::NamespaceRef>(&p.value)) {
      if (ns->kind == ast::NamespaceRef::Kind::BySelector) checkSelector(ns->selector, kNamespaces, anchor);
    } else if (auto* svc = std::get_if<ast::ServicePeer>(&p.value)) {
      if (svc->in && svc->in->kind == ast::NamespaceRef::Kind::BySelector)
        checkSelector(svc->in->selector, kNamespaces, anchor);
    } else if (auto* nodes = std::get_if<ast::NodesPeer>(&p.value)) {
      checkSelector(nodes->nodes, kNodes, anchor);
    }
  }

  void unknownLabelKeys() {
    if (!ctx_.enabled("MB105")) return;
    for (const auto& file : ctx_.ast().files) {
      for (const auto& d : file.peers)
        for (const auto& p : d.peers) noteUses(p);
      for (const auto& p : file.policies) {
        if (p.selects) noteUse(*p.selects, kPods);
        if (p.selectsIn && p.selectsIn->kind == ast::NamespaceRef::Kind::BySelector)
          noteUse(p.selectsIn->selector, kNamespaces);
        for (const auto& s : p.sections)
          for (const auto& r : s.rules)
            for (const auto& peer : r.peers) noteUses(peer);
      }
    }
    for (const auto& file : ctx_.ast().files) {
      for (const auto& d : file.selectors) {
        int pos = defPositions_.count(d.name.text) ? defPositions_[d.name.text]
                                                   : kPods | kNamespaces | (inv_.nodes.empty() ? 0 : kNodes);
        checkSelector(d.body, pos, d.range);
      }
      for (const auto& d : file.peers)
        for (const auto& p : d.peers) checkPeer(p, d.range);
      for (const auto& p : file.policies) {
        if (p.selects) checkSelector(*p.selects, kPods, p.range);
        if (p.selectsIn && p.selectsIn->kind == ast::NamespaceRef::Kind::BySelector)
          checkSelector(p.selectsIn->selector, kNamespaces, p.range);
        for (const auto& s : p.sections)
          for (const auto& r : s.rules)
            for (const auto& peer : r.peers) checkPeer(peer, r.range);
      }
    }
  }
};

}  // namespace

void checkInventory(Context& ctx) {
  if (!ctx.inventoryGiven()) return;
  InventoryChecks(ctx).run();
}

}  // namespace membrane::lint
