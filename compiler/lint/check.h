// What every lint check sees, and the check families. Internal to lint/.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "lint/lint.h"

namespace membrane::lint {

class Context {
 public:
  Context(const pipeline::Compilation& c, std::set<std::string> enabled, bool inventoryGiven)
      : c_(c), enabled_(std::move(enabled)), inventoryGiven_(inventoryGiven) {}

  const ast::Program& ast() const { return c_.ast; }
  const sema::CheckedProgram& checked() const { return *c_.checked; }
  const inventory::Inventory& inventory() const { return c_.inventory; }
  const SourceManager& sources() const { return c_.sources; }
  bool inventoryGiven() const { return inventoryGiven_; }
  bool enabled(const std::string& id) const { return enabled_.count(id) > 0; }

  // Records a finding of check `id` at its default severity (ignored when
  // the check is not enabled). `anchor`: the enclosing statement.
  Finding* report(const std::string& id, SourceRange range, SourceRange anchor, std::string message,
                  std::string hint = {});
  std::vector<Finding>& findings() { return findings_; }

 private:
  const pipeline::Compilation& c_;
  std::set<std::string> enabled_;
  bool inventoryGiven_;
  std::vector<Finding> findings_;
};

// Whether `inner` lies inside `outer` (same file).
bool within(const SourceRange& inner, const SourceRange& outer);

void checkShadowing(Context& ctx);  // MB101 redundant-rule, MB102 dead-allow, MB116 http-rule-restricts-nothing,
                                    // MB118 process-rule-restricts-nothing, MB121 tier-rule-shadowed
void checkInventory(Context& ctx);  // MB103 peer-matches-nothing, MB104 policy-selects-nothing, MB105 unknown-label-key
void checkExposure(Context& ctx);   // MB106 broad-allow, MB107 exposed-sensitive-port, MB112 unrestricted-ports
void checkDns(Context& ctx);        // MB113 dns-match-all, MB114 dns-name-not-looked-up
void checkHttp(Context& ctx);       // MB115 http-request-shadowed (MB116 is checkShadowing's)
void checkProcess(Context& ctx);    // MB117 process-exe-in-writable-dir, MB119 process-exe-interpreter
                                    // (MB118 is checkShadowing's)
void checkStructure(Context& ctx);  // MB108 ineffective-except, MB109 overlapping-ports, MB110 unused-definition, MB111 audit-policy

}  // namespace membrane::lint
