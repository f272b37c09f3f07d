// Verdict events in the ring buffer, and the counters over mixed traffic.
#include <arpa/inet.h>

#include <cstring>

#include "fixture.h"

namespace mbtest {
namespace {

constexpr uint32_t kAllEvents =
    (1u << MB_EVENT_ALLOW) | (1u << MB_EVENT_DENY) | (1u << MB_EVENT_AUDIT);

class EventsTest : public FamilyHookTest {
 protected:
  void expectFlow(const mb_event& ev, const std::string& src, uint16_t sport,
                  const std::string& dst, uint16_t dport, uint8_t proto) {
    Addr s = Addr::parse(src), d = Addr::parse(dst);
    EXPECT_EQ(ev.family, s.family);
    EXPECT_EQ(ev.proto, proto);
    EXPECT_EQ(ev.sport, sport);
    EXPECT_EQ(ev.dport, dport);
    EXPECT_EQ(std::memcmp(ev.saddr, s.bytes.data(), 16), 0);
    EXPECT_EQ(std::memcmp(ev.daddr, d.bytes.data(), 16), 0);
    EXPECT_EQ(ev.endpoint, 7u);
  }
};

TEST_P(EventsTest, AllowDenyAndAuditEvents) {
  load(Options{.events = kAllEvents});
  uint64_t before = monotonicNs();
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().blocked, n().endpoint, kTcp, tcp(40001, 80))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kUdp, udp(40002, 53))));
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40003, 8080))));
  // Established and reply packets produce no events.
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kAck))));
  EXPECT_TRUE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 40000, kSyn | kAck))));
  uint64_t after = monotonicNs();

  auto events = dp().events();
  ASSERT_EQ(events.size(), 5u);
  for (const auto& ev : events) {
    EXPECT_GE(ev.timestamp_ns, before);
    EXPECT_LE(ev.timestamp_ns, after);
    EXPECT_EQ(ev.direction, MB_DIR_INGRESS);
  }
  EXPECT_EQ(events[0].kind, MB_EVENT_ALLOW);
  EXPECT_EQ(events[0].rule_id, 1u);
  expectFlow(events[0], n().frontend, 40000, n().endpoint, 80, kTcp);
  EXPECT_EQ(events[1].kind, MB_EVENT_DENY);
  EXPECT_EQ(events[1].rule_id, 2u);
  expectFlow(events[1], n().blocked, 40001, n().endpoint, 80, kTcp);
  EXPECT_EQ(events[2].kind, MB_EVENT_DENY);
  EXPECT_EQ(events[2].rule_id, 0u);  // default deny
  expectFlow(events[2], n().world, 40002, n().endpoint, 53, kUdp);
  // An allow that an audit policy would have denied: both events.
  EXPECT_EQ(events[3].kind, MB_EVENT_ALLOW);
  EXPECT_EQ(events[3].rule_id, 5u);
  EXPECT_EQ(events[4].kind, MB_EVENT_AUDIT);
  EXPECT_EQ(events[4].rule_id, 6u);
  expectFlow(events[4], n().frontend, 40003, n().endpoint, 8080, kTcp);

  auto audited = dp().ct(ctKey(n().frontend, 40003, n().endpoint, 8080, kTcp));
  ASSERT_TRUE(audited.has_value());
  EXPECT_EQ(audited->flags, MB_CT_AUDIT);
  EXPECT_EQ(audited->rule_id, 5u);
  EXPECT_TRUE(dp().events().empty());  // consumed
}

TEST_P(EventsTest, KindsAreEnabledSeparately) {
  load(Options{.events = 1u << MB_EVENT_DENY});
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40003, 8080))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(40000, 80))));
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, MB_EVENT_DENY);

  load(Options{.events = 1u << MB_EVENT_AUDIT});
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40003, 8080))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(40000, 80))));
  events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, MB_EVENT_AUDIT);

  load(Options{.events = 0});
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40003, 8080))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(40000, 80))));
  EXPECT_TRUE(dp().events().empty());
}

