// Checks on how policies are written, from the AST: MB108
// ineffective-except, MB109 overlapping-ports, MB110 unused-definition,
// MB111 audit-policy.
#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "analysis/address_space.h"
#include "ir/protocols.h"
#include "lint/check.h"

namespace membrane::lint {

namespace {

// ---- MB108 ----

void checkExcept(Context& ctx, const ast::CidrPeer& cidr, SourceRange anchor) {
  auto prefix = net::Prefix::parse(cidr.prefix);
  if (!prefix || cidr.except.empty()) return;
  std::vector<std::pair<net::Prefix, const ast::Name*>> excepts;
  for (const auto& e : cidr.except)
    if (auto p = net::Prefix::parse(e.text)) excepts.push_back({*p, &e});
  // An except inside an earlier one (or another wider one) removes nothing more.
  std::vector<bool> redundant(excepts.size(), false);
  for (size_t i = 0; i < excepts.size(); ++i) {
    for (size_t j = 0; j < excepts.size(); ++j) {
      if (i == j || redundant[j]) continue;
      const auto& [pi, ni] = excepts[i];
      const auto& [pj, nj] = excepts[j];
      bool inside = pj.contains(pi) && (pi != pj || j < i);
      if (!inside) continue;
      redundant[i] = true;
      ctx.report("MB108", ni->range, anchor,
                 "except " + pi.str() + " removes nothing: " +
                     (pi == pj ? std::string("it is listed twice") : "it lies inside except " + pj.str()),
                 "delete it");
      break;
    }
  }
  // Do the excepts together remove the whole prefix?
  std::vector<std::pair<analysis::U128, analysis::U128>> spans;
  for (const auto& [p, n] : excepts) spans.push_back({analysis::toU(p.first()), analysis::toU(p.last())});
  std::sort(spans.begin(), spans.end());
  analysis::U128 next = analysis::toU(prefix->first());
  analysis::U128 last = analysis::toU(prefix->last());
  bool covered = false;
  for (const auto& [lo, hi] : spans) {
    if (next < lo) break;
    if (hi >= last) {
      covered = true;
      break;
    }
    if (hi >= next) next = analysis::inc(hi);
  }
  if (covered)
    ctx.report("MB108", cidr.prefixRange, anchor,
               "the excepts of cidr " + prefix->str() + " remove all of it: this peer matches no address",
               "delete the peer, or the excepts that were not meant");
}

void checkExcepts(Context& ctx, const std::vector<ast::Peer>& peers, SourceRange anchor) {
  for (const auto& p : peers)
    if (auto* c = std::get_if<ast::CidrPeer>(&p.value)) checkExcept(ctx, *c, anchor);
}

// ---- MB109 ----

struct PortItem {
  uint8_t protocol = 0;  // 0: `any`
  bool whole = false;    // every port / type of the protocol
  ir::PortRange range;   // numeric
  std::optional<std::string> name;  // a named port (TCP/UDP/SCTP)
  SourceRange at;
  int origin = -1;  // index of the `ports` reference it came through; -1 inline
};

class PortFlattener {
 public:
  explicit PortFlattener(const ast::Program& program) {
    for (const auto& f : program.files)
      for (const auto& d : f.ports) defs_[d.name.text] = &d;
  }

  std::vector<PortItem> flatten(const std::vector<ast::L4Item>& items) const {
    std::vector<PortItem> out;
    int refs = 0;
    for (const auto& item : items) add(item, out, -1, {}, refs, 0);
    return out;
  }

 private:
  std::map<std::string, const ast::PortsDef*> defs_;

