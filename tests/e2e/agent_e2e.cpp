// Nodes that share endpoints through etcd (docs/cluster.md), on real
// traffic: two "nodes", each a network namespace of its own (its pods'
// host-side veths, their routes, its bpffs root, state directory and
// `membrane agent`), joined by a routed fabric (Topology::addNode), so a
// packet between nodes leaves one node's pod veth, crosses the fabric and
// enters the other's, each side judged by its own node's programs and
// trie. x/a runs on node A and may call pods {app = server}
// on tcp/8080; the b pods are not in the compile's inventory: node B learns
// them from NODE.json, and node A only through the agents. So whether a can
// reach a b pod is whether node A's trie knows it as a server.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "artifacts/manifest.h"
#include "cluster.h"
#include "cluster/agent.h"
#include "cluster/etcd.h"
#include "cni_pod.h"
#include "etcd_cluster.h"
#include "identity/identity_table.h"

namespace membrane::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* kPolicy = R"(namespace x
policy client { selects { app = client } egress { allow to pods { app = server } on tcp/8080 } }
policy server { selects { app = server } ingress { allow from pods { app = client } on tcp/8080 } }
)";

// One node: its own bpffs root and state directory over the shared
// topology, its NODE.json, and its agent.
class Node {
 public:
  Node(std::string name, Topology& topo, const fs::path& parent) : name_(std::move(name)), topo_(topo) {
    dir_ = parent / name_;
    fs::create_directories(dir_);
  }
  ~Node() {
    stopAgent();
    membrane({"detach"});
    umount2((dir_ / "bpf").c_str(), MNT_DETACH);
  }

  std::vector<std::string> base() const {
    return {MEMBRANE_BIN, "--bpffs", (dir_ / "bpf").string(), "--state-dir", (dir_ / "state").string()};
  }
  ExecResult membrane(std::vector<std::string> args) {
    std::vector<std::string> argv = base();
    argv.insert(argv.begin() + 1, {"--netns", topo_.nodeNamespace(name_)});
    argv.insert(argv.end(), args.begin(), args.end());
    return Topology::exec("", argv, Millis(30000));
  }

  // NODE.json with these members: those in the inventory by name, the
  // others with their labels and addresses.
  ExecResult apply(const fs::path& artifacts, const std::vector<const Cluster::Member*>& members,
                   const std::set<std::string>& learned) {
    nlohmann::json node = {{"endpoints", nlohmann::json::array()}};
    for (const auto* m : members) {
      nlohmann::json e = {{"name", m->name}, {"namespace", m->ns}, {"interface", m->pod->hostInterface()}};
      if (learned.count(m->name)) {
        e["labels"] = m->labels;
        e["addresses"] = {m->pod->address4(), m->pod->address6()};
      }
      node["endpoints"].push_back(e);
    }
    std::ofstream(dir_ / "node.json") << node.dump(2);
    return membrane({"apply", artifacts.string(), "--node", (dir_ / "node.json").string()});
  }

  void startAgent(const std::vector<std::string>& etcd, int leaseTtl = 10,
                  const testkit::EtcdCluster::TlsFiles* tls = nullptr) {
    std::vector<std::string> argv = base();
    argv.insert(argv.end(), {"agent", "--node", name_, "--lease-ttl", std::to_string(leaseTtl), "--node-netns",
                             topo_.nodeNamespace(name_)});
    if (tls)
      argv.insert(argv.end(),
                  {"--etcd-cacert", tls->ca, "--etcd-cert", tls->clientCert, "--etcd-key", tls->clientKey});
    for (const auto& url : etcd) argv.insert(argv.end(), {"--etcd", url});
    agent_ = Topology::spawn("", argv);
  }
  void stopAgent() {
    if (agent_.valid() && agent_.running()) agent_.stop();
  }
  void killAgent() { agent_.signal(SIGKILL); }
  std::string agentLog() { return agent_.valid() ? (agent_.running(), agent_.err()) : ""; }

