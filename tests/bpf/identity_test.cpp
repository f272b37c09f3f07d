// The identity trie: longest prefix wins, the family is part of the key,
// unknown addresses are world.
#include "fixture.h"

namespace mbtest {
namespace {

using IdentityTest = DatapathTest;

TEST_F(IdentityTest, LongestPrefixWins) {
  // Inside the frontend /24 (bit 0), a /25 also carries the deny bit.
  dp().setIdentity("198.18.1.128", 25, MB_PEER_ENDPOINT, {0, 1});
  dp().setIdentity("2001:2:0:1:8000::", 65, MB_PEER_ENDPOINT, {0, 1});
  for (Prog p : {Prog::TcToEndpoint, Prog::CgroupIngress}) {
    SCOPED_TRACE(progName(p));
    EXPECT_TRUE(dp().passes(p, pkt("198.18.1.5", net(4).endpoint, kTcp, tcp(40000, 80))));
    EXPECT_FALSE(dp().passes(p, pkt("198.18.1.200", net(4).endpoint, kTcp, tcp(40000, 80))));
    EXPECT_TRUE(dp().passes(p, pkt("2001:2:0:1::5", net(6).endpoint, kTcp, tcp(40000, 80))));
    EXPECT_FALSE(dp().passes(p, pkt("2001:2:0:1:8000::1", net(6).endpoint, kTcp, tcp(40000, 80))));
  }
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_RULE), 4u);
}

TEST_F(IdentityTest, FamilyIsPartOfTheKey) {
  // An IPv6 address whose first four bytes spell 198.18.1.x is not the
  // frontend: the family word separates the tries' halves.
  EXPECT_FALSE(dp().passes(Prog::TcToEndpoint,
                           pkt("c612:105::1", net(6).endpoint, kTcp, tcp(40000, 80))));
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
}

TEST_F(IdentityTest, WorldIsEverythingElse) {
  // A default route entry for IPv4 turns the IPv4 world into the frontend.
  dp().setIdentity("0.0.0.0", 0, MB_PEER_WORLD, {0});
  EXPECT_TRUE(dp().passes(Prog::TcToEndpoint, pkt(net(4).world, net(4).endpoint, kTcp, tcp(1, 80))));
  EXPECT_FALSE(dp().passes(Prog::TcToEndpoint, pkt(net(6).world, net(6).endpoint, kTcp, tcp(1, 80))));
}

}  // namespace
}  // namespace mbtest
