// ICMP: echo tracking by id, errors related to tracked flows, neighbour
// discovery and ARP always passing.
#include "fixture.h"

namespace mbtest {
namespace {

class IcmpTest : public FamilyHookTest {
 protected:
  uint8_t icmpP() const { return icmpProto(family()); }
  Bytes echo(const std::string& src, const std::string& dst, bool request, uint16_t id) const {
    return pkt(src, dst, icmpP(),
               icmp(request ? echoRequest(family()) : echoReply(family()), 0, id));
  }
  // Destination unreachable / fragmentation needed (v4), packet too big (v6):
  // the errors a path MTU problem produces.
  uint8_t mtuErrorType() const { return family() == 4 ? 3 : 2; }
  uint8_t mtuErrorCode() const { return family() == 4 ? 4 : 0; }
  uint8_t timeExceeded() const { return family() == 4 ? 11 : 3; }
  uint8_t portUnreachableType() const { return family() == 4 ? 3 : 1; }
  uint8_t portUnreachableCode() const { return family() == 4 ? 3 : 4; }

  // The head of a packet as an ICMP error quotes it: IP header + 8 bytes.
  Bytes quote(const std::string& src, const std::string& dst, uint8_t proto,
              const Bytes& l4) const {
    return ip(Addr::parse(src), Addr::parse(dst), proto, cut(l4, 8));
  }
  Bytes error(const std::string& src, const std::string& dst, uint8_t type, uint8_t code,
              const Bytes& quoted) const {
    return pkt(src, dst, icmpP(), icmp(type, code, 0, 1400, quoted));
  }
};

TEST_P(IcmpTest, EchoReplyToAllowedRequestPassesEnforcedEgress) {
  load(Options{.egress_enforced = true});
  EXPECT_TRUE(dp().passes(in(), echo(n().world, n().endpoint, true, 77)));
  // Egress policy denies ICMP to the world; the reply is tracked.
  EXPECT_TRUE(dp().passes(out(), echo(n().endpoint, n().world, false, 77)));
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_EGRESS), 0u);
  auto e = dp().ct(ctKey(n().world, 77, n().endpoint, 0, icmpP()));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, MB_CT_ESTABLISHED);
  // A second ping with the same id is the same flow.
  EXPECT_TRUE(dp().passes(in(), echo(n().world, n().endpoint, true, 77)));
  EXPECT_EQ(dp().reason(MB_REASON_ESTABLISHED), 1u);
  // A reply with another id is not.
  EXPECT_FALSE(dp().passes(out(), echo(n().endpoint, n().world, false, 78)));
}

TEST_P(IcmpTest, EndpointPingGetsItsReply) {
  EXPECT_TRUE(dp().passes(out(), echo(n().endpoint, n().world, true, 9)));
  EXPECT_TRUE(dp().passes(in(), echo(n().world, n().endpoint, false, 9)));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  EXPECT_FALSE(dp().passes(in(), echo(n().world, n().endpoint, false, 10)));
  EXPECT_FALSE(dp().passes(in(), echo(n().frontend, n().endpoint, false, 9)));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 2u);
}

TEST_P(IcmpTest, UnsolicitedEchoReplyIsDenied) {
  EXPECT_FALSE(dp().passes(in(), echo(n().world, n().endpoint, false, 5)));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
  // Allowed replies are not tracked: only requests open an entry.
  EXPECT_TRUE(dp().passes(out(), echo(n().endpoint, n().world, false, 5)));
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(IcmpTest, EchoRequestNeverCountsAsReply) {
  load(Options{.egress_enforced = true});
  EXPECT_TRUE(dp().passes(in(), echo(n().world, n().endpoint, true, 77)));
  // The endpoint's own request with the same id matches the reversed key,
  // but a request is no reply: egress policy decides (and denies).
  EXPECT_FALSE(dp().passes(out(), echo(n().endpoint, n().world, true, 77)));
  EXPECT_EQ(dp().decideCalls(MB_DIR_EGRESS), 1u);
}

TEST_P(IcmpTest, OtherIcmpIsDecidedButNeverTracked) {
  uint8_t type = family() == 4 ? 13 : 139;  // timestamp / node information query
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, icmpP(), icmp(type))));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, icmpP(), icmp(type))));
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(IcmpTest, ErrorAboutTrackedFlowPasses) {
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40000, 443))));
  // A router on the way reports on the endpoint's packet.
  Bytes err = error(n().router, n().endpoint, mtuErrorType(), mtuErrorCode(),
                    quote(n().endpoint, n().world, kTcp, tcp(40000, 443)));
  EXPECT_TRUE(dp().passes(in(), err));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 0u);
  // Errors neither count towards nor change the flow.
  auto e = dp().ct(ctKey(n().endpoint, 40000, n().world, 443, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->packets, 1u);
  EXPECT_EQ(e->state, MB_CT_NEW);
}

TEST_P(IcmpTest, ErrorAboutReplyPasses) {
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(50000, 80))));
  // The endpoint's answer (80 -> 50000) hit a problem on the way back.
  Bytes err = error(n().router, n().endpoint, timeExceeded(), 0,
                    quote(n().endpoint, n().frontend, kTcp, tcp(80, 50000, kSyn | kAck)));
  EXPECT_TRUE(dp().passes(in(), err));
  EXPECT_EQ(dp().reason(MB_REASON_ESTABLISHED), 1u);
}

