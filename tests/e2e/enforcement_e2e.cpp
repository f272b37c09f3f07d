// Policies enforced on real traffic: pods in network namespaces, programs
// compiled by membranec and attached by the `membrane` binary at the
// host-side veths. The observed allow/deny matrix must equal the IR
// evaluator's, cell by cell; swaps keep connections and lose no packets; a
// version that fails verification changes nothing.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <elf.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <csignal>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
#include "abi/datapath.h"
#include "loader/dispatch.h"
#include "loader/kernel.h"
#include "loader/pins.h"
#include "loader/loader.h"
#include "cluster.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Probe {
  std::string proto;  // tcp, udp, icmp
  uint16_t port;
  bool v6;
};

std::string describe(const Probe& p) {
  return p.proto + (p.proto == "icmp" ? "" : "/" + std::to_string(p.port)) + (p.v6 ? " v6" : " v4");
}

// What the evaluator says for src → dst.
bool expected(const Cluster& c, const Cluster::Member& src, const Cluster::Member& dst, const Probe& p) {
  const ir::Endpoint& s = c.endpoint(src);
  const ir::Endpoint& d = c.endpoint(dst);
  net::Address sa = *net::Address::parse(p.v6 ? src.pod->address6() : src.pod->address4());
  net::Address da = *net::Address::parse(p.v6 ? dst.pod->address6() : dst.pod->address4());
  ir::Traffic t{ir::kTCP, p.port};
  if (p.proto == "udp") t.protocol = ir::kUDP;
  if (p.proto == "icmp") t = p.v6 ? ir::Traffic{ir::kICMPv6, 128} : ir::Traffic{ir::kICMP, 8};
  return ir::evaluateFlow(c.program(), {&s, sa, false}, {&d, da, false}, t).allowed();
}

// Probes every ordered pair on every probe, concurrently per source, and
// returns the cells where reality and the evaluator disagree.
std::vector<std::string> mismatches(Cluster& c, const std::vector<Probe>& probes, size_t* checked, size_t* allowed) {
  std::vector<std::string> out;
  for (const auto& src : c.members()) {
    struct Pending {
      const Cluster::Member* dst;
      Probe probe;
      Process process;
    };
    std::vector<Pending> pending;
    for (const auto& dst : c.members()) {
      if (&dst == &src) continue;
      for (const auto& p : probes) {
        std::string addr = p.v6 ? dst.pod->address6() : dst.pod->address4();
        std::vector<std::string> argv = {proberPath(), "probe", p.proto, addr, std::to_string(p.port),
                                         "--timeout-ms", "600"};
        pending.push_back({&dst, p, src.pod->spawn(argv)});
      }
    }
    for (auto& pe : pending) {
      ExecResult r = pe.process.wait(Millis(5000));
      bool passed = r.exitCode == 0;
      bool want = expected(c, src, *pe.dst, pe.probe);
      ++*checked;
      *allowed += passed;
      if (passed != want)
        out.push_back(src.key() + " -> " + pe.dst->key() + " " + describe(pe.probe) + ": traffic " +
                      (passed ? "passed" : "blocked") + ", evaluator says " + (want ? "allow" : "deny") + " (" +
                      r.describe() + ")");
    }
  }
  return out;
}

void startServers(Cluster& c, std::vector<Process>& servers) {
  for (const auto& m : c.members()) {
    servers.push_back(m.pod->spawn({proberPath(), "serve", "--tcp", "80,81", "--udp", "80,81,5000"}));
    ASSERT_TRUE(servers.back().waitForOutput("ready", Millis(3000))) << m.key();
  }
}

const char* kPolicies = R"(
namespace x

# x is default-deny ingress; b, namespace y on 81, and the node get in, z/a never.
policy x-ingress {
  selects {}
  ingress {
    allow from pods { pod = b } on tcp/80, udp/80
    allow from namespaces { ns = y } on tcp/81
    allow from host
    deny  from pods { pod = a } in namespace z
  }
}

namespace y

# y/a may only talk to namespace x on 81 and ping it, and to y/b over UDP.
policy y-a-egress {
  selects { pod = a }
  egress {
    allow to pods {} in namespace x on tcp/81, icmp/echo-request, icmpv6/echo-request
    allow to pods { pod = b } on udp/80
  }
}

# z/b accepts anything but TCP/81 from IPv6 2001:2::/48, written as a CIDR.
policy z-b {
  namespace z
  selects { pod = b }
  ingress {
    allow from all
    deny from cidr 2001:2::/48 on tcp/81
  }
}
)";

std::vector<std::tuple<std::string, std::string, labels::LabelSet>> kMembers = {
    {"x", "a", {}}, {"x", "b", {}}, {"y", "a", {}}, {"y", "b", {}}, {"z", "a", {}}, {"z", "b", {}}};

TEST(Enforcement, MatrixEqualsTheEvaluator) {
  MB_REQUIRE_ROOT();
  Cluster c(kMembers);
  std::vector<Process> servers;
  startServers(c, servers);
  fs::path v1 = c.compile(kPolicies, "v1");
  ExecResult applied = c.apply(v1);
  ASSERT_TRUE(applied.succeeded()) << applied.describe();

  std::vector<Probe> probes = {{"tcp", 80, false}, {"tcp", 81, false}, {"udp", 80, false}, {"udp", 81, false},
                               {"icmp", 0, false}, {"tcp", 80, true},  {"tcp", 81, true},  {"udp", 80, true},
                               {"icmp", 0, true}};
  size_t checked = 0, allowed = 0;
  auto wrong = mismatches(c, probes, &checked, &allowed);
  std::cout << "matrix: " << checked << " flows over " << c.members().size() << " pods, " << allowed << " allowed, "
            << wrong.size() << " mismatches\n";
  for (const auto& w : wrong) ADD_FAILURE() << w;
  EXPECT_GT(allowed, checked / 5);
  EXPECT_LT(allowed, checked * 4 / 5);
}

// A policy version and the same plus an unrelated rule: both allow x/b → x/a.
const char* kSwapV1 = R"(
namespace x
policy keep {
  selects { pod = a }
  ingress { allow from pods { pod = b } on tcp/80, udp/5000 }
}
)";
const char* kSwapV2 = R"(
namespace x
policy keep {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80, udp/5000
    allow from host on tcp/81
  }
}
)";

void swapUnderLoad(const std::string& attach) {
  Cluster c({{"x", "a", {}}, {"x", "b", {}}, {"y", "a", {}}});
  c.attach = attach;
  fs::path v1 = c.compile(kSwapV1, "v1");
  fs::path v2 = c.compile(kSwapV2, "v2");
  ASSERT_TRUE(c.apply(v1).succeeded());
  const auto& a = c.members()[0];
  const auto& b = c.members()[1];

  // An echo server for the long-lived connection and a counter for the stream.
  Process server = a.pod->spawn({proberPath(), "serve", "--tcp", "80"});
  ASSERT_TRUE(server.waitForOutput("ready", Millis(3000)));
  Process counter = a.pod->spawn({proberPath(), "count", "udp", "--port", "5000"});
  ASSERT_TRUE(counter.waitForOutput("ready", Millis(3000)));

  Process stream = b.pod->spawn({proberPath(), "stream", "udp", a.pod->address4(), "5000", "--pps", "2000",
                                 "--seconds", "3"});
  Process hold = b.pod->spawn({proberPath(), "hold", "tcp", a.pod->address4(), "80", "--seconds", "3"});
  ASSERT_TRUE(hold.waitForOutput("connected", Millis(2000))) << "the connection opens under v1";
  std::this_thread::sleep_for(1000ms);
  ExecResult swapped = c.apply(v2);
  ASSERT_TRUE(swapped.succeeded()) << swapped.describe();
  EXPECT_NE(swapped.err.find("swapped"), std::string::npos) << swapped.err;
  std::this_thread::sleep_for(300ms);
  ExecResult back = c.apply(v1);  // and back again, mid-stream
  ASSERT_TRUE(back.succeeded()) << back.describe();

  ExecResult sent = stream.wait(Millis(10000));
  ASSERT_TRUE(sent.succeeded()) << sent.describe();
  ExecResult held = hold.wait(Millis(10000));
  EXPECT_TRUE(held.succeeded()) << "the long-lived TCP connection must survive both swaps: " << held.describe();
  std::this_thread::sleep_for(200ms);
  ExecResult counted = counter.stop();
  unsigned long sentCount = 0, receivedCount = 0;
  std::sscanf(sent.out.c_str(), "sent %lu", &sentCount);
  std::istringstream lines(counted.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) receivedCount = std::stoul(line);
  std::cout << "swap under load (" << attach << "): sent " << sentCount << ", received " << receivedCount
            << " across two swaps\n";
  EXPECT_GT(sentCount, 3000u);
  EXPECT_EQ(receivedCount, sentCount) << "zero packets may be lost during a swap\n" << counted.describe();
  // The policy still bites after the swaps: y/a is not allowed in.
  EXPECT_EQ(c.members()[2].pod->exec({proberPath(), "probe", "tcp", a.pod->address4(), "80", "--timeout-ms", "400"}).exitCode, 1);
}

