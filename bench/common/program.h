// The frame every section program shares: a command line with --quick and
// --help (CLI11), the root requirement (outside CI a section that says it was
// not measured; under CI=true a failure), SIGINT/SIGTERM that unwind so that
// namespaces, links and mounts are cleaned up, and errors as exit status 1.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "environment.h"  // testkit

namespace membrane::bench {

class BenchProgram {
 public:
  // `name` prefixes progress lines ("bench/loader"); `description` and
  // `footer` (exit codes, requirements) frame --help.
  BenchProgram(std::string name, const std::string& description, const std::string& footer);

  CLI::App& app() { return app_; }
  bool quick = false;  // --quick: CI-sized runs

  // nullopt: go on. Otherwise the exit status: 0 after --help, 2 for a usage error.
  std::optional<int> parse(int argc, char** argv);
  // The section needs root for `why`. Checked by run().
  void needsRoot(std::string sectionHeading, std::string why);
  // Runs the measurement with interrupts caught; a thrown error is reported
  // and is exit status 1.
  int run(const std::function<int()>& body);

 private:
  CLI::App app_;
  std::string rootSection_, rootWhy_;
};

using testkit::runningInCi;
using testkit::ScratchDir;
// Throws once SIGINT or SIGTERM arrived (after BenchProgram::run installed
// the handler): call it between measurement steps.
void throwIfInterrupted();
// A progress line on stderr, prefixed with the program's name.
void progress(const std::string& line);

}  // namespace membrane::bench
