// Helpers shared by the Kubernetes import tests: a small cluster as
// manifests, a temporary directory, and manifests compiled the way
// `membranec check m.yaml` does (pipeline::run on a YAML file).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <stdlib.h>

#include "k8s/import.h"
#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
#include "net/address.h"

namespace membrane::k8s::fixtures {

namespace fs = std::filesystem;
using ir::FlowEnd;

// Namespaces shop (team=web) and ops (purpose=monitoring) and five pods.
inline const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: web}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {purpose: monitoring}}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api, tier: backend}}
spec:
  containers:
    - name: api
      ports:
        - {name: http, containerPort: 8080}
        - {name: dns, containerPort: 53, protocol: UDP}
status: {podIP: 198.18.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web, env: prod}}
spec: {containers: [{name: web, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 198.18.1.20}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db, tier: data}}
spec: {containers: [{name: db}]}
status: {podIP: 198.18.1.30}
---
apiVersion: v1
kind: Pod
metadata: {name: prom-0, namespace: ops, labels: {app: prometheus}}
spec: {containers: [{name: prom}]}
status: {podIPs: [{ip: 198.18.2.10}, {ip: "2001:2::2:10"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: ops, labels: {app: web}}
spec: {containers: [{name: web}]}
status: {podIP: 198.18.2.20}
)";

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/membrane-k8s-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path p = fs::path(path_) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Manifests compiled through pipeline::run, as `membranec check m.yaml` does.
class Manifests {
 public:
  explicit Manifests(const std::string& yaml, bool withCluster = true) {
    path_ = dir_.write("m.yaml", withCluster ? std::string(kCluster) + "---\n" + yaml : yaml);
    pipeline::run({{path_}, {}}, c_);
  }

  testing::AssertionResult ok() const {
    if (c_.outcome() != pipeline::Outcome::Ok || !c_.ir)
      return testing::AssertionFailure() << "did not compile:\n" << diagnostics();
    return testing::AssertionSuccess();
  }
  std::string diagnostics() const {
    std::ostringstream out;
    for (const auto& e : c_.inputErrors) out << e << "\n";
    c_.diags.print(out, false);
    return out.str();
  }
  const std::string& path() const { return path_; }
  // The manifest's line number `line` of the policy part (after kCluster).
  static int line(int n) { return clusterLines() + 1 + n; }
  static int clusterLines() {
    std::string s(kCluster);
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }

  // "ns/name" of a pod, "world:ADDR" or "host".
  FlowEnd end(const std::string& who) const {
    if (who == "host") return {nullptr, *net::Address::parse("198.18.255.1"), true};
    if (who.rfind("world:", 0) == 0) return {nullptr, *net::Address::parse(who.substr(6)), false};
    auto slash = who.find('/');
    const ir::Endpoint* e = c_.ir->findEndpoint(who.substr(0, slash), who.substr(slash + 1));
    if (!e) throw std::runtime_error("no endpoint " + who);
    return {e, e->addresses.at(0), false};
  }
  bool allowed(const std::string& src, const std::string& dst, ir::Traffic t) const {
    return ir::evaluateFlow(*c_.ir, end(src), end(dst), t).allowed();
  }
  const pipeline::Compilation& compilation() const { return c_; }

 private:
  TempDir dir_;
  std::string path_;
  pipeline::Compilation c_;
};

// The converted text of one manifest (without its header comment) and the
// manifest line each text line came from, as "TEXT @LINE".
struct Converted {
  std::string text;
  std::string withLines;
  std::string shape;
  std::string diagnostics;
  bool errors = false;
};

inline Converted convert(const std::string& yaml) {
  TempDir dir;
  std::string path = dir.write("c.yaml", yaml);
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  auto id = sources.load(path, &error);
  EXPECT_TRUE(id) << error;
  ImportResult r = importManifests({*id}, sources, diags);
  Converted c;
  std::ostringstream d;
  diags.print(d, false);
  c.diagnostics = d.str();
  c.errors = diags.hasErrors();
  for (const auto& p : r.policies) {
    c.shape += p.shape + "\n";
    for (const auto& line : p.lines) {
      c.text += line.text + "\n";
      c.withLines += line.text + " @" + std::to_string(line.origin.begin.line) + "\n";
    }
  }
  return c;
}

}  // namespace membrane::k8s::fixtures
