// A cluster for end-to-end policy tests: pods (testkit/topology.h) with
// their inventory, policies compiled in-process as `membranec compile` does,
// and a node whose host namespace runs the `membrane` binary (MEMBRANE_BIN,
// defined by the test target) against a private bpffs. Shared by
// enforcement_e2e.cpp and dns_enforcement_e2e.cpp.
#pragma once

#include <gtest/gtest.h>

#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "topology.h"

namespace membrane::e2e {

namespace fs = std::filesystem;

// A cluster of pods with their inventory, and a node running `membrane`.
class Cluster {
 public:
  struct Member {
    std::string ns, name;
    labels::LabelSet labels;
    Pod* pod = nullptr;
    std::string key() const { return ns + "/" + name; }
  };

  // Members (by name) whose pods run on a node of their own
  // (Topology::addNode), for tests of several nodes; the others' veths are
  // in the topology's host namespace. A type of its own, so that a brace
  // list of members never reads as one.
  struct Nodes {
    std::map<std::string, std::string> of;  // member name → node name
  };

  explicit Cluster(const std::vector<std::tuple<std::string, std::string, labels::LabelSet>>& members)
      : Cluster(Nodes{}, members) {}
  Cluster(const Nodes& placement, const std::vector<std::tuple<std::string, std::string, labels::LabelSet>>& members)
      : topo_("mbpol") {
    const std::map<std::string, std::string>& nodeOf = placement.of;
    char tmpl[] = "/tmp/membrane-e2e-XXXXXX";
    work_ = mkdtemp(tmpl);
    std::set<std::string> nodes;
    for (const auto& [name, node] : nodeOf)
      if (nodes.insert(node).second) topo_.addNode(node);
    for (const auto& [ns, name, l] : members) {
      Member m{ns, name, l, nullptr};
      m.labels["pod"] = name;
      auto node = nodeOf.find(name);
      m.pod = &topo_.addPod(ns + "-" + name, node == nodeOf.end() ? "" : node->second);
      members_.push_back(m);
    }
    topo_.up();
    std::set<std::string> namespaces = {"x", "y", "z"};
    for (const auto& m : members_) namespaces.insert(m.ns);
    for (const auto& ns : namespaces)
      inventory_.namespaces.push_back({ns, {{"ns", ns}, {inventory::kNamespaceNameLabel, ns}}});
    for (const auto& m : members_) {
      inventory::Endpoint e;
      e.ns = m.ns;
      e.name = m.name;
      e.workload = m.name;
      e.labels = m.labels;
      e.addresses = {*net::Address::parse(m.pod->address4()), *net::Address::parse(m.pod->address6())};
      inventory_.endpoints.push_back(e);
    }
    std::sort(inventory_.endpoints.begin(), inventory_.endpoints.end(),
              [](const auto& a, const auto& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); });
  }

