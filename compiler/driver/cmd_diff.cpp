#include "driver/cmd_diff.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "analysis/diff.h"
#include "driver/command_support.h"
#include "io/file.h"

namespace membrane::driver {

namespace {

constexpr int kExitChanged = kExitFinding;  // with --exit-code

std::string shellQuoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// File names under a path at a revision: far more than any repository has.
constexpr size_t kMaxListingBytes = size_t{64} << 20;

// Runs a git command (arguments quoted for the shell) and captures its
// standard output, at most `maxBytes` of it (past that the command fails, as
// a file past its cap does); git's own messages go to our standard error.
bool runGit(const std::vector<std::string>& args, std::string& out, size_t maxBytes = kMaxPolicyFileBytes) {
  std::string cmd = "git";
  for (const auto& a : args) cmd += " " + shellQuoted(a);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return false;
  char buf[65536];
  size_t n;
  out.clear();
  while (out.size() <= maxBytes && (n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);  // git stops on the closed pipe if it had more
  return out.size() <= maxBytes && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A version given as `git:REV:PATH`: the policy files under PATH (a file or a
// directory, relative to the current directory) as they are in revision REV,
// read with `git ls-tree` and `git show`. Files are named `REV:path` (path
// from the repository's top) in diagnostics and rule locations.
bool loadFromGit(const std::string& rev, const std::string& path,
                 std::vector<std::pair<std::string, std::string>>& files, std::vector<std::string>& errors) {
  std::string listing;
  if (!runGit({"ls-tree", "-r", "--name-only", "--full-name", rev, "--", path}, listing, kMaxListingBytes)) {
    errors.push_back("cannot list '" + path + "' at git revision '" + rev + "'");
    return false;
  }
  std::string prefix;
  runGit({"rev-parse", "--show-prefix"}, prefix);
  prefix.erase(std::remove(prefix.begin(), prefix.end(), '\n'), prefix.end());
  std::string self = path;
  while (self.starts_with("./")) self.erase(0, 2);
  self = prefix + self;
  while (!self.empty() && self.back() == '/') self.pop_back();

  std::vector<std::string> names;
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    bool policy = line.size() > 7 && line.ends_with(".policy");
    if (line == self || policy) names.push_back(line);
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    errors.push_back("no *.policy files in '" + path + "' at git revision '" + rev + "'");
    return false;
  }
  for (const auto& name : names) {
    std::string text;
    if (!runGit({"show", rev + ":" + name}, text)) {
      errors.push_back("cannot read '" + name + "' at git revision '" + rev + "'" +
                       (text.size() > kMaxPolicyFileBytes
                            ? ": larger than " + io::sizeText(kMaxPolicyFileBytes) + ", the most membrane reads of a policy file"
                            : ""));
      return false;
    }
    files.emplace_back(rev + ":" + name, std::move(text));
  }
  return true;
}

// One version: a path, or git:REV[:PATH] (PATH defaulting to `otherPath`).
void compileVersion(const std::string& spec, const std::string& otherPath, const std::vector<std::string>& inventory,
                    const std::vector<std::string>& skipKinds, Compilation& c) {
  if (!spec.starts_with("git:")) {
    pipeline::run({{spec}, inventory, skipKinds}, c);
    return;
  }
  std::string rest = spec.substr(4);
  auto colon = rest.find(':');
  std::string rev = rest.substr(0, colon);
  std::string path = colon == std::string::npos ? otherPath : rest.substr(colon + 1);
  if (rev.empty() || path.empty() || path.starts_with("git:")) {
    c.inputErrors.push_back("'" + spec + "': expected git:REV:PATH, or git:REV with a path on the other side");
    return;
  }
  for (const auto& inv : inventory) {
    std::string error;
    if (!inventory::loadInventoryFile(inv, c.inventory, &error)) c.inputErrors.push_back(error);
  }
  std::vector<std::pair<std::string, std::string>> files;
  if (!loadFromGit(rev, path, files, c.inputErrors) || !c.inputErrors.empty()) return;
  pipeline::runText(files, c);
}

std::vector<std::string> policyKeys(const Compilation& c) {
  std::vector<std::string> keys;
  if (c.checked)
    for (const auto& p : c.checked->policies) keys.push_back(p.key());
  return keys;
}

}  // namespace

DiffCommand::DiffCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("diff",
                            "Show the connectivity a policy change adds and removes (HTTP requests and executables "
                            "included), with the rules responsible");
  cmd_->add_option("old", old_, "The policies before: a file, a directory, or git:REV[:PATH]")
      ->required()
      ->type_name("OLD");
  cmd_->add_option("new", new_, "The policies after: a file, a directory, or git:REV[:PATH]")
      ->required()
      ->type_name("NEW");
  addInventoryOption(cmd_, inventory_, std::string(kInventoryHelp) + "; used for both versions");
  addSkipKindOption(cmd_, skipKinds_);
  cmd_->add_option("--format", format_,
                   "text (default), md (a pull-request comment) or json (the stable contract in docs/diff.md)")
      ->check(CLI::IsMember({"text", "md", "json"}));
  cmd_->add_option("-o,--output", output_, "Write the output here instead of standard output")->type_name("FILE");
  cmd_->add_flag("--exit-code", exitCode_,
                 "Exit with 1 when connectivity, the HTTP requests or the executables allowed changed (like git diff "
                 "--exit-code)");
  addColorOption(cmd_, color_);
  cmd_->footer(
      "Flows are those of `membranec reach`: workload to workload, host or external range, per protocol and ports;\n"
      "a flow allowed in both versions whose HTTP requests are decided differently is listed as requests changed,\n"
      "one whose executables differ (process rules) as executables changed.\n"
      "git:REV:PATH reads PATH as of git revision REV; git:REV alone takes the path from the other side.\n\n"
      "Exit codes: 0 success (with --exit-code: no change), 1 connectivity, HTTP requests or executables changed\n"
      "(--exit-code only), 2 usage or input errors, 3 policy errors in either version.\n\n"
      "Examples:\n"
      "  membranec diff -i policies/shop/inventory.json base/policies/shop policies/shop\n"
      "  membranec diff -i policies/shop/inventory.json --format md git:origin/main policies/shop");
}

int DiffCommand::run() const {
  Compilation before, after;
  compileVersion(old_, new_, inventory_, skipKinds_, before);
  compileVersion(new_, old_, inventory_, skipKinds_, after);
  bool color = useColor(color_);
  // Inventory errors are the same on both sides; print them once.
  std::vector<std::string> errors = before.inputErrors;
  for (const auto& e : after.inputErrors)
    if (std::find(errors.begin(), errors.end(), e) == errors.end()) errors.push_back(e);
  for (const auto& e : errors) std::cerr << "membranec: error: " << e << "\n";
  before.diags.print(std::cerr, color);
  after.diags.print(std::cerr, color);
  if (!errors.empty()) return kExitInputErrors;
  if (before.outcome() != Outcome::Ok || after.outcome() != Outcome::Ok || !before.ir || !after.ir)
    return kExitReviewPolicyErrors;
  if (inventory_.empty())
    std::cerr << "membranec: warning: no --inventory given: there are no endpoints, so no flows\n";

  analysis::ReachDiff diff = analysis::diffReach({&*before.ir, policyKeys(before)}, {&*after.ir, policyKeys(after)});
  std::string text = analysis::renderDiff(diff, format_);
  int rc = exitCode_ && diff.changed() ? kExitChanged : kExitOk;
  return writeOutput(output_, text) ? rc : kExitInputErrors;
}

}  // namespace membrane::driver
