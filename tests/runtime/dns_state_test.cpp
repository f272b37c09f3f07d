// `membrane dns` on the real kernel: a pinned mb_dns_learned map of the ABI's
// shape (made here with bpf_map_create, as the datapath's objects pin it),
// filled with learned entries, read back by the binary as a table and as
// JSON: endpoints named from the applied state, expired slots left out,
// durations from CLOCK_MONOTONIC, hostile name bytes escaped, --endpoint,
// and a clear message when no DNS state is pinned.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <time.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "loader/kernel.h"
#include "loader/reasons.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using nlohmann::json;

uint64_t monotonicNs() { return loader::clockNs(CLOCK_MONOTONIC); }
constexpr uint64_t kSecond = 1000000000ull;

class DnsStateTest : public ApplyTest {
 protected:
  TestCgroup cg;
  std::string pin;
  int fd = -1;

  // The shop applied (so endpoints have names), then the learned map: the
  // one apply pinned if the datapath already pins it, else ours.
  void SetUp() override {
    ApplyTest::SetUp();
    std::string error;
    ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;
    pin = paths.bpffsRoot + "/maps/mb_dns_learned";
  }
  void TearDown() override {
    if (fd >= 0) close(fd);
    unlink(pin.c_str());  // whatever happened above; detachAll and the unmount follow
    ApplyTest::TearDown();
  }
  void createMap() {
    fd = bpf_obj_get(pin.c_str());
    if (fd >= 0) return;
    fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "mb_dns_learned", sizeof(mb_dns_learned_key),
                        sizeof(mb_dns_learned), MB_DNS_LEARNED_MAX, nullptr);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(bpf_obj_pin(fd, pin.c_str()), 0) << std::strerror(errno);
  }
  // One learned address of `endpoint` with its slots: {name, learned ago, expires in} (seconds, may be < 0).
  struct Slot {
    std::string name;
    int64_t agoS, inS;
  };
  void learn(uint32_t endpoint, const std::string& address, const std::vector<Slot>& slots) {
    auto a = net::Address::parse(address);
    ASSERT_TRUE(a);
    mb_dns_learned_key key{};
    key.endpoint = endpoint;
    key.family = a->family == net::Family::V4 ? MB_FAMILY_V4 : MB_FAMILY_V6;
    std::memcpy(key.addr, a->bytes.data(), 16);
    mb_dns_learned value{};
    uint64_t now = monotonicNs();
    for (size_t i = 0; i < slots.size(); ++i) {
      value.slot[i].learned_ns = now - static_cast<uint64_t>(slots[i].agoS) * kSecond;
      value.slot[i].expires_ns = now + static_cast<uint64_t>(slots[i].inS) * kSecond;
      std::memcpy(value.slot[i].name, slots[i].name.data(), std::min(slots[i].name.size(), size_t{255}));
    }
    ASSERT_EQ(bpf_map_update_elem(fd, &key, &value, BPF_ANY), 0) << std::strerror(errno);
  }
  void fill() {
    createMap();
    uint32_t api = loader::endpointId("shop/api-0");
    // Two live names and one expired (10 s ago) for one address.
    learn(api, "198.18.7.1", {{"api.stripe.com", 2, 30}, {"old.example", 100, -10}, {"eu-1.payments.example", 5, 3600}});
    learn(api, "2001:2::7", {{"cdn.example.com", 1, 300}});
    // An endpoint the applied state does not know, and a name with bytes no
    // terminal should get raw.
    learn(4242, "198.18.7.2", {{std::string("we\x1b[2Jird\xff", 10), 0, 60}});
  }
  json dnsJson(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"dns", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    e2e::ExecResult r = membrane(args);
    EXPECT_EQ(r.exitCode, 0) << r.describe();
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.describe();
    return j;
  }
};

