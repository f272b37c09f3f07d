// NODE.json (runtime/loader/node_config.h): what it refuses, and that every
// refusal names the key path and its line:column in the file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

// The error NODE.json `text` is refused with ("" if accepted).
std::string refusal(const std::string& text) {
  std::string error;
  return loader::NodeConfig::parse(text, &error) ? "" : error;
}

TEST(NodeConfig, NamedPortsOfLearnedEndpoints) {
  std::string error;
  auto node = loader::NodeConfig::parse(
      R"({"peers": [{"name": "p", "labels": {}, "addresses": ["198.18.0.9"],
                     "ports": [{"name": "web", "port": 8080}, {"name": "dns", "port": 53, "protocol": "udp"}]}]})",
      &error);
  ASSERT_TRUE(node) << error;
  EXPECT_EQ(node->peers[0].ports, (std::vector<labels::NamedPort>{{"dns", 17, 53}, {"web", 6, 8080}}));
  EXPECT_TRUE(EndsWith(
      refusal(R"({"peers": [{"name": "p", "labels": {}, "addresses": [], "ports": [{"name": "web", "port": 0}]}]})"),
      ": peers[0].ports[0].port: required, a port number 1-65535"));
  EXPECT_TRUE(EndsWith(
      refusal(
          R"({"peers": [{"name": "p", "labels": {}, "addresses": [], "ports": [{"name": "web", "port": 1, "protocol": "icmp"}]}]})"),
      ": peers[0].ports[0].protocol: expected TCP, UDP or SCTP"));
  EXPECT_TRUE(EndsWith(refusal(R"({"endpoints": [{"name": "a", "interface": "x", "ports": []}]})"),
                       ": endpoints[0].ports: named ports belong to endpoints learned after "
                       "compile; give labels too"));
}

TEST(NodeConfig, ErrorsNameTheFileTheFieldAndWhereItIs) {
  EXPECT_EQ(refusal(R"({"endpoints": [{"name": "a"}]})"),
            R"(NODE.json:1:16: endpoints[0]: a local endpoint needs "interface" or "cgroup" (both, when its class )"
            R"(has process rules: the packet programs go on the interface, the socket calls' on the cgroup))");
  EXPECT_EQ(refusal(R"({"host": {"addresses": ["198.18.0.300"]}})"),
            "NODE.json:1:25: host.addresses[0]: not an IP address");
  EXPECT_EQ(refusal(R"({"endpoint": []})"), R"(NODE.json:1:2: unknown key "endpoint")");
  EXPECT_EQ(refusal("{\n  \"endpoints\": [\n    {\"name\": \"a\", \"iface\": "
                    "\"x\"}\n  ]\n}"),
            R"(NODE.json:3:19: endpoints[0]: unknown key "iface")");
  EXPECT_EQ(refusal("[]"), "NODE.json:1:1: not a JSON object");
  EXPECT_TRUE(Contains(refusal("{\"endpoints\": [\n"), "NODE.json:2:1: not valid JSON: "));
}

// The issue's example: the second, empty `endpoints` would win and detach
// every endpoint. A key repeated in any object of NODE.json is refused.
TEST(NodeConfig, RefusesAKeyRepeatedAnywhere) {
  EXPECT_EQ(refusal("{\"endpoints\": [{\"name\": \"api-0\", \"namespace\": "
                    "\"shop\", \"interface\": \"h1\"}],\n"
                    " \"endpoints\": []}"),
            R"(NODE.json:2:2: duplicate key "endpoints" (first at 1:2))");
  EXPECT_EQ(
      refusal(R"({"endpoints": [{"name": "a", "interface": "h1"}, {"name": "b", "interface": "h2", "name": "c"}]})"),
      R"(NODE.json:1:83: endpoints[1]: duplicate key "name" (first at 1:51))");
  EXPECT_EQ(refusal(R"({"peers": [{"name": "p", "labels": {"app": "a", "app": "b"}, "addresses": ["198.18.0.9"]}]})"),
            R"(NODE.json:1:49: peers[0].labels: duplicate key "app" (first at 1:37))");
  EXPECT_EQ(refusal(R"({"host": {"addresses": ["198.18.0.1"], "addresses": []}})"),
            R"(NODE.json:1:40: host: duplicate key "addresses" (first at 1:11))");
  // Escapes are undone before comparing: "n\u0061me" is "name".
  EXPECT_TRUE(Contains(refusal(R"({"endpoints": [{"name": "a", "n\u0061me": "b", "interface": "h1"}]})"),
                       R"(endpoints[0]: duplicate key "name")"));
}

