// Section 4 of docs/benchmarks.md: how long `membrane apply` takes to attach
// the programs of 1, 10 and 100 endpoints, to swap all of them to a new
// policy version and to detach them, and how many packets are lost while the
// programs are swapped under load (the goal: none). Prints one markdown
// section on stdout; progress on stderr. See README.md next to this file.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "topology.h"
#include "udp_load.h"

namespace membrane::bench {
namespace {

namespace fs = std::filesystem;
using e2e::ExecResult;
using e2e::Millis;
using e2e::Topology;
using namespace std::chrono_literals;

constexpr uint16_t kOneFlowPort = 5201;
constexpr uint16_t kNewFlowsPort = 5202;
constexpr uint16_t kDeniedPort = 5999;
constexpr uint64_t kLoadPps = 10000;  // per stream; two streams

const char* kDescription =
    "Section 4 of docs/benchmarks.md. Times `membrane apply` attaching the programs of 1, 10 and 100\n"
    "endpoints (veths in network namespaces), swapping all of them to a new policy version, and\n"
    "`membrane detach`; then swaps twice while two UDP streams run (one flow, and a new flow in every\n"
    "packet) and counts the packets lost. Prints a markdown section on stdout. --quick: one run per\n"
    "size; otherwise the median of 5 runs (3 at 100 endpoints).";
const char* kExitCodes =
    "Needs root. Exit codes: 0 measured (or, without root and CI unset, a section saying it was not\n"
    "measured); 1 a step failed, the programs stopped enforcing after the swaps, or, under CI=true,\n"
    "not root; 2 usage.";

// One policy per class: with several, the endpoints are split round-robin
// between groups g0, g1, ... and each group's policy selects it alone.
std::string policy(bool v2, size_t classes) {
  std::ostringstream p;
  p << "namespace bench\n";
  for (size_t c = 0; c < classes; ++c) {
    p << "\npolicy svc" << (classes > 1 ? "-g" + std::to_string(c) : "") << " {\n  selects { app = svc"
      << (classes > 1 ? ", group = g" + std::to_string(c) : "") << " }\n  ingress {\n"
      << "    allow from pods { app = load } on udp/" << kOneFlowPort << "\n"
      << "    allow from cidr " << kManyFlowsSourcePrefix << " on udp/" << kNewFlowsPort << "\n"
      << "    allow from pods { app = svc } on tcp/80\n";
    if (v2) p << "    allow from host on tcp/81\n";
    p << "  }\n  egress {\n    allow to pods { app = svc } on tcp/80\n  }\n}\n";
  }
  return p.str();
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// S enforced endpoints (pods p1..pS, in `classes` classes) and a pod `load`
// that only sends; the membrane binary attaches at the host-side veths.
class Node {
 public:
  Node(size_t endpoints, size_t classes, const fs::path& work) : work_(work), classes_(classes) {
    auto started = std::chrono::steady_clock::now();
    load_ = &topo_.addPod("load");
    for (size_t i = 1; i <= endpoints; ++i) pods_.push_back(&topo_.addPod("p" + std::to_string(i)));
    topo_.up();
    ExecResult r = Topology::exec(topo_.hostNamespace(),
                                  {"ip", "route", "add", kManyFlowsSourcePrefix, "dev", load_->hostInterface()});
    if (!r.succeeded()) throw std::runtime_error("ip route add: " + r.describe());
    std::ostringstream msg;
    msg << endpoints << " endpoints: topology up in " << std::fixed << std::setprecision(1) << secondsSince(started)
        << " s";
    progress(msg.str());

    std::ofstream inv(work_ / "inventory.json");
    inv << R"({"namespaces": [{"name": "bench"}], "endpoints": [)"
        << R"({"name": "load", "namespace": "bench", "labels": {"app": "load"}, "addresses": [")" << load_->address4()
        << "\"]}";
    for (size_t i = 0; i < pods_.size(); ++i)
      inv << R"(, {"name": ")" << pods_[i]->name() << R"(", "namespace": "bench", "labels": {"app": "svc", "group": "g)"
          << i % classes << R"("}, "addresses": [")" << pods_[i]->address4() << "\"]}";
    inv << "]}\n";
    std::ofstream node(work_ / "node.json");
    node << R"({"host": {"addresses": [")" << Topology::kNode4 << R"("]}, "endpoints": [)";
    for (size_t i = 0; i < pods_.size(); ++i)
      node << (i ? ", " : "") << R"({"name": ")" << pods_[i]->name() << R"(", "namespace": "bench", "interface": ")"
           << pods_[i]->hostInterface() << "\"}";
    node << "]}\n";
    node.close();
    inv.close();
    v1_ = compile(false);
    v2_ = compile(true);
  }
  ~Node() {
    run({"detach"});
    umount2((work_ / "bpf").c_str(), MNT_DETACH);
  }

