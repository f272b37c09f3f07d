#include "analysis/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "evaluator/evaluator.h"

namespace membrane::analysis {

namespace {

using Causes = std::set<Cause>;

const ir::EndpointClass* classOf(const ir::Program& p, const ir::Endpoint* e) {
  if (!e || !e->classIndex) return nullptr;
  return &p.classes.at(*e->classIndex);
}

// The class of the same endpoint (by key) in another program.
const ir::EndpointClass* classInOther(const ir::Program& other, const ir::Endpoint* e) {
  if (!e) return nullptr;
  return classOf(other, other.findEndpoint(e->ns, e->name));
}

// A rule of `program` (by id) as the cause on one side.
Cause ruleCause(const ir::Program& program, uint32_t rule, ir::Direction dir, const std::string& subject) {
  Cause c;
  c.direction = dir;
  c.subject = subject;
  c.kind = Cause::Kind::Rule;
  auto it = program.rules.find(rule);
  if (it != program.rules.end()) {
    c.action = it->second.action;
    c.policy = it->second.policy;
    c.text = it->second.text;
    c.location = it->second.location;
  }
  return c;
}

Cause causeOf(const ir::Program& program, const ir::Program& other, const ir::Verdict& v, ir::Direction dir,
              const std::string& subject, const ir::Endpoint* endpoint) {
  if (v.reason == ir::Reason::AllowedByRule || v.reason == ir::Reason::DeniedByRule)
    return ruleCause(program, v.rule, dir, subject);
  Cause c;
  c.direction = dir;
  c.subject = subject;
  c.kind = v.reason == ir::Reason::DefaultDeny ? Cause::Kind::DefaultDeny : Cause::Kind::Open;
  if (const auto* cls = classOf(program, endpoint)) {
    c.policies = cls->policies;
    const auto* before = classInOther(other, endpoint);
    for (const auto& p : cls->policies)
      if (!before || !std::binary_search(before->policies.begin(), before->policies.end(), p))
        c.newlySelecting.push_back(p);
  }
  return c;
}

// The causes of one version's verdicts on one probed interval of a pair:
// every side (`denyingOnly`: only the sides that deny), over every probe.
Causes causesOf(const ReachEvaluator& eval, const ir::Program& program, const ir::Program& other,
                const std::vector<ReachPeer>& peers, size_t s, size_t d, size_t atom, bool denyingOnly) {
  Causes out;
  for (const auto& probe : eval.probes(s, d, atom)) {
    if (probe.verdict.egress && !(denyingOnly && probe.verdict.egress->allowed))
      out.insert(causeOf(program, other, *probe.verdict.egress, ir::Direction::Egress, peers[s].name, probe.src));
    if (probe.verdict.ingress && !(denyingOnly && probe.verdict.ingress->allowed))
      out.insert(causeOf(program, other, *probe.verdict.ingress, ir::Direction::Ingress, peers[d].name, probe.dst));
  }
  return out;
}

// How one version decides the requests of a probed interval of a pair, as
// `reach` lists them; nullopt when it does not read them.
std::optional<HttpRequests> requestsOf(const ReachEvaluator& eval, size_t s, size_t d, size_t atom) {
  auto items = eval.httpItems(s, d, atom);
  if (!items) return std::nullopt;
  return HttpRequests{std::move(items->first), std::move(items->second)};
}

// The sides (by direction) on which `rules` read requests.
std::set<ir::Direction> readingSides(const std::optional<std::vector<ReachEvaluator::HttpRule>>& rules) {
  std::set<ir::Direction> out;
  if (rules)
    for (const auto& r : *rules) out.insert(r.direction);
  return out;
}

// The causes of one version's request decision on one probed interval of a
// pair, on the `sides` that read requests in either version: where this
// version reads them, the rules that decide them (`rules`, from
// ReachEvaluator::httpRules); where it does not, what allows the connection
// on that side (every request then passes unread).
Causes requestCausesOf(const ReachEvaluator& eval, const ir::Program& program, const ir::Program& other,
                       const std::vector<ReachPeer>& peers, size_t s, size_t d, size_t atom,
                       const std::optional<std::vector<ReachEvaluator::HttpRule>>& rules,
                       const std::set<ir::Direction>& sides) {
  Causes out;
  std::set<ir::Direction> reading = readingSides(rules);
  auto subjectOf = [&](ir::Direction dir) { return dir == ir::Direction::Egress ? peers[s].name : peers[d].name; };
  if (rules)
    for (const auto& r : *rules)
      if (sides.count(r.direction)) out.insert(ruleCause(program, r.rule->id, r.direction, subjectOf(r.direction)));
  for (ir::Direction dir : sides) {
    if (reading.count(dir)) continue;
    for (const auto& probe : eval.probes(s, d, atom)) {
      const auto& v = dir == ir::Direction::Egress ? probe.verdict.egress : probe.verdict.ingress;
      if (v && v->allowed)
        out.insert(causeOf(program, other, *v, dir, subjectOf(dir),
                           dir == ir::Direction::Egress ? probe.src : probe.dst));
    }
  }
  return out;
}

// The causes of one version's executables on one probed interval of a
// pair: where it restricts them, its process rules (the source's egress)
// and the `processes` clauses of the source's class;
// where it does not, what allows the connection on the source's egress.
Causes executableCausesOf(const ReachEvaluator& eval, const ir::Program& program, const ir::Program& other,
                          const std::vector<ReachPeer>& peers, size_t s, size_t d, size_t atom) {
  Causes out;
  if (auto rules = eval.processRules(s, d, atom)) {
    for (const auto* r : *rules) out.insert(ruleCause(program, r->id, ir::Direction::Egress, peers[s].name));
    // The `processes` clauses that restrict the source's rules
    // (docs/process.md): the executables are theirs as much as the rules'.
    for (const auto& probe : eval.probes(s, d, atom))
      if (const auto* cls = classOf(program, probe.src))
        for (const auto& clause : cls->egress.processClauses)
          out.insert(ruleCause(program, clause.rule, ir::Direction::Egress, peers[s].name));
    return out;
  }
  for (const auto& probe : eval.probes(s, d, atom))
    if (probe.verdict.egress && probe.verdict.egress->allowed)
      out.insert(causeOf(program, other, *probe.verdict.egress, ir::Direction::Egress, peers[s].name, probe.src));
  return out;
}

// The next address after `a` (wrapping is never asked for: a range that ends
// the space has no successor range).
net::Address successor(net::Address a) {
  size_t n = a.family == net::Family::V4 ? 4 : 16;
  for (size_t i = n; i-- > 0;) {
    if (++a.bytes[i] != 0) break;
  }
  return a;
}

// A change under construction, with the peer indices of its ends so that
// adjacent external ranges can be merged.
struct Row {
  size_t src = 0, dst = 0;
  net::Address srcFirst, srcLast, dstFirst, dstLast;  // for external ends
  Conns conns;
  Causes before, after;
  std::optional<HttpRequests> requestsBefore, requestsAfter;  // request changes only
  std::optional<std::vector<std::string>> executablesBefore, executablesAfter;  // executable changes only
};

bool isExternal(const std::vector<ReachPeer>& peers, size_t i) { return peers[i].kind == ReachPeer::Kind::External; }

// Rows that differ only in one external end, whose ranges touch, become one
// row over the joined range: "api → 198.19.0.0-198.19.65.255" and
// "api → 198.19.66.0-198.19.66.255" with the same change and causes read as
// one change to 198.19.0.0-198.19.66.255.
std::vector<Row> mergeRanges(std::vector<Row> rows, const std::vector<ReachPeer>& peers) {
  std::vector<Row> out;
  for (auto& r : rows) {
    bool merged = false;
    for (auto& o : out) {
      if (o.conns != r.conns || o.before != r.before || o.after != r.after || o.requestsBefore != r.requestsBefore ||
          o.requestsAfter != r.requestsAfter || o.executablesBefore != r.executablesBefore ||
          o.executablesAfter != r.executablesAfter)
        continue;
      if (o.src == r.src && isExternal(peers, r.dst) && isExternal(peers, o.dst) &&
          o.dstLast.family == r.dstFirst.family && successor(o.dstLast) == r.dstFirst) {
        o.dstLast = r.dstLast;
        merged = true;
      } else if (o.dst == r.dst && isExternal(peers, r.src) && isExternal(peers, o.src) &&
                 o.srcLast.family == r.srcFirst.family && successor(o.srcLast) == r.srcFirst) {
        o.srcLast = r.srcLast;
        merged = true;
      }
      if (merged) break;
    }
    if (!merged) out.push_back(std::move(r));
  }
  return out;
}

std::string endName(const std::vector<ReachPeer>& peers, size_t i, const net::Address& first,
                    const net::Address& last) {
  if (!isExternal(peers, i)) return peers[i].name;
  return first.str() + "-" + last.str();
}

std::vector<FlowChange> toChanges(const std::vector<Row>& rows, const std::vector<ReachPeer>& peers) {
  std::vector<FlowChange> out;
  for (const auto& r : rows) {
    FlowChange f;
    f.src = endName(peers, r.src, r.srcFirst, r.srcLast);
    f.dst = endName(peers, r.dst, r.dstFirst, r.dstLast);
    f.conns = r.conns;
    f.requestsBefore = r.requestsBefore;
    f.requestsAfter = r.requestsAfter;
    f.executablesBefore = r.executablesBefore;
    f.executablesAfter = r.executablesAfter;
    f.before.assign(r.before.begin(), r.before.end());
    f.after.assign(r.after.begin(), r.after.end());
    // The source's egress before the destination's ingress, as a packet goes.
    auto egressFirst = [](const Cause& a, const Cause& b) {
      return a.direction == ir::Direction::Egress && b.direction == ir::Direction::Ingress;
    };
    std::stable_sort(f.before.begin(), f.before.end(), egressFirst);
    std::stable_sort(f.after.begin(), f.after.end(), egressFirst);
    out.push_back(std::move(f));
  }
  return out;
}

PolicyChanges policyChanges(const PolicyVersion& before, const PolicyVersion& after) {
  PolicyChanges pc;
  std::set<std::string> a(before.policyKeys.begin(), before.policyKeys.end());
  std::set<std::string> b(after.policyKeys.begin(), after.policyKeys.end());
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(pc.policiesAdded));
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(pc.policiesRemoved));

