#include "driver/command_support.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "k8s/import.h"

namespace membrane::driver {

void addPolicyInputs(CLI::App* cmd, Inputs& inputs, const std::string& pathsHelp, const std::string& inventoryHelp) {
  cmd->add_option("paths", inputs.paths, pathsHelp)->required()->type_name("FILES|DIRS");
  addInventoryOption(cmd, inputs.inventory, inventoryHelp);
  addSkipKindOption(cmd, inputs.skipKinds);
}

CLI::Option* addSkipKindOption(CLI::App* cmd, std::vector<std::string>& kinds) {
  return cmd
      ->add_option("--skip-kind", kinds,
                   "Go on without manifest objects of this policy kind, which membrane does not enforce (each one "
                   "skipped is a warning; without this they are errors): KIND, GROUP/KIND or GROUP/*; repeatable")
      ->type_name("KIND")
      ->allow_extra_args(false)
      ->check(CLI::Validator([](std::string& v) { return k8s::checkSkipKind(v); }, ""));
}

CLI::Option* addInventoryOption(CLI::App* cmd, std::vector<std::string>& inventory, const std::string& help) {
  return cmd->add_option("-i,--inventory", inventory, help)->type_name("FILE")->allow_extra_args(false);
}

CLI::Option* addColorOption(CLI::App* cmd, std::string& mode, const std::string& help) {
  return cmd->add_option("--color", mode, help)->check(CLI::IsMember({"auto", "always", "never"}));
}

bool useColor(const std::string& mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return isatty(fd) && std::getenv("NO_COLOR") == nullptr;
}

bool showProgress(bool quiet) { return !quiet && isatty(STDERR_FILENO); }

int loadAndReport(const Inputs& inputs, const std::string& colorMode, Compilation& c, int policyErrorsExit) {
  run(inputs, c);
  for (const auto& e : c.inputErrors) std::cerr << "membranec: error: " << e << "\n";
  c.diags.print(std::cerr, useColor(colorMode));
  switch (c.outcome()) {
    case Outcome::InputErrors: return kExitInputErrors;
    case Outcome::PolicyErrors: return policyErrorsExit;
    case Outcome::Ok: return kExitOk;
  }
  return kExitInputErrors;
}

bool writeOutput(const std::string& path, const std::string& text) {
  if (writesToStdout(path)) {
    std::cout << text;
    if (std::cout.flush()) return true;
    std::cerr << "membranec: error: cannot write to standard output\n";
    return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (out.flush()) return true;
  std::cerr << "membranec: error: cannot write '" << path << "'\n";
  return false;
}

}  // namespace membrane::driver
