// Cases that are known to fail, and why. Each entry is a bug in membrane or
// its Kubernetes import that the case found (the expectation is right; see
// README.md, "Known failures"); listing it keeps the suite green while the
// bug is open. A listed case that passes fails the test, so the list cannot
// go stale: fix the bug, then delete its line here and in README.md.
#pragma once

#include <string>
#include <vector>

namespace membrane::conformance {

enum class Check { Evaluator, Traffic };

struct KnownFailure {
  std::string caseName;  // file name without .yaml
  Check check;
  std::string reason;
};

inline const std::vector<KnownFailure>& knownFailures() {
  static const std::vector<KnownFailure> list = {
  };
  return list;
}

inline const KnownFailure* knownFailure(const std::string& caseName, Check check) {
  for (const auto& k : knownFailures())
    if (k.caseName == caseName && k.check == check) return &k;
  return nullptr;
}

}  // namespace membrane::conformance
