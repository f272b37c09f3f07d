// DNS-aware policy on real traffic (issue #14, docs/dns.md): a client pod
// under a policy that lets it look up "*.test" names at a real DNS server
// (dnsmasq, testkit/dns_server.h) and connect by name to a few of them, an
// "outside service" pod owning every address the zone hands out, and the
// `membrane` binary enforcing at the client's veth. Shown on real lookups
// (glibc getaddrinfo, dig, the prober) and real TCP:
//   - an allowed name connects on the first try after its lookup, round after
//     round, each round a name and address the datapath has not seen;
//   - an address no allowed name resolved to is denied, even one the pod
//     looked up under a name it may look up but not connect to;
//   - a lookup of a name the pod may not resolve is REFUSED at once over
//     UDP, and gets no answer over TCP (a separate test);
//   - TTL expiry ends access for new connections only;
//   - a forged response (wrong id, wrong port, replayed) teaches nothing;
//   - a restart of `membrane` or a version swap between lookup and connect
//     changes nothing.
//
// Label e2e. MEMBRANE_DNS_ROUNDS sets the lookup-then-connect rounds (default 10000).
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"
#include "dns_server.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

using namespace std::chrono_literals;

// The zone: every name points at its own address(es) in 198.18.128.0/17,
// which the outside pod owns (Topology::routePrefixToPod), so what one test
// step teaches never decides another.
const std::string kApi4 = "198.18.128.1", kApi6 = "2001:2:0:80::1";
const std::string kEdge = "198.18.128.2";       // edge.test, and cdn.test via CNAME
const std::string kShort = "198.18.128.3";      // short.test, TTL 1 s
const std::string kBlocked = "198.18.128.4";    // blocked.test: may be looked up, not reached
const std::string kDeep = "198.18.128.5";       // deep.secret.test: "*.test" does not match it
const std::string kForged = "198.18.128.6";     // only ever in forged responses
const std::string kReplayed = "198.18.128.7";   // likewise
const std::string kNeverAnswered = "198.18.129.1";
constexpr int kRoundNames = 10000;  // round-<i>.test, one address each

std::string roundAddress(int i) {
  return "198.18." + std::to_string(130 + i / 250) + "." + std::to_string(1 + i % 250);
}

// The prober's "latency-us U" of one lookup (LONG_MAX without one, so a
// bound on it fails).
long latencyUs(const std::string& out) {
  const auto at = out.find("latency-us ");
  return at == std::string::npos ? LONG_MAX : std::strtol(out.c_str() + at + 11, nullptr, 10);
}

long rounds() {
  const char* env = std::getenv("MEMBRANE_DNS_ROUNDS");
  return env && *env ? std::strtol(env, nullptr, 10) : 10000;
}

const char* kPolicy = R"(
namespace e2e
policy client-dns {
  selects { app = client }
  egress {
    allow to pods { app = resolver } on udp/53, tcp/53 with dns { "*.test" }
    allow to dns "api.test", "cdn.test", "short.test", "round-*.test" on tcp/8080
  }
}
)";
// The same plus an unrelated rule: a version swap that keeps every decision.
const char* kPolicyV2 = R"(
namespace e2e
policy client-dns {
  selects { app = client }
  egress {
    allow to pods { app = resolver } on udp/53, tcp/53 with dns { "*.test" }
    allow to dns "api.test", "cdn.test", "short.test", "round-*.test" on tcp/8080
    allow to cidr 198.19.0.0/24 on tcp/9
  }
}
)";

