// Cases that are known to fail, and why. Each entry is a bug in membrane or
// its Kubernetes import that the case found (the expectation is right; see
// README.md, "Known failures"); listing it keeps the suite green while the
// bug is open. A listed case that passes fails the test, so the list cannot
// go stale: fix the bug, then delete its line here and in README.md.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "cases.h"

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

// The verdict on one case: `report` lists its differences from the
// expectation (empty: it passed). A known failure must still fail, and is
// printed instead of failing the test.
inline void expectCaseOutcome(const Case& c, Check check, const std::string& report) {
  if (const KnownFailure* known = knownFailure(c.name, check)) {
    EXPECT_FALSE(report.empty()) << c.name << " is listed in known_failures.h (" << known->reason << ") but now passes"
                                 << (check == Check::Traffic ? " on real traffic" : "") << ": remove it from the list.";
    if (!report.empty()) std::cout << "[known failure] " << c.name << ": " << known->reason << "\n" << report;
    return;
  }
  EXPECT_TRUE(report.empty()) << c.path << "\n" << c.description << "\n" << report;
}

}  // namespace membrane::conformance
