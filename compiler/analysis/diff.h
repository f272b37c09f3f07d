// `membranec diff`: the connectivity change between two versions of a policy
// set for one inventory — the flows `membranec reach` would list that were
// added or removed, each with the rules responsible, in both versions.
// Documented in docs/diff.md (the JSON output is a stable contract).
//
// Both versions are evaluated over one ReachSpace (analysis/reach.h) built
// from both programs, so they have the same peers (workloads, host, external
// ranges cut by the CIDRs of either version) and the same port intervals.
// Per peer pair, an interval is added when the new version allows it and the
// old one did not, removed the other way round. The changed intervals of a
// pair are grouped by their causes (the rules that decide, in each version),
// so each reported change has one set of responsible rules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "analysis/reach.h"
#include "ir/ir.h"

namespace membrane::analysis {

// What decided one side of a flow in one version: the egress of the source
// or the ingress of the destination.
struct Cause {
  enum class Kind {
    Rule,         // a rule matched and decided (allow or deny)
    DefaultDeny,  // the side is restricted and no rule matched
    Open,         // no policy restricts the side: everything passes
  };
  ir::Direction direction = ir::Direction::Egress;
  std::string subject;  // the workload whose side it is, "namespace/name"
  Kind kind = Kind::Rule;
  // Kind::Rule: the rule, as written and where.
  ir::Action action = ir::Action::Allow;
  std::string policy, text, location;
  // Kind::DefaultDeny and Kind::Open: the policies that select the subject
  // in this version (for Open, none of them has a section for this side),
  // and of those the ones that did not select it in the other version.
  std::vector<std::string> policies;
  std::vector<std::string> newlySelecting;
  friend auto operator<=>(const Cause&, const Cause&) = default;
};

struct FlowChange {
  std::string src, dst;  // peer names as in `reach`; adjacent external ranges with the same change are merged
  Conns conns;           // the connections added or removed
  // Added:   before = what denied it in the old version (the denying sides only),
  //          after  = what allows it in the new version (both sides).
  // Removed: before = what allowed it in the old version (both sides),
  //          after  = what denies it in the new version (the denying sides only).
  std::vector<Cause> before, after;
};

// Changes to the policies themselves, whether or not they change a flow.
struct PolicyChanges {
  std::vector<std::string> policiesAdded, policiesRemoved;  // policy keys
  // Rules compared as written (policy, direction, action, text, whitespace
  // folded): a rule that only moved is unchanged, an edited one counts as
  // one removed and one added.
  size_t rulesAdded = 0, rulesRemoved = 0;
  bool empty() const { return policiesAdded.empty() && policiesRemoved.empty() && !rulesAdded && !rulesRemoved; }
};

struct ReachDiff {
  std::vector<FlowChange> added, removed;  // by source, then destination, in peer order
  PolicyChanges policies;
  bool connectivityChanged() const { return !added.empty() || !removed.empty(); }
};

// One version: its IR and the keys of all its policies (including those
// that select nothing in the inventory, which the IR does not list).
struct PolicyVersion {
  const ir::Program* program = nullptr;
  std::vector<std::string> policyKeys;
};

ReachDiff diffReach(const PolicyVersion& before, const PolicyVersion& after, const ReachOptions& options = {});

// Renderers; each ends with a newline.
std::string renderDiffText(const ReachDiff& d);
std::string renderDiffMarkdown(const ReachDiff& d);  // a pull-request comment
std::string renderDiffJson(const ReachDiff& d);      // the contract in docs/diff.md
// By name: text, md, json. Unknown names give "".
std::string renderDiff(const ReachDiff& d, std::string_view format);

// One cause in words, e.g. "egress of shop/api: allow rule `allow to ...` (shop/api, api.policy:12:5)".
std::string describeCause(const Cause& c);

}  // namespace membrane::analysis
