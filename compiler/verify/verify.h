// `membranec verify`: proves that compiled artifacts decide exactly as the
// policy IR says, on every region of the packet space (regions.h), by
// running one probe at each end of every region through each class object
// in the kernel (BPF_PROG_TEST_RUN) and comparing with the reference
// evaluator: the verdict, the deciding rule and audit findings (from the
// objects' own events), and that the reply of every allowed flow passes
// conntrack. It also checks that the manifest describes the policies it was
// compiled from and that every object matches its SHA-256.
//
// Needs bpf() (root). Nothing is attached or pinned: each object is loaded
// with private maps that go when it is closed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/ir.h"

namespace membrane::verify {

struct Mismatch {
  uint32_t classId = 0;
  std::string hook;     // "tc ingress", "cgroup egress", ...
  std::string peer;     // "identity 260 (shop, app=api)", "host", "world"
  std::string address;  // the peer's
  std::string traffic;  // "tcp/8080", "icmp type 8", "gre"
  std::string object;   // what the object did: "passes", "drops", "passes by rule 3", "drops the reply", ...
  std::string evaluator;  // what the IR says: "allows by rule 3", "denies (default deny)", ...
};

struct ClassResult {
  uint32_t id = 0;
  std::string object;
  bool open = false;             // the open class (no policy selects its endpoints)
  uint64_t regions = 0;          // peer kinds x address ranges x traffic intervals, both directions
  uint64_t probes = 0;           // packets run (both hooks, both ends, replies)
  size_t mismatches = 0;
  double seconds = 0;
  std::vector<std::string> skipped;  // traffic no policy can decide (e.g. IPv6 ND)
};

struct Report {
  std::string artifactDir;
  std::vector<std::string> manifestDifferences;  // the manifest vs the policies
  std::vector<ClassResult> classes;
  std::vector<Mismatch> mismatches;  // the first `maxListed`
  size_t mismatchCount = 0;
  uint64_t regions = 0, probes = 0;
  double seconds = 0;
  bool equal() const { return manifestDifferences.empty() && mismatchCount == 0; }
};

struct Options {
  size_t maxListed = 20;
  // Called before each class: (classes done, classes in all, the class).
  std::function<void(size_t, size_t, uint32_t)> progress;
};

// False, `error` set, when verification could not run at all (unreadable
// artifacts, a tampered object, an object the kernel refuses, no bpf()).
// Otherwise true, with the findings in `report`.
bool verifyArtifacts(const std::string& artifactDir, const ir::Program& program,
                     const Options& options, Report* report, std::string* error);

}  // namespace membrane::verify
