// NetworkPolicy conformance, checked by the IR evaluator: every case of
// cases/*.yaml, step by step, goes through the same front end as
// `membranec` (pipeline::run on topology.yaml plus the step's manifests), and
// ir::evaluateFlow must give, for every (source pod, destination pod, port,
// protocol), the reachability the case writes down from Kubernetes
// semantics. Fast; runs on every CI build. The same cases on real traffic:
// traffic_test.cpp. How cases are written: README.md.
#include <gtest/gtest.h>

#include "environment.h"  // testkit

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cases.h"
#include "front_end.h"
#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
#include "known_failures.h"

namespace membrane::conformance {
namespace {

namespace fs = std::filesystem;

const std::string kDir = MEMBRANE_CONFORMANCE_DIR;

const Topology& topology() {
  static const Topology t = Topology::load(kDir + "/topology.yaml");
  return t;
}

std::string verdictText(const ir::Program& program, const std::optional<ir::Verdict>& v) {
  if (!v) return "-";
  std::string s = std::string(v->allowed ? "allow" : "deny") + " (" + ir::reasonName(v->reason);
  if (v->rule) {
    auto it = program.rules.find(v->rule);
    s += ", rule " + std::to_string(v->rule);
    if (it != program.rules.end()) s += " of " + it->second.policy + ": " + it->second.text;
  }
  return s + ")";
}

// Evaluates one step; returns "" when it matches, else a report: the
// mismatching cells as truth tables per port, then each cell with the
// evaluator's egress and ingress verdicts.
std::string checkStep(const Case& c, const Step& step, const fs::path& work) {
  const Topology& topo = topology();
  pipeline::Compilation comp;
  std::string diags;
  if (!compileStep(topo, step, (work / (c.name + ".yaml")).string(), comp, diags))
    return "the manifests were not accepted:\n" + diags;
  const ir::Program& program = *comp.ir;

  std::vector<const ir::Endpoint*> endpoints;
  std::vector<net::Address> addresses;
  for (const auto& pod : topo.pods) {
    const ir::Endpoint* e = program.findEndpoint(pod.ns, pod.name);
    if (!e) return "pod " + pod.key() + " of the topology is no endpoint of the IR\n" + diags;
    endpoints.push_back(e);
    auto a = net::Address::parse(c.family == Family::IPv4 ? pod.ipv4 : pod.ipv6);
    if (!a) return "pod " + pod.key() + ": bad address";
    addresses.push_back(*a);
  }

  const size_t n = topo.pods.size();
  Reachability got(n, c.ports.size(), false);
  std::ostringstream cells;
  size_t wrong = 0;
  for (size_t s = 0; s < n; ++s) {
    for (size_t d = 0; d < n; ++d) {
      for (size_t p = 0; p < c.ports.size(); ++p) {
        ir::Traffic t{static_cast<uint8_t>(c.ports[p].protocol), c.ports[p].port};
        ir::FlowVerdict v =
            ir::evaluateFlow(program, {endpoints[s], addresses[s], false}, {endpoints[d], addresses[d], false}, t);
        got.set(s, d, p, v.allowed());
        if (v.allowed() == step.expected.at(s, d, p)) continue;
        ++wrong;
        cells << "  " << topo.pods[s].key() << " -> " << topo.pods[d].key() << " " << c.ports[p].str()
              << ": expected " << (step.expected.at(s, d, p) ? "reachable" : "blocked") << ", evaluator says "
              << (v.allowed() ? "reachable" : "blocked") << "; egress " << verdictText(program, v.egress)
              << ", ingress " << verdictText(program, v.ingress) << "\n";
      }
    }
  }
  if (wrong == 0) return "";
  std::ostringstream out;
  out << wrong << " of " << n * n * c.ports.size() << " flows differ. Expected truth tables (rows: from, columns: "
      << "to; '.' reachable, 'X' blocked; '!' expected reachable but blocked, '#' expected blocked but reachable):\n";
  for (size_t p = 0; p < c.ports.size(); ++p) {
    bool differs = false;
    for (size_t s = 0; s < n && !differs; ++s)
      for (size_t d = 0; d < n && !differs; ++d) differs = got.at(s, d, p) != step.expected.at(s, d, p);
    if (differs) out << c.ports[p].str() << ":\n" << renderMatrix(topo, step.expected, p, &got);
  }
  out << "flows:\n" << cells.str();
  if (!diags.empty()) out << "membranec said:\n" << diags;
  return out.str();
}

using testkit::ScratchDir;

// A case from YAML text (Case::load reads a file).
Case loadCaseText(const ScratchDir& dir, const std::string& text) {
  std::ofstream(dir / "c.yaml") << text;
  return Case::load((dir / "c.yaml").string(), topology());
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, EvaluatorMatchesKubernetes) {
  const Case c = Case::load(GetParam(), topology());
  std::string report;
  {
    ScratchDir work("membrane-conformance");
    for (size_t i = 0; i < c.steps.size(); ++i) {
      std::string r = checkStep(c, c.steps[i], work.path());
      if (!r.empty())
        report += "step " + std::to_string(i + 1) + " (" + c.steps[i].name + "): " + r;
    }
  }

  expectCaseOutcome(c, Check::Evaluator, report);
}

std::vector<std::string> allCases() { return caseFilesOrNone(kDir + "/cases"); }  // AllLoad checks there are some

INSTANTIATE_TEST_SUITE_P(Cases, Conformance, ::testing::ValuesIn(allCases()),
                         [](const auto& test) { return caseTestName(test.param); });

// The suite must not shrink to nothing unnoticed, and every case file must
// load (a case with a typo would otherwise fail only when run).
TEST(ConformanceCases, AllLoad) {
  auto files = allCases();
  EXPECT_GE(files.size(), 40u);
  for (const auto& f : files) EXPECT_NO_THROW(Case::load(f, topology())) << f;
  for (const auto& k : knownFailures()) {
    bool exists = std::any_of(files.begin(), files.end(),
                              [&](const std::string& f) { return fs::path(f).stem().string() == k.caseName; });
    EXPECT_TRUE(exists) << "known_failures.h names a case that does not exist: " << k.caseName;
  }
}

// The expectation language itself: rules apply in order, later ones win;
// a matrix sets cells; port patterns select what they say.
TEST(ConformanceCases, ExpectationsMeanWhatTheySay) {
  ScratchDir dir("membrane-conformance");
  auto load = [&](const std::string& text) { return loadCaseText(dir, text); };
  const Topology& t = topology();
  int xa = t.indexOf("x/a"), xb = t.indexOf("x/b"), ya = t.indexOf("y/a");
  Case c = load(R"(
description: t
policies: []
expect:
  default: reachable
  rules:
  - blocked: "* -> x/a"
  - reachable: "x/b -> x/a on tcp/80, udp/*"
)");
  const Reachability& r = c.steps[0].expected;
  EXPECT_TRUE(r.at(xa, xb, 0));    // untouched
  EXPECT_FALSE(r.at(ya, xa, 0));   // blocked
  EXPECT_TRUE(r.at(xb, xa, 0));    // tcp/80 re-allowed
  EXPECT_FALSE(r.at(xb, xa, 1));   // tcp/81 not
  EXPECT_TRUE(r.at(xb, xa, 2));    // udp/80
  EXPECT_TRUE(r.at(xb, xa, 3));    // udp/81
  EXPECT_FALSE(r.at(xb, xa, 4));   // sctp/80

  EXPECT_THROW(load("description: t\npolicies: []\nexpect: {default: reachable, rules: [{blocked: 'q/a -> *'}]}\n"),
               CaseError);
  EXPECT_THROW(load("description: t\npolicies: []\nexpect: {default: reachable, rules: [{blocked: '* -> * on "
                    "udp/53'}]}\n"),
               CaseError) << "a port the case does not probe";
  EXPECT_THROW(load("description: t\npolicies: []\nexpect: {default: maybe}\n"), CaseError);
  EXPECT_THROW(load("description: t\npolicy: []\nexpect: {default: reachable}\n"), CaseError) << "unknown key";

  Case steps = load(R"(
description: t
steps:
- apply:
  - {kind: NetworkPolicy, metadata: {name: p, namespace: x}, spec: {v: 1}}
  - {kind: NetworkPolicy, metadata: {name: q, namespace: x}}
  expect: {default: reachable}
- apply:
  - {kind: NetworkPolicy, metadata: {name: p, namespace: x}, spec: {v: 2}}
  remove: [NetworkPolicy x/q]
  expect: {default: blocked}
)");
  ASSERT_EQ(steps.steps.size(), 2u);
  EXPECT_EQ(steps.steps[0].manifests.size(), 2u);
  ASSERT_EQ(steps.steps[1].manifests.size(), 1u);
  EXPECT_EQ(steps.steps[1].manifests[0]["spec"]["v"].as<int>(), 2) << "an applied object replaces its namesake";
  EXPECT_EQ(steps.steps[0].manifests[0]["spec"]["v"].as<int>(), 1) << "and earlier steps keep what they had";
  EXPECT_FALSE(steps.steps[1].expected.at(xa, xb, 0));
  EXPECT_THROW(load("description: t\nsteps:\n- remove: [NetworkPolicy x/nope]\n  expect: {default: reachable}\n"),
               CaseError);

  // A matrix: case 43's irregular ipBlock table, rows from, columns to.
  Case m = Case::load(kDir + "/cases/43-ipblock-ingress-irregular.yaml", t);
  int za = t.indexOf("z/a"), zc = t.indexOf("z/c");
  for (size_t p = 0; p < m.ports.size(); ++p) {
    EXPECT_TRUE(m.steps[0].expected.at(xa, za, p));
    EXPECT_FALSE(m.steps[0].expected.at(xb, za, p));
    EXPECT_TRUE(m.steps[0].expected.at(zc, zc, p));
    EXPECT_TRUE(m.steps[0].expected.at(xb, xa, p));
  }
}

// Steps may relabel the topology's Namespaces and Pods (and nothing else
// about them); the front end then sees the topology with the new labels.
TEST(ConformanceCases, StepsRelabelTopologyObjects) {
  ScratchDir dir("membrane-conformance");
  auto load = [&](const std::string& text) { return loadCaseText(dir, text); };
  Case c = load(R"(
description: t
steps:
- apply:
  - {kind: Pod, metadata: {name: b, namespace: x, labels: {pod: b, extra: "yes"}}}
  - {kind: NetworkPolicy, metadata: {name: p, namespace: x}}
  expect: {default: reachable}
)");
  auto input = stepInput(topology(), c.steps[0]);
  ASSERT_EQ(input.size(), topology().objects.size() + 1) << "the relabelled pod replaces its original";
  size_t found = 0;
  for (const auto& o : input) {
    if (objectKey(o, "") != "Pod x/b") continue;
    ++found;
    EXPECT_EQ(o["metadata"]["labels"]["extra"].as<std::string>(), "yes");
    EXPECT_EQ(o["status"]["podIP"].as<std::string>(), "198.18.0.12") << "everything but the labels is kept";
  }
  EXPECT_EQ(found, 1u);
  EXPECT_FALSE(topology().objects[0]["metadata"]["labels"]["extra"]) << "the topology itself is untouched";
  EXPECT_THROW(load("description: t\nsteps:\n- apply: [{kind: Pod, metadata: {name: d, namespace: x, labels: {}}}]"
                    "\n  expect: {default: reachable}\n"),
               CaseError) << "no new pods";
  EXPECT_THROW(load("description: t\nsteps:\n- apply: [{kind: Pod, metadata: {name: a, namespace: x, labels: {}},"
                    " status: {podIP: 198.18.9.9}}]\n  expect: {default: reachable}\n"),
               CaseError) << "only labels change";
}

}  // namespace
}  // namespace membrane::conformance