TEST(Enforcement, SwapKeepsConnectionsAndLosesNoPackets) {
  MB_REQUIRE_ROOT();
  swapUnderLoad("auto");
}

// The cls_bpf fallback for kernels without TCX, forced here: same guarantees.
TEST(Enforcement, TcFallbackSwapsAsAtomically) {
  MB_REQUIRE_ROOT();
  swapUnderLoad("tc");
}

TEST(Enforcement, TcFallbackMatrixEqualsTheEvaluator) {
  MB_REQUIRE_ROOT();
  Cluster c(kMembers);
  c.attach = "tc";
  std::vector<Process> servers;
  startServers(c, servers);
  ExecResult applied = c.apply(c.compile(kPolicies, "v1"));
  ASSERT_TRUE(applied.succeeded()) << applied.describe();
  size_t checked = 0, allowed = 0;
  auto wrong = mismatches(c, {{"tcp", 80, false}, {"udp", 81, false}, {"tcp", 81, true}, {"icmp", 0, true}}, &checked, &allowed);
  for (const auto& w : wrong) ADD_FAILURE() << w;
  EXPECT_GT(allowed, 0u);
  EXPECT_LT(allowed, checked);
  ExecResult status = c.run({"status", "-o", "json"});
  ASSERT_TRUE(status.succeeded());
  EXPECT_EQ(status.out.find("\"tc-from\": 0"), std::string::npos) << "every hook reports its program:\n" << status.out;
  // Filters are found by interface: from another network namespace status
  // cannot check them, and says so instead of reporting them as running.
  ExecResult elsewhere = Topology::exec("", {MEMBRANE_BIN, "--bpffs", (c.workDir() / "bpf").string(), "--state-dir",
                                             (c.workDir() / "state").string(), "status"});
  EXPECT_EQ(elsewhere.exitCode, 3) << elsewhere.describe();
  EXPECT_NE(elsewhere.out.find("tc-from=UNKNOWN tc-to=UNKNOWN"), std::string::npos) << elsewhere.out;
  EXPECT_NE(elsewhere.out.find("is not in this network namespace; pass the --netns it was applied in"), std::string::npos)
      << elsewhere.out;
}

// Two applies of two versions at once, again and again: each waits for the
// node lock, so afterwards every hook of every endpoint runs a program of the
// version state.json names, that version's trie is pinned (and no other),
// status finds nothing amiss and `endpoint add` works. Without the lock they
// interleaved: both exited 0, hooks ran a mix of versions and the trie of the
// recorded one could be unpinned.
const char* kBroadV1 = R"(
namespace x
policy all-x { selects {} ingress { allow from pods {} on tcp/80 } }
namespace y
policy all-y { selects {} egress { allow to all } }
)";
const char* kBroadV2 = R"(
namespace x
policy all-x { selects {} ingress { allow from pods {} on tcp/80, tcp/81 } }
namespace y
policy all-y { selects {} egress { allow to all } }
)";

// Every hook the state records runs a program reading the recorded
// version's trie; that trie is the only one pinned. "" when so.
std::string versionsAgree(Cluster& c) {
  fs::path bpf = c.workDir() / "bpf";
  auto state = nlohmann::json::parse(std::ifstream(c.workDir() / "state" / "state.json"), nullptr, false);
  if (state.is_discarded()) return "state.json is unreadable";
  std::string version = state["version"];
  std::string trie = (bpf / "versions" / version / "mb_identity").string();
  int trieFd = bpf_obj_get(trie.c_str());
  if (trieFd < 0) return "the recorded version's trie is not pinned: " + trie;
  uint32_t trieId = membrane::loader::mapId(trieFd);
  close(trieFd);
  std::string problems;
  for (const auto& v : fs::directory_iterator(bpf / "versions"))
    if (v.path().filename() != version) problems += "another version's trie is pinned: " + v.path().string() + "\n";
  size_t hooks = 0, links = 0;
  for (const auto& e : state["endpoints"]) hooks += e["hooks"].size();
  links = static_cast<size_t>(std::distance(fs::directory_iterator(bpf / "links"), fs::directory_iterator()));
  // Each hook's program, or, where it runs the node's dispatcher, the one
  // the dispatcher hands its packets to: at the endpoint's load in the
  // active slot.
  uint32_t active = membrane::loader::dispatch::activeSlot(bpf.string());
  for (const auto& e : state["endpoints"])
    for (const auto& h : e["hooks"]) {
      std::string hook = h;
      fs::path pin = bpf / "links" / membrane::loader::linkPinName(e["namespace"], e["name"], hook);
      int fd = bpf_obj_get(pin.c_str());
      uint32_t prog = fd >= 0 ? membrane::loader::linkProgramId(fd) : 0;
      if (fd >= 0) close(fd);
      bool dispatched = !e["load"].is_null() && membrane::loader::dispatch::forHook(hook);
      if (dispatched) {
        if (prog != membrane::loader::dispatch::programId(bpf.string(), hook))
          problems += pin.filename().string() + " runs program " + std::to_string(prog) + ", not the dispatcher\n";
        prog = membrane::loader::dispatch::programAt(bpf.string(), hook, active, e["load"].get<uint32_t>());
      }
      auto info = membrane::loader::programInfoById(prog);
      if (!info || std::find(info->mapIds.begin(), info->mapIds.end(), trieId) == info->mapIds.end())
        problems += pin.filename().string() + (dispatched ? " hands packets to program " : " runs program ") +
                    std::to_string(prog) + ", which does not read version " + version + "'s trie\n";
    }
  if (links != hooks)
    problems += std::to_string(links) + " links pinned for " + std::to_string(hooks) + " hooks recorded\n";
  return problems;
}

