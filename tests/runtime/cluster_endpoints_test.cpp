// Other nodes' endpoints in this node's trie (loader::clusterEndpointsSet,
// docs/cluster.md "Who owns an address"), read back from the kernel; and the
// records the agent reads from etcd (cluster::parseEndpointRecord).
#include <bpf/bpf.h>
#include <sys/stat.h>

#include "cluster/agent.h"
#include "identity/identity_table.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using loader::ClusterEndpoint;

ClusterEndpoint remote(const std::string& node, const std::string& name, labels::LabelSet l,
                       const std::vector<std::string>& addresses, int64_t revision = 1) {
  ClusterEndpoint c;
  c.node = node;
  c.endpoint.name = name;
  c.endpoint.ns = "shop";
  c.endpoint.labels = std::move(l);
  for (const auto& a : addresses) c.endpoint.addresses.push_back(*net::Address::parse(a));
  c.revision = revision;
  return c;
}

// shop/api-0's named ports: an endpoint with its labels and these matches
// every selector api-0 does (named ports resolve per destination).
ClusterEndpoint withApiPorts(ClusterEndpoint c) {
  c.endpoint.ports = {{"http", 6, 8080}, {"metrics", 6, 9090}};
  return c;
}

class ClusterEndpointsTest : public ApplyTest {
 protected:
  TestCgroup cg;
  void SetUp() override {
    MB_REQUIRE_BPF();
    ApplyTest::SetUp();
    // api-0 enforced here; frontend-9 a NODE.json peer.
    std::string error;
    auto node = parseNode(R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" + cg.path.string() +
                          R"("}], "peers": [{"name": "frontend-9", "namespace": "shop", "labels": {"app": "frontend"},
                          "addresses": ["198.18.9.9"]}]})");
    ASSERT_TRUE(loader::apply(artifacts.string(), node, paths, nullptr, &error)) << error;
  }

  // The trie's entry for `address`, if it has one for exactly that address.
  std::optional<mb_identity> entry(const std::string& address) {
    std::string error;
    auto s = loader::status(paths, &error);
    EXPECT_TRUE(s) << error;
    if (!s) return std::nullopt;
    int fd = bpf_obj_get((paths.bpffsRoot + "/versions/" + s->version + "/mb_identity").c_str());
    EXPECT_GE(fd, 0);
    mb_lpm_key key = identity::keyFor(*net::Address::parse(address));
    mb_identity v{};
    bool found = bpf_map_lookup_elem(fd, &key, &v) == 0;
    close(fd);
    if (!found || !(v.flags & MB_PEER_ENDPOINT)) return std::nullopt;
    return v;
  }
  static bool sameBits(const mb_identity& a, const mb_identity& b) {
    return std::memcmp(a.bits, b.bits, sizeof a.bits) == 0;
  }
  loader::ClusterUpdate set(const std::vector<ClusterEndpoint>& endpoints) {
    loader::ClusterUpdate u;
    std::string error;
    EXPECT_TRUE(loader::clusterEndpointsSet(endpoints, paths, &u, &error)) << error;
    return u;
  }
};

