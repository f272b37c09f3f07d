// Connection tracking: replies cross the other program, established flows
// skip policy, TCP teardown, expiry, per-endpoint keys.
#include "fixture.h"

namespace mbtest {
namespace {

using ConntrackTest = FamilyHookTest;

TEST_P(ConntrackTest, ReplyToOpenEgressFlowPassesEnforcedIngress) {
  // The endpoint connects out (egress is open); the answer comes back on
  // ingress, where policy would deny it (world, ephemeral port).
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40000, 443, kSyn))));
  uint64_t before = monotonicNs();
  EXPECT_TRUE(
      dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(443, 40000, kSyn | kAck))));
  uint64_t after = monotonicNs();

  EXPECT_EQ(dp().reason(MB_REASON_OPEN), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 0u);
  auto e = dp().ct(ctKey(n().endpoint, 40000, n().world, 443, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, MB_CT_ESTABLISHED);
  EXPECT_EQ(e->packets, 2u);
  EXPECT_GE(e->expires_ns, before + MB_CT_TIMEOUT_TCP);
  EXPECT_LE(e->expires_ns, after + MB_CT_TIMEOUT_TCP);
  EXPECT_EQ(dp().ctSize(), 1u);  // no second entry for the reply
}

TEST_P(ConntrackTest, UnsolicitedReverseTrafficIsDenied) {
  // Looks like a reply, but nothing was sent.
  EXPECT_FALSE(
      dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(443, 40000, kSyn | kAck))));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
  // A reply to a different flow does not match either.
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40000, 443))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(443, 40001, kAck))));
  EXPECT_FALSE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(443, 40000, kAck))));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 3u);
}

TEST_P(ConntrackTest, ReplyToIngressFlowPassesEnforcedEgress) {
  load(Options{.egress_enforced = true});
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(50000, 80, kSyn))));
  // Egress policy would deny this (tcp/50000 is not allowed).
  EXPECT_TRUE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 50000, kSyn | kAck))));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_EGRESS), 0u);
  // Without the flow the same packet is denied.
  EXPECT_FALSE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 50001, kSyn | kAck))));
}

TEST_P(ConntrackTest, EstablishedFlowSkipsPolicy) {
  Bytes syn = pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kSyn));
  Bytes ack = pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kAck) + Bytes(100, 0x78));
  EXPECT_TRUE(dp().passes(in(), syn));
  EXPECT_TRUE(dp().passes(in(), ack));
  EXPECT_TRUE(dp().passes(in(), ack));
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_ESTABLISHED), 2u);
  EXPECT_EQ(dp().rule(1).packets, 1u);  // rules count decisions
  auto e = dp().ct(ctKey(n().frontend, 40000, n().endpoint, 80, kTcp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->packets, 3u);
  EXPECT_EQ(e->bytes, Datapath::seenLen(in(), syn) + 2 * Datapath::seenLen(in(), ack));
  EXPECT_EQ(e->state, MB_CT_NEW);  // no reply yet
}

TEST_P(ConntrackTest, EstablishedFlowSurvivesPolicyThatWouldDenyIt) {
  // An entry (as a previous policy would have left it) lets a flow through
  // that the current policy denies.
  mb_ct_entry e{};
  e.expires_ns = monotonicNs() + 60'000'000'000ull;
  e.state = MB_CT_ESTABLISHED;
  e.rule_id = 42;
  dp().putCt(ctKey(n().world, 40000, n().endpoint, 22, kTcp), e);
  EXPECT_TRUE(dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(40000, 22, kAck))));
  EXPECT_EQ(dp().reason(MB_REASON_ESTABLISHED), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 0u);
}

TEST_P(ConntrackTest, RstMovesToClosing) {
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kSyn))));
  EXPECT_TRUE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 40000, kSyn | kAck))));
  uint64_t before = monotonicNs();
  EXPECT_TRUE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 40000, kRst | kAck))));
  uint64_t after = monotonicNs();
  auto key = ctKey(n().frontend, 40000, n().endpoint, 80, kTcp);
  auto e = dp().ct(key);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, MB_CT_CLOSING);
  EXPECT_GE(e->expires_ns, before + MB_CT_TIMEOUT_CLOSING);
  EXPECT_LE(e->expires_ns, after + MB_CT_TIMEOUT_CLOSING);
  // Stragglers still pass, without extending the deadline.
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kAck))));
  EXPECT_EQ(dp().ct(key)->expires_ns, e->expires_ns);
}

