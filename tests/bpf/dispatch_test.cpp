// The node's dispatchers (bpf-templates/dispatch.c, lib/dispatch.h), as the
// node loads them (the object embedded in membrane), in front of class
// loads shared by their endpoints (mb_config.endpoint_id 0): the entry a
// packet's hook finds names, per version slot, its endpoint and its load;
// mb_active_slot says which slot packets follow; whatever cannot be followed
// is dropped and counted. BPF_PROG_TEST_RUN runs packets on the loopback
// device (ifindex 1); cgroups are found on real traffic (tests/e2e).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "fixture.h"

namespace membrane::loader {
extern const std::vector<std::pair<std::string_view, std::string_view>> kEmbeddedDispatch;
}

namespace mbtest {
namespace {

constexpr uint32_t kLoopbackIfindex = 1;

class DispatchTest : public DatapathTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    MB_REQUIRE_BPF();
    load(Options{.endpoint_id = 0, .events = (1u << MB_EVENT_DENY) | (1u << MB_EVENT_SPOOFED)});
    // The fixture gave the endpoint's addresses to id 0; endpoint 12 owns them.
    dp().ownAddress(n().endpoint, 12);
    std::string_view bytes = membrane::loader::kEmbeddedDispatch.front().second;
    dispatch_ = bpf_object__open_mem(bytes.data(), bytes.size(), nullptr);
    ASSERT_NE(dispatch_, nullptr);
    bpf_map* m;
    bpf_object__for_each_map(m, dispatch_) bpf_map__set_pin_path(m, nullptr);  // fresh maps, nothing pinned
    ASSERT_EQ(bpf_object__load(dispatch_), 0);
  }
  void TearDown() override { bpf_object__close(dispatch_); }
  const Net& n() const { return net(GetParam()); }

  int mapFd(const char* name) const { return bpf_map__fd(bpf_object__find_map_by_name(dispatch_, name)); }
  void record(uint32_t ifindex, mb_endpoint_slot slot0, mb_endpoint_slot slot1) {
    mb_endpoint_key key{MB_ENDPOINT_BY_IFINDEX, 0, ifindex};
    mb_endpoint_entry value{{slot0, slot1}};
    ASSERT_EQ(bpf_map_update_elem(mapFd("mb_endpoints"), &key, &value, BPF_ANY), 0);
  }
  // Puts a class program at (slot, load) of the tc-from prog array.
  void queue(uint32_t slot, uint32_t load, const Datapath& d) {
    uint32_t index = slot * MB_LOADS_MAX + load;
    int fd = bpf_program__fd(d.program(Prog::TcFromEndpoint));
    ASSERT_EQ(bpf_map_update_elem(mapFd(MB_MAP_DISPATCH_TC_FROM), &index, &fd, BPF_ANY), 0) << std::strerror(errno);
  }
  void activate(uint32_t slot) {
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(mapFd("mb_active_slot"), &zero, &slot, BPF_ANY), 0);
  }
  // Runs a packet the endpoint sends through the tc-from dispatcher: true if it passes.
  bool sent(uint16_t sport) {
    Bytes frame = pkt(n().endpoint, n().world, kTcp, tcp(sport, 443, kSyn));
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = uint32_t(frame.size());
    opts.repeat = 1;
    int fd = bpf_program__fd(bpf_object__find_program_by_name(dispatch_, MB_PROG_DISPATCH_TC_FROM));
    EXPECT_EQ(bpf_prog_test_run_opts(fd, &opts), 0) << std::strerror(errno);
    EXPECT_TRUE(opts.retval == 0 || opts.retval == 2) << opts.retval;
    return opts.retval == 0;  // TC_ACT_OK
  }
  uint64_t dispatcherReason(uint32_t r) const {
    std::vector<uint64_t> v(static_cast<size_t>(libbpf_num_possible_cpus()));
    uint64_t total = 0;
    if (bpf_map_lookup_elem(mapFd("mb_reasons"), &r, v.data()) == 0)
      for (auto x : v) total += x;
    return total;
  }
  static constexpr mb_endpoint_slot kNone{0, MB_LOAD_NONE};
  bpf_object* dispatch_ = nullptr;
};