TEST(Enforcement, ConcurrentAppliesLeaveOneVersionEverywhere) {
  MB_REQUIRE_ROOT();
  Cluster c(kMembers);
  fs::path v1 = c.compile(kBroadV1, "v1");
  fs::path v2 = c.compile(kBroadV2, "v2");
  ASSERT_TRUE(c.apply(v1).succeeded());
  fs::path node = c.workDir() / "node.json";  // written by apply
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    std::vector<Process> applies;
    for (int i = 0; i < 4; ++i) {
      fs::path version = (i + round + rng() % 2) % 2 ? v2 : v1;
      applies.push_back(Topology::spawn(
          c.topology().hostNamespace(),
          {MEMBRANE_BIN, "--bpffs", (c.workDir() / "bpf").string(), "--state-dir", (c.workDir() / "state").string(),
           "apply", version.string(), "--node", node.string()}));
    }
    for (auto& a : applies) {
      ExecResult r = a.wait(Millis(120000));
      EXPECT_TRUE(r.succeeded()) << "round " << round << ": " << r.describe();
    }
    std::string wrong = versionsAgree(c);
    ASSERT_EQ(wrong, "") << "after round " << round;
    ExecResult status = c.run({"status"});
    ASSERT_EQ(status.exitCode, 0) << "after round " << round << ": " << status.describe();
  }
  ExecResult added = c.run({"endpoint", "add", "--name", "late", "--namespace", "x", "--label", "pod=late",
                            "--address", "198.18.9.9"});
  EXPECT_TRUE(added.succeeded()) << added.describe();
  // Traffic follows the recorded version: x/b reaches x/a on tcp/81 only
  // under v2.
  std::vector<Process> servers;
  startServers(c, servers);
  auto state = nlohmann::json::parse(std::ifstream(c.workDir() / "state" / "state.json"));
  bool underV2 = state["artifactDir"] == fs::absolute(v2).string();
  int reached = c.members()[1].pod->exec({proberPath(), "probe", "tcp", c.members()[0].pod->address4(), "81",
                                          "--timeout-ms", "400"}).exitCode;
  EXPECT_EQ(reached == 0, underV2) << "recorded: " << state["artifactDir"];
}

// Endpoint names reach pin names. `b.x` and `b%x` both became `b%x`, so the
// second endpoint swapped the first one's links to its own program and its
// own interface stayed unfiltered, while apply reported both enforced. Now
// a name Kubernetes would refuse is refused, and names it allows get pins of
// their own.
TEST(Enforcement, EndpointsWithSimilarNamesEachGetTheirOwnLinks) {
  MB_REQUIRE_ROOT();
  // t0 stays in the inventory so the targets' class is compiled.
  Cluster c({{"x", "t1", {{"role", "target"}}},
             {"x", "t2", {{"role", "target"}}},
             {"x", "c", {}},
             {"x", "d", {}},
             {"x", "t0", {{"role", "target"}}}});
  std::vector<Process> servers;
  startServers(c, servers);
  // t1 and t2 join NODE.json under other names, with their own addresses.
  c.leaveOutOfInventory("x", "t1");
  c.leaveOutOfInventory("x", "t2");
  fs::path dir = c.compile(
      "namespace x\npolicy targets { selects { role = target } ingress { allow from pods { pod = c } on tcp/80 } }",
      "targets");
  const auto& t1 = c.members()[0];
  const auto& t2 = c.members()[1];
  auto nodeWith = [&](const std::string& name1, const std::string& name2) {
    fs::path node = c.workDir() / "names.json";
    std::ofstream(node) << R"({"endpoints": [{"name": ")" << name1
                        << R"(", "namespace": "x", "labels": {"role": "target"}, "addresses": [")"
                        << t1.pod->address4() << R"("], "interface": ")" << t1.pod->hostInterface()
                        << R"("}, {"name": ")" << name2
                        << R"(", "namespace": "x", "labels": {"role": "target"}, "addresses": [")"
                        << t2.pod->address4() << R"("], "interface": ")" << t2.pod->hostInterface() << R"("}]})";
    return node.string();
  };
  ExecResult refused = c.run({"apply", dir.string(), "--node", nodeWith("b.x", "b%x")});
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  EXPECT_NE(refused.err.find(": endpoints[1].name: \"b%x\" is not a DNS-1123 subdomain"), std::string::npos)
      << refused.err;

  ExecResult applied = c.run({"apply", dir.string(), "--node", nodeWith("b.x", "b-x")});
  ASSERT_TRUE(applied.succeeded()) << applied.describe();
  auto probe = [&](const Cluster::Member& from, const Cluster::Member& to) {
    return from.pod->exec({proberPath(), "probe", "tcp", to.pod->address4(), "80", "--timeout-ms", "400"}).exitCode;
  };
  const auto& client = c.members()[2];
  const auto& other = c.members()[3];
  EXPECT_EQ(probe(client, t1), 0);
  EXPECT_EQ(probe(client, t2), 0);
  EXPECT_EQ(probe(other, t1), 1) << "x/b.x is enforced";
  EXPECT_EQ(probe(other, t2), 1) << "x/b-x is enforced";
  ExecResult status = c.run({"status", "-o", "json"});
  ASSERT_EQ(status.exitCode, 0) << status.describe();
  auto eps = nlohmann::json::parse(status.out)["endpoints"];
  ASSERT_EQ(eps.size(), 2u);
  // One class, so one load of its programs serves both; each has its own
  // links, on its own interface.
  EXPECT_EQ(eps[0]["programs"]["tc-from"], eps[1]["programs"]["tc-from"]) << eps;
  for (const char* pin : {"x_b%2ex_tc-from", "x_b%2ex_tc-to", "x_b-x_tc-from", "x_b-x_tc-to"})
    EXPECT_TRUE(fs::exists(c.workDir() / "bpf" / "links" / pin)) << pin;
}

// A class's programs are loaded once and serve every endpoint of it, each
// found per packet by what its hook sees; at cgroups, by the socket's cgroup
// or its ancestor where the endpoint's cgroup is (a container's cgroup sits
// inside its pod's).
TEST(Enforcement, OneLoadServesEveryEndpointOfAClassAndProcessesInCgroupsBelowThem) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}, {"x", "client", {}}, {"y", "other", {}}});
  if (!c.topology().cgroupUnavailable().empty()) {
    if (runningInCi()) FAIL() << "no cgroup v2: " << c.topology().cgroupUnavailable();
    GTEST_SKIP() << "no cgroup v2: " << c.topology().cgroupUnavailable();
  }
  c.cgroupsOnly = true;
  fs::path dir = c.compile(R"(namespace x
policy targets { selects { pod in (a, b) } ingress { allow from pods { pod = client } on tcp/80 } }
policy client { selects { pod = client } egress { allow to pods { pod = a } on tcp/80 } }
)",
                           "targets");
  const auto& a = c.members()[0];
  const auto& b = c.members()[1];
  const auto& client = c.members()[2];
  const auto& other = c.members()[3];
  std::vector<Process> servers;
  for (const auto* m : {&a, &b}) {
    servers.push_back(m->pod->spawn({proberPath(), "serve", "--tcp", "80"}));
    ASSERT_TRUE(servers.back().waitForOutput("ready", Millis(3000))) << m->key();
  }
  ExecResult applied = c.apply(dir);
  ASSERT_TRUE(applied.succeeded()) << applied.describe();

  // A process in a cgroup below the pod's, created for the test and removed
  // after it, whatever happens.
  std::vector<fs::path> children;
  struct RemoveChildren {
    std::vector<fs::path>& dirs;
    ~RemoveChildren() {
      for (const auto& d : dirs) rmdir(d.c_str());
    }
  } removeChildren{children};
  auto probe = [&](const Cluster::Member& from, const Cluster::Member& to, bool below) {
    std::vector<std::string> argv = {proberPath(), "probe", "tcp", to.pod->address4(), "80", "--timeout-ms", "400"};
    if (below) {
      fs::path child = fs::path(from.pod->cgroup()) / "container";
      if (!fs::exists(child)) {
        fs::create_directory(child);
        children.push_back(child);
      }
      std::string command = "echo $$ > " + (child / "cgroup.procs").string() + " && exec";
      for (const auto& arg : argv) command += " " + arg;
      argv = {"sh", "-c", command};
    }
    return from.pod->exec(argv).exitCode;
  };
  for (bool below : {false, true}) {
    SCOPED_TRACE(below ? "from a cgroup below the pod's" : "from the pod's cgroup");
    EXPECT_EQ(probe(client, a, below), 0) << "x/client may call x/a, and x/a accepts it";
    EXPECT_EQ(probe(client, b, below), 1) << "x/client's egress allows x/a only";
    EXPECT_EQ(probe(other, a, below), 1) << "x/a accepts x/client only";
    EXPECT_EQ(probe(other, b, below), 1) << "x/b accepts x/client only";
  }
  ExecResult status = c.run({"status", "-o", "json"});
  ASSERT_EQ(status.exitCode, 0) << status.describe();
  auto j = nlohmann::json::parse(status.out);
  auto eps = j["endpoints"];
  ASSERT_EQ(eps.size(), 4u);
  EXPECT_EQ(eps[0]["programs"]["cg-in"], eps[1]["programs"]["cg-in"]) << "x/a and x/b: one class, one load " << eps;
  EXPECT_NE(eps[0]["programs"]["cg-in"], eps[2]["programs"]["cg-in"]) << "x/client: another class " << eps;
  EXPECT_EQ(j["reasons"]["no-endpoint"], 0) << "every packet found its endpoint";
}