TEST_F(DnsStateTest, ListsEveryLiveLearnedNameWithItsEndpointAndTimes) {
  MB_REQUIRE_BPF();
  fill();
  e2e::ExecResult r = membrane({"dns"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_TRUE(Contains(r.out, "ENDPOINT"));
  EXPECT_TRUE(Contains(r.out, "EXPIRES IN"));
  // Named endpoints first, then by address and name.
  size_t stripe = r.out.find("api.stripe.com"), eu = r.out.find("eu-1.payments.example"),
         cdn = r.out.find("cdn.example.com"), unknown = r.out.find("endpoint 4242");
  ASSERT_NE(stripe, std::string::npos) << r.out;
  ASSERT_NE(eu, std::string::npos) << r.out;
  ASSERT_NE(cdn, std::string::npos) << r.out;
  ASSERT_NE(unknown, std::string::npos) << r.out;
  EXPECT_LT(stripe, eu);
  EXPECT_LT(eu, cdn);
  EXPECT_LT(cdn, unknown);
  std::string stripeLine = r.out.substr(r.out.rfind('\n', stripe) + 1);
  stripeLine = stripeLine.substr(0, stripeLine.find('\n'));
  EXPECT_TRUE(Contains(stripeLine, "shop/api-0"));
  EXPECT_TRUE(Contains(stripeLine, "198.18.7.1"));
  EXPECT_TRUE(Contains(stripeLine, "s ago"));
  EXPECT_TRUE(Contains(r.out, "2001:2::7"));
  // The expired slot is gone; the hostile bytes are escaped.
  EXPECT_FALSE(Contains(r.out, "old.example"));
  EXPECT_TRUE(Contains(r.out, "we\\x1b[2Jird\\xff"));
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST_F(DnsStateTest, JsonGivesMillisecondsFromTheMonotonicClock) {
  MB_REQUIRE_BPF();
  fill();
  json j = dnsJson();
  EXPECT_EQ(j["pinned"], true);
  ASSERT_EQ(j["learned"].size(), 4u) << j.dump(2);
  const json& first = j["learned"][0];
  EXPECT_EQ(first["endpoint"], "shop/api-0");
  EXPECT_EQ(first["endpointId"], loader::endpointId("shop/api-0"));
  EXPECT_EQ(first["address"], "198.18.7.1");
  EXPECT_EQ(first["name"], "api.stripe.com");
  // Written 2 s ago with 30 s to live; the command ran a little later.
  EXPECT_GE(first["learnedAgoMs"].get<uint64_t>(), 2000u);
  EXPECT_LT(first["learnedAgoMs"].get<uint64_t>(), 12000u);
  EXPECT_LE(first["expiresInMs"].get<uint64_t>(), 30000u);
  EXPECT_GT(first["expiresInMs"].get<uint64_t>(), 20000u);
  EXPECT_EQ(j["learned"][1]["name"], "eu-1.payments.example");
  EXPECT_GT(j["learned"][1]["expiresInMs"].get<uint64_t>(), 3590000u);
  EXPECT_EQ(j["learned"][2]["address"], "2001:2::7");
  EXPECT_TRUE(j["learned"][3]["endpoint"].is_null());
  EXPECT_EQ(j["learned"][3]["endpointId"], 4242u);
}

TEST_F(DnsStateTest, EndpointOptionKeepsOnlyThatEndpointAndRefusesAnUnknownOne) {
  MB_REQUIRE_BPF();
  fill();
  json j = dnsJson({"--endpoint", "shop/api-0"});
  ASSERT_EQ(j["learned"].size(), 3u) << j.dump(2);
  for (const auto& l : j["learned"]) EXPECT_EQ(l["endpoint"], "shop/api-0");
  e2e::ExecResult typo = membrane({"dns", "--endpoint", "shop/api-9"});
  EXPECT_EQ(typo.exitCode, 1) << typo.describe();
  EXPECT_TRUE(Contains(typo.err, "no endpoint 'shop/api-9' is applied on this node"));
}

TEST_F(DnsStateTest, SaysSoWhenNoDnsStateIsPinned) {
  MB_REQUIRE_BPF();
  // Apply pinned the map (the datapath's objects create it): a node where
  // nothing has pinned it yet is one without that pin.
  ASSERT_TRUE(fs::exists(pin));
  ASSERT_EQ(unlink(pin.c_str()), 0) << std::strerror(errno);
  e2e::ExecResult r = membrane({"dns"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_TRUE(Contains(r.err, "no DNS state on this node yet"));
  EXPECT_TRUE(Contains(r.err, pin + " is not pinned"));
  EXPECT_EQ(r.out, "");
  json j = dnsJson();
  EXPECT_EQ(j["pinned"], false);
  EXPECT_TRUE(j["learned"].empty());
}

TEST_F(DnsStateTest, RefusesAPinThatIsNotTheAbisMap) {
  MB_REQUIRE_BPF();
  ASSERT_EQ(unlink(pin.c_str()), 0) << "apply pins the datapath's map; replaced here: " << std::strerror(errno);
  fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mb_dns_learned", 4, 4, 16, nullptr);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_obj_pin(fd, pin.c_str()), 0) << std::strerror(errno);
  e2e::ExecResult r = membrane({"dns"});
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_TRUE(Contains(r.err, "is not the datapath's learned-address map"));
}

// The DNS counters are in `membrane status`: the refused queries among the
// reasons, the facts about DNS messages under "dns", each read from the map
// its table names, under the names docs/dns.md uses.
TEST_F(DnsStateTest, StatusCountsTheDnsReasonsAndCounters) {
  MB_REQUIRE_BPF();
  e2e::ExecResult r = membrane({"status", "-o", "json"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.describe();
  for (const char* name : {"spoofed", "dns-refused"})
    EXPECT_TRUE(j["reasons"].contains(name)) << name << " in " << j["reasons"].dump();
  EXPECT_EQ(j["reasons"].size(), loader::reasonCounters().size());
  for (const char* name : {"dns-unreadable", "dns-learned", "dns-unsolicited"})
    EXPECT_TRUE(j["dns"].contains(name)) << name << " in " << j["dns"].dump();
  EXPECT_EQ(j["dns"].size(), loader::dnsCounters().size());
  // A count the datapath wrote is the one shown: dns-learned set by hand.
  const loader::ReasonCounter* learned = nullptr;
  for (const auto& c : loader::dnsCounters())
    if (std::string(c.name) == "dns-learned") learned = &c;
  ASSERT_TRUE(learned);
  int stats = bpf_obj_get((paths.bpffsRoot + "/maps/" + learned->map).c_str());
  ASSERT_GE(stats, 0) << learned->map << " is pinned by apply: " << std::strerror(errno);
  std::vector<uint64_t> perCpu(static_cast<size_t>(std::max(libbpf_num_possible_cpus(), 1)), 0);
  perCpu[0] = 7;
  uint32_t index = learned->index;
  ASSERT_EQ(bpf_map_update_elem(stats, &index, perCpu.data(), BPF_ANY), 0) << std::strerror(errno);
  close(stats);
  json after = json::parse(membrane({"status", "-o", "json"}).out, nullptr, false);
  EXPECT_EQ(after["dns"]["dns-learned"], 7u) << after["dns"].dump();
}

// Every kind the ABI defines has its name; an unknown one is never taken
// for another (kind 5, dns-refused, used to be printed as "allow").
TEST(EventKinds, EveryKindHasItsNameAndAnUnknownOneIsNotAllow) {
  EXPECT_EQ(loader::eventKindName(MB_EVENT_ALLOW), "allow");
  EXPECT_EQ(loader::eventKindName(MB_EVENT_DENY), "deny");
  EXPECT_EQ(loader::eventKindName(MB_EVENT_AUDIT), "audit");
  EXPECT_EQ(loader::eventKindName(MB_EVENT_SPOOFED), "spoofed");
  EXPECT_EQ(loader::eventKindName(MB_EVENT_DNS_REFUSED), "dns-refused");
  EXPECT_EQ(loader::eventKindName(200), "kind-200");
}

}  // namespace
}  // namespace membrane::testing
