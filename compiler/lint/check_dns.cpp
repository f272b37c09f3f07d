// MB113 dns-match-all and MB114 dns-name-not-looked-up: DNS rules that
// allow more than they seem to, or that can never take effect (docs/dns.md).
#include <algorithm>

#include "features/dns/dns.h"
#include "lint/check.h"
#include "lint/coverage.h"

namespace membrane::lint {

namespace {

bool hasNamePeers(const sema::CheckedRule& rule) {
  return std::any_of(rule.peers.begin(), rule.peers.end(),
                     [](const sema::PeerSpec& s) { return s.kind == sema::PeerSpec::Kind::Dns; });
}

}  // namespace

void checkDns(Context& ctx) {
  const auto& policies = ctx.checked().policies;
  for (const auto& pol : policies) {
    for (const auto& rule : pol.rules) {
      // MB113: "*" alone, as a name peer or in a dns condition.
      if (const auto* c = rule.condition<features::dns::Checked>())
        for (const auto& n : c->names)
          if (n.text == "*")
            ctx.report("MB113", n.range, rule.range,
                       "\"*\" lets the selected endpoints look up every name",
                       "list the domains they need, e.g. \"*.example.com\"");
      for (const auto& spec : rule.peers) {
        if (spec.kind != sema::PeerSpec::Kind::Dns) continue;
        if (std::find(spec.dnsNames.begin(), spec.dnsNames.end(), "*") != spec.dnsNames.end())
          ctx.report("MB113", spec.range, rule.range,
                     "`dns \"*\"` allows every address the endpoints learn from any lookup",
                     "list the names they connect to");
      }
      // MB114: an allowed name peer's name that no dns condition applying
      // to the same endpoints lets them look up: its addresses are never
      // learned. (A deny for such a name is harmless belt and braces.)
      if (rule.action != ir::Action::Allow || !hasNamePeers(rule)) continue;
      for (const auto& spec : rule.peers) {
        if (spec.kind != sema::PeerSpec::Kind::Dns) continue;
        for (const auto& name : spec.dnsNames) {
          bool learnable = false;
          for (const auto& other : policies) {
            if (!policySubsumes(other, pol)) continue;
            for (const auto& r : other.rules) {
              const auto* c = r.condition<features::dns::Checked>();
              if (!c || r.action != ir::Action::Allow || (other.audit && !pol.audit)) continue;
              for (const auto& n : c->names) learnable |= features::dns::covers(n.text, name);
            }
          }
          if (!learnable)
            ctx.report("MB114", spec.range, rule.range,
                       "no `with dns` rule lets these endpoints look up \"" + name +
                           "\", so no address is ever learned for it and this peer matches nothing",
                       "allow the lookup on the rule to the resolver: with dns { \"" + name + "\" }");
        }
      }
    }
  }
}

}  // namespace membrane::lint
