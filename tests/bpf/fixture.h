// Shared fixtures: a loaded datapath with a small identity world.
//
//   endpoint  198.19.0.10    2001:2::10      the endpoint the programs guard (ENDPOINT);
//                                            its own addresses (mb_endpoint_addrs)
//   frontend  198.18.1.0/24  2001:2:0:1::/64 ENDPOINT, selector bit 0
//   blocked   198.18.2.0/24  2001:2:0:2::/64 ENDPOINT, bits 0 and 1 (the deny rule wins)
//   world     198.18.9.9     2001:2:0:9::9   not in the trie
//   router    198.18.0.1     2001:2::1       not in the trie; sends ICMP errors
//
// Test parameters name the address family and the hook pair (tc: to/from
// endpoint; cgroup: ingress/egress).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>

#include "harness.h"

namespace mbtest {

struct Net {
  int family;
  std::string endpoint, frontend, frontend2, blocked, world, router;
};

inline const Net& net(int family) {
  static const Net v4{4, "198.19.0.10", "198.18.1.1", "198.18.1.2", "198.18.2.2", "198.18.9.9",
                      "198.18.0.1"};
  static const Net v6{6,
                      "2001:2::10",
                      "2001:2:0:1::1",
                      "2001:2:0:1::2",
                      "2001:2:0:2::2",
                      "2001:2:0:9::9",
                      "2001:2::1"};
  return family == 4 ? v4 : v6;
}

enum class Hook { Tc, Cgroup };
inline void PrintTo(Hook h, std::ostream* os) { *os << (h == Hook::Tc ? "tc" : "cgroup_skb"); }
inline Prog ingressProg(Hook h) { return h == Hook::Tc ? Prog::TcToEndpoint : Prog::CgroupIngress; }
inline Prog egressProg(Hook h) { return h == Hook::Tc ? Prog::TcFromEndpoint : Prog::CgroupEgress; }

inline uint8_t icmpProto(int family) { return family == 4 ? kIcmp : kIcmp6; }
inline uint8_t echoRequest(int family) { return family == 4 ? 8 : 128; }
inline uint8_t echoReply(int family) { return family == 4 ? 0 : 129; }

class DatapathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MB_REQUIRE_BPF();
    load(Options{});
  }

  // (Re)loads a fresh object: new maps, given config.
  void load(const Options& options) {
    dp_.reset();
    dp_ = std::make_unique<Datapath>(options);
    ASSERT_TRUE(dp_->loaded()) << dp_->error();
    for (int family : {4, 6}) {
      const bool v4 = family == 4;
      dp_->setIdentity(net(family).endpoint, v4 ? 32 : 128, MB_PEER_ENDPOINT, {}, 100);
      dp_->ownAddress(net(family).endpoint);
      dp_->setIdentity(v4 ? "198.18.1.0" : "2001:2:0:1::", v4 ? 24 : 64, MB_PEER_ENDPOINT, {0},
                       101);
      dp_->setIdentity(v4 ? "198.18.2.0" : "2001:2:0:2::", v4 ? 24 : 64, MB_PEER_ENDPOINT,
                       {0, 1}, 102);
    }
  }

  Datapath& dp() { return *dp_; }

  // An IP packet in an Ethernet frame.
  static Bytes pkt(const std::string& src, const std::string& dst, uint8_t proto,
                   const Bytes& l4) {
    return frame(ip(Addr::parse(src), Addr::parse(dst), proto, l4));
  }

  std::unique_ptr<Datapath> dp_;
};

// Parameterized by (family, hook).
class FamilyHookTest : public DatapathTest,
                       public ::testing::WithParamInterface<std::tuple<int, Hook>> {
 protected:
  int family() const { return std::get<0>(GetParam()); }
  Hook hook() const { return std::get<1>(GetParam()); }
  const Net& n() const { return net(family()); }
  Prog in() const { return ingressProg(hook()); }
  Prog out() const { return egressProg(hook()); }
};

inline std::string familyHookName(const ::testing::TestParamInfo<std::tuple<int, Hook>>& info) {
  return std::string(std::get<0>(info.param) == 4 ? "v4" : "v6") +
         (std::get<1>(info.param) == Hook::Tc ? "_tc" : "_cgroup");
}

#define MB_INSTANTIATE_FAMILY_HOOK(Suite)                                                      \
  INSTANTIATE_TEST_SUITE_P(All, Suite,                                                          \
                           ::testing::Combine(::testing::Values(4, 6),                        \
                                              ::testing::Values(Hook::Tc, Hook::Cgroup)),     \
                           familyHookName)

}  // namespace mbtest
