// A node for the real-traffic benchmarks (bench/dns, bench/http,
// bench/process): pods of a testkit topology as endpoints of namespace
// "bench", each labelled app=<its name>, and the `membrane` binary against a
// private bpffs and state directory, compiling policies with the real
// `membranec`. Header-only:
// the including target defines MEMBRANE_BIN and MEMBRANEC_BIN (the binaries'
// paths) and links membrane_e2e_topology.
#pragma once

#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "topology.h"

namespace membrane::bench {

// What NODE.json says of each pod besides its host-side veth.
struct PodNodeOptions {
  // Also the pod's cgroup ("cgroup", Pod::cgroup()), where process rules'
  // socket-call programs and gate go (docs/process.md).
  bool cgroups = false;
  // Pod name → where its processes' "/" is ("root"), in which the node
  // resolves process rules' executables.
  std::map<std::string, std::string> roots;
};

class PodNode {
 public:
  // Every pod is an endpoint of the inventory and of NODE.json (by its
  // host-side veth, and as `options` say).
  PodNode(e2e::Topology& t, const std::vector<e2e::Pod*>& pods, std::filesystem::path work,
          const PodNodeOptions& options = {})
      : t_(t), work_(std::move(work)) {
    std::ofstream inv(work_ / "inventory.json");
    std::ofstream node(work_ / "node.json");
    inv << R"({"namespaces": [{"name": "bench"}], "endpoints": [)";
    node << R"({"host": {"addresses": [")" << e2e::Topology::kNode4 << R"(", ")" << e2e::Topology::kNode6
         << R"("]}, "endpoints": [)";
    for (size_t i = 0; i < pods.size(); ++i) {
      const e2e::Pod& p = *pods[i];
      const char* sep = i ? ", " : "";
      inv << sep << R"({"name": ")" << p.name() << R"(", "namespace": "bench", "labels": {"app": ")" << p.name()
          << R"("}, "addresses": [")" << p.address4() << R"(", ")" << p.address6() << R"("]})";
      node << sep << R"({"name": ")" << p.name() << R"(", "namespace": "bench", "interface": ")" << p.hostInterface()
           << '"';
      if (options.cgroups && !p.cgroup().empty()) node << R"(, "cgroup": ")" << p.cgroup() << '"';
      if (auto root = options.roots.find(p.name()); root != options.roots.end())
        node << R"(, "root": ")" << root->second << '"';
      node << "}";
    }
    inv << "]}\n";
    node << "]}\n";
  }
  ~PodNode() {
    if (applied_) run({"detach"});
    umount2((work_ / "bpf").c_str(), MNT_DETACH);
  }
  PodNode(const PodNode&) = delete;
  PodNode& operator=(const PodNode&) = delete;

  // Compiles `policy` into artifacts named `name` (`flags` go to
  // `membranec compile` too); the compiler's first error (its file name
  // relative) if it does not compile.
  std::optional<std::string> compile(const std::string& name, const std::string& policy,
                                     const std::vector<std::string>& flags = {}) {
    std::filesystem::path dir = work_ / name;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "bench.policy") << policy;
    std::vector<std::string> args = {MEMBRANEC_BIN, "compile", "-q", "-i", (work_ / "inventory.json").string(),
                                      "-o", (dir / "out").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back((dir / "bench.policy").string());
    e2e::ExecResult c = e2e::Topology::exec("", args, e2e::Millis(300000));
    if (c.succeeded()) return std::nullopt;
    std::string first = c.err.substr(0, c.err.find('\n'));
    if (auto at = first.find(dir.string() + "/"); at != std::string::npos) first.erase(at, dir.string().size() + 1);
    return first.empty() ? c.describe() : first;
  }
  // Applies (or swaps to) the artifacts of compile(name).
  void apply(const std::string& name) {
    e2e::ExecResult r = run({"apply", (work_ / name / "out").string(), "--node", (work_ / "node.json").string()});
    if (!r.succeeded()) throw std::runtime_error("membrane apply: " + r.describe());
    applied_ = true;
  }
  // One of `membrane status -o json`'s HTTP counters (docs/runtime.md).
  uint64_t httpCounter(const std::string& name) {
    e2e::ExecResult r = run({"status", "-o", "json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("http") || !j["http"].contains(name))
      throw std::runtime_error("membrane status -o json has no http counter " + name + ": " + r.describe());
    return j["http"][name].get<uint64_t>();
  }
  void detach() {
    if (!applied_) return;
    e2e::ExecResult r = run({"detach"});
    if (!r.succeeded()) throw std::runtime_error("membrane detach: " + r.describe());
    applied_ = false;
  }

 private:
  e2e::ExecResult run(std::vector<std::string> args) {
    std::vector<std::string> argv = {MEMBRANE_BIN, "--netns", t_.hostNamespace(), "--bpffs", (work_ / "bpf").string(),
                                     "--state-dir", (work_ / "state").string()};
    // The socket layer watches the topology's pods only, not the machine's.
    if (!t_.cgroupDir().empty()) argv.insert(argv.end(), {"--cgroup-root", t_.cgroupDir()});
    argv.insert(argv.end(), args.begin(), args.end());
    return e2e::Topology::exec("", argv, e2e::Millis(120000));
  }

  e2e::Topology& t_;
  std::filesystem::path work_;
  bool applied_ = false;
};

}  // namespace membrane::bench
