// `membranec lint`: review checks on policies that pass `check` (docs/lint.md).
// Registration and implementation, so membranec.cpp only needs:
//   driver::LintCommand lint(app);
//   ...
//   if (lint.parsed()) return lint.run();
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/pipeline.h"

namespace membrane::driver {

class LintCommand {
 public:
  explicit LintCommand(CLI::App& app);
  bool parsed() const { return cmd_->parsed(); }
  // Exit code: 0 no finding at error level (nor warning, with --werror),
  // 1 such findings or policy errors, 2 usage or input errors.
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
  pipeline::Inputs inputs_;
  std::string format_ = "human";
  std::string output_;
  std::string color_ = "auto";
  std::string sarifRoot_;
  std::vector<std::string> enable_, disable_;
  bool werror_ = false;
};

}  // namespace membrane::driver
