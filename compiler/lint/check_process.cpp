// MB117 process-exe-in-writable-dir and MB119 process-exe-interpreter:
// executables of `with process { ... }` rules and of policies' `processes`
// clauses (docs/process.md) that let more run than the rule seems to.
// MB120 process-exe-not-in-inventory: executables the inventory lists for
// none of the endpoints the policy selects. MB118 (a process rule a plain allow
// makes pointless) needs the coverage of connections and lives with MB101
// in check_shadowing.cpp.
#include <algorithm>
#include <array>
#include <string_view>

#include "features/process/process.h"
#include "lint/check.h"

namespace membrane::lint {

namespace {

// Directories every user of a pod may create files in: whoever runs in the
// pod can put a file at the rule's path.
constexpr std::array<std::string_view, 3> kWritableDirs = {"/tmp/", "/var/tmp/", "/dev/shm/"};

// The directory of kWritableDirs `path` lies under, or "".
std::string_view writableDirOf(const std::string& path) {
  for (auto dir : kWritableDirs)
    if (path.compare(0, dir.size(), dir) == 0) return dir;
  return {};
}

// Whether the file name is an interpreter's: python, python3, python3.11,
// perl, ruby, node, sh, bash, ... (an optional version after the name).
bool isInterpreter(const std::string& path) {
  std::string_view name(path);
  name.remove_prefix(name.rfind('/') + 1);
  static constexpr std::array<std::string_view, 15> kNames = {"python", "perl", "ruby", "node", "nodejs",
                                                              "sh",     "bash", "dash", "zsh",  "ksh",
                                                              "php",    "lua",  "java", "deno", "bun"};
  for (auto n : kNames) {
    if (name.substr(0, n.size()) != n) continue;
    std::string_view rest = name.substr(n.size());
    if (rest.find_first_not_of("0123456789.") == std::string_view::npos) return true;
  }
  return false;
}


// Reports MB117 and MB119 for each executable of one condition or clause;
// `anchor` is the rule or the clause.
void checkPaths(Context& ctx, const features::process::Checked& c, SourceRange anchor, const char* subject) {
  for (const auto& exe : c.executables) {
    if (auto dir = writableDirOf(exe.path); !dir.empty())
      ctx.report("MB117", exe.range, anchor,
                 "\"" + exe.path + "\" is under " + std::string(dir) +
                     ", where anyone in the pod can create a file: whatever is put there may connect",
                 "install the executable where only its owner can write, e.g. /usr/local/bin, and name that path");
    if (isInterpreter(exe.path))
      ctx.report("MB119", exe.range, anchor,
                 "\"" + exe.path +
                     "\" is an interpreter: the executable of every script it runs (and of `-c` code) is the "
                     "interpreter, so " + subject + " lets any of them connect",
                 "copy the interpreter to a path of its own for this service (e.g. /opt/app/bin/python3) and "
                 "name that");
  }
}

// MB120: the executables the inventory lists for the endpoints `pol`
// selects, when every one of them lists its own (else nullopt: an endpoint
// without the field may run anything); nullopt too when it selects none.
std::optional<std::vector<std::string>> inventoryExecutables(const Context& ctx, const sema::CheckedPolicy& pol,
                                                             std::vector<std::string>& endpoints) {
  std::vector<std::string> out;
  for (const auto& ep : ctx.inventory().endpoints) {
    if (!pol.clusterwide && ep.ns != pol.ns) continue;
    if (!pol.selects.matches(ep.labels)) continue;
    if (!ep.executables) return std::nullopt;
    out.insert(out.end(), ep.executables->begin(), ep.executables->end());
    endpoints.push_back(ep.ns + "/" + ep.name);
  }
  if (endpoints.empty()) return std::nullopt;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void checkInventory(Context& ctx, const features::process::Checked& c, SourceRange anchor,
                    const std::vector<std::string>& listed, const std::vector<std::string>& endpoints) {
  for (const auto& exe : c.executables) {
    if (std::binary_search(listed.begin(), listed.end(), exe.path)) continue;
    std::string guess = closestMatch(exe.path, listed);
    ctx.report("MB120", exe.range, anchor,
               "\"" + exe.path + "\" is not among the executables the inventory lists for " +
                   (endpoints.size() == 1 ? "endpoint " + endpoints.front()
                                          : "the " + std::to_string(endpoints.size()) + " endpoints") +
                   " the policy selects: it matches no call there",
               guess.empty() ? "name a path the inventory lists for them, or add it to their `executables`"
                             : "did you mean \"" + guess + "\"?");
  }
}

}  // namespace

void checkProcess(Context& ctx) {
  const bool inventoryCheck = ctx.inventoryGiven() && ctx.enabled("MB120");
  for (const auto& pol : ctx.checked().policies) {
    std::vector<std::string> endpoints;
    std::optional<std::vector<std::string>> listed;
    if (inventoryCheck) listed = inventoryExecutables(ctx, pol, endpoints);
    if (pol.processes) {
      checkPaths(ctx, *pol.processes, pol.processes->range, "the clause");
      if (listed) checkInventory(ctx, *pol.processes, pol.processes->range, *listed, endpoints);
    }
    for (const auto& rule : pol.rules) {
      const auto* c = rule.condition<features::process::Checked>();
      if (!c) continue;
      checkPaths(ctx, *c, rule.range, "the rule");
      if (listed) checkInventory(ctx, *c, rule.range, *listed, endpoints);
    }
  }
}

}  // namespace membrane::lint