// A change two services make together (x/a may now send to x/b, and x/b
// now accepts x/a) takes effect on the whole node at one instant: every
// dispatched hook follows one version slot, and apply flips it with one map
// update. Under v1 x/a's egress drops the stream (default deny) and x/b's
// ingress would drop it by a deny rule; under v2 both let it through. A
// packet x/a let go under v2 and x/b judged under v1 is the only way to a
// "denied-rule" count, so the count must stay 0 however often the node
// swaps under a stream. With hooks swapped one by one (x/a first in
// NODE.json, endpoints between the two) it did not.
TEST(Enforcement, AllEndpointsOfANodeSwitchVersionsAtOneInstant) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "f1", {}}, {"x", "f2", {}}, {"x", "f3", {}}, {"x", "f4", {}}, {"x", "b", {}}});
  fs::path v1 = c.compile(R"(namespace x
policy a-out { selects { pod = a } egress { allow to host } }
policy b-in { selects { pod = b } ingress { allow from all
                                            deny from pods { pod = a } } }
)",
                          "v1");
  fs::path v2 = c.compile(R"(namespace x
policy a-out { selects { pod = a } egress { allow to host
                                            allow to pods { pod = b } on udp/5000 } }
policy b-in { selects { pod = b } ingress { allow from all } }
)",
                          "v2");
  ASSERT_TRUE(c.apply(v1).succeeded());
  const auto& a = c.members().front();
  const auto& b = c.members().back();
  Process counter = b.pod->spawn({proberPath(), "count", "udp", "--port", "5000"});
  ASSERT_TRUE(counter.waitForOutput("ready", Millis(3000)));
  auto reasons = [&] {
    ExecResult status = c.run({"status", "-o", "json"});
    EXPECT_EQ(status.exitCode, 0) << status.describe();
    auto j = nlohmann::json::parse(status.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j["reasons"];
  };
  uint64_t noProgramBefore = reasons()["no-program"].get<uint64_t>();
  Process stream = a.pod->spawn(
      {proberPath(), "stream", "udp", b.pod->address4(), "5000", "--pps", "1000000", "--seconds", "60"});
  std::this_thread::sleep_for(200ms);
  for (int round = 0; round < 8; ++round) {
    ExecResult forward = c.apply(v2);
    ASSERT_TRUE(forward.succeeded()) << forward.describe();
    std::this_thread::sleep_for(50ms);
    ExecResult back = c.apply(v1);
    ASSERT_TRUE(back.succeeded()) << back.describe();
    std::this_thread::sleep_for(50ms);
  }
  stream.stop();
  ExecResult counted = counter.stop();
  unsigned long received = 0;
  std::istringstream lines(counted.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) received = std::stoul(line);
  auto after = reasons();
  EXPECT_GT(received, 0u) << "the stream reached x/b under v2";
  EXPECT_GT(after["denied-default"].get<uint64_t>(), 0u) << "x/a's egress dropped it under v1";
  EXPECT_EQ(after["denied-rule"].get<uint64_t>(), 0u)
      << "a packet was judged by v2 at x/a and by v1 at x/b: a swap was half applied";
  EXPECT_EQ(after["no-program"].get<uint64_t>(), noProgramBefore) << "no endpoint was without a program mid-swap";
}