  // Whether this node's trie has `address` as an endpoint (a /32 or /128
  // entry flagged ENDPOINT), read straight from the kernel.
  bool knows(const std::string& address) {
    std::ifstream in(dir_ / "state" / "state.json");
    nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    if (state.is_discarded()) return false;
    std::string pin = (dir_ / "bpf" / "versions" / state["version"].get<std::string>() / "mb_identity").string();
    int fd = bpf_obj_get(pin.c_str());
    if (fd < 0) return false;
    mb_lpm_key key = identity::keyFor(*net::Address::parse(address));
    mb_identity value{};
    bool found = bpf_map_lookup_elem(fd, &key, &value) == 0 && (value.flags & MB_PEER_ENDPOINT);
    close(fd);
    return found;
  }
  // How long until knows(address) == want; nullopt if not within `limit`.
  std::optional<Millis> timeUntil(const std::string& address, bool want, Millis limit) {
    auto start = Clock::now();
    while (Clock::now() - start < limit) {
      if (knows(address) == want) return std::chrono::duration_cast<Millis>(Clock::now() - start);
      std::this_thread::sleep_for(1ms);
    }
    return std::nullopt;
  }
  nlohmann::json agentReport() {
    std::ifstream in(dir_ / "state" / "agent.json");
    return nlohmann::json::parse(in, nullptr, false);
  }

 private:
  std::string name_;
  Topology& topo_;
  fs::path dir_;
  Process agent_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MEMBRANE_E2E_REQUIRE_PRIVILEGES();
    if (std::string why = testkit::EtcdCluster::unavailableReason(); !why.empty()) {
      if (runningInCi()) FAIL() << why;
      GTEST_SKIP() << why;
    }
  }

  // x/a (client, node A), x/s0 (server, node B, in the inventory: its class
  // is the one b pods get), x/b1..x/bN (servers the compile never saw).
  void build(int bPods) {
    std::vector<std::tuple<std::string, std::string, labels::LabelSet>> members = {
        {"x", "a", {{"app", "client"}}}, {"x", "s0", {{"app", "server"}}}};
    for (int i = 1; i <= bPods; ++i) members.push_back({"x", "b" + std::to_string(i), {{"app", "server"}}});
    std::map<std::string, std::string> nodeOf = {{"a", "node-a"}, {"s0", "node-b"}};
    for (int i = 1; i <= bPods; ++i) nodeOf["b" + std::to_string(i)] = "node-b";
    cluster_ = std::make_unique<Cluster>(Cluster::Nodes{nodeOf}, members);
    for (int i = 1; i <= bPods; ++i) cluster_->leaveOutOfInventory("x", "b" + std::to_string(i));
    artifacts_ = cluster_->compile(kPolicy, "v1");
    ASSERT_FALSE(artifacts_.empty());
    nodeA_ = std::make_unique<Node>("node-a", cluster_->topology(), cluster_->workDir());
    nodeB_ = std::make_unique<Node>("node-b", cluster_->topology(), cluster_->workDir());
    ExecResult r = nodeA_->apply(artifacts_, {&member("a")}, {});
    ASSERT_TRUE(r.succeeded()) << r.describe();
    r = nodeB_->apply(artifacts_, {&member("s0")}, {});
    ASSERT_TRUE(r.succeeded()) << r.describe();
  }
  void TearDown() override {
    nodeA_.reset();
    nodeB_.reset();
    cluster_.reset();
  }

  const Cluster::Member& member(const std::string& name) {
    for (const auto& m : cluster_->members())
      if (m.name == name) return m;
    throw std::runtime_error("no member " + name);
  }
  // Node B enforces s0 and these b pods (learned from NODE.json); how long
  // its apply took goes to lastApply_.
  void nodeBRuns(const std::vector<std::string>& bPods) {
    std::vector<const Cluster::Member*> ms = {&member("s0")};
    std::set<std::string> learned;
    for (const auto& b : bPods) {
      ms.push_back(&member(b));
      learned.insert(b);
    }
    ExecResult r = nodeB_->apply(artifacts_, ms, learned);
    lastApply_ = r.elapsed;
    ASSERT_TRUE(r.succeeded()) << r.describe();
  }
  bool aReaches(const std::string& b) {
    return member("a").pod->exec({proberPath(), "probe", "tcp", member(b).pod->address4(), "8080", "--timeout-ms",
                                  "400"}).exitCode == 0;
  }
  std::string logs() { return "node A's agent:\n" + nodeA_->agentLog() + "\nnode B's agent:\n" + nodeB_->agentLog(); }
  // Both agents on `etcd`; b1 serves tcp/8080, runs on node B and is known
  // on node A. The server, which serves until it goes.
  Process agentsAndServingB1(const testkit::EtcdCluster& etcd) {
    nodeA_->startAgent(etcd.clientUrls());
    nodeB_->startAgent(etcd.clientUrls());
    Process server = member("b1").pod->spawn({proberPath(), "serve", "--tcp", "8080"});
    EXPECT_TRUE(server.waitForOutput("ready", 2s));
    nodeBRuns({"b1"});
    EXPECT_TRUE(nodeA_->timeUntil(member("b1").pod->address4(), true, 1000ms)) << logs();
    return server;
  }

  std::unique_ptr<Cluster> cluster_;
  fs::path artifacts_;
  std::unique_ptr<Node> nodeA_, nodeB_;
  Millis lastApply_{0};
};