  const fs::path& v1() const { return v1_; }
  const fs::path& v2() const { return v2_; }
  e2e::Pod& load() { return *load_; }
  e2e::Pod& target() { return *pods_.front(); }

  // Runs `membrane apply DIR`; returns its wall time; throws on failure.
  double apply(const fs::path& dir, const char* expect) {
    throwIfInterrupted();
    auto started = std::chrono::steady_clock::now();
    ExecResult r = run({"apply", dir.string(), "--node", (work_ / "node.json").string()});
    double took = secondsSince(started);
    if (!r.succeeded()) throw std::runtime_error("membrane apply: " + r.describe());
    if (r.err.find(expect) == std::string::npos)
      throw std::runtime_error("membrane apply did not report '" + std::string(expect) + "': " + r.err);
    return took;
  }
  double detach() {
    auto started = std::chrono::steady_clock::now();
    ExecResult r = run({"detach"});
    double took = secondsSince(started);
    if (!r.succeeded()) throw std::runtime_error("membrane detach: " + r.describe());
    return took;
  }

 private:
  fs::path compile(bool v2) {
    fs::path dir = work_ / (v2 ? "v2" : "v1");
    fs::create_directories(dir);
    std::ofstream(dir / "svc.policy") << policy(v2, classes_);
    ExecResult r = Topology::exec("", {MEMBRANEC_BIN, "compile", "-q", "-i", (work_ / "inventory.json").string(), "-o",
                                       (dir / "out").string(), (dir / "svc.policy").string()},
                                  Millis(120000));
    if (!r.succeeded()) throw std::runtime_error("membranec compile: " + r.describe());
    return dir / "out";
  }
  ExecResult run(std::vector<std::string> args) {
    std::vector<std::string> argv = {MEMBRANE_BIN, "--netns", topo_.hostNamespace(), "--bpffs",
                                     (work_ / "bpf").string(), "--state-dir", (work_ / "state").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return Topology::exec("", argv, Millis(300000));
  }

  Topology topo_{"mbbl"};
  fs::path work_;
  size_t classes_ = 1;
  e2e::Pod* load_ = nullptr;
  std::vector<e2e::Pod*> pods_;
  fs::path v1_, v2_;
};

struct Timing {
  size_t endpoints = 0;
  size_t classes = 1;
  int runs = 0;
  double attach = 0, swap = 0, detach = 0;  // medians, seconds
};

struct SwapLoss {
  size_t endpoints = 0;
  double swapSeconds = 0;  // the slower of the two swaps under load
  uint64_t oneFlowSent = 0, oneFlowLost = 0;
  uint64_t newFlowsSent = 0, newFlowsLost = 0;
  std::string deniedCheck;  // "" when a denied port stays denied after the swaps
};

Timing timeApply(Node& node, size_t endpoints, size_t classes, int runs) {
  std::vector<double> attach, swap, detach;
  for (int r = 0; r < runs; ++r) {
    attach.push_back(node.apply(node.v1(), " attached, 0 swapped"));
    swap.push_back(node.apply(node.v2(), " 0 links attached, "));
    detach.push_back(node.detach());
    std::ostringstream msg;
    msg << std::fixed << std::setprecision(3) << endpoints << " endpoints in " << classes << " classes, run " << r + 1
        << ": attach "
        << attach.back() << " s, swap " << swap.back() << " s, detach " << detach.back() << " s";
    progress(msg.str());
  }
  return {endpoints, classes, runs, median(attach), median(swap), median(detach)};
}

// Two paced streams from `load` to the first endpoint, through its program
// (tc egress of its host veth); two swaps (v1 → v2 → v1) in the middle.
SwapLoss swapUnderLoad(Node& node, size_t endpoints) {
  SwapLoss out;
  out.endpoints = endpoints;
  node.apply(node.v1(), "attached");
  const uint64_t track = 50'000'000;
  UdpReceiver oneFlowRx, newFlowsRx, deniedRx;
  oneFlowRx.start({node.target().netns(), -1, kOneFlowPort, track});
  newFlowsRx.start({node.target().netns(), -1, kNewFlowsPort, track});
  deniedRx.start({node.target().netns(), -1, kDeniedPort, 0});
  UdpSender oneFlow, newFlows;
  SenderOptions o;
  o.netns = node.load().netns();
  o.source = node.load().address4();
  o.destination = node.target().address4();
  o.packetsPerSecond = kLoadPps;
  o.destinationPort = kOneFlowPort;
  oneFlow.start(o);
  o.destinationPort = kNewFlowsPort;
  o.newFlowEachPacket = true;
  newFlows.start(o);
  std::this_thread::sleep_for(500ms);
  double first = node.apply(node.v2(), " 0 links attached, ");
  std::this_thread::sleep_for(200ms);
  double second = node.apply(node.v1(), " 0 links attached, ");
  std::this_thread::sleep_for(500ms);
  oneFlow.stop();
  newFlows.stop();
  std::this_thread::sleep_for(300ms);  // in flight
  oneFlowRx.stop();
  newFlowsRx.stop();
  out.swapSeconds = std::max(first, second);
  out.oneFlowSent = oneFlow.sent();
  out.oneFlowLost = oneFlow.sent() - std::min(oneFlow.sent(), oneFlowRx.distinct());
  out.newFlowsSent = newFlows.sent();
  out.newFlowsLost = newFlows.sent() - std::min(newFlows.sent(), newFlowsRx.distinct());
  // Zero loss means something only if the programs still enforce.
  uint64_t sent = sendBurst(node.load().netns(), node.load().address4(), node.target().address4(), kDeniedPort, 200);
  std::this_thread::sleep_for(200ms);
  if (deniedRx.received() != 0 || sent == 0)
    out.deniedCheck = std::to_string(deniedRx.received()) + " of " + std::to_string(sent) + " denied packets passed";
  deniedRx.stop();
  std::ostringstream msg;
  msg << std::fixed << std::setprecision(3) << endpoints << " endpoints, swaps under load (" << first << " s, "
      << second << " s): one flow " << out.oneFlowSent << " sent, " << out.oneFlowLost << " lost; new flows "
      << out.newFlowsSent << " sent, " << out.newFlowsLost << " lost"
      << (out.deniedCheck.empty() ? "" : "; CHECK: " + out.deniedCheck);
  progress(msg.str());
  return out;
}

std::string ms(double seconds) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(seconds < 0.1 ? 1 : 0) << seconds * 1000 << " ms";
  return s.str();
}