// membrane killed (SIGKILL) at spread-out moments of `apply` and `endpoint
// add`: after every kill the node enforces one whole version, the old or the
// new, on real traffic; the next command finishes or undoes what the killed
// one left (pending.json, docs/runtime.md "Killed commands"), and in the end
// every hook runs the version the state names. v1 and v2 differ at both
// endpoints (x/a and x/b each accept tcp/81 from the other under v2 only),
// so a node running a mix shows as one direction open and the other closed.
TEST(Enforcement, AKilledCommandLeavesOneWholeVersionAndTheNextCommandFinishesIt) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}, {"x", "c", {}}});
  fs::path v1 = c.compile(R"(namespace x
policy a-in { selects { pod = a } ingress { allow from pods { pod = b } on tcp/80 } }
policy b-in { selects { pod = b } ingress { allow from pods { pod = a } on tcp/80 } }
)",
                          "v1");
  fs::path v2 = c.compile(R"(namespace x
policy a-in { selects { pod = a } ingress { allow from pods { pod = b } on tcp/80, tcp/81 } }
policy b-in { selects { pod = b } ingress { allow from pods { pod = a } on tcp/80, tcp/81 } }
)",
                          "v2");
  const auto& a = c.members()[0];
  const auto& b = c.members()[1];
  std::vector<Process> servers;
  for (const auto* m : {&a, &b}) {
    servers.push_back(m->pod->spawn({proberPath(), "serve", "--tcp", "80,81"}));
    ASSERT_TRUE(servers.back().waitForOutput("ready", Millis(3000))) << m->key();
  }
  ASSERT_TRUE(c.apply(v1).succeeded());
  // How long a whole apply takes here: kills are spread over it.
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.apply(v2).succeeded());
  ASSERT_TRUE(c.apply(v1).succeeded());
  auto applyTime = (std::chrono::steady_clock::now() - started) / 2;
  // Which version the traffic says the node runs.
  // x/c may reach x/a under neither version: only a detached node lets it.
  const auto& other = c.members()[2];
  auto observed = [&]() -> std::string {
    Process ab = a.pod->spawn({proberPath(), "probe", "tcp", b.pod->address4(), "81", "--timeout-ms", "300"});
    Process ba = b.pod->spawn({proberPath(), "probe", "tcp", a.pod->address4(), "81", "--timeout-ms", "300"});
    Process ca = other.pod->spawn({proberPath(), "probe", "tcp", a.pod->address4(), "80", "--timeout-ms", "300"});
    bool abOpen = ab.wait(Millis(5000)).exitCode == 0, baOpen = ba.wait(Millis(5000)).exitCode == 0;
    bool caOpen = ca.wait(Millis(5000)).exitCode == 0;
    if (abOpen && baOpen && caOpen) return "detached";
    if (abOpen && baOpen && !caOpen) return "v2";
    if (!abOpen && !baOpen && !caOpen) return "v1";
    return std::string("a mix: x/a -> x/b tcp/81 ") + (abOpen ? "open" : "closed") + ", x/b -> x/a tcp/81 " +
           (baOpen ? "open" : "closed") + ", x/c -> x/a tcp/80 " + (caOpen ? "open" : "closed");
  };
  ASSERT_EQ(observed(), "v1");
  fs::path node = c.workDir() / "node.json";  // written by apply
  std::vector<std::string> membrane = {MEMBRANE_BIN, "--netns", c.topology().hostNamespace(), "--bpffs",
                                       (c.workDir() / "bpf").string(), "--state-dir",
                                       (c.workDir() / "state").string()};
  std::mt19937 rng(20261205);
  int kills = 0, interrupted = 0;
  // Kill moments: half spread over [0, tooLate], half over [tooEarly,
  // tooLate], the band where an apply's changes happen, learned as the test
  // goes: a kill that found the command finished moves tooLate down to it,
  // one that found nothing begun (no pending.json) moves tooEarly up.
  using Micros = std::chrono::microseconds;
  Micros tooLate = std::chrono::duration_cast<Micros>(applyTime) * 3 / 2, tooEarly{0};
  auto between = [&](Micros lo, Micros hi) {
    return lo + (hi - lo) * std::uniform_int_distribution<int>(0, 1000)(rng) / 1000;
  };
  for (int i = 0; i < 80; ++i) {
    bool endpointAdd = i % 6 == 5;
    std::vector<std::string> argv = membrane;
    if (endpointAdd) {
      argv.insert(argv.end(), {"endpoint", "add", "--name", "late", "--namespace", "x", "--label", "pod=late",
                               "--address", "198.18.9." + std::to_string(i)});
    } else {
      argv.insert(argv.end(), {"apply", (i % 2 ? v1 : v2).string(), "--node", node.string()});
    }
    if (tooEarly > tooLate * 9 / 10) tooEarly = tooLate * 8 / 10;  // timing varies: keep a band
    Micros delay = endpointAdd ? between(Micros(0), Micros(8000))
                   : i / 2 % 2 ? between(tooEarly, tooLate)
                               : between(Micros(0), tooLate);
    Process p = Topology::spawn("", argv);
    std::this_thread::sleep_for(delay);
    p.signal(SIGKILL);
    ExecResult r = p.wait(Millis(10000));
    bool killed = r.exitCode != 0;  // it had not finished
    kills += killed;
    std::string seen = observed();
    EXPECT_TRUE(seen == "v1" || seen == "v2")
        << "after killing `" << argv[7] << "` (" << i << ") " << delay.count() << " us in: " << seen;
    bool pending = fs::exists(c.workDir() / "state" / "pending.json");
    interrupted += pending;
    if (!endpointAdd && !killed) tooLate = std::min(tooLate, delay);
    if (!endpointAdd && killed && !pending) tooEarly = std::max(tooEarly, delay);
  }
  std::cout << "killed " << kills << " of 80 commands mid-way at random moments (" << interrupted
            << " left an apply to finish); an apply takes "
            << std::chrono::duration_cast<std::chrono::milliseconds>(applyTime).count() << " ms here\n";
  EXPECT_GE(kills, 50);
  // Where a random kill rarely lands (a few ms of an apply): killed at each
  // of an apply's state-file renames, held there by strace's syscall delay
  // injection. Renames: 1 pending.json (fill), 2 the staged manifest, 3
  // pending.json (flip; the flip follows), 4 the manifest into place, 5
  // state.json. After 1-3 the next command rolls back, after 4-5 forward.
  for (int rename = 1; rename <= 5; ++rename) {
    std::string expected = observed();
    fs::path target = expected == "v1" ? v2 : v1;
    std::vector<std::string> argv = {"strace", "-f", "-o", "/dev/null", "-e", "trace=rename", "-e",
                                     "inject=rename:delay_exit=10000000:when=" + std::to_string(rename)};
    argv.insert(argv.end(), membrane.begin(), membrane.end());
    argv.insert(argv.end(), {"apply", target.string(), "--node", node.string()});
    Process p = Topology::spawn("", argv);
    // Held for 10 s after the rename: the files show when it got there.
    auto deadline = std::chrono::steady_clock::now() + 8s;
    auto phase = [&] {
      std::ifstream in(c.workDir() / "state" / "pending.json");
      auto j = nlohmann::json::parse(in, nullptr, false);
      return j.is_discarded() ? std::string() : j.value("phase", "");
    };
    auto reached = [&] {
      switch (rename) {
        case 1: return phase() == "fill";
        case 2: return fs::exists(c.workDir() / "state" / "manifest.pending.json");
        case 3: return phase() == "flip";
        default: return phase() == "flip" && !fs::exists(c.workDir() / "state" / "manifest.pending.json");
      }
    };
    while (!reached() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(2ms);
    if (rename == 5) std::this_thread::sleep_for(300ms);  // past rename 4 to the state's write
    p.signal(SIGKILL);
    ExecResult r = p.wait(Millis(10000));
    ASSERT_TRUE(reached()) << "apply never reached rename " << rename << ": " << r.describe();
    std::string seen = observed();
    std::string want = rename <= 3 ? expected : (target == v1 ? "v1" : "v2");
    EXPECT_EQ(seen, want) << "killed after rename " << rename;
    ExecResult status = c.run({"status"});
    EXPECT_EQ(status.exitCode, 3) << "status reports the interrupted apply: " << status.describe();
    EXPECT_NE(status.out.find("was interrupted ("), std::string::npos) << status.out;
    ExecResult added = c.run({"endpoint", "add", "--name", "late", "--namespace", "x", "--label", "pod=late",
                              "--address", "198.18.9.200"});
    EXPECT_TRUE(added.succeeded()) << "the next command finishes it: " << added.describe();
    EXPECT_FALSE(fs::exists(c.workDir() / "state" / "pending.json"));
    EXPECT_EQ(observed(), want) << "after the next command, killed after rename " << rename;
    EXPECT_EQ(versionsAgree(c), "") << "killed after rename " << rename;
  }
  // `detach` killed: the node still runs its version, or has stopped
  // enforcing altogether (its first step makes every dispatched hook pass),
  // never a part of it; the next apply finishes the detach, then applies.
  started = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.run({"detach"}).succeeded());
  Micros detachTime = std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(c.apply(v1).succeeded());
  int detachKills = 0;
  Micros detachWindow = detachTime;  // shrinks when a detach finished first, as above
  for (int k = 0; k < 10; ++k) {
    std::string before = observed();
    std::vector<std::string> argv = membrane;
    argv.push_back("detach");
    Process p = Topology::spawn("", argv);
    std::this_thread::sleep_for(between(Micros(0), detachWindow));
    p.signal(SIGKILL);
    bool killed = p.wait(Millis(10000)).exitCode != 0;
    detachKills += killed;
    detachWindow = killed ? detachWindow * 11 / 10 : detachWindow * 6 / 10;
    std::string seen = observed();
    EXPECT_TRUE(seen == before || seen == "detached") << "detach killed (" << k << "), was " << before << ": " << seen;
    fs::path again = k % 2 ? v1 : v2;
    ExecResult applied = c.apply(again);
    ASSERT_TRUE(applied.succeeded()) << applied.describe();
    EXPECT_EQ(observed(), again == v1 ? "v1" : "v2") << "after the apply that followed detach kill " << k;
  }
  std::cout << "killed " << detachKills << " of 10 detaches mid-way\n";
  // The next command finishes what the last kill left; then one version
  // runs everywhere, as the state says.
  ExecResult last = c.apply(v2);
  ASSERT_TRUE(last.succeeded()) << last.describe();
  EXPECT_EQ(observed(), "v2");
  EXPECT_EQ(versionsAgree(c), "");
  EXPECT_FALSE(fs::exists(c.workDir() / "state" / "pending.json"));
  ExecResult status = c.run({"status"});
  EXPECT_EQ(status.exitCode, 0) << status.describe();
}

