// MB101 redundant-rule, MB102 dead-allow, MB116 http-rule-restricts-
// nothing, MB118 process-rule-restricts-nothing and MB121 tier-rule-
// shadowed: coverage of one rule's connections by other rules, exact over
// the model in coverage.h. Ordinary rules follow "deny wins"; tier rules
// (docs/language.md, "Tiers") the first match in their tier's order, so
// the two are judged apart.
#include <algorithm>

#include "features/process/process.h"

#include "lint/check.h"
#include "lint/coverage.h"

namespace membrane::lint {

namespace {

struct RuleRef {
  const sema::CheckedPolicy* policy;
  const sema::CheckedRule* rule;
  TrafficSet traffic;
  std::vector<bool> concrete;  // which of PeerSpace::concrete it matches
};

// A process condition's executables, sorted; null without one.
const features::process::Checked* processOf(const RuleRef& r) {
  return r.rule->condition<features::process::Checked>();
}

// Whether every executable of `inner` is one of `outer`'s.
bool executablesCover(const features::process::Checked& outer, const features::process::Checked& inner) {
  return std::all_of(inner.executables.begin(), inner.executables.end(), [&](const auto& i) {
    return std::any_of(outer.executables.begin(), outer.executables.end(),
                       [&](const auto& o) { return o.path == i.path; });
  });
}

class Shadowing {
 public:
  explicit Shadowing(Context& ctx) : ctx_(ctx), space_(PeerSpace::build(ctx.checked(), ctx.inventory())) {
    for (const auto& pol : ctx.checked().policies) {
      for (const auto& rule : pol.rules) {
        // What a rule with name peers or a dns condition matches depends on
        // lookups made at run time, and a rule with an http condition
        // matches some requests of its connections only (an http deny never
        // denies a connection): it neither is judged nor covers others here
        // (MB115 and MB116 judge http rules).
        if (std::any_of(rule.peers.begin(), rule.peers.end(),
                        [](const sema::PeerSpec& s) { return s.kind == sema::PeerSpec::Kind::Dns; }) ||
            rule.condition<features::dns::Checked>())
          continue;
        RuleRef r{&pol, &rule, TrafficSet::of(rule), {}};
        r.concrete.reserve(space_.concrete.size());
        for (const auto& atom : space_.concrete) r.concrete.push_back(space_.matches(rule, atom));
        if (pol.tier != ir::Tier::Network) {
          tier_.push_back(std::move(r));
          continue;
        }
        // Allow rules with an http condition are judged by MB116 only (their
        // connections, which their L4 part and peers give).
        if (rule.condition<features::http::Checked>()) {
          if (rule.action == ir::Action::Allow) http_.push_back(std::move(r));
          continue;
        }
        rules_.push_back(std::move(r));
      }
    }
    // Latest in the source first, so of rules that cover each other the
    // last one written is the one reported.
    std::sort(rules_.begin(), rules_.end(), [](const RuleRef& a, const RuleRef& b) {
      return b.rule->range.begin < a.rule->range.begin;
    });
  }

