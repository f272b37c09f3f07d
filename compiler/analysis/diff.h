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
//
// HTTP (docs/http.md): an interval allowed in both versions whose requests
// the socket layer decides differently — read in one version and not the
// other, or read in both by different request items, as `reach` lists them
// (ReachEvaluator::httpItems) — is a request change: the connection still
// passes, the API surface it carries does not.
//
// Process (docs/process.md): likewise, an interval allowed in both versions
// for which the executables that may open it differ — restricted in one
// version and not the other, or to other executables, as `reach` lists
// them (ReachEvaluator::processExecutables) — is an executables change.
#pragma once

#include <optional>
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

// How the socket layer decides the requests on a connection, as `reach`
// lists them for a flow's HTTP ports (HttpPorts, without the ports): the
// request items of the matching allow rules and of the matching deny rules,
// as written. `allowed` empty: a rule without an http condition allows every
// request the denied items leave.
struct HttpRequests {
  std::vector<std::string> allowed, denied;
  friend auto operator<=>(const HttpRequests&, const HttpRequests&) = default;
};

struct FlowChange {
  std::string src, dst;  // peer names as in `reach`; adjacent external ranges with the same change are merged
  Conns conns;           // the connections added or removed
  // Added:   before = what denied it in the old version (the denying sides only),
  //          after  = what allows it in the new version (both sides).
  // Removed: before = what allowed it in the old version (both sides),
  //          after  = what denies it in the new version (the denying sides only).
  //
  // Requests changed (the connections are allowed in both versions):
  //          before, after = in each version, on each side that reads the
  //          requests in either version: the rules that decide them there
  //          (the matching rules with an http condition, and the matching
  //          allow rules without one), or, on a side that does not read them
  //          in that version, what allows the connection there.
  std::vector<Cause> before, after;
  // Requests changed only: how the requests are decided in each version;
  // nullopt when that version does not read them (every request passes).
  std::optional<HttpRequests> requestsBefore, requestsAfter;
  // Executables changed only: the executables whose calls may open the
  // connections in each version; nullopt when that version lets every
  // executable (no process rule restricts them). Causes as for requests:
  // the process rules of the source's egress, or what allows the
  // connection there.
  std::optional<std::vector<std::string>> executablesBefore, executablesAfter;
  // Listed after and not before, listed before and not after (a version
  // that lets every executable lists none).
  std::vector<std::string> executablesAdded() const;
  std::vector<std::string> executablesRemoved() const;
};

// Changes to the policies themselves, whether or not they change a flow.
struct PolicyChanges {
  std::vector<std::string> policiesAdded, policiesRemoved;  // policy keys
  // Rules compared as written (policy, direction, action, text, whitespace
  // folded): a rule that only moved is unchanged, an edited one counts as
  // one removed and one added.
  size_t rulesAdded = 0, rulesRemoved = 0;
  // Policies in both versions whose tier or priority changed
  // (docs/language.md, "Tiers"), each "guard: admin priority 10 -> 20".
  std::vector<std::string> tiersChanged;
  bool empty() const {
    return policiesAdded.empty() && policiesRemoved.empty() && !rulesAdded && !rulesRemoved && tiersChanged.empty();
  }
};

struct ReachDiff {
  std::vector<FlowChange> added, removed;  // by source, then destination, in peer order
  // Connections allowed in both versions whose HTTP requests are decided
  // differently; in the same order.
  std::vector<FlowChange> requestsChanged;
  // Connections allowed in both whose executables differ; in the same order.
  std::vector<FlowChange> executablesChanged;
  PolicyChanges policies;
  bool connectivityChanged() const { return !added.empty() || !removed.empty(); }
  // What --exit-code and the JSON "changed" report: a flow added or removed,
  // or the requests or executables of one changed.
  bool changed() const { return connectivityChanged() || !requestsChanged.empty() || !executablesChanged.empty(); }
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
