// `membranec diff OLD NEW`: the connectivity change between two versions of a
// policy set for one inventory (docs/diff.md). Registration and
// implementation, so membranec.cpp only needs:
//   driver::DiffCommand diff(app);
//   ...
//   if (diff.parsed()) return diff.run();
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace membrane::driver {

class DiffCommand {
 public:
  explicit DiffCommand(CLI::App& app);
  bool parsed() const { return cmd_->parsed(); }
  // Exit code: 0 success (with --exit-code: no connectivity change),
  // 1 (only with --exit-code) connectivity changed, 2 usage or input errors,
  // 3 policy errors in either version.
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
  std::string old_, new_;
  std::vector<std::string> inventory_;
  std::vector<std::string> skipKinds_;  // --skip-kind, for manifests on either side
  std::string format_ = "text";
  std::string output_;
  std::string color_ = "auto";
  bool exitCode_ = false;
};

}  // namespace membrane::driver