  using RuleKey = std::tuple<std::string, ir::Direction, ir::Action, bool, std::string>;
  auto rulesOf = [](const ir::Program& p) {
    std::multiset<RuleKey> keys;
    for (const auto& [id, r] : p.rules) keys.insert({r.policy, r.direction, r.action, r.audit, r.text});
    return keys;
  };
  auto ra = rulesOf(*before.program);
  auto rb = rulesOf(*after.program);
  std::vector<RuleKey> diff;
  std::set_difference(rb.begin(), rb.end(), ra.begin(), ra.end(), std::back_inserter(diff));
  pc.rulesAdded = diff.size();
  diff.clear();
  std::set_difference(ra.begin(), ra.end(), rb.begin(), rb.end(), std::back_inserter(diff));
  pc.rulesRemoved = diff.size();
  // A tier's order decides, so a policy moved between tiers or priorities
  // changes verdicts with no rule changed.
  auto tierText = [](const ir::PolicyInfo& p) {
    return p.tier == ir::Tier::Admin ? "admin priority " + std::to_string(p.priority)
                                     : std::string(artifacts::tierName(p.tier)) + " tier";
  };
  std::map<std::string, const ir::PolicyInfo*> was;
  for (const auto& pa : before.program->policies) was.emplace(pa.key, &pa);
  for (const auto& pb : after.program->policies)
    if (auto it = was.find(pb.key); it != was.end() && (it->second->tier != pb.tier || it->second->priority != pb.priority))
      pc.tiersChanged.push_back(pb.key + ": " + tierText(*it->second) + " -> " + tierText(pb));
  return pc;
}

}  // namespace

