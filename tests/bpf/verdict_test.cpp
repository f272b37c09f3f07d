// Policy verdicts for new flows: allowed by rule, denied by a deny rule,
// default deny, open direction; IPv4 and IPv6; tc and cgroup_skb.
#include <bpf/bpf.h>

#include <cstring>

#include "fixture.h"

namespace mbtest {
namespace {

class VerdictTest : public FamilyHookTest {
 protected:
  // Checks that exactly one packet was counted, under `reason`.
  void expectOnlyReason(uint32_t reason) {
    auto all = dp().reasons();
    for (uint32_t r = 0; r < all.size(); r++)
      EXPECT_EQ(all[r], r == reason ? 1u : 0u) << "reason " << r;
  }
};

TEST_P(VerdictTest, AllowedByRuleIsTrackedAndCounted) {
  Bytes p = pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80));
  uint64_t before = monotonicNs();
  EXPECT_TRUE(dp().passes(in(), p));
  uint64_t after = monotonicNs();

  expectOnlyReason(MB_REASON_ALLOWED_NEW);
  EXPECT_EQ(dp().rule(1).packets, 1u);
  EXPECT_EQ(dp().rule(1).bytes, Datapath::seenLen(in(), p));
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 1u);

  auto e = dp().ct(ctKey(n().frontend, 40000, n().endpoint, 80, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, MB_CT_NEW);
  EXPECT_EQ(e->rule_id, 1u);
  EXPECT_EQ(e->flags, 0u);  // opened on ingress
  EXPECT_EQ(e->packets, 1u);
  EXPECT_EQ(e->bytes, Datapath::seenLen(in(), p));
  EXPECT_GE(e->expires_ns, before + MB_CT_TIMEOUT_TCP_SYN);
  EXPECT_LE(e->expires_ns, after + MB_CT_TIMEOUT_TCP_SYN);
  EXPECT_EQ(dp().ctSize(), 1u);
}

TEST_P(VerdictTest, PortRangeBoundaries) {
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 81))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40001, 82))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40002, 79))));
  EXPECT_EQ(dp().rule(1).packets, 1u);
  EXPECT_EQ(dp().rule(0).packets, 2u);
}

TEST_P(VerdictTest, UdpAllowedByRule) {
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kUdp, udp(5353, 53))));
  expectOnlyReason(MB_REASON_ALLOWED_NEW);
  EXPECT_EQ(dp().rule(3).packets, 1u);
  auto e = dp().ct(ctKey(n().frontend, 5353, n().endpoint, 53, kUdp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rule_id, 3u);
  // UDP on a TCP-only port is not allowed.
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kUdp, udp(5353, 80))));
}

TEST_P(VerdictTest, SctpAllowedByRule) {
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kSctp, sctp(3868, 3868))));
  expectOnlyReason(MB_REASON_ALLOWED_NEW);
  EXPECT_EQ(dp().rule(7).packets, 1u);
  EXPECT_TRUE(dp().ct(ctKey(n().frontend, 3868, n().endpoint, 3868, kSctp)).has_value());
}

TEST_P(VerdictTest, DeniedByDenyRule) {
  // The blocked peer also has bit 0, so the allow rule would match too.
  Bytes p = pkt(n().blocked, n().endpoint, kTcp, tcp(40000, 80));
  EXPECT_FALSE(dp().passes(in(), p));
  expectOnlyReason(MB_REASON_DENIED_RULE);
  EXPECT_EQ(dp().rule(2).packets, 1u);
  EXPECT_EQ(dp().rule(2).bytes, Datapath::seenLen(in(), p));
  EXPECT_EQ(dp().rule(1).packets, 0u);
  EXPECT_EQ(dp().ctSize(), 0u);
}

// Verdicts beyond allow and deny are reserved (runtime/abi/datapath.h): no
// program kind acts on them yet, so every entry point drops them, counted
// and reported as denied by their rule, and tracks nothing. Rule 8's result
// carries MB_VERDICT_L7 without the deny bit: the verdict alone must drop it.
TEST_P(VerdictTest, VerdictsNoKindActsOnAreDropped) {
  Bytes l7 = pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 8443));
  EXPECT_FALSE(dp().passes(in(), l7));
  expectOnlyReason(MB_REASON_DENIED_RULE);
  EXPECT_EQ(dp().rule(8).packets, 1u);
  EXPECT_EQ(dp().ctSize(), 0u);

  Bytes redirect = pkt(n().frontend, n().endpoint, kTcp, tcp(40001, 8444));
  EXPECT_FALSE(dp().passes(in(), redirect));
  EXPECT_EQ(dp().rule(9).packets, 1u);
  EXPECT_EQ(dp().reasons()[MB_REASON_DENIED_RULE], 2u);
  EXPECT_EQ(dp().ctSize(), 0u);
  // A second packet of the flow is decided again, and dropped again.
  EXPECT_FALSE(dp().passes(in(), l7));
  EXPECT_EQ(dp().rule(8).packets, 2u);
}

