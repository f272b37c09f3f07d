// The DNS part of the end-to-end infrastructure, with no policy loaded: a
// real DNS server (dnsmasq) runs as a pod and serves the zone the test
// wrote, A, AAAA and CNAME records with their TTLs, and names with many
// addresses; clients in another pod resolve through it with dig and with the
// glibc resolver (getent), and connect over TCP to what they learned, at an
// "outside service" pod that owns every address of the zone. What the DNS
// enforcement tests (dns_enforcement_e2e.cpp) build on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dns_server.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

using namespace std::chrono_literals;

// The outside service answers for 198.18.128.0/17 and 2001:2:0:80::/64 too
// (Topology::routePrefixToPod), so names can have many addresses.
constexpr int kManyAddresses = 40;
std::string manyAddress(int i) { return "198.18.128." + std::to_string(i + 1); }
// round-<i>.test: a name and an address of its own each, in 198.18.130.0 and up.
constexpr int kRoundNames = 10000;
std::string roundAddress(int i) {
  return "198.18." + std::to_string(130 + i / 250) + "." + std::to_string(1 + i % 250);
}

class DnsServerE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    MEMBRANE_E2E_REQUIRE_PRIVILEGES();
    MEMBRANE_E2E_REQUIRE_DNS_SERVER();
    topo_ = std::make_unique<Topology>("mbdns");
    client_ = &topo_->addPod("client");
    resolver_ = &topo_->addPod("resolver");
    outside_ = &topo_->addPod("outside");
    topo_->up();
    topo_->routePrefixToPod("outside", "198.18.128.0/17");
    topo_->routePrefixToPod("outside", "2001:2:0:80::/64");
    DnsZone zone;
    zone.address("api.test", outside_->address4(), 2).address("api.test", outside_->address6(), 2);
    zone.address("edge.test", outside_->address4(), 2).alias("cdn.test", "edge.test", 2);
    zone.address("short.test", outside_->address4(), 1);
    for (int i = 0; i < kManyAddresses; ++i)
      zone.address("many.test", manyAddress(i), 2);
    for (int i = 0; i < kRoundNames; ++i)
      zone.address("round-" + std::to_string(i) + ".test", roundAddress(i), 2);
    dns_ = std::make_unique<DnsServer>(*resolver_, zone);
    dns_->serve(*client_);
    service_ = outside_->spawn({proberPath(), "serve", "--tcp", "8080"});
    ASSERT_TRUE(service_.waitForOutput("ready", 3s)) << service_.err();
  }

  // dig's answer section, one "NAME TTL TYPE VALUE" per record.
  std::vector<std::string> dig(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"dig", "@" + dns_->address4(), "+noall", "+answer", "+time=1", "+tries=1"};
    argv.insert(argv.end(), args.begin(), args.end());
    ExecResult r = client_->exec(argv, 5s);
    EXPECT_TRUE(r.succeeded()) << r.describe();
    std::vector<std::string> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream f(line);
      std::string name, ttl, cls, type, value;
      if (f >> name >> ttl >> cls >> type >> value)
        out.push_back(name + " " + ttl + " " + type + " " + value);
    }
    return out;
  }

  std::unique_ptr<Topology> topo_;
  Pod* client_ = nullptr;
  Pod* resolver_ = nullptr;
  Pod* outside_ = nullptr;
  std::unique_ptr<DnsServer> dns_;
  Process service_;
};

TEST_F(DnsServerE2e, DigFromAnotherPodGetsTheZonesARecordsAaaaRecordsAndCnames) {
  EXPECT_EQ(dig({"api.test", "A"}), std::vector<std::string>{"api.test. 2 A " + outside_->address4()});
  EXPECT_EQ(dig({"api.test", "AAAA"}), std::vector<std::string>{"api.test. 2 AAAA " + outside_->address6()});
  EXPECT_EQ(dig({"cdn.test", "A"}),
            (std::vector<std::string>{"cdn.test. 2 CNAME edge.test.", "edge.test. 2 A " + outside_->address4()}));
  // Over TCP as well, and at the server's IPv6 address.
  EXPECT_EQ(dig({"+tcp", "api.test", "A"}), std::vector<std::string>{"api.test. 2 A " + outside_->address4()});
  ExecResult v6 = client_->exec({"dig", "@" + dns_->address6(), "+short", "+time=1", "+tries=1", "api.test", "AAAA"});
  EXPECT_EQ(v6.out, outside_->address6() + "\n") << v6.describe();
}

