// `membranec reach`: who can reach whom, on which protocols and ports, for an
// inventory (docs/reach.md). Registration and implementation, so membranec.cpp
// only needs:
//   driver::ReachCommand reach(app);
//   ...
//   if (reach.parsed()) return reach.run();
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/pipeline.h"

namespace membrane::driver {

class ReachCommand {
 public:
  explicit ReachCommand(CLI::App& app);
  bool parsed() const { return cmd_->parsed(); }
  // Exit code: 0 success, 1 policy errors, 2 usage or input errors.
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
  pipeline::Inputs inputs_;
  std::string format_ = "text";
  std::string output_;
  std::string color_ = "auto";
};

}  // namespace membrane::driver
