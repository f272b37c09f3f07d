// `membranec verify`: proves compiled artifacts equal to the policies' IR on
// every region of the packet space (docs/verify.md). Registration and
// implementation, so membranec.cpp only needs:
//   driver::VerifyCommand verify(app);
//   ...
//   if (verify.parsed()) return verify.run();
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "pipeline/pipeline.h"

namespace membrane::driver {

class VerifyCommand {
 public:
  explicit VerifyCommand(CLI::App& app);
  bool parsed() const { return cmd_->parsed(); }
  // Exit code: 0 every object decides as the policies say, 1 it does not (or
  // the manifest does not describe them), 2 usage or input errors (also
  // artifacts that cannot be read, a tampered object, no bpf()), 3 policy errors.
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
  std::string artifacts_;
  pipeline::Inputs inputs_;
  std::string format_ = "text";
  std::string color_ = "auto";
  size_t maxListed_ = 20;
  bool quiet_ = false;
};

}  // namespace membrane::driver
