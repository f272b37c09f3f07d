// What tests and benchmarks share about the machine they run on: whether
// this is CI (where a missing capability is a failure, never a skip), whether
// bpf() works here, and scratch directories that always go away.
//
// Tests: MB_REQUIRE_BPF() / MB_REQUIRE_ROOT() first thing in a test or
// fixture: under CI=true they fail, elsewhere they skip saying why.
#pragma once

#include <filesystem>
#include <string>

namespace membrane::testkit {

// CI=true in the environment.
bool runningInCi();

// The absolute path of a system program (nginx, dnsmasq, ...) in the
// directories Debian installs them to, which a test's PATH may lack
// (/usr/sbin); "" when it is not installed.
std::string findSystemProgram(const std::string& name);

// "" when this process can create BPF maps and load tc programs (which also
// needs CAP_NET_ADMIN), else what failed. Probed once.
std::string bpfUnavailableReason();

// A fresh directory under the system's temporary directory, named
// `<prefix>-XXXXXX`, removed with everything in it when this goes out of
// scope (a test that fails or a measurement that throws included).
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace membrane::testkit

// GoogleTest helpers; need <gtest/gtest.h> included before use.
#define MB_REQUIRE_BPF()                                                                        \
  do {                                                                                          \
    const std::string mbWhy = ::membrane::testkit::bpfUnavailableReason();                      \
    if (!mbWhy.empty()) {                                                                       \
      if (::membrane::testkit::runningInCi()) FAIL() << "bpf() unavailable under CI: " << mbWhy; \
      GTEST_SKIP() << "bpf() unavailable (" << mbWhy                                            \
                   << "); run as root or with CAP_BPF+CAP_NET_ADMIN. CI=true makes this a failure."; \
    }                                                                                           \
  } while (0)

#define MB_REQUIRE_ROOT()                                                                       \
  do {                                                                                          \
    if (geteuid() != 0) {                                                                       \
      if (::membrane::testkit::runningInCi()) FAIL() << "this test needs root under CI";        \
      GTEST_SKIP() << "this test needs root (network namespaces, BPF); CI=true makes this a failure"; \
    }                                                                                           \
  } while (0)