// apply reads every hook back after attaching. Two endpoints on one
// interface (which NODE.json refuses, but a program calling the loader can
// ask for), of two classes, in tc mode: the second one's filter replaces the
// first one's, the read-back sees it, and everything is rolled back.
TEST(Enforcement, ApplyRollsBackWhenAHookDoesNotRunWhatItLoaded) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}});
  fs::path dir = c.compile("namespace x\npolicy pa { selects { pod = a } ingress { allow from pods {} on tcp/80 } }", "pa");
  loader::NodeConfig node;
  std::string shared = c.members()[0].pod->hostInterface();
  for (const char* name : {"a", "b"}) {
    loader::NodeEndpoint e;
    e.name = name;
    e.ns = "x";
    e.interface = shared;
    node.endpoints.push_back(e);
  }
  loader::Paths paths;
  paths.bpffsRoot = (c.workDir() / "bpf").string();
  paths.stateDir = (c.workDir() / "state").string();
  paths.attach = "tc";
  bool ok = true;
  std::string error;
  uint32_t left[2] = {1, 1};
  // The loader looks interfaces up in the network namespace of its thread.
  std::thread([&] {
    if (!loader::enterNetns(c.topology().hostNamespace(), &error)) return;
    ok = loader::apply(dir.string(), node, paths, nullptr, &error);
    left[0] = loader::tcProgramId(shared, true);
    left[1] = loader::tcProgramId(shared, false);
  }).join();
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("after attaching, x/a tc-from runs program "), std::string::npos) << error;
  EXPECT_NE(error.find(" loaded for it (rolled back)"), std::string::npos) << error;
  EXPECT_EQ(left[0], 0u) << "the filters apply added are gone again";
  EXPECT_EQ(left[1], 0u);
  EXPECT_FALSE(fs::exists(c.workDir() / "state" / "state.json"));
  loader::Fd endpoints(bpf_obj_get((paths.bpffsRoot + "/maps/mb_endpoints").c_str()));
  ASSERT_GE(endpoints.fd, 0);
  EXPECT_TRUE(loader::mapKeys<mb_endpoint_key>(endpoints.fd).empty()) << "the endpoint entries it added are gone too";
}

// Flips the first instruction of a program section so the verifier rejects
// it, and re-signs the manifest: a compiler bug, as the node would see it.
void breakObject(const fs::path& dir, const std::string& object, const char* section) {
  fs::path path = dir / object;
  std::ifstream in(path, std::ios::binary);
  std::string elf((std::istreambuf_iterator<char>(in)), {});
  in.close();
  auto* eh = reinterpret_cast<const Elf64_Ehdr*>(elf.data());
  auto* sh = reinterpret_cast<const Elf64_Shdr*>(elf.data() + eh->e_shoff);
  const char* names = elf.data() + sh[eh->e_shstrndx].sh_offset;
  bool patched = false;
  for (int i = 0; i < eh->e_shnum; ++i) {
    if (std::string(names + sh[i].sh_name) != section) continue;
    elf[sh[i].sh_offset] = static_cast<char>(0xff);  // no such BPF opcode
    patched = true;
  }
  ASSERT_TRUE(patched) << "no section " << section << " in " << object;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << elf;
  fs::path manifest = dir / "manifest.json";
  std::ifstream mi(manifest);
  std::string text((std::istreambuf_iterator<char>(mi)), {});
  mi.close();
  auto m = artifacts::Manifest::fromJson(text, nullptr);
  ASSERT_TRUE(m);
  for (auto& cls : m->classes)
    if (cls.object == object) cls.sha256 = artifacts::sha256Hex(elf);
  std::ofstream(manifest, std::ios::trunc) << m->toJson();
}

TEST(Enforcement, AVersionThatFailsVerificationChangesNothing) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}, {"y", "a", {}}});
  std::vector<Process> servers;
  startServers(c, servers);
  fs::path v1 = c.compile(kSwapV1, "v1");
  ASSERT_TRUE(c.apply(v1).succeeded());
  ExecResult before = c.run({"status", "-o", "json"});
  ASSERT_TRUE(before.succeeded()) << before.describe();

  fs::path bad = c.compile(kSwapV2, "bad");
  breakObject(bad, "class-0.o", "tc");
  ExecResult refused = c.apply(bad);
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  EXPECT_NE(refused.err.find("failed to load"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("PROG LOAD LOG"), std::string::npos) << "the verifier's log comes with it: " << refused.err;
  std::cout << "refused: " << refused.err.substr(0, 400) << "\n";

  ExecResult after = c.run({"status", "-o", "json"});
  ASSERT_TRUE(after.succeeded()) << after.describe();
  auto programs = [](const std::string& json) {
    auto j = nlohmann::json::parse(json);
    return std::make_pair(j["version"].get<std::string>(), j["endpoints"].dump());
  };
  EXPECT_EQ(programs(after.out), programs(before.out)) << "same version, same attached programs";

  // The same when the failing load is not the first one, which loads alone,
  // but one of those loaded in parallel after it (x/b's class here).
  fs::path bad2 = c.compile(R"(namespace x
policy pa { selects { pod = a } ingress { allow from all } }
policy pb { selects { pod = b } ingress { allow from all } }
)",
                            "bad2");
  breakObject(bad2, "class-1.o", "tc");
  ExecResult refused2 = c.apply(bad2);
  EXPECT_EQ(refused2.exitCode, 1) << refused2.describe();
  EXPECT_NE(refused2.err.find("class 1 (class-1.o) failed to load for endpoint x/b"), std::string::npos) << refused2.err;
  EXPECT_NE(refused2.err.find("PROG LOAD LOG"), std::string::npos) << refused2.err;
  ExecResult after2 = c.run({"status", "-o", "json"});
  ASSERT_TRUE(after2.succeeded()) << after2.describe();
  EXPECT_EQ(programs(after2.out), programs(before.out)) << "nothing applied, x/a's good load closed again";

  const auto& a = c.members()[0];
  const auto& b = c.members()[1];
  const auto& ya = c.members()[2];
  EXPECT_EQ(b.pod->exec({proberPath(), "probe", "tcp", a.pod->address4(), "80", "--timeout-ms", "600"}).exitCode, 0)
      << "x/b -> x/a tcp/80 is still allowed";
  EXPECT_EQ(ya.pod->exec({proberPath(), "probe", "tcp", a.pod->address4(), "80", "--timeout-ms", "600"}).exitCode, 1)
      << "y/a -> x/a tcp/80 is still denied";
}

// Generated cases: random policies over the x/y/z pods, seeded, on real
// traffic. MEMBRANE_E2E_SEEDS picks how many (default 3).
std::string randomPolicies(std::mt19937& rng) {
  auto pick = [&](std::initializer_list<const char*> xs) { return std::string(*(xs.begin() + rng() % xs.size())); };
  std::ostringstream p;
  size_t policies = 1 + rng() % 3;
  for (size_t i = 0; i < policies; ++i) {
    p << "policy g" << i << " {\n  namespace " << pick({"x", "y", "z"}) << "\n  selects "
      << pick({"{}", "{ pod = a }", "{ pod = b }", "{ pod in (a, b) }"}) << "\n";
    for (const char* dir : {"ingress", "egress"}) {
      if (rng() % 3 == 0) continue;
      p << "  " << dir << " {\n";
      size_t rules = rng() % 4;
      for (size_t r = 0; r < rules; ++r) {
        p << "    " << (rng() % 4 == 0 ? "deny " : "allow ") << (std::string(dir) == "ingress" ? "from " : "to ")
          << pick({"pods { pod = a }", "pods { pod = b }", "pods {} in namespaces { ns = y }", "namespace z",
                   "pods { pod != a } in namespaces {}", "cluster", "cidr 198.18.0.0/24", "cidr 2001:2::/48",
                   "all"});
        if (rng() % 5) p << " on " << pick({"tcp/80", "tcp/81", "tcp/80-81", "udp/80", "udp/{80, 81}", "tcp", "icmp, icmpv6"});
        p << "\n";
      }
      p << "  }\n";
    }
    p << "}\n";
  }
  return p.str();
}

TEST(Enforcement, GeneratedPoliciesMatchTheEvaluator) {
  MB_REQUIRE_ROOT();
  Cluster c(kMembers);
  std::vector<Process> servers;
  startServers(c, servers);
  const char* env = std::getenv("MEMBRANE_E2E_SEEDS");
  int seeds = env ? std::atoi(env) : 3;
  std::vector<Probe> probes = {{"tcp", 80, false}, {"udp", 81, false}, {"icmp", 0, false}, {"tcp", 81, true}};
  for (int seed = 1; seed <= seeds; ++seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::string policy = randomPolicies(rng);
    fs::path dir = c.compile(policy, "gen" + std::to_string(seed));
    ExecResult applied = c.apply(dir);
    ASSERT_TRUE(applied.succeeded()) << applied.describe() << "\n" << policy;
    size_t checked = 0, allowed = 0;
    auto wrong = mismatches(c, probes, &checked, &allowed);
    std::cout << "seed " << seed << ": " << checked << " flows, " << allowed << " allowed, " << wrong.size()
              << " mismatches\n";
    for (const auto& w : wrong) ADD_FAILURE() << "seed " << seed << ": " << w << "\npolicy:\n" << policy;
  }
}