namespace {
// The executables of `a` not in `b`; a version that lets every executable
// (nullopt) lists none.
std::vector<std::string> listedOnlyIn(const std::optional<std::vector<std::string>>& a,
                                      const std::optional<std::vector<std::string>>& b) {
  std::vector<std::string> out;
  if (!a) return out;
  for (const auto& e : *a)
    if (!b || !std::binary_search(b->begin(), b->end(), e)) out.push_back(e);
  return out;
}
}  // namespace

std::vector<std::string> FlowChange::executablesAdded() const {
  return listedOnlyIn(executablesAfter, executablesBefore);
}
std::vector<std::string> FlowChange::executablesRemoved() const {
  return listedOnlyIn(executablesBefore, executablesAfter);
}

ReachDiff diffReach(const PolicyVersion& before, const PolicyVersion& after, const ReachOptions& options) {
  const ir::Program& oldIr = *before.program;
  const ir::Program& newIr = *after.program;
  ReachSpace space({&oldIr, &newIr}, options);
  ReachEvaluator oldEval(oldIr, space);
  ReachEvaluator newEval(newIr, space);
  const auto& peers = space.peers();

  std::vector<Row> added, removed, requestsChanged, executablesChanged;
  for (size_t s = 0; s < peers.size(); ++s) {
    for (size_t d = 0; d < peers.size(); ++d) {
      if (!oldEval.isFlow(s, d)) continue;  // the same for both: it depends on the peers only
      std::vector<bool> was = oldEval.allowed(s, d);
      std::vector<bool> is = newEval.allowed(s, d);
      auto row = [&](const std::vector<bool>& atoms) {
        Row r;
        r.src = s;
        r.dst = d;
        r.srcFirst = peers[s].first;
        r.srcLast = peers[s].last;
        r.dstFirst = peers[d].first;
        r.dstLast = peers[d].last;
        r.conns = space.conns(atoms);
        return r;
      };
      // Intervals allowed in both whose requests are decided differently,
      // grouped by the requests and the causes in both versions.
      using RequestKey = std::tuple<std::optional<HttpRequests>, std::optional<HttpRequests>, Causes, Causes>;
      std::map<RequestKey, std::vector<bool>> requestGroups;
      std::vector<RequestKey> requestOrder;  // first-seen order
      for (size_t atom = 0; atom < was.size(); ++atom) {
        if (!was[atom] || !is[atom]) continue;
        auto oldRequests = requestsOf(oldEval, s, d, atom);
        auto newRequests = requestsOf(newEval, s, d, atom);
        if (oldRequests == newRequests) continue;
        auto oldRules = oldEval.httpRules(s, d, atom);
        auto newRules = newEval.httpRules(s, d, atom);
        std::set<ir::Direction> sides = readingSides(oldRules);
        sides.merge(readingSides(newRules));
        RequestKey key{std::move(oldRequests), std::move(newRequests),
                       requestCausesOf(oldEval, oldIr, newIr, peers, s, d, atom, oldRules, sides),
                       requestCausesOf(newEval, newIr, oldIr, peers, s, d, atom, newRules, sides)};
        auto [it, fresh] = requestGroups.try_emplace(key, std::vector<bool>(was.size(), false));
        if (fresh) requestOrder.push_back(key);
        it->second[atom] = true;
      }
      for (const auto& key : requestOrder) {
        Row r = row(requestGroups.at(key));
        r.requestsBefore = std::get<0>(key);
        r.requestsAfter = std::get<1>(key);
        r.before = std::get<2>(key);
        r.after = std::get<3>(key);
        requestsChanged.push_back(std::move(r));
      }
      // Intervals allowed in both whose executables differ, grouped by the
      // executables and the causes in both versions.
      using Executables = std::optional<std::vector<std::string>>;
      using ExecutableKey = std::tuple<Executables, Executables, Causes, Causes>;
      std::map<ExecutableKey, std::vector<bool>> executableGroups;
      std::vector<ExecutableKey> executableOrder;  // first-seen order
      for (size_t atom = 0; atom < was.size(); ++atom) {
        if (!was[atom] || !is[atom]) continue;
        auto oldExecutables = oldEval.processExecutables(s, d, atom);
        auto newExecutables = newEval.processExecutables(s, d, atom);
        if (oldExecutables == newExecutables) continue;
        ExecutableKey key{std::move(oldExecutables), std::move(newExecutables),
                          executableCausesOf(oldEval, oldIr, newIr, peers, s, d, atom),
                          executableCausesOf(newEval, newIr, oldIr, peers, s, d, atom)};
        auto [it, fresh] = executableGroups.try_emplace(key, std::vector<bool>(was.size(), false));
        if (fresh) executableOrder.push_back(key);
        it->second[atom] = true;
      }
      for (const auto& key : executableOrder) {
        Row r = row(executableGroups.at(key));
        r.executablesBefore = std::get<0>(key);
        r.executablesAfter = std::get<1>(key);
        r.before = std::get<2>(key);
        r.after = std::get<3>(key);
        executablesChanged.push_back(std::move(r));
      }
      if (was == is) continue;
      // Changed intervals, grouped by their causes in both versions.
      std::map<std::pair<Causes, Causes>, std::vector<bool>> addedGroups, removedGroups;
      std::vector<std::pair<Causes, Causes>> addedOrder, removedOrder;  // first-seen order
      for (size_t atom = 0; atom < was.size(); ++atom) {
        if (was[atom] == is[atom]) continue;
        bool isAdded = is[atom];
        std::pair<Causes, Causes> key{causesOf(oldEval, oldIr, newIr, peers, s, d, atom, isAdded),
                                      causesOf(newEval, newIr, oldIr, peers, s, d, atom, !isAdded)};
        auto& groups = isAdded ? addedGroups : removedGroups;
        auto& order = isAdded ? addedOrder : removedOrder;
        auto [it, fresh] = groups.try_emplace(key, std::vector<bool>(was.size(), false));
        if (fresh) order.push_back(key);
        it->second[atom] = true;
      }
      for (bool isAdded : {true, false}) {
        auto& groups = isAdded ? addedGroups : removedGroups;
        for (const auto& key : isAdded ? addedOrder : removedOrder) {
          Row r = row(groups.at(key));
          r.before = key.first;
          r.after = key.second;
          (isAdded ? added : removed).push_back(std::move(r));
        }
      }
    }
  }
  ReachDiff out;
  out.added = toChanges(mergeRanges(std::move(added), peers), peers);
  out.removed = toChanges(mergeRanges(std::move(removed), peers), peers);
  out.requestsChanged = toChanges(mergeRanges(std::move(requestsChanged), peers), peers);
  out.executablesChanged = toChanges(mergeRanges(std::move(executablesChanged), peers), peers);
  out.policies = policyChanges(before, after);
  return out;
}