TEST_P(ConntrackTest, FinFromBothSidesMovesToClosing) {
  auto key = ctKey(n().frontend, 40000, n().endpoint, 80, kTcp);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kSyn))));
  EXPECT_TRUE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 40000, kSyn | kAck))));
  EXPECT_EQ(dp().ct(key)->state, MB_CT_ESTABLISHED);

  EXPECT_TRUE(
      dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kFin | kAck))));
  auto e = dp().ct(key);
  EXPECT_EQ(e->state, MB_CT_ESTABLISHED);  // half closed
  EXPECT_EQ(e->flags, MB_CT_FIN_ORIG);
  EXPECT_GT(e->expires_ns, monotonicNs() + MB_CT_TIMEOUT_TCP_SYN);

  uint64_t before = monotonicNs();
  EXPECT_TRUE(
      dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(80, 40000, kFin | kAck))));
  e = dp().ct(key);
  EXPECT_EQ(e->state, MB_CT_CLOSING);
  EXPECT_EQ(e->flags, MB_CT_FIN_ORIG | MB_CT_FIN_REPLY);
  EXPECT_GE(e->expires_ns, before + MB_CT_TIMEOUT_CLOSING);
  EXPECT_LE(e->expires_ns, monotonicNs() + MB_CT_TIMEOUT_CLOSING);
  // The last ACK passes.
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kAck))));
}

TEST_P(ConntrackTest, SynOnClosingConnectionIsDecidedAgain) {
  auto key = ctKey(n().frontend, 40000, n().endpoint, 80, kTcp);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kSyn))));
  EXPECT_TRUE(
      dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kRst | kAck))));
  EXPECT_EQ(dp().ct(key)->state, MB_CT_CLOSING);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kSyn))));
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 2u);
  EXPECT_EQ(dp().ct(key)->state, MB_CT_NEW);
}

TEST_P(ConntrackTest, ExpiredEntryIsTreatedAsNew) {
  auto key = ctKey(n().world, 40000, n().endpoint, 22, kTcp);
  mb_ct_entry e{};
  e.expires_ns = 1;  // long past
  e.state = MB_CT_ESTABLISHED;
  e.rule_id = 42;
  dp().putCt(key, e);
  Bytes p = pkt(n().world, n().endpoint, kTcp, tcp(40000, 22, kAck));
  EXPECT_FALSE(dp().passes(in(), p));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS), 1u);

  // An expired reverse entry is no reply either.
  dp().putCt(ctKey(n().endpoint, 22, n().world, 40000, kTcp), e);
  EXPECT_FALSE(dp().passes(in(), p));

  // Expired entries are replaced by an allowed new flow.
  auto allowed = ctKey(n().frontend, 40000, n().endpoint, 80, kTcp);
  dp().putCt(allowed, e);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(40000, 80, kSyn))));
  auto fresh = dp().ct(allowed);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->rule_id, 1u);
  EXPECT_EQ(fresh->state, MB_CT_NEW);
  EXPECT_GT(fresh->expires_ns, monotonicNs());
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 1u);
}

TEST_P(ConntrackTest, EntriesBelongToOneEndpoint) {
  // The same tuple tracked for another endpoint (id 99; ours is 7).
  mb_ct_entry e{};
  e.expires_ns = monotonicNs() + 60'000'000'000ull;
  dp().putCt(ctKey(n().world, 40000, n().endpoint, 22, kTcp, 99), e);
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kTcp, tcp(40000, 22, kAck))));
  // Entries we create carry our id.
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40001, 443))));
  EXPECT_TRUE(dp().ct(ctKey(n().endpoint, 40001, n().world, 443, kTcp, 7)).has_value());
}

TEST_P(ConntrackTest, UdpReplyPasses) {
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kUdp, udp(5000, 53))));
  uint64_t before = monotonicNs();
  EXPECT_TRUE(dp().passes(in(), pkt(n().world, n().endpoint, kUdp, udp(53, 5000))));
  auto e = dp().ct(ctKey(n().endpoint, 5000, n().world, 53, kUdp));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, MB_CT_ESTABLISHED);
  EXPECT_GE(e->expires_ns, before + MB_CT_TIMEOUT_OTHER);
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  // Another source port on the server side is not the reply.
  EXPECT_FALSE(dp().passes(in(), pkt(n().world, n().endpoint, kUdp, udp(54, 5000))));
}

TEST_P(ConntrackTest, StrayRstCreatesNoEntry) {
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40000, 443, kRst))));
  EXPECT_EQ(dp().ctSize(), 0u);
}

MB_INSTANTIATE_FAMILY_HOOK(ConntrackTest);

}  // namespace
}  // namespace mbtest
