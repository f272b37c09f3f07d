// membrane-cni (docs/cluster.md) chained after Debian's reference plugins
// (ptp with host-local IPAM), invoked as a container runtime does: the pod's
// network namespace made first, then ADD through the chain with the previous
// result handed on; DEL in reverse. Real traffic decides whether the pod is
// enforced by its labels.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "cni_pod.h"

namespace membrane::e2e {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const char* kPolicy = R"(namespace x
policy client { selects { app = client } egress { allow to pods { app = server } on tcp/8080 } }
policy server { selects { app = server } ingress { allow from pods { app = client } on tcp/8080 } }
policy tiered { selects { tier = gold } ingress { allow from pods { app = client } on tcp/9090 } }
)";

class CniTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MEMBRANE_E2E_REQUIRE_PRIVILEGES();
    if (!fs::exists(std::string(kCniDir) + "/ptp")) {
      if (runningInCi()) FAIL() << "the CNI reference plugins are not installed (containernetworking-plugins)";
      GTEST_SKIP() << "the CNI reference plugins are not installed (containernetworking-plugins)";
    }
    c_ = std::make_unique<Cluster>(std::vector<std::tuple<std::string, std::string, labels::LabelSet>>{
        {"x", "client", {{"app", "client"}}}, {"x", "intruder", {{"app", "intruder"}}}, {"x", "s0", {{"app", "server"}}}});
    artifacts_ = c_->compile(kPolicy, "v1");
    ASSERT_FALSE(artifacts_.empty());
    ExecResult r = c_->apply(artifacts_);
    ASSERT_TRUE(r.succeeded()) << r.describe();
  }
  const Cluster::Member& member(const std::string& name) {
    for (const auto& m : c_->members())
      if (m.name == name) return m;
    throw std::runtime_error("no member " + name);
  }
  int probe(const std::string& from, const std::string& address) {
    return member(from).pod->exec({proberPath(), "probe", "tcp", address, "8080", "--timeout-ms", "400"}).exitCode;
  }
  json status() {
    ExecResult st = c_->run({"status", "-o", "json"});
    return json::parse(st.out, nullptr, false);
  }
  const json* endpoint(const json& status, const std::string& key) {
    for (const auto& e : status["endpoints"])
      if (e["endpoint"] == key) return &e;
    return nullptr;
  }

  std::unique_ptr<Cluster> c_;
  fs::path artifacts_;
};

TEST_F(CniTest, APodAddedThroughThePluginChainIsEnforcedByItsLabels) {
  CniPod web(c_->topology(), c_->workDir(), "web-1", 1);
  web.labels = {{"app", "server"}};
  ExecResult added = web.add();
  ASSERT_TRUE(added.succeeded()) << added.describe();
  // The previous result, unchanged.
  EXPECT_EQ(json::parse(added.out), web.ptpResult());

  json st = status();
  const json* e = endpoint(st, "x/web-1");
  ASSERT_TRUE(e) << st.dump(2);
  EXPECT_EQ((*e)["attachedTo"], web.hostVeth());
  EXPECT_EQ((*e)["learned"], true);
  EXPECT_EQ(st["asApplied"], true) << st.dump(2);

  Process server = Topology::spawn(web.netns(), {proberPath(), "serve", "--tcp", "8080"});
  ASSERT_TRUE(server.waitForOutput("ready", 2s));
  EXPECT_EQ(probe("client", web.address()), 0) << "the client may call servers";
  EXPECT_NE(probe("intruder", web.address()), 0) << "web-1's ingress lets only clients in";

  ExecResult check = web.membrane("CHECK", web.ptpResult());
  EXPECT_TRUE(check.succeeded()) << check.describe();

  ExecResult del = web.membrane("DEL", web.ptpResult());
  EXPECT_TRUE(del.succeeded()) << del.describe();
  EXPECT_FALSE(endpoint(status(), "x/web-1"));
  // Unenforced now: nothing at web-1 keeps the intruder out.
  EXPECT_EQ(probe("intruder", web.address()), 0);
  check = web.membrane("CHECK", web.ptpResult());
  EXPECT_EQ(check.exitCode, 1);
  EXPECT_EQ(json::parse(check.out)["code"], 101) << check.out;
  // DEL of a pod the node does not have: done already, no error.
  del = web.membrane("DEL", web.ptpResult());
  EXPECT_TRUE(del.succeeded()) << del.describe();
}

