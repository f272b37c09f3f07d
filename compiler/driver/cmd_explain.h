// `membranec explain`: why one connection is allowed or denied, rule by rule
// (docs/explain.md). Registration and implementation, so
// membranec.cpp only needs:
//   driver::ExplainCommand explain(app);
//   ...
//   if (explain.parsed()) return explain.run();
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/pipeline.h"

namespace membrane::driver {

class ExplainCommand {
 public:
  explicit ExplainCommand(CLI::App& app);
  bool parsed() const { return cmd_->parsed(); }
  // Exit code: 0 explained (with --exit-code: and allowed), 1 (only with
  // --exit-code) denied, 2 usage or input errors (also a name that matches
  // nothing or is ambiguous), 3 policy errors.
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
  pipeline::Inputs inputs_;
  std::string from_, to_, port_, query_, request_, exe_;
  CLI::Option* exeOption_ = nullptr;
  std::vector<std::string> learned_, headers_;
  std::string format_ = "text";
  std::string color_ = "auto";
  bool exitCode_ = false;
};

}  // namespace membrane::driver
