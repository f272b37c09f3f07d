// The node's endpoint maps as apply keeps them (runtime/loader/endpoint_map.h):
// entries written into the version slot packets do not follow before
// attaching, and pruned after the commit; and the list of cgroup depths the
// dispatchers walk, which must hold every depth a running hook needs at
// every moment.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "environment.h"  // testkit: MB_REQUIRE_BPF, ScratchDir
#include "loader/endpoint_map.h"
#include "loader/kernel.h"

namespace membrane {
namespace {

namespace em = loader::endpoint_map;

// A bpffs with the two maps pinned as the objects declare them.
class EndpointMapTest : public ::testing::Test {
 protected:
  testkit::ScratchDir dir{"membrane-endpoint-map"};
  std::string root;
  void SetUp() override {
    MB_REQUIRE_BPF();
    root = (dir.path() / "bpf").string();
    std::string error;
    ASSERT_TRUE(loader::ensureBpffs(root, &error)) << error;
    ASSERT_EQ(mkdir((root + "/maps").c_str(), 0700), 0);
    LIBBPF_OPTS(bpf_map_create_opts, noPrealloc, .map_flags = BPF_F_NO_PREALLOC);
    pin(bpf_map_create(BPF_MAP_TYPE_HASH, "mb_endpoints", sizeof(mb_endpoint_key), sizeof(mb_endpoint_entry),
                       MB_ENDPOINTS_MAX, &noPrealloc),
        "mb_endpoints");
    pin(bpf_map_create(BPF_MAP_TYPE_ARRAY, "mb_endpoint_depths", 4, 4, MB_ENDPOINT_DEPTHS_MAX, nullptr),
        "mb_endpoint_depths");
  }
  void TearDown() override { umount2(root.c_str(), MNT_DETACH); }
  void pin(int fd, const char* name) {
    ASSERT_GE(fd, 0) << name << ": " << std::strerror(errno);
    ASSERT_EQ(bpf_obj_pin(fd, (root + "/maps/" + name).c_str()), 0) << name;
    close(fd);
  }
  // kind:id → endpoint, as the dispatchers would find them in `slot` (an
  // entry whose slot names no load finds nothing).
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> entries(uint32_t slot = 1) {
    std::map<std::pair<uint32_t, uint64_t>, uint32_t> out;
    loader::Fd map(bpf_obj_get((root + "/maps/mb_endpoints").c_str()));
    for (const auto& k : loader::mapKeys<mb_endpoint_key>(map.fd)) {
      mb_endpoint_entry e{};
      if (bpf_map_lookup_elem(map.fd, &k, &e) == 0 && e.slot[slot].load != MB_LOAD_NONE)
        out[{k.kind, k.id}] = e.slot[slot].endpoint;
    }
    return out;
  }
  // The entry with its load (the endpoint's id, for these tests).
  static em::Entry loaded(em::Entry e) {
    e.load = e.endpoint;
    return e;
  }
};

TEST_F(EndpointMapTest, AddRecordsEachEndpointByWhatItsHookSeesAndPruneKeepsOnlyWhatIsNeeded) {
  std::string error;
  ASSERT_TRUE(em::add(root, {loaded(em::byInterface(7, 100)), loaded(em::byCgroup(4242, 2, 101))}, 1, &error)) << error;
  EXPECT_EQ(entries(), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{
                           {{MB_ENDPOINT_BY_IFINDEX, 7}, 100}, {{MB_ENDPOINT_BY_CGROUP, 4242}, 101}}));
  EXPECT_EQ(em::currentDepths(root), std::vector<uint32_t>{2});
  em::prune(root, {em::byCgroup(4242, 2, 101)});
  EXPECT_EQ(entries(), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{{{MB_ENDPOINT_BY_CGROUP, 4242}, 101}}));
  EXPECT_EQ(em::currentDepths(root), std::vector<uint32_t>{2});
  em::prune(root, {});
  EXPECT_TRUE(entries().empty());
  EXPECT_TRUE(em::currentDepths(root).empty());
}