TEST(NodeConfig, RefusesTwoEndpointsOnOneInterfaceOrCgroup) {
  EXPECT_EQ(refusal(R"({"endpoints": [{"name": "a", "interface": "h1"}, {"name": "b", "interface": "h1"}]})"),
            "NODE.json:1:64: endpoints[1].interface: interface h1 is already "
            "default/a's (endpoints[0]); one endpoint "
            "per interface");
  EXPECT_TRUE(EndsWith(refusal(R"({"endpoints": [{"name": "a", "cgroup": "/sys/fs/cgroup/x"},
                                        {"name": "b", "cgroup": "/sys/fs/cgroup//y/../x/"}]})"),
                       ": endpoints[1].cgroup: cgroup /sys/fs/cgroup//y/../x/ is already "
                       "default/a's (endpoints[0]); one "
                       "endpoint per cgroup"));
  EXPECT_EQ(refusal(R"({"endpoints": [{"name": "a", "interface": "h1"}, {"name": "b", "interface": "h2"}]})"), "");
}

TEST(NodeConfig, RefusesAnAddressClaimedByTwoEndpoints) {
  const std::string local =
      R"({"name": "api-7", "namespace": "shop", "labels": {"app": "api"}, "addresses": ["198.18.1.27", "2001:2::1:27"], "interface": "h1"})";
  EXPECT_EQ(
      refusal(R"({"endpoints": [)" + local +
              R"(], "peers": [{"name": "f", "namespace": "shop", "labels": {}, "addresses": ["2001:2::1:27"]}]})"),
      "NODE.json:1:221: peers[0].addresses[0]: 2001:2::1:27 is already "
      "shop/api-7's address (endpoints[0])");
  EXPECT_TRUE(
      EndsWith(refusal(R"({"peers": [{"name": "f", "labels": {}, "addresses": ["198.18.0.9", "198.18.0.9"]}]})"),
               ": peers[0].addresses[1]: 198.18.0.9 is listed twice"));
  EXPECT_TRUE(EndsWith(refusal(
                           R"({"peers": [{"name": "f", "labels": {}, "addresses": ["198.18.0.9"]},
                                    {"name": "g", "labels": {}, "addresses": ["198.18.0.9"]}]})"),
                       ": peers[1].addresses[0]: 198.18.0.9 is already default/f's address "
                       "(peers[0])"));
  // A peer and a local endpoint are one namespace/name each.
  EXPECT_TRUE(EndsWith(
      refusal(R"({"endpoints": [)" + local +
              R"(], "peers": [{"name": "api-7", "namespace": "shop", "labels": {}, "addresses": ["198.18.0.9"]}]})"),
      ": peers[0]: endpoint shop/api-7 is listed twice (also endpoints[0])"));
}