TEST_P(IcmpTest, EndpointErrorAboutIngressFlowPassesEnforcedEgress) {
  load(Options{.egress_enforced = true});
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kUdp, udp(5353, 53))));
  // The endpoint answers with "port unreachable", quoting what it received.
  Bytes err = error(n().endpoint, n().frontend, portUnreachableType(), portUnreachableCode(),
                    quote(n().frontend, n().endpoint, kUdp, udp(5353, 53)));
  EXPECT_TRUE(dp().passes(out(), err));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  // Quoting a flow that does not exist, egress policy decides and denies.
  Bytes stray = error(n().endpoint, n().frontend, portUnreachableType(), portUnreachableCode(),
                      quote(n().frontend, n().endpoint, kUdp, udp(5354, 53)));
  EXPECT_FALSE(dp().passes(out(), stray));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
}

TEST_P(IcmpTest, UnrelatedErrorIsDecidedAsNewFlow) {
  Bytes err = error(n().router, n().endpoint, mtuErrorType(), mtuErrorCode(),
                    quote(n().endpoint, n().world, kTcp, tcp(40000, 443)));
  EXPECT_FALSE(dp().passes(in(), err));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 1u);
  // On the open direction (the endpoint's own error about a flow it never
  // saw) it just passes, untracked.
  Bytes own = error(n().endpoint, n().world, mtuErrorType(), mtuErrorCode(),
                    quote(n().world, n().endpoint, kTcp, tcp(443, 40000)));
  EXPECT_TRUE(dp().passes(out(), own));
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(IcmpTest, ErrorAboutExpiredFlowIsNotRelated) {
  mb_ct_entry e{};
  e.expires_ns = 1;
  dp().putCt(ctKey(n().endpoint, 40000, n().world, 443, kTcp), e);
  Bytes err = error(n().router, n().endpoint, mtuErrorType(), mtuErrorCode(),
                    quote(n().endpoint, n().world, kTcp, tcp(40000, 443)));
  EXPECT_FALSE(dp().passes(in(), err));
}

TEST_P(IcmpTest, ErrorAboutPingPasses) {
  EXPECT_TRUE(dp().passes(out(), echo(n().endpoint, n().world, true, 31)));
  Bytes err = error(n().router, n().endpoint, timeExceeded(), 0,
                    quote(n().endpoint, n().world, icmpP(), icmp(echoRequest(family()), 0, 31)));
  EXPECT_TRUE(dp().passes(in(), err));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  Bytes other = error(n().router, n().endpoint, timeExceeded(), 0,
                      quote(n().endpoint, n().world, icmpP(), icmp(echoRequest(family()), 0, 32)));
  EXPECT_FALSE(dp().passes(in(), other));
}

TEST_P(IcmpTest, ErrorWithTruncatedQuoteIsDecidedAsNewFlow) {
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40000, 443))));
  Bytes full = quote(n().endpoint, n().world, kTcp, tcp(40000, 443));
  // The quote stops inside the quoted IP header, then inside the ports.
  for (size_t len : {size_t(10), full.size() - 6}) {
    SCOPED_TRACE(len);
    Bytes err = error(n().router, n().endpoint, mtuErrorType(), mtuErrorCode(), cut(full, len));
    EXPECT_FALSE(dp().passes(in(), err));
  }
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 2u);
  EXPECT_EQ(dp().reason(MB_REASON_UNPARSEABLE), 0u);
}

MB_INSTANTIATE_FAMILY_HOOK(IcmpTest);

using AlwaysPassTest = DatapathTest;

TEST_F(AlwaysPassTest, NeighbourDiscoveryPassesEveryProgram) {
  load(Options{.egress_enforced = true});
  const Net& v6 = net(6);
  for (Prog p : kAllProgs) {
    for (uint8_t type = 133; type <= 137; type++) {
      SCOPED_TRACE(std::string(progName(p)) + " type " + std::to_string(type));
      const std::string& src = progDirection(p) == MB_DIR_INGRESS ? v6.world : v6.endpoint;
      const std::string& dst = progDirection(p) == MB_DIR_INGRESS ? v6.endpoint : v6.world;
      // Solicitations and advertisements name a target: the sender's own.
      const Addr target = Addr::parse(src);
      EXPECT_TRUE(dp().passes(p, pkt(src, dst, kIcmp6,
                                     icmp(type, 0, 0, 0, Bytes(target.bytes.begin(), target.bytes.end())))));
    }
  }
  EXPECT_EQ(dp().reason(MB_REASON_ALWAYS), 20u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS) + dp().decideCalls(MB_DIR_EGRESS), 0u);
  EXPECT_EQ(dp().ctSize(), 0u);
  // Type 132 (MLD done) is not neighbour discovery: policy decides.
  EXPECT_FALSE(
      dp().passes(Prog::TcToEndpoint, pkt(v6.world, v6.endpoint, kIcmp6, icmp(132))));
}

TEST_F(AlwaysPassTest, ArpPassesEveryProgram) {
  load(Options{.egress_enforced = true});
  // Asked of the endpoint, and asked by it (about its own address).
  Bytes toEndpoint = arpRequest(Addr::parse("198.18.9.9"), Addr::parse("198.19.0.10"));
  Bytes fromEndpoint = arpRequest(Addr::parse("198.19.0.10"), Addr::parse("198.18.9.9"));
  for (Prog p : kAllProgs) {
    SCOPED_TRACE(progName(p));
    EXPECT_TRUE(dp().passes(p, progDirection(p) == MB_DIR_INGRESS ? toEndpoint : fromEndpoint));
  }
  EXPECT_EQ(dp().reason(MB_REASON_ALWAYS), 4u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS) + dp().decideCalls(MB_DIR_EGRESS), 0u);
}

}  // namespace
}  // namespace mbtest