TEST_F(DnsServerE2e, TtlsAreWhatTheZoneSaysOnEveryAnswer) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dig({"short.test"}), std::vector<std::string>{"short.test. 1 A " + outside_->address4()});
    EXPECT_EQ(dig({"api.test"}), std::vector<std::string>{"api.test. 2 A " + outside_->address4()});
  }
  // The prober reads the same TTL from the wire.
  ExecResult r = client_->exec({proberPath(), "dns", "query", dns_->address4(), "short.test"});
  ASSERT_TRUE(r.succeeded()) << r.describe();
  EXPECT_NE(r.out.find("status NOERROR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("answer short.test A 1 " + outside_->address4()), std::string::npos) << r.out;
}

TEST_F(DnsServerE2e, ANameWithFortyAddressesIsAnsweredWholeOverUdpAndTcp) {
  std::set<std::string> want;
  for (int i = 0; i < kManyAddresses; ++i)
    want.insert("many.test. 2 A " + manyAddress(i));
  for (const char* transport : {"+notcp", "+tcp"}) {
    auto got = dig({transport, "many.test"});
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want) << transport;
  }
  // Without EDNS0 the answer does not fit 512 bytes: truncated over UDP,
  // whole over TCP (what the glibc resolver falls back to).
  ExecResult udp = client_->exec({proberPath(), "dns", "query", dns_->address4(), "many.test"});
  ASSERT_TRUE(udp.succeeded()) << udp.describe();
  EXPECT_NE(udp.out.find(" truncated "), std::string::npos) << udp.out;
  ExecResult tcp = client_->exec({proberPath(), "dns", "query", dns_->address4(), "many.test", "--tcp"});
  ASSERT_TRUE(tcp.succeeded()) << tcp.describe();
  EXPECT_NE(tcp.out.find("answers " + std::to_string(kManyAddresses) + " latency"), std::string::npos) << tcp.out;
  ExecResult getent = client_->exec({"getent", "ahostsv4", "many.test"});
  ASSERT_TRUE(getent.succeeded()) << getent.describe();
  for (int i = 0; i < kManyAddresses; ++i)
    EXPECT_NE(getent.out.find(manyAddress(i) + " "), std::string::npos) << manyAddress(i) << "\n" << getent.out;
}

TEST_F(DnsServerE2e, TheGlibcResolverInTheClientPodAsksThePodsServerAndNoOtherPodChanges) {
  ExecResult v4 = client_->exec({"getent", "ahostsv4", "api.test"});
  ASSERT_TRUE(v4.succeeded()) << v4.describe();
  EXPECT_EQ(v4.out.rfind(outside_->address4() + " ", 0), 0u) << v4.out;
  ExecResult v6 = client_->exec({"getent", "ahostsv6", "api.test"});
  ASSERT_TRUE(v6.succeeded()) << v6.describe();
  EXPECT_EQ(v6.out.rfind(outside_->address6() + " ", 0), 0u) << v6.out;
  // A CNAME: the alias resolves to its target's address.
  ExecResult cname = client_->exec({"getent", "hosts", "cdn.test"});
  ASSERT_TRUE(cname.succeeded()) << cname.describe();
  EXPECT_NE(cname.out.find(outside_->address4()), std::string::npos) << cname.out;
  EXPECT_NE(cname.out.find("edge.test"), std::string::npos) << cname.out;
  // A name the zone lacks: no address, quickly (the server says NXDOMAIN).
  ExecResult missing = client_->exec({"getent", "hosts", "nothing.test"}, 3s);
  EXPECT_EQ(missing.exitCode, 2) << missing.describe();
  EXPECT_LT(missing.elapsed, 900ms) << missing.describe();

  // The overlay is the client's own: the resolver pod and this process
  // still read the machine's resolv.conf.
  ExecResult inClient = client_->exec({"cat", "/etc/resolv.conf"});
  EXPECT_EQ(inClient.out.rfind("nameserver " + dns_->address4() + "\n", 0), 0u) << inClient.out;
  std::ifstream mine("/etc/resolv.conf");
  std::string machine((std::istreambuf_iterator<char>(mine)), std::istreambuf_iterator<char>());
  EXPECT_EQ(resolver_->exec({"cat", "/etc/resolv.conf"}).out, machine);
  EXPECT_EQ(machine.find(dns_->address4()), std::string::npos) << machine;
}