class DnsEnforcement : public ::testing::Test {
 protected:
  void SetUp() override {
    MB_REQUIRE_ROOT();
    MEMBRANE_E2E_REQUIRE_DNS_SERVER();
    cluster_ = std::make_unique<Cluster>(std::vector<std::tuple<std::string, std::string, labels::LabelSet>>{
        {"e2e", "client", {{"app", "client"}}},
        {"e2e", "resolver", {{"app", "resolver"}}},
        {"e2e", "outside", {{"app", "outside"}}}});
    // Only the client has programs; the outside service is not in the
    // inventory at all (the world, reached by name).
    cluster_->leaveUnmanaged("e2e", "resolver");
    cluster_->leaveUnmanaged("e2e", "outside");
    cluster_->leaveOutOfInventory("e2e", "outside");
    client_ = cluster_->members()[0].pod;
    resolver_ = cluster_->members()[1].pod;
    outside_ = cluster_->members()[2].pod;
    cluster_->topology().routePrefixToPod("e2e-outside", "198.18.128.0/17");
    cluster_->topology().routePrefixToPod("e2e-outside", "2001:2:0:80::/64");

    DnsZone zone;
    zone.address("api.test", kApi4, 2).address("api.test", kApi6, 2);
    zone.address("edge.test", kEdge, 2).alias("cdn.test", "edge.test", 2);
    zone.address("short.test", kShort, 1);
    zone.address("blocked.test", kBlocked, 2);
    zone.address("deep.secret.test", kDeep, 2);
    for (int i = 0; i < kRoundNames; ++i)
      zone.address("round-" + std::to_string(i) + ".test", roundAddress(i), 2);
    dns_ = std::make_unique<DnsServer>(*resolver_, zone);
    dns_->serve(*client_);
    service_ = outside_->spawn({proberPath(), "serve", "--tcp", "8080"});
    ASSERT_TRUE(service_.waitForOutput("ready", 3s)) << service_.err();

    artifacts_ = cluster_->compile(kPolicy, "dns");
    ASSERT_FALSE(artifacts_.empty()) << "the DNS policy does not compile (is DNS policy support in?)";
    ExecResult applied = cluster_->apply(artifacts_);
    ASSERT_TRUE(applied.succeeded()) << applied.describe();
  }

  // 0 connected, 1 blocked.
  int connect(const std::string& address, const std::string& timeoutMs = "400") {
    return client_->exec({proberPath(), "probe", "tcp", address, "8080", "--timeout-ms", timeoutMs, "--connect-only"})
        .exitCode;
  }
  // A lookup with the glibc resolver; the addresses it printed.
  ExecResult getent(const std::string& name, const char* database = "ahostsv4") {
    return client_->exec({"getent", database, name}, 5s);
  }

  std::unique_ptr<Cluster> cluster_;
  Pod* client_ = nullptr;
  Pod* resolver_ = nullptr;
  Pod* outside_ = nullptr;
  std::unique_ptr<DnsServer> dns_;
  Process service_;
  fs::path artifacts_;
};

TEST_F(DnsEnforcement, AnAllowedNameConnectsOnTheFirstTryAfterItsLookupEveryRound) {
  // Before any lookup the addresses are unknown, so denied: enforcement is on.
  EXPECT_EQ(connect(roundAddress(0)), 1) << "connected to an address no lookup taught";
  EXPECT_EQ(connect(kApi4), 1);

  // Each round looks up a name the datapath has not seen (round-<i>.test,
  // its own address) and connects once, no retry.
  const long n = rounds();
  ExecResult r = client_->exec({proberPath(), "lookup-connect", "round-{}.test", "8080", "--rounds", std::to_string(n),
                                "--cycle", std::to_string(kRoundNames), "--family", "4", "--timeout-ms", "1000"},
                               Millis(600000));
  std::cout << r.out;
  EXPECT_TRUE(r.succeeded()) << r.describe();
  EXPECT_EQ(r.out.rfind("rounds " + std::to_string(n) + " lookup-failures 0 connect-failures 0 ", 0), 0u) << r.out;

  // Both families, and a CNAME: addresses are credited to the name asked.
  for (const char* family : {"4", "6"}) {
    ExecResult api = client_->exec({proberPath(), "lookup-connect", "api.test", "8080", "--family", family});
    EXPECT_TRUE(api.succeeded()) << api.describe();
  }
  ExecResult edge = client_->exec({proberPath(), "lookup-connect", "edge.test", "8080", "--family", "4"});
  EXPECT_EQ(edge.exitCode, 1) << "edge.test may be looked up but is not a name peer: " << edge.describe();
  ExecResult cdn = client_->exec({proberPath(), "lookup-connect", "cdn.test", "8080", "--family", "4"});
  EXPECT_TRUE(cdn.succeeded()) << "edge.test's address, learned as cdn.test's through the CNAME: " << cdn.describe();
}

