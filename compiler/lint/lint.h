// `membranec lint`: checks on policies that passed `check`, for code review.
// Each check has a stable id (MBnnn), a default severity and an explanation;
// the catalogue is in registry.cpp and documented in docs/lint.md.
//
// Flow: the driver pipeline produces the AST, the checked program and (with
// an inventory) the IR; lint() runs every enabled check over them, then
// applies inline suppressions (`# membrane-lint: disable MB101 -- reason`).
// Rendering (human, json, sarif, github) is in render.h.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/diagnostics.h"

namespace membrane::pipeline {
struct Compilation;
}

namespace membrane::lint {

struct CheckInfo {
  std::string id;           // "MB101"
  std::string name;         // "redundant-rule"
  Severity severity;        // default level
  std::string title;        // one line, for lists and SARIF shortDescription
  std::string explanation;  // one paragraph
  std::string fix;          // how to fix it, one or two sentences
  bool needsInventory = false;
  bool enabledByDefault = true;
};

// Every check, by id.
const std::vector<CheckInfo>& catalogue();
const CheckInfo* findCheck(const std::string& idOrName);  // case-insensitive id, or name
std::string suggestCheck(const std::string& word);         // closest id or name, or ""

struct RelatedLocation {
  SourceRange range;
  std::string message;
};

struct Finding {
  std::string check;  // id
  Severity severity = Severity::Warning;
  SourceRange range;   // what the caret points at
  SourceRange anchor;  // the enclosing statement (rule, policy, definition); suppressions on its line apply too
  std::string message;
  std::string hint;
  std::vector<RelatedLocation> related;
  // Set when an inline suppression silenced it.
  std::optional<std::string> suppressedBecause;
};

struct Options {
  std::set<std::string> enable;   // ids switched on (also default-off checks)
  std::set<std::string> disable;  // ids switched off
};

struct Result {
  std::vector<Finding> findings;    // reported, in file/line/column order
  std::vector<Finding> suppressed;  // silenced by a suppression comment, same order
  std::vector<std::string> notRun;  // enabled checks skipped for lack of an inventory
  bool inventoryGiven = false;
  size_t errors = 0, warnings = 0, notes = 0;  // of `findings`
  // 0 nothing at error level (and, with werror, no warning); 1 otherwise.
  int exitCode(bool werror) const;
};

// Validates ids in `options`; returns an error message ("unknown check 'MB1O1'; did you mean `MB101`?")
// or "" when all are known.
std::string validate(const Options& options);

// Runs the enabled checks on a compilation that has a checked program (no
// policy errors). `inventoryGiven`: whether -i was passed (an empty
// inventory still counts).
Result lint(const pipeline::Compilation& c, const Options& options, bool inventoryGiven);

}  // namespace membrane::lint