void printSection(const std::vector<Timing>& timings, const std::vector<SwapLoss>& losses, bool quick) {
  std::cout << "## 4. The loader\n\n";
  std::cout
      << "**How measured.** For each size, a fresh node (`testkit/topology.h`): S pods, each a network namespace "
         "with a veth to the node namespace, all enforced endpoints of one class (a policy with three ingress "
         "rules and one egress rule, so two programs per endpoint: `tc-from` and `tc-to`), plus one pod that only "
         "sends; and once 100 pods split between 10 classes (10 such policies, each selecting a tenth). `membranec compile` writes two versions (the second adds a rule). Times are the wall time of the "
         "`membrane` command (`--attach auto`, so TCX links on this kernel), process start to exit: **attach** is "
         "`membrane apply v1` on a node with nothing applied (check artifacts, load the node's dispatchers and "
         "create its maps, load and verify the class's program pair once, put it in the dispatchers' version "
         "slot, record every endpoint in `mb_endpoints`, fill the identity trie, create and pin the links to the "
         "dispatchers, flip), **swap** is `membrane apply v2` right after it (load the new version's pair once, "
         "fill the other slot, read every link back, flip `mb_active_slot`: every endpoint switches at that one "
         "map update), **detach** is `membrane detach`. "
      << (quick ? "One run per size (`--quick`)." : "Median of 5 runs (3 with 100 endpoints).")
      << " The machine is shared (2 vCPUs, other jobs running), so times vary by 10-30 % between runs.\n\n";
  std::cout << "| endpoints | classes | programs loaded | links | attach | swap to a new version | detach |\n"
               "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& t : timings)
    std::cout << "| " << t.endpoints << " | " << t.classes << " | " << 2 * t.classes << " | " << 2 * t.endpoints
              << " | " << ms(t.attach) << " | " << ms(t.swap) << " | " << ms(t.detach) << " |\n";
  // One class: a line through 10 and 100 endpoints gives the cost of an
  // endpoint; 100 endpoints in 10 classes against 1, the cost of a class.
  const Timing* ten = nullptr;
  const Timing* hundred = nullptr;
  const Timing* spread = nullptr;
  for (const auto& t : timings) {
    if (t.classes == 1 && t.endpoints == 10) ten = &t;
    if (t.classes == 1 && t.endpoints == 100) hundred = &t;
    if (t.classes > 1) spread = &t;
  }
  if (ten && hundred && spread) {
    double span = static_cast<double>(hundred->endpoints - ten->endpoints);
    double attachEndpoint = (hundred->attach - ten->attach) / span, swapEndpoint = (hundred->swap - ten->swap) / span;
    double extra = static_cast<double>(spread->classes - 1);
    double attachClass = (spread->attach - hundred->attach) / extra, swapClass = (spread->swap - hundred->swap) / extra;
    std::cout << "\n**Per endpoint** (one class, 10 to 100 endpoints): " << ms(attachEndpoint) << " to attach, "
              << ms(swapEndpoint) << " to swap: its entry in `mb_endpoints`, its trie and owned-address entries, "
                 "two TCX links created and pinned (attach) or read back (swap). **Per class** (100 endpoints in "
              << spread->classes << " classes against 1): " << ms(attachClass) << " to attach, " << ms(swapClass)
              << " to swap: one load of its object's two programs through the verifier (the dispatchers find "
                 "each packet's endpoint by the veth's ifindex and hand it over, so one load serves all of its "
                 "endpoints; loads after the first run on every core at once). **Fixed** (one class, the line through 10 and 100 "
                 "endpoints at 0): "
              << ms(std::max(0.0, ten->attach - attachEndpoint * ten->endpoints)) << " to attach, "
              << ms(std::max(0.0, ten->swap - swapEndpoint * ten->endpoints))
              << " to swap, the class's load included: process start, hashing the artifacts, kernel feature probes, "
                 "state files (the pending record of the swap included), and on the first attach creating the node's "
                 "maps (conntrack's 262,144 preallocated entries the largest). None of this stops traffic: every "
                 "endpoint runs the old version until the flip.\n";
    std::cout << "\n**Goals** (100 endpoints: attach in at most 300 ms, swap in at most 100 ms): attach "
              << ms(hundred->attach) << (hundred->attach <= 0.300 ? " (met)" : " (**not met**)") << ", swap "
              << ms(hundred->swap) << (hundred->swap <= 0.100 ? " (met)" : " (**not met**)")
              << " in one class; " << ms(spread->attach) << " and " << ms(spread->swap) << " in " << spread->classes
              << " classes. With a load per endpoint (before 2026-12-05): 1,260 ms and 1,206 ms.\n";
  }
  std::cout << "\n**Packets lost during a swap under load.** While v1 is applied, the sending pod runs two paced "
               "UDP streams of "
            << thousands(kLoadPps)
            << " packets/s each to the first endpoint, which counts distinct sequence numbers: one flow (decided "
               "once, then conntrack hits) and a new flow in every packet (source from 198.18.64.0/20, so every "
               "packet is decided by the policy of whichever version runs at that instant). After 0.5 s the node "
               "swaps to v2, 0.2 s later back to v1, and the streams run 0.5 s more. Lost = sent − distinct "
               "received. Afterwards 200 packets to a port no rule allows must all be dropped (the programs still "
               "enforce).\n\n";
  std::cout << "| endpoints | swap under load (slower of 2) | one flow: sent | lost | new flow per packet: sent | lost "
               "| still enforcing |\n| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
  bool allZero = true, enforcing = true;
  for (const auto& l : losses) {
    allZero = allZero && l.oneFlowLost == 0 && l.newFlowsLost == 0;
    enforcing = enforcing && l.deniedCheck.empty();
    std::cout << "| " << l.endpoints << " | " << ms(l.swapSeconds) << " | " << thousands(l.oneFlowSent) << " | "
              << thousands(l.oneFlowLost) << " | " << thousands(l.newFlowsSent) << " | "
              << thousands(l.newFlowsLost) << " | " << (l.deniedCheck.empty() ? "yes" : "**no: " + l.deniedCheck + "**")
              << " |\n";
  }
  std::cout << "\n**Goal** (no packet lost during a swap): "
            << (allZero ? "**met**: every packet sent across the swaps arrived, at every size. The dispatchers "
                          "switch every endpoint at one map update, every packet runs either the old or the new "
                          "program, both allow these flows, and conntrack is a map both versions share."
                        : "**not met**: packets were lost across a swap (see the table); the loss is in the swap "
                          "path, or, on this shared machine, in a receive buffer that overflowed while the swap "
                          "took the CPU — the stderr log of the run has the counts.")
            << (enforcing ? "" : " The enforcement check failed, so the zero-loss figures do not show a working swap.")
            << "\n";
}