// A pod of a class the node runs already is the common case on a busy node:
// its ADD and DEL change the node in place (docs/runtime.md, "Joining in
// place"), and the class program that judges s0 keeps running, unreloaded,
// and judges the new pod too.
TEST_F(CniTest, APodOfAClassTheNodeRunsJoinsAndLeavesWithoutLoadingAnyProgram) {
  auto programs = [](const json* e) {
    std::map<std::string, uint32_t> out;
    if (e)
      for (const auto& [hook, h] : (*e)["hooks"].items()) out[hook] = h["program"].get<uint32_t>();
    return out;
  };
  json before = status();
  auto s0 = programs(endpoint(before, "x/s0"));
  ASSERT_FALSE(s0.empty()) << before.dump(2);

  CniPod web(c_->topology(), c_->workDir(), "web-1", 1);
  web.labels = {{"app", "server"}};
  ExecResult added = web.add();
  ASSERT_TRUE(added.succeeded()) << added.describe();
  json st = status();
  EXPECT_EQ(st["version"], before["version"]);
  EXPECT_EQ(st["asApplied"], true) << st.dump(2);
  EXPECT_EQ(programs(endpoint(st, "x/s0")), s0) << "s0's class program was loaded again";
  EXPECT_EQ(programs(endpoint(st, "x/web-1")), s0) << "web-1 is not judged by its class's running program";

  Process server = Topology::spawn(web.netns(), {proberPath(), "serve", "--tcp", "8080"});
  Process s0Server = member("s0").pod->spawn({proberPath(), "serve", "--tcp", "8080"});
  ASSERT_TRUE(server.waitForOutput("ready", 2s));
  ASSERT_TRUE(s0Server.waitForOutput("ready", 2s));
  EXPECT_EQ(probe("client", web.address()), 0) << "the client may call servers";
  EXPECT_NE(probe("intruder", web.address()), 0) << "web-1's ingress lets only clients in";

  ExecResult del = web.membrane("DEL", web.ptpResult());
  ASSERT_TRUE(del.succeeded()) << del.describe();
  st = status();
  EXPECT_FALSE(endpoint(st, "x/web-1"));
  EXPECT_EQ(st["asApplied"], true) << st.dump(2);
  EXPECT_EQ(programs(endpoint(st, "x/s0")), s0);
  EXPECT_EQ(probe("intruder", web.address()), 0) << "web-1 is no longer enforced";
  EXPECT_NE(probe("intruder", member("s0").pod->address4()), 0) << "s0 still is";
  EXPECT_EQ(probe("client", member("s0").pod->address4()), 0);
}