  ~Cluster() {
    run({"detach"});
    umount2((work_ / "bpf").c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  const std::vector<Member>& members() const { return members_; }
  Topology& topology() { return topo_; }
  // Gives an inventory endpoint a named port (for the next compile).
  void definePort(const std::string& ns, const std::string& name, labels::NamedPort port) {
    for (auto& e : inventory_.endpoints)
      if (e.ns == ns && e.name == name) e.ports.push_back(std::move(port));
  }
  // Leaves a member out of the inventory (for the next compile): its pod
  // runs, and NODE.json can name it as an endpoint learned after the compile.
  void leaveOutOfInventory(const std::string& ns, const std::string& name) {
    auto& eps = inventory_.endpoints;
    eps.erase(std::remove_if(eps.begin(), eps.end(), [&](const auto& e) { return e.ns == ns && e.name == name; }),
              eps.end());
  }
  const ir::Program& program() const { return *compilation_->ir; }

  // Compiles `policy` for this cluster's inventory into a new artifact dir;
  // an empty path (and a test failure) if it does not compile.
  fs::path compile(const std::string& policy, const std::string& name) {
    compilation_ = std::make_unique<pipeline::Compilation>();
    compilation_->inventory = inventory_;
    pipeline::runText({{name + ".policy", policy}}, *compilation_);
    std::ostringstream diags;
    compilation_->diags.print(diags, false);
    EXPECT_FALSE(compilation_->diags.hasErrors()) << diags.str();
    if (compilation_->diags.hasErrors() || !compilation_->ir) return {};  // nothing to build from
    std::string error;
    if (!compiler_) compiler_ = codegen::ClassCompiler::create(&error);
    EXPECT_TRUE(compiler_) << error;
    auto artifacts = codegen::buildArtifacts(*compiler_, *compilation_->ir, {});
    fs::path out = work_ / name;
    EXPECT_TRUE(codegen::writeArtifacts(out.string(), artifacts, &error)) << error;
    return out;
  }

  // Runs the membrane binary against this cluster's node.
  ExecResult run(std::vector<std::string> args) {
    std::vector<std::string> argv = {MEMBRANE_BIN, "--netns", topo_.hostNamespace(), "--bpffs",
                                     (work_ / "bpf").string(), "--state-dir", (work_ / "state").string(),
                                     "--attach", attach};
    // The socket layer watches the pods' processes only, not the machine's.
    if (!topo_.cgroupDir().empty()) argv.insert(argv.end(), {"--cgroup-root", topo_.cgroupDir()});
    argv.insert(argv.end(), args.begin(), args.end());
    return Topology::exec("", argv, Millis(30000));
  }

  // Leaves a member off the node (NODE.json): its pod runs with no program
  // on its veth, like a service outside the cluster or an unmanaged node.
  void leaveUnmanaged(const std::string& ns, const std::string& name) { unmanaged_.insert(ns + "/" + name); }

  ExecResult apply(const fs::path& artifacts) {
    fs::path node = work_ / "node.json";
    std::ofstream out(node);
    out << R"({"host": {"addresses": [")" << Topology::kNode4 << R"(", ")" << Topology::kNode6
        << R"("]}, "endpoints": [)";
    bool first = true;
    for (const auto& m : members_) {
      if (unmanaged_.count(m.key())) continue;
      out << (first ? "" : ", ") << R"({"name": ")" << m.name << R"(", "namespace": ")" << m.ns << '"';
      // The packet programs on the veth (unless cgroupsOnly); the pod's
      // cgroup too, where process rules' programs go.
      if (!cgroupsOnly) out << R"(, "interface": ")" << m.pod->hostInterface() << '"';
      if (!m.pod->cgroup().empty() && !withoutCgroups) out << R"(, "cgroup": ")" << m.pod->cgroup() << '"';
      if (auto it = roots_.find(m.key()); it != roots_.end()) out << R"(, "root": ")" << it->second << '"';
      out << "}";
      first = false;
    }
    out << "]}\n";
    out.close();
    return run({"apply", artifacts.string(), "--node", node.string()});
  }

  // Where a member's processes' "/" is, for process rules' executables
  // (NODE.json "root"; the pods share this machine's mount namespace, so a
  // directory stands in for a container's root filesystem).
  void setRoot(const std::string& ns, const std::string& name, const std::string& dir) { roots_[ns + "/" + name] = dir; }
  const ir::Endpoint& endpoint(const Member& m) const { return *program().findEndpoint(m.ns, m.name); }
  const fs::path& workDir() const { return work_; }

  std::string attach = "auto";  // membrane --attach
  // NODE.json names each pod by its cgroup only: the packet programs run
  // there (cgroup_skb), not on the veth.
  bool cgroupsOnly = false;
  // NODE.json names no cgroup (the pods have one all the same).
  bool withoutCgroups = false;

 private:
  Topology topo_;
  fs::path work_;
  std::vector<Member> members_;
  std::set<std::string> unmanaged_;  // ns/name
  std::map<std::string, std::string> roots_;  // ns/name → NODE.json "root"
  inventory::Inventory inventory_;
  std::unique_ptr<pipeline::Compilation> compilation_;
  std::unique_ptr<codegen::ClassCompiler> compiler_;
};


}  // namespace membrane::e2e