// Kubernetes names: a namespace is a DNS-1123 label, a pod a DNS-1123
// subdomain. Anything else is no pod's name, and would reach pin names.
TEST(NodeConfig, RefusesNamesKubernetesWouldRefuse) {
  auto endpoint = [](const std::string& nameAndNs) {
    return refusal(R"({"endpoints": [{)" + nameAndNs + R"(, "interface": "h1"}]})");
  };
  EXPECT_EQ(endpoint(R"("name": "b.x")"), "");
  EXPECT_EQ(endpoint(R"("name": "api-0", "namespace": "kube-system")"), "");
  EXPECT_TRUE(EndsWith(endpoint(R"("name": "b%x")"),
                       ": endpoints[0].name: \"b%x\" is not a DNS-1123 "
                       "subdomain: each part between dots may contain "
                       "only lowercase letters, digits and '-' (as Kubernetes "
                       "requires of pod names)"));
  EXPECT_TRUE(
      Contains(endpoint(R"("name": "b\u0000x")"), R"(endpoints[0].name: "b\u0000x" is not a DNS-1123 subdomain)"));
  EXPECT_TRUE(Contains(endpoint(R"("name": "b_x")"), "endpoints[0].name: \"b_x\" is not"));
  EXPECT_TRUE(Contains(endpoint(R"("name": "Api")"), "endpoints[0].name: \"Api\" is not"));
  EXPECT_TRUE(Contains(endpoint(R"("name": "a..b")"), "endpoints[0].name: \"a..b\" is not"));
  EXPECT_TRUE(Contains(endpoint(R"("name": "a.-b")"), "must start and end with a lowercase letter or digit"));
  EXPECT_TRUE(Contains(endpoint("\"name\": \"" + std::string(254, 'a') + "\""), "is longer than 253 characters"));
  EXPECT_TRUE(EndsWith(endpoint(R"("name": "a", "namespace": "a.b")"),
                       ": endpoints[0].namespace: \"a.b\" is not a DNS-1123 label: it may "
                       "contain only lowercase "
                       "letters, digits and '-' (as Kubernetes requires of namespaces)"));
  EXPECT_TRUE(Contains(endpoint("\"name\": \"a\", \"namespace\": \"" + std::string(64, 'n') + "\""),
                       "is longer than 63 characters"));
  EXPECT_TRUE(Contains(refusal(R"({"peers": [{"name": "a/b", "labels": {}, "addresses": []}]})"), "peers[0].name: "));
}

// An interface name with a NUL would be cut short where it reaches the
// kernel, naming another endpoint's interface.
TEST(NodeConfig, RefusesInterfaceNamesAndCgroupsTheKernelWouldReadOtherwise) {
  EXPECT_TRUE(Contains(refusal(R"({"endpoints": [{"name": "a", "interface": "h1\u0000x"}]})"),
                       "endpoints[0].interface: \"h1\\u0000x\" is not an interface name"));
  EXPECT_TRUE(Contains(refusal(R"({"endpoints": [{"name": "a", "interface": "a-very-long-interface"}]})"),
                       "endpoints[0].interface: "));
  EXPECT_TRUE(Contains(refusal(R"({"endpoints": [{"name": "a", "interface": ""}]})"), "endpoints[0].interface: "));
  EXPECT_TRUE(Contains(refusal(R"({"endpoints": [{"name": "a", "cgroup": "relative/x"}]})"),
                       "endpoints[0].cgroup: \"relative/x\" is not an absolute path"));
  EXPECT_TRUE(Contains(refusal(R"({"endpoints": [{"name": "a", "cgroup": "/x\u0000/y"}]})"), "endpoints[0].cgroup: "));
}

// NODE.json is read with io::readRegularFile: a FIFO with no writer or an
// endless device is refused at once, not waited on.
TEST(NodeConfig, RefusesAFifoOrADeviceAtOnce) {
  testkit::ScratchDir dir{"membrane-test"};
  std::string fifo = (dir.path() / "node.json").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    auto error = std::make_shared<std::string>();
    auto ok = std::make_shared<bool>(true);
    ASSERT_TRUE(finishesWithin(std::chrono::seconds(5),
                               [path, error, ok] { *ok = loader::NodeConfig::load(path, error.get()).has_value(); }))
        << path << " blocked the reader";
    EXPECT_FALSE(*ok);
    EXPECT_TRUE(Contains(*error, "'" + path + "' is not a regular file"));
    EXPECT_TRUE(Contains(*error, "NODE.json must be a file"));
  }
}

TEST(NodeConfig, ErrorsOfAFileNameItsPath) {
  testkit::ScratchDir dir{"membrane-test"};
  fs::path node = dir.path() / "node.json";
  writeText(node,
            "{\n  \"endpoints\": [\n    {\"name\": \"a\", \"interface\": "
            "\"h1\"},\n    {\"name\": \"b\", \"interface\": \"h1\"}\n  ]\n}\n");
  std::string error;
  EXPECT_FALSE(loader::NodeConfig::load(node.string(), &error));
  EXPECT_EQ(error, node.string() +
                       ":4:19: endpoints[1].interface: interface h1 is already "
                       "default/a's (endpoints[0]); one "
                       "endpoint per interface");
}

}  // namespace
}  // namespace membrane::testing