TEST_F(AgentTest, APodStartedOnOneNodeIsReachedFromAnotherByItsLabelsWithinASecond) {
  constexpr int kPods = 5;
  build(kPods);
  // Over TLS, with client certificates, as a real cluster's etcd is run.
  testkit::EtcdCluster etcd(1, true);
  nodeA_->startAgent(etcd.clientUrls(), 10, &etcd.tlsFiles());
  nodeB_->startAgent(etcd.clientUrls(), 10, &etcd.tlsFiles());
  std::vector<Process> servers;
  for (int i = 1; i <= kPods; ++i) {
    servers.push_back(member("b" + std::to_string(i)).pod->spawn({proberPath(), "serve", "--tcp", "8080"}));
    ASSERT_TRUE(servers.back().waitForOutput("ready", 2s));
  }
  // Unknown on node A, b1 is `world` there: a's egress denies it.
  EXPECT_FALSE(aReaches("b1"));

  std::vector<std::string> running;
  std::vector<long> afterReturn, afterStart;
  for (int i = 1; i <= kPods; ++i) {
    std::string b = "b" + std::to_string(i);
    running.push_back(b);
    nodeBRuns(running);
    auto took = nodeA_->timeUntil(member(b).pod->address4(), true, 1000ms);
    ASSERT_TRUE(took) << b << " not known on node A 1 s after node B applied it\n" << logs();
    afterReturn.push_back(took->count());
    afterStart.push_back(took->count() + lastApply_.count());
    EXPECT_TRUE(nodeA_->knows(member(b).pod->address6()));
    EXPECT_TRUE(aReaches(b)) << b;
  }
  // Node B's state (which its agent publishes) is written before its apply
  // returns, so node A often knows a pod by then: the time from the apply's
  // start bounds the delay from above.
  std::sort(afterReturn.begin(), afterReturn.end());
  std::sort(afterStart.begin(), afterStart.end());
  std::cout << "node A knew each of " << kPods << " pods, after node B's apply returned: median "
            << afterReturn[afterReturn.size() / 2] << " ms, max " << afterReturn.back()
            << " ms; after it started: median " << afterStart[afterStart.size() / 2] << " ms, max "
            << afterStart.back() << " ms\n";

  // A pod that leaves node B is forgotten on node A, and a is denied again.
  running.erase(running.begin());
  nodeBRuns(running);
  auto took = nodeA_->timeUntil(member("b1").pod->address4(), false, 1000ms);
  ASSERT_TRUE(took) << "b1 still known on node A 1 s after it left node B\n" << logs();
  EXPECT_FALSE(aReaches("b1"));
  EXPECT_TRUE(aReaches("b2"));

  // status on node A names where its knowledge comes from.
  ExecResult st = nodeA_->membrane({"status", "-o", "json"});
  auto j = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << st.describe();
  EXPECT_EQ(j["cluster"].size(), static_cast<size_t>(kPods));  // s0 and b2..b5 of node B
  EXPECT_EQ(j["agent"]["connected"], true);
  EXPECT_EQ(j["agent"]["peers"], kPods);
}