TEST_F(DnsServerE2e, TcpToEveryResolvedAddressConnects) {
  for (const char* family : {"4", "6"}) {
    ExecResult r = client_->exec({proberPath(), "lookup-connect", "api.test", "8080", "--family", family, "--rounds",
                                  "20", "--timeout-ms", "1000"});
    EXPECT_TRUE(r.succeeded()) << r.describe();
    EXPECT_EQ(r.out.rfind("rounds 20 lookup-failures 0 connect-failures 0", 0), 0u) << r.out;
  }
  ExecResult cdn = client_->exec({proberPath(), "lookup-connect", "cdn.test", "8080", "--family", "4"});
  EXPECT_TRUE(cdn.succeeded()) << cdn.describe();
  // Every address of the forty-address name is the outside service's, and
  // so is every address of its routed prefixes, on both families.
  for (int i = 0; i < kManyAddresses; i += 13) {
    ExecResult r = client_->exec({proberPath(), "probe", "tcp", manyAddress(i), "8080", "--timeout-ms", "1000"});
    EXPECT_TRUE(r.succeeded()) << r.describe();
  }
  for (const char* address : {"2001:2:0:80::1", "2001:2:0:80:ffff::7"}) {
    ExecResult r = client_->exec({proberPath(), "probe", "tcp", address, "8080", "--timeout-ms", "1000"});
    EXPECT_TRUE(r.succeeded()) << r.describe();
  }
}

// The baseline of the enforcement test's rounds (dns_enforcement_e2e.cpp):
// with no policy, thousands of lookups of distinct names, each followed by
// one connect to a distinct address, never fail. (Routing the prefix on-link
// overflowed the node's neighbour table after 1,024 addresses; a listen
// queue of 256 in the prober's server overflowed now and then on a busy
// machine.) MEMBRANE_DNS_ROUNDS sets the rounds (default 2000).
TEST_F(DnsServerE2e, ThousandsOfLookupsOfDistinctNamesEachConnectOnTheFirstTry) {
  const char* env = std::getenv("MEMBRANE_DNS_ROUNDS");
  const std::string rounds = env && *env ? env : "2000";
  ExecResult r = client_->exec({proberPath(), "lookup-connect", "round-{}.test", "8080", "--rounds", rounds, "--cycle",
                                std::to_string(kRoundNames), "--family", "4", "--timeout-ms", "1000"},
                               Millis(600000));
  std::cout << r.out;
  EXPECT_TRUE(r.succeeded()) << r.describe();
  EXPECT_EQ(r.out.rfind("rounds " + rounds + " lookup-failures 0 connect-failures 0 ", 0), 0u)
      << r.out << "the outside pod's TCP counters (ListenOverflows: its accept queue was full):\n"
      << outside_->exec({"grep", "TcpExt", "/proc/net/netstat"}).out;
}

TEST_F(DnsServerE2e, StoppingTheServerEndsItsProcessAndRemovesItsFiles) {
  std::string conf;
  {
    ExecResult ps = resolver_->exec({"sh", "-c", "for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done"});
    EXPECT_NE(ps.out.find("dnsmasq"), std::string::npos) << ps.out;
    conf = client_->overlays().front().source;
    EXPECT_TRUE(std::filesystem::exists(conf)) << conf;
  }
  dns_->stop();
  EXPECT_FALSE(dns_->running());
  ExecResult r = client_->exec({proberPath(), "dns", "query", dns_->address4(), "api.test", "--timeout-ms", "300"});
  EXPECT_EQ(r.exitCode, 1) << "nothing answers once stopped: " << r.describe();
  dns_->restart();
  EXPECT_EQ(dig({"api.test"}), std::vector<std::string>{"api.test. 2 A " + outside_->address4()});
  dns_.reset();
  EXPECT_FALSE(std::filesystem::exists(conf)) << conf << " outlived its server";
}

}  // namespace
}  // namespace membrane::e2e