TEST_F(DnsEnforcement, AnAddressNoAllowedNameResolvedToIsDenied) {
  EXPECT_EQ(connect(kNeverAnswered), 1);
  EXPECT_EQ(connect(outside_->address4()), 1) << "the outside pod's own address is in no answer";
  ExecResult blocked = getent("blocked.test");
  ASSERT_TRUE(blocked.succeeded()) << "the pod may look blocked.test up: " << blocked.describe();
  EXPECT_EQ(blocked.out.rfind(kBlocked + " ", 0), 0u) << blocked.out;
  EXPECT_EQ(connect(kBlocked), 1) << "looked up, but under a name no rule lets the pod connect to";
  // The same service by an allowed name is reachable: the denials are the policy's.
  ASSERT_TRUE(getent("api.test").succeeded());
  EXPECT_EQ(connect(kApi4), 0);
}

TEST_F(DnsEnforcement, ALookupOfANameThePodMayNotResolveIsRefusedWithinMilliseconds) {
  // The server itself answers it (from the resolver pod, no policy there) ...
  ExecResult direct = resolver_->exec({"dig", "@" + dns_->address4(), "+time=1", "+tries=1", "deep.secret.test"});
  ASSERT_NE(direct.out.find("status: NOERROR"), std::string::npos) << direct.out;
  // ... but the client's query ("*.test" covers one label) is turned around.
  ExecResult dig = client_->exec({"dig", "@" + dns_->address4(), "+time=2", "+tries=1", "deep.secret.test"});
  EXPECT_NE(dig.out.find("status: REFUSED"), std::string::npos) << dig.describe();
  EXPECT_EQ(dig.out.find(kDeep), std::string::npos) << dig.out;
  ExecResult q = client_->exec({proberPath(), "dns", "query", dns_->address4(), "deep.secret.test", "--timeout-ms", "2000"});
  ASSERT_TRUE(q.succeeded()) << "an answer, not a timeout: " << q.describe();
  EXPECT_EQ(q.out.rfind("status REFUSED ", 0), 0u) << q.out;
  EXPECT_LT(latencyUs(q.out), 20000) << "REFUSED within milliseconds: " << q.out;
  ExecResult glibc = getent("deep.secret.test");
  EXPECT_EQ(glibc.exitCode, 2) << glibc.describe();
  EXPECT_LT(glibc.elapsed, 500ms) << "the resolver gave up at once, not after its 1 s timeout: " << glibc.describe();
}

// docs/dns.md: a rule's dns condition covers its ports, tcp/53 included.
// Over TCP a denied query is dropped, not answered (a reply inside the
// stream would need its sequence numbers): the server never sees it and the
// client gets no answer; an allowed name over TCP is answered and teaches.
TEST_F(DnsEnforcement, ALookupOverTcpIsDecidedByNameAndADeniedOneGetsNoAnswer) {
  ExecResult dig = client_->exec({"dig", "+tcp", "@" + dns_->address4(), "+time=1", "+tries=1", "deep.secret.test"});
  EXPECT_EQ(dig.out.find("status: NOERROR"), std::string::npos) << dig.describe();
  EXPECT_EQ(dig.out.find(kDeep), std::string::npos) << dig.out;
  ExecResult q = client_->exec(
      {proberPath(), "dns", "query", dns_->address4(), "deep.secret.test", "--tcp", "--timeout-ms", "1000"});
  EXPECT_FALSE(q.succeeded()) << "no answer for a denied name over TCP: " << q.describe();
  // An allowed name over TCP is answered by the server as usual, and teaches.
  EXPECT_NE(client_->exec({"dig", "+tcp", "@" + dns_->address4(), "+short", "api.test"}).out.find(kApi4),
            std::string::npos);
}

