// Anti-spoofing (lib/source.h): a packet leaving an endpoint must carry one
// of the endpoint's own addresses, whatever policy says, on every egress hook.
#include <cstring>

#include "fixture.h"

namespace mbtest {
namespace {

class SourceTest : public FamilyHookTest {
 protected:
  // A TCP SYN leaving the endpoint from `src` to the world.
  Bytes synFrom(const std::string& src, uint16_t sport = 40000) const {
    return pkt(src, n().world, kTcp, tcp(sport, 443));
  }
};

TEST_P(SourceTest, ASynFromTheEndpointsOwnAddressLeaves) {
  EXPECT_TRUE(dp().passes(out(), synFrom(n().endpoint)));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 0u);
  EXPECT_EQ(dp().reason(MB_REASON_OPEN), 1u);
}

TEST_P(SourceTest, ASynCarryingAnotherPodsAddressIsDroppedAndCountedBeforePolicy) {
  // The frontend's address is a known endpoint's, which policy elsewhere
  // may trust: borrowing it is exactly the attack.
  EXPECT_FALSE(dp().passes(out(), synFrom(n().frontend)));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_EGRESS), 0u);
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(SourceTest, TheCheckAppliesWhereEgressIsEnforcedToo) {
  load(Options{.egress_enforced = true});
  EXPECT_FALSE(dp().passes(out(), synFrom(n().world)));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 0u);
}

TEST_P(SourceTest, AnAddressOwnedByAnotherEndpointIsNotThisOnes) {
  dp().ownAddress(n().frontend, 8);  // endpoint 8 owns it; the programs run as 7
  EXPECT_FALSE(dp().passes(out(), synFrom(n().frontend)));
  dp().ownAddress(n().frontend);  // now 7 owns it as well (shared, e.g. host network)
  EXPECT_TRUE(dp().passes(out(), synFrom(n().frontend)));
}

TEST_P(SourceTest, AnEstablishedFlowDoesNotExcuseASpoofedPacket) {
  // The endpoint opened a flow from its own address; the same tuple from a
  // borrowed address must not ride on it.
  EXPECT_TRUE(dp().passes(out(), synFrom(n().endpoint)));
  EXPECT_FALSE(dp().passes(out(), pkt(n().frontend, n().world, kTcp, tcp(40000, 443, kAck))));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 1u);
}

TEST_P(SourceTest, PacketsArrivingAreJudgedByPolicyNotBySource) {
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80))));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 0u);
}

TEST_P(SourceTest, ASpoofedPacketWritesAnEventWhenEnabled) {
  load(Options{.events = 1u << MB_EVENT_SPOOFED});
  EXPECT_FALSE(dp().passes(out(), synFrom(n().frontend, 41000)));
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, MB_EVENT_SPOOFED);
  EXPECT_EQ(events[0].direction, MB_DIR_EGRESS);
  EXPECT_EQ(events[0].rule_id, 0u);
  EXPECT_EQ(events[0].endpoint, 7u);
  EXPECT_EQ(events[0].sport, 41000);
  Addr src = Addr::parse(n().frontend);
  EXPECT_EQ(0, std::memcmp(events[0].saddr, src.bytes.data(), 16));
}

MB_INSTANTIATE_FAMILY_HOOK(SourceTest);

using SourceEdgeTest = DatapathTest;

TEST_F(SourceEdgeTest, ArpSpeaksOnlyForTheEndpointsOwnAddress) {
  const Addr ep = Addr::parse(net(4).endpoint), other = Addr::parse(net(4).frontend),
             router = Addr::parse(net(4).router), none = Addr::parse("0.0.0.0");
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, arpRequest(ep, router)));
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, arpRequest(none, router)));  // a probe claims nothing
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, arpRequest(other, router)));
  EXPECT_EQ(dp().reason(MB_REASON_ALWAYS), 2u);
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 1u);
  // Arriving ARP is never checked.
  EXPECT_TRUE(dp().passes(Prog::TcToEndpoint, arpRequest(other, ep)));
}

TEST_F(SourceEdgeTest, ArpForAnotherProtocolCannotBeCheckedAndStaysIn) {
  Bytes arp = arpRequest(Addr::parse(net(4).endpoint), Addr::parse(net(4).router));
  arp[14 + 2] = 0x86;  // protocol type IPv6: not IPv4 over Ethernet
  arp[14 + 3] = 0xdd;
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, arp));
  EXPECT_EQ(dp().reason(MB_REASON_UNPARSEABLE), 1u);
}

Bytes nd(const std::string& src, const std::string& dst, uint8_t type, const std::string& target) {
  Addr t = Addr::parse(target);
  return frame(ipv6(Addr::parse(src), Addr::parse(dst), kIcmp6, icmp(type, 0, 0, 0, Bytes(t.bytes.begin(), t.bytes.end()))));
}

TEST_F(SourceEdgeTest, NeighbourDiscoveryMayUseLinkLocalAndUnspecifiedSources) {
  const std::string ll = "fe80::1", router = net(6).router, ep = net(6).endpoint;
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, nd(ll, "ff02::1:ff00:1", 135, router)));  // NS
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, nd("::", "ff02::1:ff00:10", 135, ep)));    // DAD
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, nd(ll, "ff02::2", 133, "::")));            // RS
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, nd(ll, router, 136, ep)));                  // NA, own target
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, nd(ll, router, 136, "fe80::1")));           // NA, link-local
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 0u);
}

TEST_F(SourceEdgeTest, ANeighbourAdvertisementForAnotherPodsAddressIsSpoofed) {
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, nd("fe80::1", net(6).router, 136, net(6).frontend)));
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, nd(net(6).endpoint, net(6).router, 136, net(6).frontend)));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 2u);
}

TEST_F(SourceEdgeTest, LinkLocalSourcesAreOnlyForLinkScopedIcmpv6) {
  // An echo request or a TCP SYN from fe80:: is not the endpoint's address.
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, pkt("fe80::1", net(6).world, kIcmp6, icmp(128))));
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, pkt("fe80::1", "fe80::2", kTcp, tcp(40000, 22))));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 2u);
  // A listener report (MLD) may come from fe80::; policy decides the rest.
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, pkt("fe80::1", "ff02::16", kIcmp6, icmp(143))));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 2u);
}

TEST_F(SourceEdgeTest, LoopbackSourcesPassOnlyOnTheCgroupHook) {
  for (const char* lo : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(lo);
    EXPECT_TRUE(dp().passes(Prog::CgroupEgress, pkt(lo, lo, kTcp, tcp(40000, 8080))));
    EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, pkt(lo, lo, kTcp, tcp(40001, 8080))));
  }
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 2u);
}

}  // namespace
}  // namespace mbtest
