// MB117 process-exe-in-writable-dir and MB119 process-exe-interpreter:
// executables of `with process { ... }` rules (docs/process.md) that let
// more run than the rule seems to. MB118 (a process rule a plain allow
// makes pointless) needs the coverage of connections and lives with MB101
// in check_shadowing.cpp.
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

}  // namespace

void checkProcess(Context& ctx) {
  for (const auto& pol : ctx.checked().policies) {
    for (const auto& rule : pol.rules) {
      const auto* c = rule.condition<features::process::Checked>();
      if (!c) continue;
      for (const auto& exe : c->executables) {
        if (auto dir = writableDirOf(exe.path); !dir.empty())
          ctx.report("MB117", exe.range, rule.range,
                     "\"" + exe.path + "\" is under " + std::string(dir) +
                         ", where anyone in the pod can create a file: whatever is put there may connect",
                     "install the executable where only its owner can write, e.g. /usr/local/bin, and name that path");
        if (isInterpreter(exe.path))
          ctx.report("MB119", exe.range, rule.range,
                     "\"" + exe.path +
                         "\" is an interpreter: the executable of every script it runs (and of `-c` code) is the "
                         "interpreter, so the rule lets any of them connect",
                     "copy the interpreter to a path of its own for this service (e.g. /opt/app/bin/python3) and "
                     "name that");
      }
    }
  }
}

}  // namespace membrane::lint