// With the socket layer attached (MB_CONFIG_SOCKETS), MB_VERDICT_L7 allows
// the connection, tracked with MB_CT_L7 so its later packets pass as
// established: the socket layer decides its requests.
TEST_P(VerdictTest, L7VerdictPassesAndTracksOnlyWithTheSocketLayer) {
  load(Options{.config_flags = MB_CONFIG_SOCKETS});
  Bytes syn = pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 8443));
  EXPECT_TRUE(dp().passes(in(), syn));
  expectOnlyReason(MB_REASON_ALLOWED_NEW);
  EXPECT_EQ(dp().rule(8).packets, 1u);
  auto e = dp().ct(ctKey(n().frontend, 40000, n().endpoint, 8443, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->flags & MB_CT_L7, MB_CT_L7);
  EXPECT_EQ(e->rule_id, 8u);
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(8443, 40000, kSyn | kAck))));
  // MB_VERDICT_REDIRECT is still no allow.
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40001, 8444))));
}

// A connection whose socket the socket layer could not take (recorded in
// mb_l7_refused by mb_sockops) is dropped in both directions, though
// tracked: its requests would go undecided. Other L7 flows pass.
TEST_P(VerdictTest, L7ConnectionTheSocketLayerRefusedIsDropped) {
  load(Options{.config_flags = MB_CONFIG_SOCKETS});
  ASSERT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 8443))));
  ASSERT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40002, 8443))));
  Addr ep = Addr::parse(n().endpoint), fe = Addr::parse(n().frontend);
  mb_l7_sock_key k{};
  k.family = uint8_t(ep.family);
  k.local_port = 8443;
  k.remote_port = 40000;
  std::memcpy(k.local, ep.bytes.data(), 16);
  std::memcpy(k.remote, fe.bytes.data(), 16);
  uint64_t cookie = 1;
  ASSERT_EQ(bpf_map_update_elem(dp().mapFd("mb_l7_refused"), &k, &cookie, BPF_ANY), 0);
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 8443, kAck))));
  EXPECT_FALSE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(8443, 40000, kAck))));
  EXPECT_EQ(dp().reason(MB_REASON_L7_REFUSED), 2u);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40002, 8443, kAck))));
}

// The client side's gate (lib/l7_sent.h): on a connection the endpoint
// opened whose requests its sk_msg verdict decides, data leaves only up to
// where the verdict let it go (mb_l7_sent, which sockops opens and the
// verdict moves on); data on the SYN (TCP Fast Open) and data with no entry
// (a raw socket, a send that raced the socket's policing) never. Segments
// without data, and the server's answers, pass.
TEST_P(VerdictTest, L7ClientConnectionSendsOnlyTheBytesItsVerdictLetGo) {
  load(Options{.egress_enforced = true, .config_flags = MB_CONFIG_SOCKETS});
  auto segment = [&](uint16_t sport, uint8_t flags, size_t bytes) {
    Bytes l4 = tcp(sport, 8443, flags);  // sequence number 1000
    l4.insert(l4.end(), bytes, uint8_t('x'));
    return pkt(n().endpoint, n().frontend, kTcp, l4);
  };
  EXPECT_FALSE(dp().passes(out(), segment(40000, kSyn, 10))) << "data on the SYN";
  EXPECT_EQ(dp().reason(MB_REASON_L7_UNDECIDED), 1u);

  ASSERT_TRUE(dp().passes(out(), segment(40001, kSyn, 0)));
  auto e = dp().ct(ctKey(n().endpoint, 40001, n().frontend, 8443, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->flags & (MB_CT_L7 | MB_CT_EGRESS), MB_CT_L7 | MB_CT_EGRESS);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(8443, 40001, kSyn | kAck))));
  EXPECT_TRUE(dp().passes(out(), segment(40001, kAck, 0))) << "no data";
  EXPECT_FALSE(dp().passes(out(), segment(40001, kAck | kPsh, 10))) << "no entry: no verdict let it go";

  Addr ep = Addr::parse(n().endpoint), fe = Addr::parse(n().frontend);
  mb_l7_sock_key k{};
  k.family = uint8_t(ep.family);
  k.local_port = 40001;
  k.remote_port = 8443;
  std::memcpy(k.local, ep.bytes.data(), 16);
  std::memcpy(k.remote, fe.bytes.data(), 16);
  auto letGoUpTo = [&](uint32_t end) {
    uint32_t v[2] = {end, 0};
    ASSERT_EQ(bpf_map_update_elem(dp().mapFd("mb_l7_sent"), &k, v, BPF_ANY), 0);
  };
  letGoUpTo(1005);
  EXPECT_FALSE(dp().passes(out(), segment(40001, kAck | kPsh, 10))) << "half of it let go";
  letGoUpTo(1010);
  EXPECT_TRUE(dp().passes(out(), segment(40001, kAck | kPsh, 10)));
  letGoUpTo(1020);
  EXPECT_TRUE(dp().passes(out(), segment(40001, kAck | kPsh, 10))) << "a retransmission";
  letGoUpTo(uint32_t(1010 - 0x7fffffff));
  EXPECT_FALSE(dp().passes(out(), segment(40001, kAck | kPsh, 10))) << "sequence numbers compare modulo 2^32";
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(8443, 40001, kAck | kPsh))))
      << "the server's answer";
  EXPECT_EQ(dp().reason(MB_REASON_L7_UNDECIDED), 4u);
}