// An endpoint the compile never saw: unknown, it is world to the policy;
// `membrane endpoint add` gives it its selector bits with no recompile and
// no reload; `endpoint remove` takes them away again.
TEST(Enforcement, EndpointsLearnedAfterCompileNeedOnlyAnIdentityUpdate) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}});
  Pod& late = c.topology().addPod("x-late");  // not in the inventory
  std::vector<Process> servers;
  startServers(c, servers);
  ASSERT_TRUE(c.apply(c.compile(kSwapV1, "v1")).succeeded());
  const auto& a = c.members()[0];
  auto probe = [&] {
    return late.exec({proberPath(), "probe", "tcp", a.pod->address4(), "80", "--timeout-ms", "400"}).exitCode;
  };
  EXPECT_EQ(probe(), 1) << "an unknown address is world, and x/a only admits pods { pod = b }";
  ExecResult before = c.run({"status", "-o", "json"});

  ExecResult added = c.run({"endpoint", "add", "--name", "late", "--namespace", "x", "--label", "pod=b", "--address",
                            late.address4(), "--address", late.address6()});
  ASSERT_TRUE(added.succeeded()) << added.describe();
  EXPECT_EQ(probe(), 0) << "labelled pod=b, the new endpoint is admitted";
  ExecResult after = c.run({"status", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(after.out)["endpoints"], nlohmann::json::parse(before.out)["endpoints"])
      << "no program was reloaded";
  // status names what the node learned, with its addresses and labels.
  EXPECT_EQ(nlohmann::json::parse(before.out)["learned"], nlohmann::json::array());
  EXPECT_EQ(nlohmann::json::parse(after.out)["learned"],
            nlohmann::json::parse(R"([{"endpoint": "x/late", "addresses": [")" + late.address4() + R"(", ")" +
                                  late.address6() + R"("], "labels": {"pod": "b"}}])"));
  ExecResult table = c.run({"status"});
  EXPECT_NE(table.out.find("learned with `endpoint add`"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("x/late"), std::string::npos) << table.out;

  ExecResult removed = c.run({"endpoint", "remove", "--name", "late", "--namespace", "x"});
  ASSERT_TRUE(removed.succeeded()) << removed.describe();
  EXPECT_EQ(probe(), 1) << "forgotten, it is world again";
  EXPECT_EQ(nlohmann::json::parse(c.run({"status", "-o", "json"}).out)["learned"], nlohmann::json::array());
}

// Kubernetes resolves an egress named port in each destination pod. x/b
// calls 80 `web`, so x/a reaches it on 80 and not on 81. An endpoint learned
// after the compile is reached on `web` only once it says it defines the name
// with a number the compile resolved (`endpoint add --port`).
TEST(Enforcement, EgressNamedPortsFollowTheDestinationsOwnNumber) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}});
  c.definePort("x", "b", {"web", ir::kTCP, 80});
  Pod& late = c.topology().addPod("x-late");
  std::vector<Process> servers;
  startServers(c, servers);
  servers.push_back(late.spawn({proberPath(), "serve", "--tcp", "80,81"}));
  ASSERT_TRUE(servers.back().waitForOutput("ready", Millis(3000)));
  ASSERT_TRUE(c.apply(c.compile("namespace x\npolicy out { selects { pod = a } egress { allow to pods {} on tcp/web } }",
                                "named"))
                  .succeeded());
  const auto& a = c.members()[0];
  const auto& b = c.members()[1];
  auto probe = [&](const std::string& address, int port) {
    return a.pod->exec({proberPath(), "probe", "tcp", address, std::to_string(port), "--timeout-ms", "400"}).exitCode;
  };
  EXPECT_EQ(probe(b.pod->address4(), 80), 0) << "web is 80 on x/b";
  EXPECT_EQ(probe(b.pod->address6(), 80), 0);
  EXPECT_EQ(probe(b.pod->address4(), 81), 1);
  EXPECT_EQ(probe(late.address4(), 80), 1) << "unknown: world defines no ports";

  auto add = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"endpoint", "add", "--name", "late", "--namespace", "x", "--label", "pod=late",
                                     "--address", late.address4()};
    args.insert(args.end(), extra.begin(), extra.end());
    ExecResult r = c.run(args);
    EXPECT_TRUE(r.succeeded()) << r.describe();
  };
  add({});
  EXPECT_EQ(probe(late.address4(), 80), 1) << "a pod, but it defines no web port";
  add({"--port", "web=80"});
  EXPECT_EQ(probe(late.address4(), 80), 0) << "defines web = 80, a number the compile resolved";
  EXPECT_EQ(probe(late.address4(), 81), 1);
  add({"--port", "web=81"});
  EXPECT_EQ(probe(late.address4(), 81), 1) << "81 is no number the compile resolved web to";
  EXPECT_EQ(probe(late.address4(), 80), 1);

  ExecResult bad = c.run({"endpoint", "add", "--name", "late", "--namespace", "x", "--address", late.address4(),
                          "--port", "web=http"});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.err.find("--port wants NAME=NUMBER"), std::string::npos) << bad.describe();
}

// `membrane events` prints what the datapath denied, named from the applied
// version: the enforcing endpoint, both ends and the deciding rule (or the
// default deny). Allowed flows write no events; events older than the
// command are left out unless asked for with --backlog.
TEST(Enforcement, EventsNameTheEndpointThePeersAndTheRule) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}, {"x", "c", {}}});
  std::vector<Process> servers;
  startServers(c, servers);
  ASSERT_TRUE(c.apply(c.compile(R"(namespace x
policy a-in {
  selects { pod = a }
  ingress {
    allow from pods { pod = b } on tcp/80
    deny from pods { pod = c } on tcp/81
  }
}
)",
                                "events"))
                  .succeeded());
  const auto& a = c.members()[0];
  const auto& b = c.members()[1];
  const auto& cc = c.members()[2];
  auto probe = [&](const Cluster::Member& from, int port) {
    return from.pod->exec({proberPath(), "probe", "tcp", a.pod->address4(), std::to_string(port), "--timeout-ms", "300"})
        .exitCode;
  };
  // The probes' TCP events only: the host's own MLD reports to the pods
  // (ICMPv6 from its link-local address, sent when it likes) are denied by
  // default too, and may show up in any window.
  auto tcpEvents = [](const std::string& out) {
    std::vector<nlohmann::json> events;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << line;
      if (!j.is_discarded() && j["protocol"] == "tcp") events.push_back(j);
    }
    return events;
  };
  ASSERT_EQ(probe(cc, 81), 1);
  ExecResult fresh = c.run({"events", "-o", "json", "--timeout", "0.5"});
  ASSERT_TRUE(fresh.succeeded()) << fresh.describe();
  EXPECT_TRUE(tcpEvents(fresh.out).empty()) << "the deny happened before the command started: " << fresh.out;

  ASSERT_EQ(probe(b, 80), 0);
  ASSERT_EQ(probe(cc, 81), 1);
  ASSERT_EQ(probe(cc, 80), 1);

  ExecResult backlog = c.run({"events", "-o", "json", "--backlog", "--timeout", "1"});
  ASSERT_TRUE(backlog.succeeded()) << backlog.describe();
  std::map<int, nlohmann::json> byPort;
  for (const auto& j : tcpEvents(backlog.out)) {
    byPort[j["dst"]["port"].get<int>()] = j;
    EXPECT_NE(j["src"].value("endpoint", ""), "x/b") << "allowed flows write no events: " << j;
  }
  ASSERT_EQ(byPort.size(), 2u) << backlog.out;
  const auto& denied = byPort[81];
  EXPECT_EQ(denied["kind"], "deny");
  EXPECT_EQ(denied["direction"], "ingress");
  EXPECT_EQ(denied["endpoint"], "x/a");
  EXPECT_EQ(denied["protocol"], "tcp");
  EXPECT_EQ(denied["src"]["endpoint"], "x/c");
  EXPECT_EQ(denied["src"]["address"], cc.pod->address4());
  EXPECT_EQ(denied["dst"]["endpoint"], "x/a");
  EXPECT_EQ(denied["rule"]["text"], "deny from pods { pod = c } on tcp/81");
  EXPECT_EQ(denied["rule"]["location"], "events.policy:6:5");
  EXPECT_NE(denied["rule"]["id"], 0);
  const auto& byDefault = byPort[80];
  EXPECT_EQ(byDefault["rule"]["id"], 0);
  EXPECT_EQ(byDefault["rule"]["text"], "default deny");

  // Text, one line per event; --count stops after that many.
  Process live = Topology::spawn(c.topology().hostNamespace(),
                                 {MEMBRANE_BIN, "--bpffs", (c.workDir() / "bpf").string(), "--state-dir",
                                  (c.workDir() / "state").string(), "events", "--count", "3", "--timeout", "10"});
  ExecResult text;
  for (int attempt = 0; attempt < 20 && live.running(); ++attempt) {
    probe(cc, 81);  // until the reader, started concurrently, has seen three
  }
  text = live.wait(Millis(5000));
  ASSERT_TRUE(text.succeeded()) << text.describe();
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 3) << text.out;
  EXPECT_NE(text.out.find(" deny ingress x/a: tcp " + cc.pod->address4()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" (x/c) -> " + a.pod->address4() + ":81 (x/a)  rule "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("deny from pods { pod = c } on tcp/81 (events.policy:6:5)"), std::string::npos) << text.out;
}