// ---- renderers ---------------------------------------------------------------------

namespace {

std::string count(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string summaryLine(const ReachDiff& d) {
  if (!d.changed()) return "no connectivity change";
  std::string s =
      count(d.added.size(), "flow", "flows") + " added, " + count(d.removed.size(), "flow", "flows") + " removed";
  if (!d.requestsChanged.empty())
    s += ", " + count(d.requestsChanged.size(), "flow", "flows") + " with HTTP requests changed";
  if (!d.executablesChanged.empty())
    s += ", " + count(d.executablesChanged.size(), "flow", "flows") + " with executables changed";
  return s;
}

// The executables that may open a connection in one version, in words.
std::string executablesText(const std::optional<std::vector<std::string>>& e) {
  if (!e) return "every executable (no process rule)";
  return joined(*e);
}

// The requests of a connection in one version, in words.
std::string requestsText(const std::optional<HttpRequests>& r) {
  if (!r) return "every request (not read)";
  return httpItemsText(r->allowed, r->denied);
}

// `s` as Markdown code, a `|` escaped so that it stays in its table cell.
std::string mdCode(const std::string& s) {
  std::string e;
  for (char ch : s) e += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return "`" + e + "`";
}

// The requests of a connection in one version, for a Markdown table cell.
std::string requestsMarkdown(const std::optional<HttpRequests>& r) {
  if (!r) return "every request (not read)";
  std::string s;
  for (const auto& item : r->allowed) s += (s.empty() ? "" : "<br>") + mdCode(item);
  if (r->allowed.empty()) s = "every request";
  for (const auto& item : r->denied) s += "<br>denied " + mdCode(item);
  return s;
}

// "1 policy added (shop/x), 3 rules added, 1 removed", or "" when nothing changed.
std::string policyLine(const PolicyChanges& pc) {
  std::vector<std::string> parts;
  if (!pc.policiesAdded.empty())
    parts.push_back(count(pc.policiesAdded.size(), "policy", "policies") + " added (" + joined(pc.policiesAdded) + ")");
  if (!pc.policiesRemoved.empty())
    parts.push_back(count(pc.policiesRemoved.size(), "policy", "policies") + " removed (" +
                    joined(pc.policiesRemoved) + ")");
  if (pc.rulesAdded || pc.rulesRemoved)
    parts.push_back(count(pc.rulesAdded, "rule", "rules") + " added, " + std::to_string(pc.rulesRemoved) + " removed");
  if (!pc.tiersChanged.empty()) parts.push_back("moved: " + joined(pc.tiersChanged));
  return joined(parts, "; ");
}

const char* sideName(ir::Direction d) { return d == ir::Direction::Egress ? "egress" : "ingress"; }

std::string selectionText(const Cause& c) {
  if (c.policies.empty()) return "no policy selects it";
  std::string s = "selected by " + joined(c.policies);
  if (!c.newlySelecting.empty() && c.newlySelecting.size() < c.policies.size())
    s += "; newly by " + joined(c.newlySelecting);
  else if (!c.newlySelecting.empty())
    s += ", all newly";
  return s;
}

// The cause without its side, e.g. "default deny (selected by shop/api)".
std::string causeBody(const Cause& c, bool markdown) {
  auto code = [&](const std::string& s) { return markdown ? mdCode(s) : "`" + s + "`"; };
  switch (c.kind) {
    case Cause::Kind::Rule:
      return code(c.text) + " (" + c.policy + ", " + c.location + ")";
    case Cause::Kind::DefaultDeny:
      if (!c.newlySelecting.empty() && c.newlySelecting.size() == c.policies.size())
        return "default deny: newly selected by " + joined(c.newlySelecting);
      return "default deny (" + selectionText(c) + ")";
    case Cause::Kind::Open:
      if (c.policies.empty()) return "open: no policy selects it";
      return "open: no " + std::string(sideName(c.direction)) + " section in " + joined(c.policies);
  }
  return "";
}

}  // namespace

std::string describeCause(const Cause& c) {
  return std::string(sideName(c.direction)) + " of " + c.subject + ": " + causeBody(c, false);
}

std::string renderDiffText(const ReachDiff& d) {
  std::string out = summaryLine(d);
  std::string pl = policyLine(d.policies);
  if (!pl.empty()) out += "; policies: " + pl;
  out += "\n";
  auto section = [&](const std::vector<FlowChange>& changes, const char* sign, const char* beforeLabel,
                     const char* afterLabel) {
    for (const auto& f : changes) {
      out += std::string("\n") + sign + " " + f.src + " -> " + f.dst + ": " + f.conns.str() + "\n";
      for (const auto& c : f.after) out += std::string("    ") + afterLabel + " " + describeCause(c) + "\n";
      for (const auto& c : f.before) out += std::string("    ") + beforeLabel + " " + describeCause(c) + "\n";
    }
  };
  section(d.added, "+", "was denied:", "now allowed:");
  section(d.removed, "-", "was allowed:", "now denied:");
  for (const auto& f : d.requestsChanged) {
    out += "\n~ " + f.src + " -> " + f.dst + ": " + f.conns.str() + " HTTP requests changed\n";
    out += "    requests now: " + requestsText(f.requestsAfter) + "\n";
    out += "    requests were: " + requestsText(f.requestsBefore) + "\n";
    for (const auto& c : f.after) out += "    now decided by: " + describeCause(c) + "\n";
    for (const auto& c : f.before) out += "    was decided by: " + describeCause(c) + "\n";
  }
  for (const auto& f : d.executablesChanged) {
    out += "\n~ " + f.src + " -> " + f.dst + ": " + f.conns.str() + " executables changed\n";
    out += "    executables now: " + executablesText(f.executablesAfter) + "\n";
    out += "    executables were: " + executablesText(f.executablesBefore) + "\n";
    if (auto added = f.executablesAdded(); !added.empty()) out += "    executables added: " + joined(added) + "\n";
    if (auto removed = f.executablesRemoved(); !removed.empty())
      out += "    executables removed: " + joined(removed) + "\n";
    for (const auto& c : f.after) out += "    now decided by: " + describeCause(c) + "\n";
    for (const auto& c : f.before) out += "    was decided by: " + describeCause(c) + "\n";
  }
  return out;
}

std::string renderDiffMarkdown(const ReachDiff& d) {
  // The marker lets a CI job find and update its own comment.
  std::string out = "<!-- membranec diff -->\n";
  std::string pl = policyLine(d.policies);
  if (!d.changed()) {
    out += "**Policy review:** No connectivity change for this inventory.";
    if (!pl.empty()) out += " Policies changed (" + pl + "), no flow changed.";
    return out + "\n";
  }
  out += "**Policy review:** " + summaryLine(d) + ".";
  if (!pl.empty()) out += " Policies: " + pl + ".";
  out += "\n";
  constexpr size_t kFoldAbove = 10;  // rows; longer tables are collapsed
  auto causes = [](const std::vector<Cause>& cs) {
    std::string s;
    for (const auto& c : cs)
      s += (s.empty() ? "" : "<br>") + std::string(sideName(c.direction)) + " of `" + c.subject +
           "`: " + causeBody(c, true);
    return s.empty() ? std::string("—") : s;
  };
  // The executables of a connection in one version, for a table cell.
  auto executablesMarkdown = [](const std::optional<std::vector<std::string>>& e) {
    if (!e) return std::string("every executable");
    std::string s;
    for (const auto& x : *e) s += (s.empty() ? "" : "<br>") + mdCode(x);
    return s;
  };
  enum class Extra { None, Requests, Executables };
  // `extra`: the table of request (or executable) changes, with the
  // requests (executables) in both versions.
  auto table = [&](const std::vector<FlowChange>& changes, const std::string& title, const char* first,
                   const char* second, bool afterFirst, Extra extra = Extra::None) {
    if (changes.empty()) return;
    const bool twoMore = extra != Extra::None;
    std::string t = "| Source | Destination | Connections | " +
                    std::string(extra == Extra::Requests      ? "Requests now | Requests before | "
                                : extra == Extra::Executables ? "Executables now | Executables before | "
                                                              : "") +
                    first + " | " + second + " |\n| --- | --- | --- | --- | --- |" + (twoMore ? " --- | --- |" : "") +
                    "\n";
    for (const auto& f : changes) {
      std::string conns = f.conns.str();
      for (size_t i = 0; (i = conns.find("; ", i)) != std::string::npos;) conns.replace(i, 2, "<br>");
      t += "| `" + f.src + "` | `" + f.dst + "` | " + conns + " | ";
      if (extra == Extra::Requests)
        t += requestsMarkdown(f.requestsAfter) + " | " + requestsMarkdown(f.requestsBefore) + " | ";
      if (extra == Extra::Executables)
        t += executablesMarkdown(f.executablesAfter) + " | " + executablesMarkdown(f.executablesBefore) + " | ";
      t += causes(afterFirst ? f.after : f.before) + " | " + causes(afterFirst ? f.before : f.after) + " |\n";
    }
    std::string heading = title + " (" + std::to_string(changes.size()) + ")";
    if (changes.size() > kFoldAbove)
      out += "\n<details><summary>" + heading + "</summary>\n\n" + t + "\n</details>\n";
    else
      out += "\n#### " + heading + "\n\n" + t;
  };
  table(d.added, "Added flows", "Now allowed by", "Was denied by", true);
  table(d.removed, "Removed flows", "Now denied by", "Was allowed by", true);
  table(d.requestsChanged, "HTTP requests changed", "Now decided by", "Was decided by", true, Extra::Requests);
  table(d.executablesChanged, "Executables changed", "Now decided by", "Was decided by", true, Extra::Executables);
  return out;
}

std::string renderDiffJson(const ReachDiff& d) {
  using nlohmann::ordered_json;
  auto cause = [](const Cause& c) {
    ordered_json j{{"side", sideName(c.direction)}, {"subject", c.subject}};
    switch (c.kind) {
      case Cause::Kind::Rule:
        j["kind"] = "rule";
        j["action"] = ir::actionName(c.action);
        j["policy"] = c.policy;
        j["text"] = c.text;
        j["location"] = c.location;
        break;
      case Cause::Kind::DefaultDeny:
      case Cause::Kind::Open:
        j["kind"] = c.kind == Cause::Kind::DefaultDeny ? "default-deny" : "open";
        j["policies"] = c.policies;
        j["newlySelecting"] = c.newlySelecting;
        break;
    }
    return j;
  };
  // null when the requests are not read; otherwise reach's "http" keys.
  auto requests = [](const std::optional<HttpRequests>& r) -> ordered_json {
    if (!r) return nullptr;
    return ordered_json{{"requests", r->allowed}, {"deniedRequests", r->denied}};
  };
  auto executables = [](const std::optional<std::vector<std::string>>& e) -> ordered_json {
    if (!e) return nullptr;
    return *e;
  };
  enum class Extra { None, Requests, Executables };
  auto changes = [&](const std::vector<FlowChange>& fs, Extra extra) {
    ordered_json arr = ordered_json::array();
    for (const auto& f : fs) {
      ordered_json before = ordered_json::array(), after = ordered_json::array();
      for (const auto& c : f.before) before.push_back(cause(c));
      for (const auto& c : f.after) after.push_back(cause(c));
      ordered_json change{{"src", f.src}, {"dst", f.dst}, {"conns", connsToJson(f.conns)}};
      if (extra == Extra::Requests) {
        change["requestsBefore"] = requests(f.requestsBefore);
        change["requestsAfter"] = requests(f.requestsAfter);
      }
      if (extra == Extra::Executables) {
        change["executablesBefore"] = executables(f.executablesBefore);
        change["executablesAfter"] = executables(f.executablesAfter);
        change["executablesAdded"] = f.executablesAdded();
        change["executablesRemoved"] = f.executablesRemoved();
      }
      change["before"] = std::move(before);
      change["after"] = std::move(after);
      arr.push_back(std::move(change));
    }
    return arr;
  };
  ordered_json j{{"changed", d.changed()},
                 {"added", changes(d.added, Extra::None)},
                 {"removed", changes(d.removed, Extra::None)},
                 {"requestsChanged", changes(d.requestsChanged, Extra::Requests)},
                 {"executablesChanged", changes(d.executablesChanged, Extra::Executables)},
                 {"policies",
                  {{"added", d.policies.policiesAdded},
                   {"removed", d.policies.policiesRemoved},
                   {"rulesAdded", d.policies.rulesAdded},
                   {"rulesRemoved", d.policies.rulesRemoved},
                   {"tiersChanged", d.policies.tiersChanged}}}};
  return j.dump(2) + "\n";
}

std::string renderDiff(const ReachDiff& d, std::string_view format) {
  if (format == "text") return renderDiffText(d);
  if (format == "md") return renderDiffMarkdown(d);
  if (format == "json") return renderDiffJson(d);
  return "";
}

}  // namespace membrane::analysis