TEST_P(VerdictTest, DefaultDenyForWorld) {
  Bytes p = pkt(n().world, n().endpoint, kTcp, tcp(40000, 80));
  EXPECT_FALSE(dp().passes(in(), p));
  expectOnlyReason(MB_REASON_DENIED_DEFAULT);
  EXPECT_EQ(dp().rule(0).packets, 1u);
  EXPECT_EQ(dp().rule(0).bytes, Datapath::seenLen(in(), p));
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(VerdictTest, PortlessProtocolDecidedByPolicy) {
  // GRE has no ports: policy sees port 0 and denies it here.
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kGre, Bytes(8, 0))));
  expectOnlyReason(MB_REASON_DENIED_DEFAULT);
}

TEST_P(VerdictTest, OpenEgressPassesAndTracks) {
  Bytes p = pkt(n().endpoint, n().world, kTcp, tcp(40000, 5432));
  EXPECT_TRUE(dp().passes(out(), p));
  expectOnlyReason(MB_REASON_OPEN);
  EXPECT_EQ(dp().rule(0).packets, 0u);  // rule 0 counts default deny only
  auto e = dp().ct(ctKey(n().endpoint, 40000, n().world, 5432, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rule_id, 0u);
  EXPECT_EQ(e->flags, MB_CT_EGRESS);
  EXPECT_EQ(e->state, MB_CT_NEW);
}

TEST_P(VerdictTest, EnforcedEgressVerdicts) {
  load(Options{.egress_enforced = true});
  EXPECT_FALSE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(40000, 25))));
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(40001, 443))));
  EXPECT_FALSE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40002, 443))));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_RULE), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
  EXPECT_EQ(dp().rule(10).packets, 1u);
  EXPECT_EQ(dp().rule(11).packets, 1u);
  EXPECT_EQ(dp().rule(0).packets, 1u);
  // The peer on egress is the destination: the entry is keyed as sent.
  auto e = dp().ct(ctKey(n().endpoint, 40001, n().frontend, 443, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rule_id, 11u);
  EXPECT_EQ(e->flags, MB_CT_EGRESS);
}

TEST_P(VerdictTest, IngressPeerIsTheSource) {
  // Same ports, the frontend as destination instead of source: the peer is
  // the (unknown) source, so the default deny applies.
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().frontend, kTcp, tcp(40000, 80))));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
}

TEST_P(VerdictTest, EchoRequestFromWorldAllowed) {
  Bytes p = pkt(n().world, n().endpoint, icmpProto(family()), icmp(echoRequest(family()), 0, 77));
  EXPECT_TRUE(dp().passes(in(), p));
  expectOnlyReason(MB_REASON_ALLOWED_NEW);
  EXPECT_EQ(dp().rule(4).packets, 1u);
  // Echo id as sport, 0 as dport.
  auto e = dp().ct(ctKey(n().world, 77, n().endpoint, 0, icmpProto(family())));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rule_id, 4u);
}

MB_INSTANTIATE_FAMILY_HOOK(VerdictTest);

}  // namespace
}  // namespace mbtest