TEST_F(DnsEnforcement, TtlExpiryEndsAccessForNewConnectionsOnly) {
  ASSERT_TRUE(getent("short.test").succeeded());
  Process held = client_->spawn({proberPath(), "hold", "tcp", kShort, "8080", "--seconds", "9"});
  ASSERT_TRUE(held.waitForOutput("connected", 2s)) << held.out() << held.err();
  EXPECT_EQ(connect(kShort), 0) << "within the TTL";
  // TTL 1 s, learned for at least 5 s (docs/dns.md): gone after 6.5 s.
  std::this_thread::sleep_for(6500ms);
  EXPECT_EQ(connect(kShort), 1) << "a new connection after expiry";
  ExecResult r = held.wait(10s);
  EXPECT_TRUE(r.succeeded()) << "the established connection survives expiry: " << r.describe();
  // A new lookup brings it back.
  ASSERT_TRUE(getent("short.test").succeeded());
  EXPECT_EQ(connect(kShort), 0);
}

TEST_F(DnsEnforcement, AForgedResponseTeachesNothing) {
  // No real answer may race the forged ones: the server is replaced by a
  // sink that reads queries and answers none (a closed port would turn the
  // query away with ICMP, and the client would stop waiting).
  dns_->stop();
  Process sink = resolver_->spawn({proberPath(), "count", "udp", "--port", "53"});
  ASSERT_TRUE(sink.waitForOutput("ready", 3s)) << sink.err();
  const std::string id = "4660", port = "40053";
  // A real query is pending (the client waits on its socket for 4 s).
  Process query = client_->spawn({proberPath(), "dns", "query", dns_->address4(), "api.test", "--id", id,
                                  "--source-port", port, "--timeout-ms", "4000"});
  std::this_thread::sleep_for(200ms);
  auto forge = [&](const std::string& toPort, const std::string& withId, const std::string& address) {
    ExecResult r = resolver_->exec({proberPath(), "dns", "forge", dns_->address4(), client_->address4(), toPort,
                                    "api.test", address, "--id", withId});
    ASSERT_TRUE(r.succeeded()) << r.describe();
    std::this_thread::sleep_for(50ms);
  };
  forge(port, "4661", kForged);   // wrong id
  forge("40054", id, kForged);    // wrong port
  EXPECT_EQ(connect(kForged), 1) << "a response with the wrong id or port taught its address";

  // The control: the same forger, right id and port, does teach (so the
  // denials above are the datapath's checks, not a broken forger).
  forge(port, id, kForged);
  ExecResult answered = query.wait(5s);
  ASSERT_TRUE(answered.succeeded()) << answered.describe();
  EXPECT_NE(answered.out.find("answer api.test A 60 " + kForged), std::string::npos) << answered.out;
  EXPECT_EQ(connect(kForged), 0) << "the matching response should teach";
  // Replayed after its query was answered: the record was used once.
  forge(port, id, kReplayed);
  EXPECT_EQ(connect(kReplayed), 1) << "a replayed response taught its address";
}

TEST_F(DnsEnforcement, ARestartOfMembraneBetweenLookupAndConnectChangesNothing) {
  EXPECT_EQ(connect(kEdge), 1);
  ASSERT_TRUE(getent("cdn.test").succeeded());
  // `membrane` runs per command: a new process applies the same version ...
  ExecResult again = cluster_->apply(artifacts_);
  ASSERT_TRUE(again.succeeded()) << again.describe();
  EXPECT_EQ(connect(kEdge), 0) << "what was learned before the restart is lost";

  ASSERT_TRUE(getent("api.test").succeeded());
  // ... and a version swap keeps the learned state too (pinned maps).
  ExecResult swapped = cluster_->apply(cluster_->compile(kPolicyV2, "dns-v2"));
  ASSERT_TRUE(swapped.succeeded()) << swapped.describe();
  EXPECT_EQ(connect(kApi4), 0) << "what was learned before the swap is lost";
  EXPECT_EQ(connect(kBlocked), 1) << "and the policy still bites";
}

}  // namespace
}  // namespace membrane::e2e