TEST_F(CniTest, AnAddMembraneRefusesFailsAndLeavesTheNodeAsItWas) {
  std::string before = [&] {
    std::ifstream in(c_->workDir() / "state" / "state.json");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  CniPod odd(c_->topology(), c_->workDir(), "odd-1", 2);
  // Selected by server and tiered: no pod of the compile was, so no class has that set.
  odd.labels = {{"app", "server"}, {"tier", "gold"}};
  ExecResult added = odd.add();
  EXPECT_EQ(added.exitCode, 1) << added.describe();
  json error = json::parse(added.out, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << added.describe();
  EXPECT_EQ(error["cniVersion"], "1.0.0");
  EXPECT_EQ(error["code"], 100);
  EXPECT_NE(error["msg"].get<std::string>().find("a combination no compiled class has"), std::string::npos) << error;
  std::ifstream in(c_->workDir() / "state" / "state.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), before) << "a refused ADD changed the node";
  EXPECT_FALSE(endpoint(status(), "x/odd-1"));
}

TEST_F(CniTest, ThePluginSaysWhatItSpeaksAndRefusesWhatItCannotUseWithCniErrors) {
  CniPod pod(c_->topology(), c_->workDir(), "web-2", 3);
  ExecResult version = pod.membrane("VERSION", nullptr);
  ASSERT_TRUE(version.succeeded()) << version.describe();
  EXPECT_EQ(json::parse(version.out)["supportedVersions"], json({"0.4.0", "1.0.0"}));

  auto errorCode = [](const ExecResult& r) {
    json j = json::parse(r.out, nullptr, false);
    return r.exitCode == 1 && !j.is_discarded() ? j.value("code", -1) : -2;
  };
  pod.labels = {{"app", "server"}};
  EXPECT_EQ(errorCode(pod.membrane("ADD", nullptr)), 7) << "no prevResult: not chained";
  json config = pod.membraneConfig(json{{"interfaces", json::array()}, {"ips", json::array()}});
  config["cniVersion"] = "0.3.1";
  EXPECT_EQ(errorCode(pod.plugin(MEMBRANE_CNI_BIN, "ADD", config)), 1) << "a version it does not speak";
  ExecResult noPod = pod.membrane("ADD", json{{"interfaces", json::array()}}, "IgnoreUnknown=1");
  EXPECT_EQ(errorCode(noPod), 4) << noPod.describe();
  ExecResult badName = pod.membrane("ADD", json{{"interfaces", json::array()}}, "K8S_POD_NAMESPACE=x;K8S_POD_NAME=a%b");
  EXPECT_EQ(errorCode(badName), 4) << badName.describe();
  // Without podLabels and without a pod info file, there is nothing to enforce it by.
  pod.labels = nullptr;
  ExecResult ptp = pod.plugin(std::string(kCniDir) + "/ptp", "ADD", pod.ptpConfig());
  ASSERT_TRUE(ptp.succeeded()) << ptp.describe();
  ExecResult noLabels = pod.membrane("ADD", json::parse(ptp.out));
  EXPECT_EQ(errorCode(noLabels), 100) << noLabels.describe();
  EXPECT_NE(noLabels.out.find("no labels for pod x/web-2"), std::string::npos) << noLabels.out;
  // The documented fallback: <stateDir>/pods/<namespace>/<name>.json.
  fs::create_directories(c_->workDir() / "state" / "pods" / "x");
  std::ofstream(c_->workDir() / "state" / "pods" / "x" / "web-2.json") << R"({"labels": {"app": "server"}})";
  ExecResult withFile = pod.membrane("ADD", json::parse(ptp.out));
  EXPECT_TRUE(withFile.succeeded()) << withFile.describe();
  EXPECT_TRUE(endpoint(status(), "x/web-2"));
}

// A pod scheduled before the node's first apply (or after a detach) is not
// refused: the runtime is told to try again later (CNI code 11), and the
// same ADD succeeds once the node runs a version.
TEST_F(CniTest, AnAddBeforeAnythingIsAppliedAsksTheRuntimeToTryAgainLater) {
  ExecResult detached = c_->run({"detach"});
  ASSERT_TRUE(detached.succeeded()) << detached.describe();
  CniPod pod(c_->topology(), c_->workDir(), "web-4", 5);
  pod.labels = {{"app", "server"}};
  ExecResult ptp = pod.plugin(std::string(kCniDir) + "/ptp", "ADD", pod.ptpConfig());
  ASSERT_TRUE(ptp.succeeded()) << ptp.describe();
  ExecResult early = pod.membrane("ADD", json::parse(ptp.out));
  EXPECT_EQ(early.exitCode, 1) << early.describe();
  json error = json::parse(early.out, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << early.out;
  EXPECT_EQ(error["code"], 11) << early.out;
  EXPECT_NE(error.dump().find("nothing applied"), std::string::npos) << early.out;

  ExecResult r = c_->apply(artifacts_);
  ASSERT_TRUE(r.succeeded()) << r.describe();
  ExecResult again = pod.membrane("ADD", json::parse(ptp.out));
  EXPECT_TRUE(again.succeeded()) << again.describe();
  EXPECT_TRUE(endpoint(status(), "x/web-4"));
}

// A runtime that loses a pod's network without DEL (a crash, a deleted
// namespace) must not keep every later pod off the node: the next ADD drops
// the endpoint whose interface is gone, and says so.
TEST_F(CniTest, APodWhoseInterfaceVanishedWithoutADelDoesNotBlockTheNextAdd) {
  auto gone = std::make_unique<CniPod>(c_->topology(), c_->workDir(), "gone-1", 4);
  gone->labels = {{"app", "server"}};
  ExecResult added = gone->add();
  ASSERT_TRUE(added.succeeded()) << added.describe();
  ExecResult removed = Topology::exec("", {"ip", "netns", "del", gone->netns()});
  ASSERT_TRUE(removed.succeeded()) << removed.describe();
  // The kernel dismantles the veth pair with the namespace.
  std::string veth = gone->hostVeth();
  for (int i = 0; i < 200; ++i) {
    ExecResult link = Topology::exec(c_->topology().hostNamespace(), {"ip", "link", "show", veth});
    if (!link.succeeded()) break;
    std::this_thread::sleep_for(10ms);
  }
  CniPod next(c_->topology(), c_->workDir(), "next-1", 5);
  next.labels = {{"app", "server"}};
  added = next.add();
  ASSERT_TRUE(added.succeeded()) << added.describe();
  EXPECT_NE(added.err.find("x/gone-1"), std::string::npos) << added.err;
  json st = status();
  EXPECT_TRUE(endpoint(st, "x/next-1"));
  EXPECT_FALSE(endpoint(st, "x/gone-1"));
  EXPECT_EQ(st["asApplied"], true) << st.dump(2);
}

// An apply that cannot see the node's interfaces (run outside the node's
// network namespace) is refused after its read-back, and what ran before
// still runs: status as applied, the same verdicts.
TEST_F(CniTest, AnApplyFromAnotherNetworkNamespaceIsRolledBackLeavingEnforcementAsItWas) {
  CniPod web(c_->topology(), c_->workDir(), "web-1", 1);
  web.labels = {{"app", "server"}};
  ExecResult added = web.add();
  ASSERT_TRUE(added.succeeded()) << added.describe();
  Process server = Topology::spawn(web.netns(), {proberPath(), "serve", "--tcp", "8080"});
  ASSERT_TRUE(server.waitForOutput("ready", 2s));
  ASSERT_EQ(probe("client", web.address()), 0);
  ASSERT_NE(probe("intruder", web.address()), 0);
  json before = status();
  fs::path v2 = c_->compile(std::string(kPolicy) + "policy more { selects { app = server } ingress { allow from pods "
                                                   "{ app = client } on tcp/9090 } }\n",
                            "v2");
  for (int attempt = 0; attempt < 3; ++attempt) {
    ExecResult r = Topology::exec("", {MEMBRANE_BIN, "--bpffs", (c_->workDir() / "bpf").string(), "--state-dir",
                                       (c_->workDir() / "state").string(), "apply", v2.string(), "--node",
                                       (c_->workDir() / "node.json").string()});
    EXPECT_EQ(r.exitCode, 1) << r.describe();
    EXPECT_EQ(probe("client", web.address()), 0) << "attempt " << attempt << " broke the client's access";
  }
  // endpoint leave (as a CNI DEL) from there would drop every endpoint as
  // vanished: refused instead.
  ExecResult leave = Topology::exec("", {MEMBRANE_BIN, "--bpffs", (c_->workDir() / "bpf").string(), "--state-dir",
                                         (c_->workDir() / "state").string(), "endpoint", "leave", "--name", "client",
                                         "--namespace", "x"});
  EXPECT_EQ(leave.exitCode, 1) << leave.describe();
  EXPECT_NE(leave.err.find("interfaces this node enforces at is in this network namespace"), std::string::npos)
      << leave.err;
  json after = status();
  EXPECT_EQ(after["endpoints"].size(), before["endpoints"].size());
  EXPECT_EQ(after["version"], before["version"]);
  EXPECT_EQ(after["asApplied"], true) << after.dump(2);
  EXPECT_EQ(probe("client", web.address()), 0) << "the failed apply broke the client's access";
  EXPECT_NE(probe("intruder", web.address()), 0);
}

}  // namespace
}  // namespace membrane::e2e
