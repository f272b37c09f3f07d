// A load shared by a class's endpoints (mb_config.endpoint_id 0) finds each
// packet's endpoint in mb_endpoints (lib/endpoint.h): at tc by the ifindex
// its hook sees (BPF_PROG_TEST_RUN runs packets on the loopback device,
// ifindex 1). Cgroups are found on real traffic: Enforcement.OneLoadServes...
// in tests/e2e/enforcement_e2e.cpp.
#include <bpf/bpf.h>

#include "fixture.h"

namespace mbtest {
namespace {

constexpr uint32_t kLoopbackIfindex = 1;

class SharedLoadTest : public DatapathTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    MB_REQUIRE_BPF();
    load(Options{.endpoint_id = 0, .events = 1u << MB_EVENT_DENY});
    // The fixture gave the endpoint's addresses to id 0; endpoint 12 owns them.
    dp().ownAddress(n().endpoint, 12);
  }
  const Net& n() const { return net(GetParam()); }

  void record(uint32_t ifindex, uint32_t endpoint) {
    mb_endpoint_key key{MB_ENDPOINT_BY_IFINDEX, 0, ifindex};
    mb_endpoint_entry value{endpoint, 0};
    ASSERT_EQ(bpf_map_update_elem(dp().mapFd("mb_endpoints"), &key, &value, BPF_ANY), 0);
  }
  Bytes synOut() const { return pkt(n().endpoint, n().world, kTcp, tcp(40000, 443, kSyn)); }
  Bytes synIn() const { return pkt(n().world, n().endpoint, kTcp, tcp(40000, 80, kSyn)); }
};

TEST_P(SharedLoadTest, APacketAtAHookNoEndpointIsRecordedForIsDroppedAndCounted) {
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, synOut()));
  EXPECT_FALSE(dp().passes(Prog::TcToEndpoint, synIn()));
  record(kLoopbackIfindex + 1, 12);  // another interface's endpoint
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, synOut()));
  EXPECT_EQ(dp().reason(MB_REASON_NO_ENDPOINT), 3u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_EGRESS) + dp().decideCalls(MB_DIR_INGRESS), 0u);
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(SharedLoadTest, EachPacketIsJudgedAsTheEndpointItsInterfaceIsRecordedFor) {
  record(kLoopbackIfindex, 12);
  // Egress is open in the stub: it passes, as endpoint 12 (whose address it
  // carries), and its flow is tracked under 12.
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, synOut()));
  EXPECT_TRUE(dp().ct(ctKey(n().endpoint, 40000, n().world, 443, kTcp, 12)).has_value());
  EXPECT_EQ(dp().reason(MB_REASON_NO_ENDPOINT), 0u);
  // Recorded for endpoint 13, the same address is not its own.
  record(kLoopbackIfindex, 13);
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, pkt(n().endpoint, n().world, kTcp, tcp(40001, 443, kSyn))));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 1u);
  // Ingress policy denies the world; the event names the endpoint.
  EXPECT_FALSE(dp().passes(Prog::TcToEndpoint, synIn()));
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].endpoint, 13u);
}

INSTANTIATE_TEST_SUITE_P(Families, SharedLoadTest, ::testing::Values(4, 6));

}  // namespace
}  // namespace mbtest