TEST_F(EndpointMapTest, DepthsAreOnlyAppendedBeforeTheCommitAndRemovedWithoutLosingOneInUse) {
  std::string error;
  ASSERT_TRUE(em::add(root, {em::byCgroup(1, 3, 1), em::byCgroup(2, 1, 2), em::byCgroup(3, 2, 3)}, 1, &error)) << error;
  EXPECT_EQ(em::currentDepths(root), (std::vector<uint32_t>{3, 1, 2})) << "in the order first needed";
  // A new version's endpoints at depths 2 and 4: 4 is appended, nothing moves.
  ASSERT_TRUE(em::add(root, {em::byCgroup(3, 2, 3), em::byCgroup(4, 4, 4)}, 0, &error)) << error;
  EXPECT_EQ(em::currentDepths(root), (std::vector<uint32_t>{3, 1, 2, 4}));
  // A fifth depth has no slot.
  EXPECT_FALSE(em::add(root, {em::byCgroup(5, 5, 5)}, 1, &error));
  EXPECT_NE(error.find("more than 4 depths"), std::string::npos) << error;
  // After the commit, 3 and 1 are no longer needed: the last fills the hole.
  em::prune(root, {em::byCgroup(3, 2, 3), em::byCgroup(4, 4, 4)});
  EXPECT_EQ(em::currentDepths(root), (std::vector<uint32_t>{4, 2}));
}

// A failed apply puts back what the running programs were attached with: an
// interface NODE.json gave to another endpoint is its old endpoint's again.
TEST_F(EndpointMapTest, RestoreUndoesAnAddThatOverwroteAddedAndAppended) {
  std::string error;
  ASSERT_TRUE(em::add(root, {loaded(em::byInterface(7, 100)), loaded(em::byCgroup(1, 2, 101))}, 1, &error)) << error;
  em::Snapshot before = em::snapshot(root);
  ASSERT_TRUE(em::add(root, {loaded(em::byInterface(7, 200)), loaded(em::byInterface(8, 201)), loaded(em::byCgroup(2, 3, 202))}, 0,
                        &error))
      << error;
  EXPECT_EQ(em::currentDepths(root), (std::vector<uint32_t>{2, 3}));
  em::restore(root, before);
  EXPECT_EQ(entries(), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{
                           {{MB_ENDPOINT_BY_IFINDEX, 7}, 100}, {{MB_ENDPOINT_BY_CGROUP, 1}, 101}}));
  EXPECT_EQ(em::currentDepths(root), std::vector<uint32_t>{2});
}

// The swap's invariant: writing a version into one slot never changes what
// packets following the other slot find, and an entry the new version does
// not list finds no load in its slot (its packets are dropped after the
// flip, not judged by what the slot held two versions ago).
TEST_F(EndpointMapTest, AddWritesOnlyItsSlotAndLeavesNoStaleLoadForEndpointsItDoesNotList) {
  std::string error;
  ASSERT_TRUE(em::add(root, {loaded(em::byInterface(7, 100)), loaded(em::byInterface(8, 101))}, 1, &error)) << error;
  EXPECT_TRUE(entries(0).empty()) << "a new entry's other slot names no load";
  // The next version: interface 7 now belongs to endpoint 200, 8 is gone, 9 is new.
  ASSERT_TRUE(em::add(root, {loaded(em::byInterface(7, 200)), loaded(em::byInterface(9, 202))}, 0, &error)) << error;
  EXPECT_EQ(entries(1), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{{{MB_ENDPOINT_BY_IFINDEX, 7}, 100},
                                                                           {{MB_ENDPOINT_BY_IFINDEX, 8}, 101}}))
      << "the active slot is untouched";
  EXPECT_EQ(entries(0), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{{{MB_ENDPOINT_BY_IFINDEX, 7}, 200},
                                                                           {{MB_ENDPOINT_BY_IFINDEX, 9}, 202}}));
  // And back into slot 1: 9 keeps its slot-0 entry, 8 (unlisted) loses its load.
  ASSERT_TRUE(em::add(root, {loaded(em::byInterface(7, 300))}, 1, &error)) << error;
  EXPECT_EQ(entries(1), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{{{MB_ENDPOINT_BY_IFINDEX, 7}, 300}}));
  EXPECT_EQ(entries(0), (std::map<std::pair<uint32_t, uint64_t>, uint32_t>{{{MB_ENDPOINT_BY_IFINDEX, 7}, 200},
                                                                           {{MB_ENDPOINT_BY_IFINDEX, 9}, 202}}));
}

}  // namespace
}  // namespace membrane