  void add(const ast::L4Item& item, std::vector<PortItem>& out, int origin, SourceRange at, int& refs,
           int depth) const {
    if (item.ref) {
      auto it = defs_.find(item.ref->text);
      if (it == defs_.end() || depth > 64) return;
      int o = origin >= 0 ? origin : refs++;
      SourceRange where = origin >= 0 ? at : item.ref->range;
      for (const auto& sub : it->second->items) add(sub, out, o, where, refs, depth + 1);
      return;
    }
    SourceRange where = origin >= 0 ? at : item.range;
    uint8_t proto = static_cast<uint8_t>(item.protocol);
    if (item.protocol == ast::Protocol::Any || item.ports.empty()) {
      out.push_back({proto, true, {}, std::nullopt, where, origin});
      return;
    }
    bool icmp = item.protocol == ast::Protocol::ICMP || item.protocol == ast::Protocol::ICMPv6;
    for (const auto& ps : item.ports) {
      PortItem pi{proto, false, {}, std::nullopt, origin >= 0 ? at : ps.range, origin};
      if (ps.name) {
        if (icmp) {
          auto t = ir::icmpTypeByName(item.protocol == ast::Protocol::ICMPv6, *ps.name);
          if (!t) continue;
          pi.range = {*t, *t};
        } else {
          pi.name = ps.name;
        }
      } else {
        pi.range = {static_cast<uint16_t>(ps.first), static_cast<uint16_t>(ps.last)};
      }
      out.push_back(std::move(pi));
    }
  }
};

std::string itemText(const PortItem& p) {
  if (p.protocol == 0) return "any";
  std::string proto = ir::protocolName(p.protocol);
  if (p.whole) return proto;
  if (p.name) return proto + "/" + *p.name;
  bool icmp = p.protocol == ir::kICMP || p.protocol == ir::kICMPv6;
  if (icmp) return proto + "/" + ir::icmpTypeName(p.protocol == ir::kICMPv6, static_cast<uint8_t>(p.range.first));
  return proto + "/" + (p.range.first == p.range.last ? std::to_string(p.range.first)
                                                       : std::to_string(p.range.first) + "-" + std::to_string(p.range.last));
}

void checkPortList(Context& ctx, const PortFlattener& flat, const std::vector<ast::L4Item>& items, SourceRange anchor,
                   const char* where) {
  auto list = flat.flatten(items);
  for (size_t b = 0; b < list.size(); ++b) {
    for (size_t a = 0; a < b; ++a) {
      const auto& x = list[a];
      const auto& y = list[b];
      if (x.origin >= 0 && x.origin == y.origin) continue;  // inside one definition: reported there
      std::string why;
      if (x.protocol == 0 || y.protocol == 0) {
        why = y.protocol == 0 ? "`any` makes " + itemText(x) + " before it redundant"
                              : itemText(y) + " is already matched by `any`";
      } else if (x.protocol == y.protocol) {
        if (x.whole || y.whole) {
          why = x.whole && y.whole ? itemText(y) + " is listed twice"
                : x.whole          ? itemText(y) + " is already matched by " + itemText(x)
                                   : itemText(y) + " already matches " + itemText(x);
        } else if (x.name || y.name) {
          if (x.name && y.name && *x.name == *y.name) why = itemText(y) + " is listed twice";
        } else if (x.range.first <= y.range.last && y.range.first <= x.range.last) {
          why = x.range == y.range ? itemText(y) + " is listed twice"
                                   : itemText(y) + " overlaps " + itemText(x);
        }
      }
      if (why.empty()) continue;
      ctx.report("MB109", y.at, anchor, why + " " + where, "merge the items into one list without overlaps");
      break;
    }
  }
}

// ---- MB110 ----

void selectorRefs(const ast::SelectorRef& s, std::set<std::string>& out) {
  if (s.ref) out.insert(s.ref->text);
}
void peerRefs(const ast::Peer& p, std::set<std::string>& out) {
  if (auto* pods = std::get_if<ast::PodsPeer>(&p.value)) {
    selectorRefs(pods->pods, out);
    if (pods->ns && pods->ns->kind == ast::NamespaceRef::Kind::BySelector) selectorRefs(pods->ns->selector, out);
  } else if (auto* ns = std::get_if<ast::NamespaceRef>(&p.value)) {
    if (ns->kind == ast::NamespaceRef::Kind::BySelector) selectorRefs(ns->selector, out);
  } else if (auto* svc = std::get_if<ast::ServicePeer>(&p.value)) {
    if (svc->in && svc->in->kind == ast::NamespaceRef::Kind::BySelector) selectorRefs(svc->in->selector, out);
  } else if (auto* nodes = std::get_if<ast::NodesPeer>(&p.value)) {
    selectorRefs(nodes->nodes, out);
  } else if (auto* ref = std::get_if<ast::Name>(&p.value)) {
    out.insert(ref->text);
  }
}
void l4Refs(const ast::L4Item& i, std::set<std::string>& out) {
  if (i.ref) out.insert(i.ref->text);
}

void checkUnused(Context& ctx) {
  struct Def {
    const char* kind;
    const ast::Name* name;
    SourceRange range;
    std::set<std::string> uses;
  };
  std::map<std::string, Def> defs;
  std::set<std::string> roots;
  for (const auto& f : ctx.ast().files) {
    for (const auto& d : f.selectors) {
      Def def{"selector", &d.name, d.range, {}};
      selectorRefs(d.body, def.uses);
      defs.emplace(d.name.text, std::move(def));
    }
    for (const auto& d : f.ports) {
      Def def{"ports", &d.name, d.range, {}};
      for (const auto& i : d.items) l4Refs(i, def.uses);
      defs.emplace(d.name.text, std::move(def));
    }
    for (const auto& d : f.peers) {
      Def def{"peers", &d.name, d.range, {}};
      for (const auto& p : d.peers) peerRefs(p, def.uses);
      defs.emplace(d.name.text, std::move(def));
    }
    for (const auto& p : f.policies) {
      if (p.selects) selectorRefs(*p.selects, roots);
      if (p.selectsIn && p.selectsIn->kind == ast::NamespaceRef::Kind::BySelector)
        selectorRefs(p.selectsIn->selector, roots);
      for (const auto& s : p.sections)
        for (const auto& r : s.rules) {
          for (const auto& peer : r.peers) peerRefs(peer, roots);
          for (const auto& i : r.l4) l4Refs(i, roots);
        }
    }
  }
  std::set<std::string> used;
  std::deque<std::string> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    std::string n = todo.front();
    todo.pop_front();
    if (!used.insert(n).second) continue;
    if (auto it = defs.find(n); it != defs.end()) todo.insert(todo.end(), it->second.uses.begin(), it->second.uses.end());
  }
  for (const auto& [name, def] : defs) {
    if (used.count(name)) continue;
    std::vector<std::string> users;
    for (const auto& [other, od] : defs)
      if (other != name && od.uses.count(name)) users.push_back(other);
    std::string message = std::string(def.kind) + " definition '" + name + "' is never used";
    if (!users.empty()) {
      std::string list;
      for (const auto& u : users) list += (list.empty() ? "'" : ", '") + u + "'";
      message = std::string(def.kind) + " definition '" + name + "' is only used by unused definition" +
                (users.size() == 1 ? " " : "s ") + list;
    }
    ctx.report("MB110", def.name->range, def.range, message,
               "definitions are global across the files linted together; delete it or use it");
  }
}

// ---- MB111 ----

void checkAudit(Context& ctx) {
  for (const auto& f : ctx.ast().files) {
    for (const auto& p : f.policies) {
      if (!p.mode || p.mode->text != "audit") continue;
      auto it = std::find_if(ctx.checked().policies.begin(), ctx.checked().policies.end(),
                             [&](const sema::CheckedPolicy& c) { return c.range.begin == p.range.begin; });
      std::string key = it != ctx.checked().policies.end() ? it->key() : p.name.text;
      ctx.report("MB111", p.mode->range, p.range,
                 "policy '" + key + "' is in audit mode: it reports connections it would deny but denies nothing",
                 "switch it to `mode enforce` once its reports are clean");
    }
  }
}

}  // namespace

void checkStructure(Context& ctx) {
  PortFlattener flat(ctx.ast());
  for (const auto& f : ctx.ast().files) {
    for (const auto& d : f.peers) checkExcepts(ctx, d.peers, d.range);
    for (const auto& d : f.ports) checkPortList(ctx, flat, d.items, d.range, "in this ports definition");
    for (const auto& p : f.policies)
      for (const auto& s : p.sections)
        for (const auto& r : s.rules) {
          checkExcepts(ctx, r.peers, r.range);
          checkPortList(ctx, flat, r.l4, r.range, "in this rule");
        }
  }
  checkUnused(ctx);
  checkAudit(ctx);
}

}  // namespace membrane::lint
