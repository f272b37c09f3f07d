// MB115 http-request-shadowed: a request item of a `with http` rule that an
// earlier item of the same rule, or of an earlier rule of the same policy
// with the same action, peers and ports, already matches whenever it does
// (docs/http.md). MB116 (an http rule a plain allow makes pointless) needs
// the coverage of connections and lives with MB101 in check_shadowing.cpp.
#include "features/dns/dns.h"
#include "features/http/http.h"
#include "lint/check.h"
#include "names/http.h"

namespace membrane::lint {

namespace {

// Does every request `inner` matches also match `outer`? Sound: part by
// part, an absent part covers anything, a present one only what it can be
// shown to cover.
bool itemCovers(const ir::HttpRequestMatch& outer, const ir::HttpRequestMatch& inner) {
  if (!outer.method.empty() && outer.method != inner.method) return false;
  if (!outer.path.empty() && (inner.path.empty() || !names::httpPathPatternCovers(outer.path, inner.path)))
    return false;
  if (!outer.host.empty() && (inner.host.empty() || !features::dns::covers(outer.host, inner.host))) return false;
  for (const auto& h : outer.headers) {
    bool implied = false;
    for (const auto& i : inner.headers)
      implied |= i.name == h.name && (!h.value || i.value == h.value);
    if (!implied) return false;
  }
  return true;
}

// The rule's peers and ports as written: two rules with the same text there
// match the same connections.
std::string connectionsOf(const sema::CheckedRule& rule) { return rule.text.substr(0, rule.text.find(" with http")); }

}  // namespace

void checkHttp(Context& ctx) {
  if (!ctx.enabled("MB115")) return;
  for (const auto& pol : ctx.checked().policies) {
    // The items seen so far in this policy, with their rule.
    struct Seen {
      const sema::CheckedRule* rule;
      const features::http::CheckedRequest* item;
    };
    std::vector<Seen> seen;
    for (const auto& rule : pol.rules) {
      const auto* c = rule.condition<features::http::Checked>();
      if (!c) continue;
      for (const auto& item : c->requests) {
        for (const auto& s : seen) {
          if (s.rule->action != rule.action || s.rule->direction != rule.direction ||
              connectionsOf(*s.rule) != connectionsOf(rule) || !itemCovers(s.item->match, item.match))
            continue;
          Finding* f = ctx.report(
              "MB115", item.range, rule.range,
              "this request item is shadowed: every request it matches is matched by `" +
                  features::http::describeRequest(s.item->match) + "`, written before it for the same peers and ports",
              "delete it, or narrow the earlier item if this one was meant to differ");
          if (f) f->related.push_back({s.item->range, "the earlier item"});
          break;
        }
        seen.push_back({&rule, &item});
      }
    }
  }
}

}  // namespace membrane::lint