TEST_P(DispatchTest, APacketAtAHookWithNoEntryOrNoProgramInTheActiveSlotIsDroppedAndCounted) {
  queue(1, 0, dp());
  EXPECT_FALSE(sent(40000)) << "no entry";
  record(kLoopbackIfindex + 1, {12, 0}, {12, 0});  // another interface's endpoint
  EXPECT_FALSE(sent(40000));
  EXPECT_EQ(dispatcherReason(MB_REASON_NO_ENDPOINT), 2u);
  record(kLoopbackIfindex, kNone, {12, 0});  // its load is in slot 1 only
  EXPECT_FALSE(sent(40000)) << "slot 0 is active and names no load";
  record(kLoopbackIfindex, {12, 3}, {12, 0});  // a load with no program queued
  EXPECT_FALSE(sent(40000));
  EXPECT_EQ(dispatcherReason(MB_REASON_NO_PROGRAM), 2u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_EGRESS) + dp().decideCalls(MB_DIR_INGRESS), 0u) << "no class program ran";
  EXPECT_EQ(dp().ctSize(), 0u);
  activate(1);
  EXPECT_TRUE(sent(40000)) << "slot 1 names load 0, which has the class program";
}

TEST_P(DispatchTest, TheClassProgramJudgesEachPacketAsTheEndpointTheActiveSlotNames) {
  queue(0, 0, dp());
  queue(1, 0, dp());
  record(kLoopbackIfindex, {12, 0}, {13, 0});
  // Egress is open in the stub: it passes, as endpoint 12 (whose address it
  // carries), and its flow is tracked under 12.
  EXPECT_TRUE(sent(40000));
  EXPECT_TRUE(dp().ct(ctKey(n().endpoint, 40000, n().world, 443, kTcp, 12)).has_value());
  EXPECT_EQ(dp().reason(MB_REASON_NO_ENDPOINT), 0u);
  // In slot 1 the interface is endpoint 13's, for which the address is not its own.
  activate(1);
  EXPECT_FALSE(sent(40001));
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 1u);
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].endpoint, 13u);
}

// Two versions of one class, one per slot: flipping mb_active_slot moves
// the endpoint from one to the other, and back, with nothing else written.
TEST_P(DispatchTest, FlippingTheActiveSlotSwitchesWhichVersionJudges) {
  Datapath strict(Options{.endpoint_id = 0, .egress_enforced = true});
  ASSERT_TRUE(strict.loaded()) << strict.error();
  strict.ownAddress(n().endpoint, 12);
  queue(0, 0, dp());      // open egress
  queue(1, 0, strict);    // enforced egress: the stub allows nothing out to the world
  record(kLoopbackIfindex, {12, 0}, {12, 0});
  EXPECT_TRUE(sent(40000));
  activate(1);
  EXPECT_FALSE(sent(40001));
  EXPECT_EQ(strict.decideCalls(MB_DIR_EGRESS), 1u);
  activate(0);
  EXPECT_TRUE(sent(40002));
}

// `membrane detach` first writes MB_SLOT_DETACHED: from then on every
// dispatched hook passes every packet, found or not, and runs nothing else.
TEST_P(DispatchTest, WhileTheNodeIsBeingDetachedEveryPacketPasses) {
  Datapath strict(Options{.endpoint_id = 0, .egress_enforced = true});
  ASSERT_TRUE(strict.loaded()) << strict.error();
  strict.ownAddress(n().endpoint, 12);
  queue(0, 0, strict);
  record(kLoopbackIfindex, {12, 0}, kNone);
  EXPECT_FALSE(sent(40000));
  activate(MB_SLOT_DETACHED);
  EXPECT_TRUE(sent(40001));
  record(kLoopbackIfindex + 1, {12, 0}, kNone);  // no entry for this interface any more
  EXPECT_TRUE(sent(40002));
  EXPECT_EQ(strict.decideCalls(MB_DIR_EGRESS), 1u) << "no class program ran once detaching";
  EXPECT_EQ(dispatcherReason(MB_REASON_NO_ENDPOINT), 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, DispatchTest, ::testing::Values(4, 6));

}  // namespace
}  // namespace mbtest