TEST_F(ClusterEndpointsTest, AnotherNodesEndpointJoinsTheTrieByItsLabelsAndLeavesWithItsRecord) {
  auto api0 = entry("198.18.1.20");
  ASSERT_TRUE(api0);
  EXPECT_FALSE(entry("198.18.7.1"));
  auto u = set({withApiPorts(remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1", "2001:2::7:1"}))});
  EXPECT_EQ(u.taken, 1u);
  EXPECT_TRUE(u.skipped.empty());
  EXPECT_GT(u.trieChanges, 0u);
  auto api7 = entry("198.18.7.1");
  ASSERT_TRUE(api7);
  EXPECT_TRUE(sameBits(*api7, *api0)) << "api-7 has api-0's labels: the same selectors match it";
  EXPECT_TRUE(entry("2001:2::7:1"));

  // Setting the same again changes nothing in the kernel.
  u = set({withApiPorts(remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1", "2001:2::7:1"}))});
  EXPECT_EQ(u.trieChanges, 0u);

  u = set({});
  EXPECT_FALSE(entry("198.18.7.1"));
  EXPECT_FALSE(entry("2001:2::7:1"));
  // This node's own knowledge is untouched.
  EXPECT_TRUE(entry("198.18.1.20"));
  EXPECT_TRUE(entry("198.18.9.9"));
}

TEST_F(ClusterEndpointsTest, AnotherNodeCannotTakeThisNodesEndpointsOrTheAddressesItKnows) {
  auto api0 = entry("198.18.1.20");
  auto peer = entry("198.18.9.9");
  ASSERT_TRUE(api0 && peer);
  auto u = set({remote("node-b", "api-0", {{"app", "frontend"}}, {"198.18.7.1"}),
                remote("node-b", "thief-1", {{"app", "frontend"}}, {"198.18.1.20"}),
                remote("node-b", "thief-2", {{"app", "api"}}, {"198.18.9.9"}),
                remote("node-b", "fine-0", {{"app", "frontend"}}, {"198.18.7.2"})});
  EXPECT_EQ(u.taken, 1u);
  ASSERT_EQ(u.skipped.size(), 3u);
  std::string all = u.skipped[0] + "\n" + u.skipped[1] + "\n" + u.skipped[2];
  EXPECT_TRUE(Contains(all, "shop/api-0 from node node-b: this node has an endpoint of that name"));
  EXPECT_TRUE(Contains(all, "shop/thief-1 from node node-b: it claims 198.18.1.20, which is shop/api-0's"));
  EXPECT_TRUE(Contains(all, "shop/thief-2 from node node-b: it claims 198.18.9.9, which is shop/frontend-9's"));
  EXPECT_FALSE(entry("198.18.7.1"));
  EXPECT_TRUE(sameBits(*entry("198.18.1.20"), *api0));
  EXPECT_TRUE(sameBits(*entry("198.18.9.9"), *peer));
  EXPECT_TRUE(entry("198.18.7.2"));
}

TEST_F(ClusterEndpointsTest, TheNewestRecordWinsAnAddressTwoNodesClaim) {
  auto api0 = entry("198.18.1.20");
  auto frontend0 = entry("198.18.1.10");
  ASSERT_TRUE(api0 && frontend0);
  // An address reused on node C while node B's old record lingers.
  auto u = set({withApiPorts(remote("node-c", "api-8", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.5"}, 9)),
                remote("node-b", "frontend-8", {{"app", "frontend"}}, {"198.18.7.5"}, 5)});
  EXPECT_EQ(u.taken, 1u);
  ASSERT_EQ(u.skipped.size(), 1u);
  EXPECT_TRUE(Contains(u.skipped[0], "shop/frontend-8 from node node-b: it claims 198.18.7.5, which is shop/api-8's"));
  ASSERT_TRUE(entry("198.18.7.5"));
  EXPECT_TRUE(sameBits(*entry("198.18.7.5"), *api0));
}

TEST_F(ClusterEndpointsTest, TheClusterIsFresherThanTheInventoryForEndpointsElsewhere) {
  // postgres-0's compiled address now belongs to a frontend pod on node B.
  auto frontend0 = entry("198.18.1.10");
  ASSERT_TRUE(frontend0);
  auto u = set({remote("node-b", "frontend-5", {{"app", "frontend"}}, {"198.18.1.30"})});
  EXPECT_EQ(u.taken, 1u);
  EXPECT_TRUE(u.skipped.empty());
  ASSERT_TRUE(entry("198.18.1.30"));
  EXPECT_TRUE(sameBits(*entry("198.18.1.30"), *frontend0));
}

TEST_F(ClusterEndpointsTest, ApplyAndEndpointAddKeepTheClusterEndpoints) {
  set({remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1"})});
  ASSERT_TRUE(entry("198.18.7.1"));
  // A new version: its own trie, with the cluster's endpoints in it.
  fs::path v2 = dir.path() / "out2";
  compileShopTo(v2, "namespace shop\npolicy extra { selects { app = nats } ingress { allow from pods {} on tcp/4222 } }\n");
  std::string error, before = loader::status(paths, &error)->version;
  auto node = parseNode(R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" + cg.path.string() +
                        R"("}]})");
  ASSERT_TRUE(loader::apply(v2.string(), node, paths, nullptr, &error)) << error;
  ASSERT_NE(loader::status(paths, &error)->version, before);
  EXPECT_TRUE(entry("198.18.7.1"));
  // endpoint add rewrites the trie from the state: the cluster's stay.
  e2e::ExecResult added = membrane({"endpoint", "add", "--name", "late", "--namespace", "shop", "--label", "app=api",
                                    "--address", "198.18.6.1"});
  ASSERT_TRUE(added.succeeded()) << added.describe();
  EXPECT_TRUE(entry("198.18.7.1"));
  EXPECT_TRUE(entry("198.18.6.1"));
  // and status lists them with their node.
  e2e::ExecResult st = membrane({"status", "-o", "json"});
  auto j = nlohmann::json::parse(st.out);
  ASSERT_EQ(j["cluster"].size(), 1u);
  EXPECT_EQ(j["cluster"][0]["endpoint"], "shop/api-7");
  EXPECT_EQ(j["cluster"][0]["node"], "node-b");
}

// A pod joining anywhere must not rewrite the trie entries of every other
// pod: a learned endpoint's identity number comes from its labels, not from
// its place in the list (with hundreds of pods, each change rewrote them all).
TEST_F(ClusterEndpointsTest, APodJoiningLeavesEveryOtherPodsTrieEntryAsItWas) {
  auto b = remote("node-b", "zz-api", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.2"});
  auto c = remote("node-b", "zz-frontend", {{"app", "frontend"}}, {"198.18.7.3"});
  set({b, c});
  auto before2 = entry("198.18.7.2"), before3 = entry("198.18.7.3");
  ASSERT_TRUE(before2 && before3);
  // Sorted before both, with labels of its own.
  loader::ClusterUpdate u = set({remote("node-c", "aa-new", {{"app", "other"}}, {"198.18.7.1"}), b, c});
  ASSERT_TRUE(entry("198.18.7.1"));
  auto after2 = entry("198.18.7.2"), after3 = entry("198.18.7.3");
  ASSERT_TRUE(after2 && after3);
  EXPECT_EQ(std::memcmp(&*before2, &*after2, sizeof *after2), 0) << "zz-api's entry changed";
  EXPECT_EQ(std::memcmp(&*before3, &*after3, sizeof *after3), 0) << "zz-frontend's entry changed";
  EXPECT_EQ(u.trieChanges, 1u) << "only the new pod's address is written";
}

// The agent updates the trie many times a second under churn: its updates
// go to cluster.json, and what this node enforces (state.json, which the
// agent's publisher watches and every join reads) is left as it is.
TEST_F(ClusterEndpointsTest, TheAgentsUpdatesLeaveWhatThisNodeEnforcesUnwritten) {
  fs::path statePath = fs::path(paths.stateDir) / "state.json";
  std::string before = readText(statePath);
  struct stat was {};
  ASSERT_EQ(stat(statePath.c_str(), &was), 0);
  set({remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1"})});
  ASSERT_TRUE(entry("198.18.7.1"));
  struct stat now {};
  ASSERT_EQ(stat(statePath.c_str(), &now), 0);
  EXPECT_EQ(now.st_ino, was.st_ino) << "state.json was rewritten";
  EXPECT_EQ(readText(statePath), before);
  EXPECT_TRUE(Contains(readText(fs::path(paths.stateDir) / "cluster.json"), "api-7"));
}

// A state.json from before cluster.json held the cluster's endpoints
// itself: the next command keeps them (moved to cluster.json).
TEST_F(ClusterEndpointsTest, ClusterEndpointsAStateJsonOfAnOlderMembraneHoldsAreKept) {
  set({remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1"})});
  fs::path statePath = fs::path(paths.stateDir) / "state.json", clusterPath = fs::path(paths.stateDir) / "cluster.json";
  auto state = nlohmann::json::parse(readText(statePath));
  state["cluster"] = nlohmann::json::parse(readText(clusterPath));
  writeText(statePath, state.dump(2));
  fs::remove(clusterPath);
  e2e::ExecResult added = membrane({"endpoint", "add", "--name", "late", "--namespace", "shop", "--label", "app=api",
                                    "--address", "198.18.6.1"});
  ASSERT_TRUE(added.succeeded()) << added.describe();
  EXPECT_TRUE(entry("198.18.7.1"));
  EXPECT_TRUE(entry("198.18.6.1"));
  EXPECT_TRUE(Contains(readText(clusterPath), "api-7"));
}

// The agent writes the trie only when the cluster changes: a node detached
// and applied again must start with the cluster's endpoints, not treat
// other nodes' pods as the world until the next change in etcd.
TEST_F(ClusterEndpointsTest, AnApplyAfterDetachKnowsTheClusterEndpointsAlready) {
  set({withApiPorts(remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1"}))});
  ASSERT_TRUE(entry("198.18.7.1"));
  std::string error;
  ASSERT_TRUE(loader::detachAll(paths, &error)) << error;
  auto node = parseNode(R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" + cg.path.string() +
                        R"("}]})");
  ASSERT_TRUE(loader::apply(artifacts.string(), node, paths, nullptr, &error)) << error;
  EXPECT_TRUE(entry("198.18.7.1"));
  EXPECT_TRUE(sameBits(*entry("198.18.7.1"), *entry("198.18.1.20")));
}

// An agent that starts before the node's first apply: its set is kept, and
// the first apply's trie has it.
TEST_F(ClusterEndpointsTest, TheAgentsSetBeforeAnyApplyIsInTheFirstApplysTrie) {
  std::string error;
  ASSERT_TRUE(loader::detachAll(paths, &error)) << error;
  fs::remove(fs::path(paths.stateDir) / "cluster.json");
  auto u = set({remote("node-b", "api-7", {{"app", "api"}, {"tier", "backend"}}, {"198.18.7.1"})});
  EXPECT_FALSE(u.applied);
  EXPECT_EQ(u.taken, 0u);
  EXPECT_EQ(u.trieChanges, 0u);
  auto node = parseNode(R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" + cg.path.string() +
                        R"("}]})");
  ASSERT_TRUE(loader::apply(artifacts.string(), node, paths, nullptr, &error)) << error;
  EXPECT_TRUE(entry("198.18.7.1"));
  e2e::ExecResult st = membrane({"status", "-o", "json"});
  ASSERT_TRUE(st.succeeded()) << st.describe();
  EXPECT_EQ(nlohmann::json::parse(st.out)["cluster"].size(), 1u);
}

TEST_F(ClusterEndpointsTest, TheAgentPublishesWhatThisNodeEnforcesWithItsLabels) {
  std::string error, version;
  auto local = loader::localEndpoints(paths, &error, &version);
  ASSERT_TRUE(local) << error;
  EXPECT_EQ(version, loader::status(paths, &error)->version);
  ASSERT_EQ(local->size(), 1u);
  EXPECT_EQ((*local)[0].key(), "shop/api-0");
  EXPECT_EQ((*local)[0].labels, (labels::LabelSet{{"app", "api"}, {"tier", "backend"}}));
  ASSERT_EQ((*local)[0].addresses.size(), 2u);
  EXPECT_EQ((*local)[0].addresses[0].str(), "198.18.1.20");
}

TEST_F(ClusterEndpointsTest, EndpointJoinAndLeaveChangeWhatTheNodeEnforcesAllOrNothing) {
  TestCgroup cg2("-join");
  std::string error;
  std::string before = readText(fs::path(paths.stateDir) / "state.json");
  // A cgroup another endpoint has: refused, nothing changed.
  e2e::ExecResult taken = membrane({"endpoint", "join", "--name", "new-0", "--namespace", "shop", "--label",
                                    "app=frontend", "--address", "198.18.7.7", "--cgroup", cg.path.string()});
  EXPECT_EQ(taken.exitCode, 1);
  EXPECT_TRUE(Contains(taken.err, "endpoint shop/api-0 is enforced at " + cg.path.string() + " already"));
  EXPECT_EQ(readText(fs::path(paths.stateDir) / "state.json"), before);

  e2e::ExecResult joined = membrane({"endpoint", "join", "--name", "new-0", "--namespace", "shop", "--label",
                                     "app=frontend", "--address", "198.18.7.7", "--port", "http=80", "--cgroup",
                                     cg2.path.string()});
  ASSERT_TRUE(joined.succeeded()) << joined.describe();
  auto s = loader::status(paths, &error);
  ASSERT_TRUE(s) << error;
  std::set<std::string> keys;
  for (const auto& e : s->endpoints) keys.insert(e.key + "@" + e.where);
  EXPECT_EQ(keys, (std::set<std::string>{"shop/api-0@" + cg.path.string(), "shop/new-0@" + cg2.path.string()}));
  EXPECT_TRUE(s->problems.empty());
  ASSERT_TRUE(entry("198.18.7.7"));
  // The peer NODE.json gave survives the re-apply.
  EXPECT_TRUE(entry("198.18.9.9"));

  e2e::ExecResult left = membrane({"endpoint", "leave", "--name", "new-0", "--namespace", "shop"});
  ASSERT_TRUE(left.succeeded()) << left.describe();
  s = loader::status(paths, &error);
  ASSERT_EQ(s->endpoints.size(), 1u);
  EXPECT_FALSE(entry("198.18.7.7"));
  // Leaving again is no error.
  left = membrane({"endpoint", "leave", "--name", "new-0", "--namespace", "shop"});
  EXPECT_TRUE(left.succeeded()) << left.describe();
}

// ---- records from etcd

cluster::KeyValue kv(const std::string& key, const std::string& value) { return {key, value, 7, 0}; }

TEST(EndpointRecord, ReadsBackWhatTheAgentPublishes) {
  loader::NodeEndpoint e;
  e.name = "api-7";
  e.ns = "shop";
  e.labels = labels::LabelSet{{"app", "api"}};
  e.addresses = {*net::Address::parse("198.18.7.1"), *net::Address::parse("2001:2::7:1")};
  e.ports = {{"http", 6, 8080}};
  cluster::KeyLayout layout;
  std::string why;
  auto c = cluster::parseEndpointRecord(layout, kv(layout.endpointKey("node-b", "shop", "api-7"), cluster::endpointRecord(e)),
                                        &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->node, "node-b");
  EXPECT_EQ(c->revision, 7);
  EXPECT_EQ(c->endpoint.key(), "shop/api-7");
  EXPECT_EQ(c->endpoint.labels, e.labels);
  EXPECT_EQ(c->endpoint.addresses, e.addresses);
  EXPECT_EQ(c->endpoint.ports, e.ports);
}

TEST(EndpointRecord, RefusesKeysAndValuesMembraneDoesNotWriteSayingWhy) {
  cluster::KeyLayout layout;
  const std::string good = R"({"name": "api-7", "namespace": "shop", "labels": {"app": "api"}, "addresses": ["198.18.7.1"]})";
  struct Case {
    std::string key, value, why;
  } cases[] = {
      {"/membrane/v1/other/node-b/shop/api-7", good, "not under /membrane/v1/endpoints/"},
      {"/membrane/v1/endpoints/node-b/shop", good, "expected /membrane/v1/endpoints/<node>/<namespace>/<name>"},
      {"/membrane/v1/endpoints/node-b/shop/api-7/x", good, "expected /membrane/v1/endpoints/<node>/<namespace>/<name>"},
      {"/membrane/v1/endpoints/Node_B/shop/api-7", good, "node name: "},
      {"/membrane/v1/endpoints/node-b/shop/api-8", good, "the record is shop/api-7, not shop/api-8"},
      {"/membrane/v1/endpoints/node-b/shop/api-7", "{", "not valid JSON"},
      {"/membrane/v1/endpoints/node-b/shop/api-7", "1, {}", "not valid JSON"},
      {"/membrane/v1/endpoints/node-b/shop/api-7",
       R"({"name": "api-7", "namespace": "shop", "labels": {"app": "api"}, "addresses": ["198.18.7.256"]})",
       "addresses[0]"},
      {"/membrane/v1/endpoints/node-b/shop/api-7",
       R"({"name": "api-7", "name": "api-7", "namespace": "shop", "labels": {}, "addresses": ["198.18.7.1"]})",
       "duplicate key"},
      {"/membrane/v1/endpoints/node-b/shop/api-7",
       R"({"name": "api-7", "namespace": "shop", "labels": {}, "addresses": ["198.18.7.1"], "interface": "eth0"})",
       "interface"},
      {"/membrane/v1/endpoints/node-b/sh%op/api-7",
       R"({"name": "api-7", "namespace": "sh%op", "labels": {}, "addresses": ["198.18.7.1"]})", "DNS-1123"},
  };
  for (const auto& c : cases) {
    std::string why;
    EXPECT_FALSE(cluster::parseEndpointRecord(layout, kv(c.key, c.value), &why)) << c.key << " " << c.value;
    EXPECT_TRUE(Contains(why, c.why)) << c.key << " " << c.value;
    EXPECT_TRUE(Contains(why, c.key)) << "the key is named";
  }
}

}  // namespace
}  // namespace membrane::testing