int run(bool quick) {
  std::vector<Timing> timings;
  std::vector<SwapLoss> losses;
  {
    ScratchDir work("membrane-bench-loader");
    for (size_t endpoints : {1, 10, 100}) {
      fs::path dir = work.path() / std::to_string(endpoints);
      fs::create_directories(dir);
      Node node(endpoints, 1, dir);
      int runs = quick ? 1 : (endpoints >= 100 ? 3 : 5);
      timings.push_back(timeApply(node, endpoints, 1, runs));
      losses.push_back(swapUnderLoad(node, endpoints));
    }
    // The same 100 endpoints in 10 classes: what a class costs.
    fs::path dir = work.path() / "100-in-10";
    fs::create_directories(dir);
    Node node(100, 10, dir);
    timings.push_back(timeApply(node, 100, 10, quick ? 1 : 3));
  }
  printSection(timings, losses, quick);
  // Losses are a figure (reported, goal not met); programs that stopped
  // enforcing are a broken benchmark.
  for (const auto& l : losses)
    if (!l.deniedCheck.empty()) return 1;
  return 0;
}

}  // namespace
}  // namespace membrane::bench

int main(int argc, char** argv) {
  using namespace membrane::bench;
  BenchProgram program("bench/loader", kDescription, kExitCodes);
  if (auto rc = program.parse(argc, argv)) return *rc;
  program.needsRoot("## 4. The loader", "network namespaces, BPF");
  return program.run([&] { return run(program.quick); });
}