// The path of a real cluster: the runtime creates 100 pods on node B
// through the CNI chain, one after another; node A's client reaches each by
// its labels within a second (p50 and p99 printed), and loses it when the
// pod is deleted.
TEST_F(AgentTest, PodsAddedThroughTheCniPluginOnOneNodeAreReachedFromAnotherByTheirLabels) {
  constexpr int kPods = 100;
  build(0);
  testkit::EtcdCluster etcd(1);
  nodeA_->startAgent(etcd.clientUrls());
  nodeB_->startAgent(etcd.clientUrls());
  fs::path nodeBDir = cluster_->workDir() / "node-b";
  const std::string subnet = "198.18.50.0/24";  // node B's pods, by its IPAM
  cluster_->topology().routePrefixToNode("node-b", subnet);
  std::vector<std::unique_ptr<CniPod>> pods;
  std::vector<Process> servers;
  std::vector<long> afterAdd, whole;
  for (int i = 1; i <= kPods; ++i) {
    auto pod = std::make_unique<CniPod>(cluster_->topology(), nodeBDir, "web-" + std::to_string(i), i);
    pod->nodeNetns = cluster_->topology().nodeNamespace("node-b");
    pod->subnet = subnet;
    pod->labels = {{"app", "server"}};
    auto started = Clock::now();
    ExecResult added = pod->add();
    ASSERT_TRUE(added.succeeded()) << added.describe();
    auto took = nodeA_->timeUntil(pod->address(), true, 1000ms);
    ASSERT_TRUE(took) << "web-" << i << " not known on node A 1 s after its CNI ADD returned\n" << logs();
    afterAdd.push_back(took->count());
    whole.push_back(std::chrono::duration_cast<Millis>(Clock::now() - started).count());
    servers.push_back(Topology::spawn(pod->netns(), {proberPath(), "serve", "--tcp", "8080"}));
    ASSERT_TRUE(servers.back().waitForOutput("ready", 2s));
    EXPECT_EQ(member("a").pod->exec({proberPath(), "probe", "tcp", pod->address(), "8080", "--timeout-ms", "400"})
                  .exitCode,
              0)
        << "web-" << i;
    pods.push_back(std::move(pod));
  }
  std::sort(afterAdd.begin(), afterAdd.end());
  std::sort(whole.begin(), whole.end());
  auto p99 = [](const std::vector<long>& sorted) { return sorted[(sorted.size() * 99 + 99) / 100 - 1]; };
  std::cout << kPods << " pods through the CNI chain on node B; known on node A after ADD returned: p50 "
            << afterAdd[kPods / 2] << " ms, p99 " << p99(afterAdd) << " ms, max " << afterAdd.back()
            << " ms; from the start of the chain's ADD: p50 " << whole[kPods / 2] << " ms, p99 " << p99(whole)
            << " ms, max " << whole.back() << " ms\n";

  // DEL: node A forgets the pod and its client is denied.
  std::string gone = pods[0]->address();
  ExecResult del = pods[0]->membrane("DEL", pods[0]->ptpResult());
  ASSERT_TRUE(del.succeeded()) << del.describe();
  ASSERT_TRUE(nodeA_->timeUntil(gone, false, 1000ms)) << logs();
  EXPECT_NE(member("a").pod->exec({proberPath(), "probe", "tcp", gone, "8080", "--timeout-ms", "400"}).exitCode, 0);
  EXPECT_TRUE(nodeA_->knows(pods[1]->address()));
}

TEST_F(AgentTest, ADeadNodesEndpointsExpireWithItsLeaseAndNotBefore) {
  build(1);
  testkit::EtcdCluster etcd(1);
  nodeA_->startAgent(etcd.clientUrls(), 2);
  nodeB_->startAgent(etcd.clientUrls(), 2);
  nodeBRuns({"b1"});
  ASSERT_TRUE(nodeA_->timeUntil(member("b1").pod->address4(), true, 1000ms)) << logs();
  auto killed = Clock::now();
  nodeB_->killAgent();
  // The lease (2 s, renewed every ~0.7 s) outlives the agent by more than
  // half a second.
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(nodeA_->knows(member("b1").pod->address4())) << "forgotten before the lease could expire";
  auto took = nodeA_->timeUntil(member("b1").pod->address4(), false, 5000ms);
  ASSERT_TRUE(took) << "node B's endpoints outlived its lease by 3 s\n" << logs();
  auto after = std::chrono::duration_cast<Millis>(Clock::now() - killed).count();
  std::cout << "node B's endpoints left node A's trie " << after << " ms after its agent was killed (lease 2 s)\n";
  // s0 is also in the compile's inventory: node A falls back to its entry.
  EXPECT_TRUE(nodeA_->knows(member("s0").pod->address4()));
}