  void run() {
    std::vector<bool> dead(rules_.size(), false);
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].rule->action != ir::Action::Allow) continue;
      auto cover = covering(i, ir::Action::Deny, {});
      if (!cover) continue;
      dead[i] = true;
      report("MB102", i, *cover,
             rules_[i].policy->audit
                 ? "this audit-mode allow rule is always overridden: every connection it matches is denied by a deny rule"
                 : "this allow rule never allows anything: every connection it matches is denied by a deny rule",
             "deny wins over allow wherever it is written; narrow the deny or delete this rule", "denied by this rule");
    }
    // Greedy: a rule found redundant is left out when judging the others,
    // so two identical rules do not make each other redundant.
    std::vector<bool> removed = dead;
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (dead[i]) continue;
      // MB118: a process allow whose connections plain allows already
      // allow, for every executable: its executables restrict nothing.
      if (processOf(rules_[i])) {
        if (auto plain = covering(rules_[i], ir::Action::Allow, removed, true)) {
          removed[i] = true;
          report("MB118", i, *plain,
                 "this process rule restricts nothing: allow rules without a process condition already allow every "
                 "connection it matches, for every executable",
                 "narrow or delete the plain allow so that this rule decides which executables connect, or delete "
                 "this rule",
                 "allowed by this rule");
          continue;
        }
      }
      auto cover = covering(i, rules_[i].rule->action, removed);
      if (!cover) continue;
      removed[i] = true;
      report("MB101", i, *cover,
             std::string("this ") + ir::actionName(rules_[i].rule->action) +
                 " rule is redundant: every connection it matches is matched by other " +
                 ir::actionName(rules_[i].rule->action) + " rules",
             "delete it; removing it changes no verdict", "covered by this rule");
    }
    runTiers();
    // MB116: an http allow whose connections plain allows already allow
    // (every request on them): its items restrict nothing.
    if (!ctx_.enabled("MB116")) return;
    for (const auto& h : http_) {
      auto cover = covering(h, ir::Action::Allow, dead);
      if (!cover) continue;
      reportAt("MB116", h, *cover, rules_,
               "this http rule restricts nothing: allow rules without an http condition already allow every "
               "connection it matches, and so every request on it",
               "narrow or delete the plain allow so that this rule decides the requests, or delete this rule",
               "allowed by this rule");
    }
  }

 private:
  Context& ctx_;
  PeerSpace space_;
  std::vector<RuleRef> rules_;
  std::vector<RuleRef> http_;  // allow rules with an http condition (MB116)
  std::vector<RuleRef> tier_;  // rules of tier policies (MB121)

  // Whether tier rule `a` comes before `b` in their tier: admin policies by
  // priority, then key; baseline by key; a policy's rules as written.
  static bool tierBefore(const RuleRef& a, const RuleRef& b) {
    if (a.policy->tier != b.policy->tier || a.rule->direction != b.rule->direction) return false;
    if (a.policy == b.policy) return a.rule->range.begin < b.rule->range.begin;
    return std::make_pair(a.policy->priority, a.policy->key()) < std::make_pair(b.policy->priority, b.policy->key());
  }

  // MB121: a tier rule that earlier rules of its tier, applying to at least
  // its endpoints, match on every connection it matches: the first match
  // decides, so it never does (whatever their actions).
  void runTiers() {
    if (!ctx_.enabled("MB121")) return;
    for (const auto& r : tier_) {
      auto cover = coverFrom(tier_, r, [&](size_t j) {
        return tierBefore(tier_[j], r) && policySubsumes(*tier_[j].policy, *r.policy);
      });
      if (!cover) continue;
      const char* tier = r.policy->tier == ir::Tier::Admin ? "admin" : "baseline";
      reportAt("MB121", r, *cover, tier_,
               std::string("this ") + tier + "-tier rule never decides: earlier rules of its tier match every "
                   "connection it matches",
               "in a tier the first matching rule decides; move this rule before them, narrow them, or delete it",
               "matched first by this rule");
    }
  }

  // Whether rule `c` counts when judging rule `r`: same direction, applies
  // to at least the same endpoints, and is enforced whenever `r` is. A rule
  // with a process condition allows its connections for its executables
  // only: it covers a rule with one whose executables are all among its
  // own, and no other (`plainOnly`: none at all).
  bool eligible(const RuleRef& c, const RuleRef& r, ir::Action action, bool plainOnly = false) const {
    if (&c == &r || c.rule->action != action || c.rule->direction != r.rule->direction) return false;
    if (c.policy->audit && !r.policy->audit) return false;
    if (const auto* cp = processOf(c)) {
      const auto* rp = processOf(r);
      if (plainOnly || !rp || !executablesCover(*cp, *rp)) return false;
    }
    return policySubsumes(*c.policy, *r.policy);
  }

  // The rules that together cover every connection of rule `i` (those that
  // share at least one with it), or nullopt if they do not cover them all.
  std::optional<std::vector<size_t>> covering(size_t i, ir::Action action, const std::vector<bool>& removed) const {
    return covering(rules_[i], action, removed);
  }
  std::optional<std::vector<size_t>> covering(const RuleRef& r, ir::Action action, const std::vector<bool>& removed,
                                              bool plainOnly = false) const {
    return coverFrom(rules_, r, [&](size_t j) {
      return (removed.empty() || !removed[j]) && eligible(rules_[j], r, action, plainOnly);
    });
  }

  // The rules of `pool` that `counts` lets judge `r` and that together
  // cover every connection of it (those sharing one with it), or nullopt.
  template <class Counts>
  std::optional<std::vector<size_t>> coverFrom(const std::vector<RuleRef>& pool, const RuleRef& r, Counts counts) const {
    if (r.traffic.empty()) return std::nullopt;
    bool ingress = r.rule->direction == ir::Direction::Ingress;
    std::vector<size_t> candidates;
    for (size_t j = 0; j < pool.size(); ++j)
      if (&pool[j] != &r && counts(j) && pool[j].traffic.overlaps(r.traffic)) candidates.push_back(j);
    if (candidates.empty()) return std::nullopt;
    std::set<size_t> used;
    bool anyAtom = false;
    // Whether the candidates matching one peer atom cover the rule's traffic there.
    auto coveredAt = [&](auto&& candidateMatches) {
      TrafficSet u;
      std::vector<size_t> here;
      for (size_t j : candidates) {
        if (!candidateMatches(j)) continue;
        u.add(pool[j].traffic);
        here.push_back(j);
      }
      if (!u.contains(r.traffic, ingress)) return false;
      used.insert(here.begin(), here.end());
      return true;
    };
    for (size_t a = 0; a < space_.concrete.size(); ++a) {
      if (!r.concrete[a]) continue;
      anyAtom = true;
      if (!coveredAt([&](size_t j) { return bool(pool[j].concrete[a]); })) return std::nullopt;
    }
    // Hypothetical endpoints come grouped by selector, one atom per address
    // range. Rules that match the selector whatever the address (by pods
    // selector, `cluster`, `all`) are the same for the whole group: when they
    // alone cover the rule, the group is covered without looking at ranges.
    auto hypothetical = space_.hypothetical(*r.rule);
    for (size_t a = 0; a < hypothetical.size();) {
      const auto& selector = hypothetical[a].selector;
      size_t end = a;
      while (end < hypothetical.size() && hypothetical[end].selector == selector) ++end;
      anyAtom = true;
      std::vector<char> always(pool.size(), 0);
      TrafficSet alwaysTraffic;
      std::vector<size_t> alwaysRules;
      for (size_t j : candidates) {
        if (!space_.matchesAnyAddress(*pool[j].rule, selector)) continue;
        always[j] = 1;
        alwaysTraffic.add(pool[j].traffic);
        alwaysRules.push_back(j);
      }
      if (alwaysTraffic.contains(r.traffic, ingress)) {
        used.insert(alwaysRules.begin(), alwaysRules.end());
      } else {
        for (size_t k = a; k < end; ++k) {
          const auto& atom = hypothetical[k];
          if (!coveredAt([&](size_t j) { return always[j] || space_.matches(*pool[j].rule, atom); }))
            return std::nullopt;
        }
      }
      a = end;
    }
    if (!anyAtom) return std::nullopt;  // matches no peer at all: another check's business
    return std::vector<size_t>(used.begin(), used.end());
  }

  void report(const std::string& id, size_t i, const std::vector<size_t>& cover, std::string message,
              std::string hint, const std::string& noteText) {
    reportAt(id, rules_[i], cover, rules_, std::move(message), std::move(hint), noteText);
  }
  void reportAt(const std::string& id, const RuleRef& judged, const std::vector<size_t>& cover,
                const std::vector<RuleRef>& pool, std::string message, std::string hint, const std::string& noteText) {
    const auto* rule = judged.rule;
    Finding* f = ctx_.report(id, rule->range, rule->range, std::move(message), std::move(hint));
    if (!f) return;
    // Closest first: same policy, then by source position.
    std::vector<size_t> order = cover;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      bool sa = pool[a].policy == judged.policy, sb = pool[b].policy == judged.policy;
      if (sa != sb) return sa;
      return pool[a].rule->range.begin < pool[b].rule->range.begin;
    });
    constexpr size_t kMaxNotes = 4;
    for (size_t k = 0; k < order.size() && k < kMaxNotes; ++k) {
      const auto& c = pool[order[k]];
      std::string where = c.policy == judged.policy ? "" : " (policy " + c.policy->key() + ")";
      f->related.push_back({c.rule->range, noteText + where});
    }
    if (order.size() > kMaxNotes) f->hint += " (" + std::to_string(order.size() - kMaxNotes) + " more rules cover it)";
  }
};

}  // namespace

void checkShadowing(Context& ctx) {
  if (!ctx.enabled("MB101") && !ctx.enabled("MB102") && !ctx.enabled("MB116") && !ctx.enabled("MB118") &&
      !ctx.enabled("MB121"))
    return;
  Shadowing(ctx).run();
}

}  // namespace membrane::lint
