// `membranec fmt`: rewrites *.policy files in canonical layout (see
// format/formatter.h for the rules and docs/cli.md for the command).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace membrane::driver {

struct FmtCommand {
  CLI::App* command;         // parsed() says whether to run it
  std::function<int()> run;  // returns the exit code
};

// Registers the `fmt` subcommand and its options on `app`.
FmtCommand addFmtCommand(CLI::App& app);

}  // namespace membrane::driver