TEST_F(AgentTest, WithEveryEtcdMemberDownEnforcementStaysAsItWasAndCatchesUpWhenTheyReturn) {
  build(1);
  testkit::EtcdCluster etcd(3);
  Process server = agentsAndServingB1(etcd);
  ASSERT_FALSE(HasFailure());

  for (int m = 0; m < 3; ++m) etcd.stop(m);
  auto deadline = Clock::now() + 10s;
  while (nodeA_->agentReport().value("connected", true) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ExecResult st = nodeA_->membrane({"status"});
  EXPECT_EQ(st.exitCode, 0) << st.describe();
  EXPECT_NE(st.out.find("etcd: UNREACHABLE since"), std::string::npos) << st.describe();
  EXPECT_NE(st.out.find("enforcing the last known state"), std::string::npos) << st.describe();
  // Enforcement goes on as it was, and node B's change cannot reach node A.
  EXPECT_TRUE(aReaches("b1"));
  nodeBRuns({});
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(nodeA_->knows(member("b1").pod->address4()));

  // Back together: each member waits for a quorum, so none is waited for alone.
  for (int m = 0; m < 3; ++m) etcd.start(m, false);
  auto took = nodeA_->timeUntil(member("b1").pod->address4(), false, 15000ms);
  ASSERT_TRUE(took) << "node A did not catch up within 15 s of etcd's return\n" << logs();
  std::cout << "node A caught up " << took->count() << " ms after the members were started again\n";
  EXPECT_FALSE(aReaches("b1"));
  deadline = Clock::now() + 5s;
  while (!nodeA_->agentReport().value("connected", false) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(nodeA_->agentReport().value("connected", false));

  // Away and back with nothing changed meanwhile: the agent says it is
  // connected again once its watch is, not at the next change.
  for (int m = 0; m < 3; ++m) etcd.stop(m);
  deadline = Clock::now() + 10s;
  while (nodeA_->agentReport().value("connected", true) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(nodeA_->agentReport().value("connected", true));
  for (int m = 0; m < 3; ++m) etcd.start(m, false);
  deadline = Clock::now() + 15s;
  while (!nodeA_->agentReport().value("connected", false) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(nodeA_->agentReport().value("connected", false)) << logs();
}

TEST_F(AgentTest, OneOfThreeEtcdMembersDownChangesNothing) {
  build(2);
  testkit::EtcdCluster etcd(3);
  nodeA_->startAgent(etcd.clientUrls());
  nodeB_->startAgent(etcd.clientUrls());
  nodeBRuns({"b1"});
  ASSERT_TRUE(nodeA_->timeUntil(member("b1").pod->address4(), true, 1000ms)) << logs();
  // Both agents talk to the first member: it goes.
  etcd.stop(0);
  nodeBRuns({"b1", "b2"});
  auto took = nodeA_->timeUntil(member("b2").pod->address4(), true, 1000ms);
  ASSERT_TRUE(took) << "b2 not known on node A within 1 s with one member of three down\n" << logs();
  std::cout << "with a member down, node A learned b2 in " << took->count() << " ms\n";
  EXPECT_TRUE(nodeA_->knows(member("b1").pod->address4()));
}

// Node A's agent talks to one member only; while that member is down, node
// B's pods change and etcd compacts the history. Back again, node A's
// watch cannot resume where it left off (the delete of b1 is gone from the
// history): it must read everything again and replace its set, or b1 would
// stay reachable forever.
TEST_F(AgentTest, AWatchResumedPastACompactionReadsEverythingAgain) {
  build(2);
  testkit::EtcdCluster etcd(3);
  std::vector<std::string> urls = etcd.clientUrls();
  nodeA_->startAgent({urls[0]});
  nodeB_->startAgent({urls[1], urls[2]});
  Process server = member("b1").pod->spawn({proberPath(), "serve", "--tcp", "8080"});
  ASSERT_TRUE(server.waitForOutput("ready", 2s));
  nodeBRuns({"b1"});
  ASSERT_TRUE(nodeA_->timeUntil(member("b1").pod->address4(), true, 1000ms)) << logs();
  EXPECT_TRUE(aReaches("b1"));

  etcd.stop(0);
  auto deadline = Clock::now() + 10s;
  while (nodeA_->agentReport().value("connected", true) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(nodeA_->agentReport().value("connected", true)) << logs();
  nodeBRuns({"b2"});  // b1 leaves node B, b2 joins
  cluster::Etcd client({urls[1], urls[2]});
  std::string error;
  std::optional<cluster::Etcd::Range> now;
  cluster::KeyLayout layout;
  auto has = [&](const std::string& name) {
    return std::any_of(now->kvs.begin(), now->kvs.end(), [&](const cluster::KeyValue& kv) {
      return kv.key == layout.endpointKey("node-b", "x", name);
    });
  };
  deadline = Clock::now() + 5s;  // until node B's agent has published the change
  do {
    std::this_thread::sleep_for(20ms);
    now = client.rangePrefix(layout.prefix + "/", &error);
    ASSERT_TRUE(now) << error;
  } while ((has("b1") || !has("b2")) && Clock::now() < deadline);
  ASSERT_TRUE(has("b2") && !has("b1")) << logs();
  ASSERT_TRUE(client.compact(now->revision, &error)) << error;
  EXPECT_TRUE(nodeA_->knows(member("b1").pod->address4())) << "node A cannot have heard of the change yet";

  etcd.start(0);
  auto took = nodeA_->timeUntil(member("b1").pod->address4(), false, 15000ms);
  ASSERT_TRUE(took) << "node A still knows b1 15 s after its member came back\n" << logs();
  EXPECT_TRUE(nodeA_->timeUntil(member("b2").pod->address4(), true, 1000ms)) << logs();
  EXPECT_NE(nodeA_->agentLog().find("was compacted"), std::string::npos)
      << "the watch resumed without meeting the compaction: this test did not test it\n"
      << logs();
  EXPECT_FALSE(aReaches("b1"));
}

std::string fileText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(AgentTest, TheArtifactsKeyRollsEveryNodeToTheVersionItPinsAndNothingElse) {
  build(1);
  fs::path v2 = cluster_->compile(std::string(kPolicy) +
                                      "policy metrics { selects { app = server } ingress { allow from pods { app = "
                                      "client } on tcp/9090 } }\n",
                                  "v2");
  ASSERT_FALSE(v2.empty());
  std::string manifest = fileText(v2 / "manifest.json"), sha = artifacts::sha256Hex(manifest);
  std::string version = sha.substr(0, 16);
  testkit::EtcdCluster etcd(1);
  Process server = agentsAndServingB1(etcd);
  ASSERT_FALSE(HasFailure());
  auto versionOf = [](Node& n) {
    return nlohmann::json::parse(n.membrane({"status", "-o", "json"}).out, nullptr, false).value("version", "");
  };
  std::string v1 = versionOf(*nodeA_);
  ASSERT_NE(v1, version);

  // The manifest served over HTTP, as a CI job's artifact store would.
  Process http = Topology::spawn("", {"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                                      v2.string()});
  ASSERT_TRUE(http.waitForOutput("port ", 5s)) << http.err();
  std::string out = http.out();
  std::string port = out.substr(out.find("port ") + 5);
  port = port.substr(0, port.find_first_not_of("0123456789"));

  cluster::Etcd client(etcd.clientUrls());
  std::string error;
  auto wantedKey = [&](const std::string& source, const std::string& hash) {
    return nlohmann::json{{"source", source}, {"manifest", hash}}.dump();
  };
  // A hash that is not the manifest's: nobody moves, and both say why.
  std::string wrong(64, '0');
  ASSERT_TRUE(client.put("/membrane/v1/artifacts", wantedKey("http://127.0.0.1:" + port + "/", wrong), 0, &error))
      << error;
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline && (nodeA_->agentReport().value("rolloutError", "").empty() ||
                                     nodeB_->agentReport().value("rolloutError", "").empty()))
    std::this_thread::sleep_for(50ms);
  EXPECT_NE(nodeA_->agentReport().value("rolloutError", "").find("not the " + wrong + " the cluster asks for"),
            std::string::npos)
      << nodeA_->agentReport().dump(2);
  EXPECT_EQ(versionOf(*nodeA_), v1);
  EXPECT_EQ(versionOf(*nodeB_), v1);

  ASSERT_TRUE(client.put("/membrane/v1/artifacts", wantedKey("http://127.0.0.1:" + port + "/", sha), 0, &error))
      << error;
  deadline = Clock::now() + 20s;
  while (Clock::now() < deadline && (versionOf(*nodeA_) != version || versionOf(*nodeB_) != version))
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(versionOf(*nodeA_), version) << logs();
  EXPECT_EQ(versionOf(*nodeB_), version) << logs();
  // What the cluster taught node A survives the new version's trie, and each
  // node tells the cluster what it runs.
  EXPECT_TRUE(nodeA_->knows(member("b1").pod->address4()));
  EXPECT_TRUE(aReaches("b1"));
  deadline = Clock::now() + 5s;
  std::string published;
  while (Clock::now() < deadline) {
    auto r = client.rangePrefix("/membrane/v1/nodes/node-b", &error);
    if (r && r->kvs.size() == 1) published = nlohmann::json::parse(r->kvs[0].value).value("version", "");
    if (published == version) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(published, version);
  // B's endpoints join under the new version too (the CNI plugin's path).
  nodeBRuns({});
  EXPECT_TRUE(nodeA_->timeUntil(member("b1").pod->address4(), false, 1000ms));
}

}  // namespace
}  // namespace membrane::e2e