// Anti-spoofing: b accepts only a; c (no policy selects it) and d (its
// egress allows everything) send raw packets carrying a's address. None may
// reach b, on IPv4 or IPv6, whatever c's and d's own policy says; a's own
// raw packets do (so the sender works), and the drops are counted and
// reported as events naming the sender.
TEST(Enforcement, PacketsCarryingAnotherPodsAddressNeverLeaveTheirPod) {
  MB_REQUIRE_ROOT();
  Cluster c({{"x", "a", {}}, {"x", "b", {}}, {"x", "c", {}}, {"x", "d", {}}});
  ASSERT_TRUE(c.apply(c.compile(R"(namespace x
policy b-in {
  selects { pod = b }
  ingress {
    allow from pods { pod = a } on udp/5000, tcp/80
  }
}
policy d-out {
  selects { pod = d }
  egress {
    allow to all
  }
}
)",
                                "spoof"))
                  .succeeded());
  const auto& a = c.members()[0];
  const auto& b = c.members()[1];
  const auto& cc = c.members()[2];
  const auto& d = c.members()[3];

  // What b receives on udp/5000 while `send` runs.
  auto receivedByB = [&](const std::function<void()>& send) {
    Process counter = b.pod->spawn({proberPath(), "count", "udp", "--port", "5000", "--seconds", "10"});
    EXPECT_TRUE(counter.waitForOutput("ready", Millis(3000)));
    send();
    ExecResult r = counter.stop();
    std::istringstream lines(r.out);
    std::string line, last;
    while (std::getline(lines, line)) last = line;
    return std::stoul(last);
  };
  auto spoof = [&](const Cluster::Member& from, const std::string& proto, const std::string& source,
                   const std::string& target, const std::string& port) {
    ExecResult r = from.pod->exec({proberPath(), "spoof", proto, source, target, port, "--count", "10"});
    EXPECT_TRUE(r.succeeded()) << r.describe();
  };
  auto status = [&] {
    ExecResult r = c.run({"status", "-o", "json"});
    EXPECT_TRUE(r.succeeded()) << r.describe();
    return nlohmann::json::parse(r.out, nullptr, false);
  };
  auto ruleCount = [&](const nlohmann::json& st, const std::string& text) {
    for (const auto& r : st["rules"])
      if (r["rule"] == text) return r["packets"].get<uint64_t>();
    ADD_FAILURE() << "no rule " << text;
    return uint64_t{0};
  };

  EXPECT_EQ(receivedByB([&] {
              for (const auto* from : {&cc, &d}) {
                spoof(*from, "udp", a.pod->address4(), b.pod->address4(), "5000");
                spoof(*from, "udp", a.pod->address6(), b.pod->address6(), "5000");
              }
            }),
            0u)
      << "a packet from c or d carrying a's address reached b";
  EXPECT_EQ(receivedByB([&] {
              spoof(a, "udp", a.pod->address4(), b.pod->address4(), "5000");
              spoof(a, "udp", a.pod->address6(), b.pod->address6(), "5000");
            }),
            10u)
      << "a's own raw datagrams (the positive control) did not reach b";

  // TCP SYNs with a's address: no flow is allowed by b's rule.
  const std::string rule = "allow from pods { pod = a } on udp/5000, tcp/80";
  nlohmann::json before = status();
  spoof(cc, "tcp", a.pod->address4(), b.pod->address4(), "80");
  spoof(d, "tcp", a.pod->address6(), b.pod->address6(), "80");
  nlohmann::json after = status();
  EXPECT_EQ(ruleCount(after, rule), ruleCount(before, rule)) << "a spoofed SYN was allowed as a's";
  EXPECT_EQ(after["reasons"]["spoofed"].get<uint64_t>() - before["reasons"]["spoofed"].get<uint64_t>(), 20u);
  EXPECT_EQ(a.pod->exec({proberPath(), "probe", "tcp", b.pod->address4(), "80", "--timeout-ms", "500", "--connect-only"})
                .exitCode,
            1)
      << "nothing listens on b: refused, but the SYN got through policy";
  EXPECT_EQ(ruleCount(status(), rule), ruleCount(after, rule) + 1) << "a's real SYN is counted under its rule";

  // Each drop is an event naming the pod that sent it.
  ExecResult events = c.run({"events", "-o", "json", "--backlog", "--timeout", "1"});
  ASSERT_TRUE(events.succeeded()) << events.describe();
  std::map<std::string, int> spoofedBy;
  std::istringstream lines(events.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    if (j["kind"] != "spoofed") continue;
    EXPECT_EQ(j["direction"], "egress");
    EXPECT_TRUE(j["src"]["address"] == a.pod->address4() || j["src"]["address"] == a.pod->address6()) << line;
    EXPECT_TRUE(j["rule"].is_null()) << "no rule decides a spoofed packet: " << line;
    ++spoofedBy[j["endpoint"].get<std::string>()];
  }
  EXPECT_EQ(spoofedBy["x/c"], 30) << events.out;
  EXPECT_EQ(spoofedBy["x/d"], 30) << events.out;
  // As text, the event names the sender and why, not a rule.
  cc.pod->exec({proberPath(), "spoof", "udp", a.pod->address4(), b.pod->address4(), "5000", "--count", "1"});
  ExecResult text = c.run({"events", "--backlog", "--timeout", "1"});
  size_t at = text.out.find(" spoofed egress x/c: udp " + a.pod->address4() + ":");
  ASSERT_NE(at, std::string::npos) << text.out;
  std::string line = text.out.substr(at, text.out.find('\n', at) - at);
  EXPECT_TRUE(line.ends_with("  source address not the endpoint's")) << line;
  EXPECT_EQ(line.find(" rule "), std::string::npos) << line;
}

}  // namespace
}  // namespace membrane::e2e