TEST_P(EventsTest, OpenDirectionAllowEvent) {
  load(Options{.endpoint_id = 12, .events = kAllEvents});
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kUdp, udp(5000, 53))));
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, MB_EVENT_ALLOW);
  EXPECT_EQ(events[0].rule_id, 0u);  // no rule: the direction is open
  EXPECT_EQ(events[0].direction, MB_DIR_EGRESS);
  EXPECT_EQ(events[0].endpoint, 12u);
  EXPECT_EQ(events[0].sport, 5000);
  EXPECT_EQ(events[0].dport, 53);
}

TEST_P(EventsTest, IcmpEventCarriesIdAndType) {
  load(Options{.events = kAllEvents});
  uint8_t proto = icmpProto(family());
  EXPECT_TRUE(dp().passes(in(), pkt(n().world, n().endpoint, proto,
                                    icmp(echoRequest(family()), 0, 0x1234))));
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  expectFlow(events[0], n().world, 0x1234, n().endpoint, echoRequest(family()), proto);
  EXPECT_EQ(events[0].rule_id, 4u);
}

TEST_P(EventsTest, UnclassifiedDropsAreCountedNotReported) {
  load(Options{.events = kAllEvents});
  EXPECT_FALSE(dp().passes(in(), frame(kEthLldp, Bytes(46, 0))));
  EXPECT_TRUE(dp().events().empty());
  EXPECT_EQ(dp().reason(MB_REASON_UNKNOWN_L3), 1u);
}

MB_INSTANTIATE_FAMILY_HOOK(EventsTest);

using CountersTest = FamilyHookTest;

TEST_P(CountersTest, PerRuleAndPerReasonTotals) {
  uint64_t bytes1 = 0, bytes0 = 0;
  auto send = [&](bool expectPass, const Bytes& p, Prog prog, uint64_t* bytes) {
    EXPECT_EQ(dp().passes(prog, p), expectPass);
    if (bytes)
      *bytes += Datapath::seenLen(prog, p);
  };
  for (uint16_t i = 0; i < 3; i++)  // three new flows by rule 1, each with one more packet
    send(true, pkt(n().frontend, n().endpoint, kTcp, tcp(uint16_t(41000 + i), 80)), in(), &bytes1);
  for (uint16_t i = 0; i < 3; i++)
    send(true, pkt(n().frontend, n().endpoint, kTcp, tcp(uint16_t(41000 + i), 80, kAck)), in(),
         nullptr);
  send(true, pkt(n().endpoint, n().frontend, kTcp, tcp(80, 41000, kAck)), out(), nullptr);
  send(true, pkt(n().frontend, n().endpoint, kUdp, udp(5353, 53)), in(), nullptr);
  for (uint16_t i = 0; i < 2; i++)
    send(false, pkt(n().blocked, n().endpoint, kTcp, tcp(uint16_t(42000 + i), 80)), in(), nullptr);
  for (uint16_t i = 0; i < 4; i++)
    send(false, pkt(n().world, n().endpoint, kTcp, tcp(uint16_t(43000 + i), 80)), in(), &bytes0);
  send(true, pkt(n().endpoint, n().world, kTcp, tcp(44000, 443)), out(), nullptr);
  send(false, frame(kEthLldp, Bytes(46, 0)), in(), nullptr);

  EXPECT_EQ(dp().rule(1).packets, 3u);
  EXPECT_EQ(dp().rule(1).bytes, bytes1);
  EXPECT_EQ(dp().rule(3).packets, 1u);
  EXPECT_EQ(dp().rule(2).packets, 2u);
  EXPECT_EQ(dp().rule(0).packets, 4u);
  EXPECT_EQ(dp().rule(0).bytes, bytes0);
  EXPECT_EQ(dp().rule(4).packets, 0u);
  EXPECT_EQ(dp().rule(MB_RULE_MAX - 1).packets, 0u);

  std::vector<uint64_t> want(MB_REASON_MAX, 0);
  want[MB_REASON_ALLOWED_NEW] = 4;
  want[MB_REASON_ESTABLISHED] = 3;
  want[MB_REASON_REPLY] = 1;
  want[MB_REASON_DENIED_RULE] = 2;
  want[MB_REASON_DENIED_DEFAULT] = 4;
  want[MB_REASON_OPEN] = 1;
  want[MB_REASON_UNKNOWN_L3] = 1;
  EXPECT_EQ(dp().reasons(), want);
}

MB_INSTANTIATE_FAMILY_HOOK(CountersTest);

}  // namespace
}  // namespace mbtest
