// NetworkPolicy conformance on real traffic: the 9 pods of topology.yaml as
// network namespaces (testkit/topology.h) with the addresses the topology
// file gives them, built once. For every case and step, the manifests are
// compiled in-process (pipeline::run + codegen, as `membranec compile` does),
// applied by the `membrane` binary (a swap after the first), and every flow
// between two different pods is probed on every port of the case: TCP
// connect, UDP echo, SCTP INIT counted by the receiver's raw socket (the
// kernel has no SCTP module; this tests the datapath's verdict, not an SCTP
// stack). What gets through must be what Kubernetes prescribes.
//
// Self-traffic (a pod to its own address) never leaves the pod's namespace,
// so it never crosses the veth where the programs sit: those cells are not
// probed here (the evaluator runner checks them).
//
// Needs root; skips with the reason, or fails under CI=true.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cases.h"
#include "front_end.h"
#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "known_failures.h"
#include "topology.h"

namespace membrane::conformance {
namespace {

namespace fs = std::filesystem;
using e2e::ExecResult;
using e2e::Millis;
using e2e::Process;

const std::string kDir = MEMBRANE_CONFORMANCE_DIR;
// A denied flow waits this long; an allowed one answers in well under 1 ms.
constexpr int kProbeTimeoutMs = 300;
// Cells that looked blocked but should be reachable are probed once more,
// with this much patience, so a slow moment on a loaded machine is not
// reported as a policy bug. (A leak is never retried: passing is conclusive.)
constexpr int kRetryTimeoutMs = 1500;

struct Observed {
  Reachability reached;  // what got through
  Reachability probed;   // cells that were probed (self-traffic is not)
  std::vector<std::string> harnessErrors;
  size_t flows = 0, allowed = 0, retried = 0;
};

// The node: pods, servers, the `membrane` loader's state.
class Node {
 public:
  explicit Node(const Topology& topology) : topo_(topology), net_("mbconf") {
    char tmpl[] = "/tmp/membrane-conformance-e2e-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    work_ = tmpl;
    for (const auto& p : topo_.pods) pods_.push_back(&net_.addPod(p.ns + "-" + p.name));
    net_.up();
    for (size_t i = 0; i < pods_.size(); ++i) {
      if (pods_[i]->address4() != topo_.pods[i].ipv4 || pods_[i]->address6() != topo_.pods[i].ipv6)
        throw std::runtime_error("pod " + topo_.pods[i].key() + " got " + pods_[i]->address4() + " / " +
                                 pods_[i]->address6() + ", but topology.yaml says " + topo_.pods[i].ipv4 + " / " +
                                 topo_.pods[i].ipv6);
    }
    for (size_t i = 0; i < pods_.size(); ++i) {
      servers_.push_back(pods_[i]->spawn({MEMBRANE_CONFORMANCE_AGENT, "serve", "--tcp", "53,80,81", "--udp",
                                          "53,80,81", "--sctp"}));
      if (!servers_.back().waitForOutput("ready", Millis(5000)))
        throw std::runtime_error("the agent in " + topo_.pods[i].key() + " did not start: " + servers_.back().err());
      seen_.push_back(servers_.back().out().size());
    }
    std::ofstream node(work_ / "node.json");
    node << R"({"host": {"addresses": [")" << e2e::Topology::kNode4 << R"(", ")" << e2e::Topology::kNode6
         << R"("]}, "endpoints": [)";
    for (size_t i = 0; i < pods_.size(); ++i)
      node << (i ? ", " : "") << R"({"name": ")" << topo_.pods[i].name << R"(", "namespace": ")" << topo_.pods[i].ns
           << R"(", "interface": ")" << pods_[i]->hostInterface() << R"("})";
    node << "]}\n";
    std::string error;
    compiler_ = codegen::ClassCompiler::create(&error);
    if (!compiler_) throw std::runtime_error("cannot create the BPF compiler: " + error);
    sourcePort_.assign(pods_.size(), kFirstSourcePort);
  }

  ~Node() {
    if (applied_) membrane({"detach"});
    umount2((work_ / "bpf").c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  // Compiles and applies one step; "" on success, else what went wrong.
  std::string apply(const Case& c, size_t stepIndex) {
    std::string name = c.name + "-" + std::to_string(stepIndex + 1);
    pipeline::Compilation comp;
    std::string diags;
    if (!compileStep(topo_, c.steps[stepIndex], (work_ / (name + ".yaml")).string(), comp, diags))
      return "the manifests were not accepted:\n" + diags;
    fs::path out = work_ / name;
    std::string error;
    try {
      auto artifacts = codegen::buildArtifacts(*compiler_, *comp.ir, {});
      if (!codegen::writeArtifacts(out.string(), artifacts, &error)) return "writing artifacts: " + error;
    } catch (const std::exception& e) {
      return std::string("compiling: ") + e.what();
    }
    ExecResult r = membrane({"apply", out.string(), "--node", (work_ / "node.json").string()});
    if (!r.succeeded()) return "membrane apply failed: " + r.describe();
    applied_ = true;
    return "";
  }

  // Probes every flow between two different pods on every port of `c`;
  // `expected` (optional) picks which blocked cells deserve a retry.
  Observed probeAll(const Case& c, const Reachability* expected) {
    const size_t n = pods_.size(), np = c.ports.size();
    Observed o{Reachability(n, np, false), Reachability(n, np, false), {}, 0, 0, 0};
    std::vector<Cell> cells;
    for (size_t s = 0; s < n; ++s)
      for (size_t d = 0; d < n; ++d)
        if (s != d)
          for (size_t p = 0; p < np; ++p) {
            cells.push_back({s, d, p});
            o.probed.set(s, d, p, true);
          }
    run(c, cells, kProbeTimeoutMs, expected, o);
    std::vector<Cell> again;
    for (const auto& cell : cells)
      if (!o.reached.at(cell.src, cell.dst, cell.port) && (!expected || expected->at(cell.src, cell.dst, cell.port)))
        again.push_back(cell);
    if (expected && !again.empty()) {
      o.retried = again.size();
      run(c, again, kRetryTimeoutMs, expected, o);
    }
    o.flows = cells.size();
    for (const auto& cell : cells) o.allowed += o.reached.at(cell.src, cell.dst, cell.port);
    return o;
  }

  const Topology& topology() const { return topo_; }

 private:
  struct Cell {
    size_t src, dst, port;
  };
  static constexpr uint16_t kFirstSourcePort = 10000;  // below the kernel's ephemeral range

  // Every probe uses a source port its pod has never used before: the
  // datapath's connection tracking outlives a swap (by design), so a reused
  // 4-tuple could ride on a flow an earlier step allowed.
  uint16_t nextSourcePort(size_t pod) {
    uint16_t p = sourcePort_[pod]++;
    if (sourcePort_[pod] >= 32000) sourcePort_[pod] = kFirstSourcePort;
    return p;
  }

  void run(const Case& c, const std::vector<Cell>& cells, int timeoutMs, const Reachability* expected, Observed& o) {
    const uint32_t tag = ++nonce_;
    std::vector<std::vector<std::string>> argvs(pods_.size());
    std::vector<std::vector<Cell>> bySource(pods_.size());
    // (dst pod, src address, sport, dport) of every SCTP INIT sent.
    std::map<std::tuple<size_t, std::string, uint16_t, uint16_t>, Cell> sctp;
    for (const auto& cell : cells) {
      auto& argv = argvs[cell.src];
      if (argv.empty())
        argv = {MEMBRANE_CONFORMANCE_AGENT, "probe", "--timeout-ms", std::to_string(timeoutMs), "--tag",
                std::to_string(tag)};
      const PortProtocol& pp = c.ports[cell.port];
      uint16_t sport = nextSourcePort(cell.src);
      std::string dst = address(cell.dst, c.family);
      argv.push_back(std::string(protocolName(pp.protocol)) + "," + dst + "," + std::to_string(pp.port) + "," +
                     std::to_string(sport));
      bySource[cell.src].push_back(cell);
      if (pp.protocol == Protocol::SCTP) sctp[{cell.dst, address(cell.src, c.family), sport, pp.port}] = cell;
    }
    std::vector<Process> running(pods_.size());
    for (size_t s = 0; s < pods_.size(); ++s)
      if (!argvs[s].empty()) running[s] = pods_[s]->spawn(argvs[s]);
    for (size_t s = 0; s < pods_.size(); ++s) {
      if (!running[s].valid()) continue;
      ExecResult r = running[s].wait(Millis(timeoutMs + 5000));
      if (!r.succeeded()) {
        o.harnessErrors.push_back("probe from " + topo_.pods[s].key() + " failed: " + r.describe());
        continue;
      }
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        size_t i = 0;
        std::string status;
        words >> i >> status;
        if (i >= bySource[s].size()) continue;
        const Cell& cell = bySource[s][i];
        if (status == "ok") o.reached.set(cell.src, cell.dst, cell.port, true);
        else if (status == "refused" || status == "error")
          o.harnessErrors.push_back(topo_.pods[cell.src].key() + " -> " + topo_.pods[cell.dst].key() + " " +
                                    c.ports[cell.port].str() + ": " + line);
      }
    }
    if (sctp.empty()) return;
    // The INITs left when the probes started; the receivers report them as
    // they arrive. Wait until every INIT that should arrive has (or up to
    // `cap`), then a little longer: a leak would arrive just as fast.
    auto collect = [&] {
      for (size_t d = 0; d < servers_.size(); ++d) {
        servers_[d].running();  // reads what the agent printed
        const std::string& out = servers_[d].out();
        size_t end = out.rfind('\n');
        if (end == std::string::npos || end + 1 <= seen_[d]) continue;
        std::istringstream lines(out.substr(seen_[d], end + 1 - seen_[d]));
        seen_[d] = end + 1;
        for (std::string line; std::getline(lines, line);) {
          std::istringstream words(line);
          std::string word, src, crc;
          unsigned sport = 0, dport = 0, gotTag = 0;
          if (!(words >> word >> src >> sport >> dport >> gotTag >> crc) || word != "sctp") continue;
          if (gotTag != tag) continue;  // a straggler from an earlier round
          auto it = sctp.find({d, src, static_cast<uint16_t>(sport), static_cast<uint16_t>(dport)});
          if (it == sctp.end()) continue;
          if (crc != "crc-ok") o.harnessErrors.push_back("SCTP INIT with a bad checksum: " + line);
          o.reached.set(it->second.src, it->second.dst, it->second.port, true);
        }
      }
    };
    auto allArrived = [&] {
      for (const auto& [key, cell] : sctp)
        if ((!expected || expected->at(cell.src, cell.dst, cell.port)) && !o.reached.at(cell.src, cell.dst, cell.port))
          return false;
      return true;
    };
    const auto cap = std::chrono::steady_clock::now() + Millis(timeoutMs);
    for (collect(); !allArrived() && std::chrono::steady_clock::now() < cap; collect())
      std::this_thread::sleep_for(Millis(5));
    std::this_thread::sleep_for(Millis(20));
    collect();
  }

  std::string address(size_t pod, Family f) const {
    return f == Family::IPv4 ? topo_.pods[pod].ipv4 : topo_.pods[pod].ipv6;
  }

  ExecResult membrane(std::vector<std::string> args) {
    std::vector<std::string> argv = {MEMBRANE_BIN, "--netns", net_.hostNamespace(), "--bpffs", (work_ / "bpf").string(),
                                     "--state-dir", (work_ / "state").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return e2e::Topology::exec("", argv, Millis(60000));
  }

  const Topology& topo_;
  e2e::Topology net_;
  fs::path work_;
  std::vector<e2e::Pod*> pods_;
  std::vector<Process> servers_;
  std::vector<size_t> seen_;  // how much of each server's output is read
  std::vector<uint16_t> sourcePort_;
  std::unique_ptr<codegen::ClassCompiler> compiler_;
  uint32_t nonce_ = 0;
  bool applied_ = false;
};

const Topology& topology() {
  static const Topology t = Topology::load(kDir + "/topology.yaml");
  return t;
}

std::unique_ptr<Node> gNode;
std::string gSetupError;

class ConformanceTraffic : public ::testing::TestWithParam<std::string> {
 public:
  // One topology for all cases: building it takes seconds, a case less.
  static void SetUpTestSuite() {
    if (e2e::missingPrivileges()) return;
    try {
      gNode = std::make_unique<Node>(topology());
      // The prober first, with no policy anywhere: every flow, SCTP
      // included, must get through, or nothing below would mean anything.
      Case open;
      open.name = "no-policy";
      open.ports = defaultPorts();
      open.ports.push_back({Protocol::UDP, 53});
      open.ports.push_back({Protocol::TCP, 53});
      for (Family f : {Family::IPv4, Family::IPv6}) {
        open.family = f;
        Observed o = gNode->probeAll(open, nullptr);
        std::ostringstream why;
        for (const auto& e : o.harnessErrors) why << "  " << e << "\n";
        if (o.allowed != o.flows)
          why << "  only " << o.allowed << " of " << o.flows << " flows got through with no policy loaded ("
              << (f == Family::IPv4 ? "IPv4" : "IPv6") << ")\n";
        if (!why.str().empty()) throw std::runtime_error("the prober does not work:\n" + why.str());
        std::cout << "no policy, " << (f == Family::IPv4 ? "IPv4" : "IPv6") << ": " << o.allowed << " of "
                  << o.flows << " flows through\n";
      }
    } catch (const std::exception& e) {
      gSetupError = e.what();
      gNode.reset();
    }
  }
  static void TearDownTestSuite() { gNode.reset(); }

 protected:
  void SetUp() override {
    MEMBRANE_E2E_REQUIRE_PRIVILEGES();
    ASSERT_TRUE(gNode) << "the real-traffic node could not be set up: " << gSetupError;
  }
};

TEST_P(ConformanceTraffic, RealTrafficMatchesKubernetes) {
  const Case c = Case::load(GetParam(), topology());
  const Topology& topo = topology();
  std::string report;
  auto started = std::chrono::steady_clock::now();
  size_t flows = 0, allowed = 0, retried = 0;
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    std::string where = "step " + std::to_string(i + 1) + " (" + step.name + "): ";
    std::string err = gNode->apply(c, i);
    if (!err.empty()) {
      report += where + err + "\n";
      continue;
    }
    Observed o = gNode->probeAll(c, &step.expected);
    flows += o.flows;
    allowed += o.allowed;
    retried += o.retried;
    std::ostringstream out;
    for (const auto& e : o.harnessErrors) out << "  harness: " << e << "\n";
    std::ostringstream cells;
    size_t wrong = 0;
    for (size_t p = 0; p < c.ports.size(); ++p) {
      bool differs = false;
      for (size_t s = 0; s < topo.pods.size(); ++s)
        for (size_t d = 0; d < topo.pods.size(); ++d) {
          if (!o.probed.at(s, d, p) || o.reached.at(s, d, p) == step.expected.at(s, d, p)) continue;
          differs = true;
          ++wrong;
          cells << "  " << topo.pods[s].key() << " -> " << topo.pods[d].key() << " " << c.ports[p].str()
                << ": expected " << (step.expected.at(s, d, p) ? "reachable" : "blocked") << ", traffic "
                << (o.reached.at(s, d, p) ? "got through" : "was blocked") << "\n";
        }
      if (differs) {
        Reachability notProbed(topo.pods.size(), c.ports.size(), false);
        for (size_t s = 0; s < topo.pods.size(); ++s)
          for (size_t d = 0; d < topo.pods.size(); ++d) notProbed.set(s, d, p, !o.probed.at(s, d, p));
        out << c.ports[p].str() << " (rows: from, columns: to; '!' expected reachable but blocked, '#' expected "
            << "blocked but got through, '-' not probed):\n"
            << renderMatrix(topo, step.expected, p, &o.reached, &notProbed);
      }
    }
    if (wrong) out << wrong << " of " << o.flows << " flows differ:\n" << cells.str();
    if (!out.str().empty()) report += where + "\n" + out.str();
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  std::cout << c.name << ": " << c.steps.size() << " step(s), " << flows << " flows probed, " << allowed
            << " got through, " << retried << " retried, " << ms << " ms\n";

  expectCaseOutcome(c, Check::Traffic, report);
}

std::vector<std::string> allCases() { return caseFilesOrNone(kDir + "/cases"); }

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceTraffic, ::testing::ValuesIn(allCases()),
                         [](const auto& test) { return caseTestName(test.param); });

// Without cases this binary would pass having checked nothing.
TEST(ConformanceTrafficCases, ThereAreCases) { EXPECT_GE(allCases().size(), 40u) << kDir; }

}  // namespace
}  // namespace membrane::conformance
