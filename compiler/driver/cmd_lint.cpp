#include "driver/cmd_lint.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "driver/command_support.h"
#include "lint/lint.h"
#include "lint/render.h"
#include "support/text.h"

namespace membrane::driver {

namespace {

std::string checkList() {
  std::string s = "Checks (severity; * needs -i; - off by default):\n";
  for (const auto& c : lint::catalogue()) {
    const char* sev = c.severity == Severity::Error ? "error  " : c.severity == Severity::Warning ? "warning" : "note   ";
    s += "  " + c.id + " " + sev + " " + (c.needsInventory ? "*" : c.enabledByDefault ? " " : "-") + " " + c.name +
         ": " + c.title + "\n";
  }
  return s;
}

}  // namespace

LintCommand::LintCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("lint", "Review checks on valid policies: redundant and dead rules, broad exposure, "
                                    "selectors that match nothing, unused definitions (docs/lint.md)");
  addPolicyInputs(cmd_, inputs_, kPolicyPathsHelp,
                  "Inventory JSON; repeatable. Without one, the checks marked * below do not run");
  cmd_->add_option("--format", format_,
                   "human (default: diagnostics with source line and caret), json, sarif (2.1.0, for GitHub code "
                   "scanning) or github (workflow commands)")
      ->check(CLI::IsMember({"human", "json", "sarif", "github"}));
  cmd_->add_option("-o,--output", output_, "Write the findings here instead of standard output")->type_name("FILE");
  cmd_->add_flag("--werror", werror_, "Warnings fail the run too (exit code 1)");
  cmd_->add_option("--enable", enable_, "Turn a check on (e.g. the off-by-default MB112); repeatable")
      ->type_name("ID")
      ->allow_extra_args(false);
  cmd_->add_option("--disable", disable_, "Turn a check off; repeatable")->type_name("ID")->allow_extra_args(false);
  addColorOption(cmd_, color_, "Colour human output: auto, always or never");
  cmd_->add_option("--sarif-root", sarifRoot_,
                   "Directory that sarif and github paths are relative to (default: the current directory; use the "
                   "repository root)")
      ->type_name("DIR");
  cmd_->footer(checkList() +
               "\nSuppress one finding with a comment on its line or the line before:\n"
               "  # membrane-lint: disable MB101 -- the reason\n"
               "\nExit codes: 0 no finding at error level (warnings allowed unless --werror); 1 findings at error "
               "level,\nor warnings with --werror, or policy errors (printed as by `check`; lint does not run); 2 "
               "usage or input errors.\n"
               "\nExample:\n  membranec lint -i policies/shop/inventory.json policies/shop --format sarif -o lint.sarif");
}

int LintCommand::run() const {
  lint::Options options;
  options.enable.insert(enable_.begin(), enable_.end());
  options.disable.insert(disable_.begin(), disable_.end());
  if (std::string problem = lint::validate(options); !problem.empty()) {
    std::cerr << "membranec: error: " << problem << "\n";
    return kExitInputErrors;
  }

  pipeline::Compilation c;
  if (int rc = loadAndReport(inputs_, color_, c, kExitPolicyErrors)) return rc;
  if (!c.checked) return kExitPolicyErrors;

  lint::Result result = lint::lint(c, options, !inputs_.inventory.empty());

  bool toStdout = writesToStdout(output_);
  lint::RenderOptions render;
  // Colour only where a terminal may show it; --color always still forces it.
  render.color = toStdout ? useColor(color_, STDOUT_FILENO) : color_ == "always";
  std::error_code ec;
  std::filesystem::path root = sarifRoot_.empty() ? std::filesystem::current_path(ec) : std::filesystem::path(sarifRoot_);
  render.root = std::filesystem::absolute(root, ec).lexically_normal().string();
  render.toolVersion = MEMBRANE_VERSION;
  std::string text = lint::render(format_, c, result, render);

  if (!writeOutput(output_, text)) return kExitInputErrors;
  if (!toStdout) {
    // The findings went to a file; say what happened where people look.
    if (format_ != "human") std::cerr << "wrote " << output_ << "; ";
    else std::cerr << "wrote " << output_ << "\n";
    if (format_ != "human") {
      std::cerr << plural(result.findings.size(), "finding", "findings") << " ("
                << result.errors << " errors, " << result.warnings << " warnings, " << result.notes << " notes)\n";
    }
  }
  return result.exitCode(werror_);
}

}  // namespace membrane::driver
