// Option plumbing shared by the membranec subcommands that read policies:
// the `paths` positional and -i/--inventory, --color and the colour decision,
// and running the pipeline with its errors and diagnostics printed.
#pragma once

#include <unistd.h>

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/pipeline.h"

namespace membrane::driver {

// The commands run the pipeline (compiler/pipeline/) and report on it.
using pipeline::Compilation;
using pipeline::Inputs;
using pipeline::Outcome;

// Help texts more than one command uses as they are.
inline constexpr const char* kPolicyPathsHelp = "Policy files, or directories searched recursively for *.policy";
inline constexpr const char* kInventoryHelp =
    "Inventory JSON (membrane's own, or `kubectl get pods/namespaces -o json`); repeatable";
inline constexpr const char* kColorHelp = "Colour diagnostics: auto, always or never";

// Exit codes: one table for every command (docs/cli.md#output-and-exit-codes
// and each command's help footer).
inline constexpr int kExitOk = 0;
// The policies have errors, for the commands that produce something
// (check, ir, compile, import, lint, reach).
inline constexpr int kExitPolicyErrors = 1;
// Usage and input errors (missing files, bad inventory), for every command.
inline constexpr int kExitInputErrors = 2;
// The review commands (diff, explain, verify) and `fmt --check` report what
// they found in exit code 1: connectivity changed, a flow denied, objects
// that differ from the IR, files to format.
inline constexpr int kExitFinding = 1;
// Policy errors of the review commands, whose 1 is a finding.
inline constexpr int kExitReviewPolicyErrors = 3;

// The required `paths` positional followed by -i/--inventory and --skip-kind.
void addPolicyInputs(CLI::App* cmd, Inputs& inputs, const std::string& pathsHelp,
                     const std::string& inventoryHelp = kInventoryHelp);
// --skip-kind KIND, repeatable: every command that reads Kubernetes manifests
// has it (docs/kubernetes.md, "Policies membrane does not enforce").
CLI::Option* addSkipKindOption(CLI::App* cmd, std::vector<std::string>& kinds);
// -i/--inventory alone, one file per flag so that paths after it stay paths.
CLI::Option* addInventoryOption(CLI::App* cmd, std::vector<std::string>& inventory,
                                const std::string& help = kInventoryHelp);
// --color auto|always|never.
CLI::Option* addColorOption(CLI::App* cmd, std::string& mode, const std::string& help = kColorHelp);

// Whether to colour what goes to fd: always, never, or (auto) when fd is a
// terminal and NO_COLOR is not set.
bool useColor(const std::string& mode, int fd = STDERR_FILENO);

// Whether to show progress lines (rewritten in place with \r) on standard
// error: when it is a terminal and -q/--quiet was not given.
bool showProgress(bool quiet);

// Runs the pipeline on inputs and prints the input errors and diagnostics to
// standard error (coloured per colorMode). Returns 0 when the outcome is Ok,
// kExitInputErrors for input errors, policyErrorsExit for policy errors.
int loadAndReport(const Inputs& inputs, const std::string& colorMode, Compilation& c, int policyErrorsExit);

// Writes a command's report to `path`, or to standard output when `path` is
// empty or "-". False (with the error printed) when it could not be written
// completely, so that a pipeline never mistakes a cut-off report for a whole one.
bool writeOutput(const std::string& path, const std::string& text);
inline bool writesToStdout(const std::string& path) { return path.empty() || path == "-"; }

}  // namespace membrane::driver
