// The object as a whole: every program passes the verifier, program and map
// definitions match the ABI, and maps pinned by name are shared.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "fixture.h"

namespace mbtest {
namespace {

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override { MB_REQUIRE_BPF(); }
};

TEST_F(LoadTest, VerifierAcceptsEveryProgram) {
  struct Config {
    const char* name;
    Options options;
  };
  const Config configs[] = {
      {"egress open, events off", Options{}},
      {"egress enforced, all events",
       Options{.events = (1u << MB_EVENT_ALLOW) | (1u << MB_EVENT_DENY) | (1u << MB_EVENT_AUDIT),
               .egress_enforced = true}},
      {"DNS queries and names, all events",
       Options{.events = ~0u, .egress_enforced = true, .dns_features = MB_DNS_F_QUERIES | MB_DNS_F_NAMES}},
      {"DNS names only", Options{.egress_enforced = true, .dns_features = MB_DNS_F_NAMES}},
  };
  for (const auto& c : configs) {
    SCOPED_TRACE(c.name);
    Datapath dp(c.options);
    ASSERT_TRUE(dp.loaded()) << dp.error();
    for (Prog p : kAllProgs) {
      uint32_t verified = dp.verifiedInsns(p), xlated = dp.xlatedInsns(p);
      std::cout << "[ verifier ] " << c.name << ": " << progName(p) << " " << xlated
                << " insns, " << verified << " verified\n";
      RecordProperty(std::string(progName(p)) + (c.options.egress_enforced ? "_enforced" : "_open") +
                         (c.options.dns_features ? "_dns" + std::to_string(c.options.dns_features) : "") +
                         "_verified_insns",
                     std::to_string(verified));
      EXPECT_GT(xlated, 0u);
      EXPECT_GT(verified, 0u);
    }
  }
}

TEST_F(LoadTest, ProgramTypesAndAttachPoints) {
  Datapath dp;
  ASSERT_TRUE(dp.loaded()) << dp.error();
  for (Prog p : {Prog::TcFromEndpoint, Prog::TcToEndpoint})
    EXPECT_EQ(bpf_program__type(dp.program(p)), BPF_PROG_TYPE_SCHED_CLS) << progName(p);
  EXPECT_EQ(bpf_program__type(dp.program(Prog::CgroupIngress)), BPF_PROG_TYPE_CGROUP_SKB);
  EXPECT_EQ(bpf_program__expected_attach_type(dp.program(Prog::CgroupIngress)),
            BPF_CGROUP_INET_INGRESS);
  EXPECT_EQ(bpf_program__type(dp.program(Prog::CgroupEgress)), BPF_PROG_TYPE_CGROUP_SKB);
  EXPECT_EQ(bpf_program__expected_attach_type(dp.program(Prog::CgroupEgress)),
            BPF_CGROUP_INET_EGRESS);
}

TEST_F(LoadTest, MapsMatchTheAbi) {
  bpf_object* obj = bpf_object__open_file(stubObjectPath(), nullptr);
  ASSERT_NE(obj, nullptr) << std::strerror(errno);
  struct Want {
    const char* name;
    bpf_map_type type;
    uint32_t key, value, max_entries, flags;
  };
  const Want wants[] = {
      {"mb_identity", BPF_MAP_TYPE_LPM_TRIE, sizeof(mb_lpm_key), sizeof(mb_identity),
       MB_IDENTITY_MAX, BPF_F_NO_PREALLOC},
      {"mb_conntrack", BPF_MAP_TYPE_LRU_HASH, sizeof(mb_ct_key), sizeof(mb_ct_entry),
       MB_CONNTRACK_MAX, 0},
      {"mb_rule_stats", BPF_MAP_TYPE_PERCPU_HASH, 4, sizeof(mb_rule_stats), MB_RULE_STATS_UNSIZED, 0},
      {"mb_reasons", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, MB_REASON_MAX, 0},
      {"mb_events", BPF_MAP_TYPE_RINGBUF, 0, 0, MB_EVENTS_BYTES, 0},
      {"mb_fragments", BPF_MAP_TYPE_LRU_HASH, 40, 8, 8192, 0},
      {"mb_dns_pending", BPF_MAP_TYPE_LRU_HASH, sizeof(mb_dns_pending_key), sizeof(mb_dns_pending),
       MB_DNS_PENDING_MAX, 0},
      {"mb_dns_learned", BPF_MAP_TYPE_LRU_HASH, sizeof(mb_dns_learned_key), sizeof(mb_dns_learned),
       MB_DNS_LEARNED_MAX, 0},
      {"mb_dns_stats", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, MB_DNS_STAT_MAX, 0},
      {"mb_dns_nesting", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, 0},
  };
  for (const auto& w : wants) {
    SCOPED_TRACE(w.name);
    bpf_map* m = bpf_object__find_map_by_name(obj, w.name);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(bpf_map__type(m), w.type);
    EXPECT_EQ(bpf_map__key_size(m), w.key);
    EXPECT_EQ(bpf_map__value_size(m), w.value);
    EXPECT_EQ(bpf_map__max_entries(m), w.max_entries);
    EXPECT_EQ(bpf_map__map_flags(m), w.flags);
    // LIBBPF_PIN_BY_NAME: libbpf derives <root>/<name>.
    const char* pin = bpf_map__pin_path(m);
    ASSERT_NE(pin, nullptr);
    EXPECT_EQ(std::string(pin), std::string("/sys/fs/bpf/") + w.name);
  }
  // The per-endpoint config is not pinned: it is per object.
  bpf_map* rodata = bpf_object__find_map_by_name(obj, ".rodata");
  ASSERT_NE(rodata, nullptr);
  EXPECT_EQ(bpf_map__pin_path(rodata), nullptr);
  bpf_object__close(obj);
}

// Pins into a private bpffs instance (not /sys/fs/bpf), removed afterwards.
class PinningTest : public LoadTest {
 protected:
  void SetUp() override {
    LoadTest::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    char tmpl[] = "/tmp/membrane-bpffs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    if (mount("bpffs", dir_.c_str(), "bpf", 0, "mode=0700") != 0) {
      std::string why = std::string("mounting a bpffs failed: ") + std::strerror(errno);
      rmdir(dir_.c_str());
      dir_.clear();
      if (runningInCi())
        FAIL() << why;
      GTEST_SKIP() << why << " (needs CAP_SYS_ADMIN)";
    }
  }
  void TearDown() override {
    for (bpf_object* o : objs_) {
      bpf_map* m;
      bpf_object__for_each_map(m, o) {
        if (bpf_map__is_pinned(m))
          bpf_map__unpin(m, nullptr);
      }
      bpf_object__close(o);
    }
    if (!dir_.empty()) {
      EXPECT_EQ(umount2(dir_.c_str(), 0), 0) << std::strerror(errno);
      EXPECT_EQ(rmdir(dir_.c_str()), 0) << std::strerror(errno);
    }
  }
  bpf_object* openPinned(uint32_t endpoint_id) {
    bpf_object_open_opts opts{};
    opts.sz = sizeof(opts);
    opts.pin_root_path = dir_.c_str();
    bpf_object* obj = bpf_object__open_file(stubObjectPath(), &opts);
    if (!obj)
      return nullptr;
    objs_.push_back(obj);
    mb_config config{};
    config.endpoint_id = endpoint_id;
    if (!setRodata(obj, "mb_config", &config, sizeof(config)).empty())
      return nullptr;
    if (bpf_object__load(obj) != 0)
      return nullptr;
    return obj;
  }
  static uint32_t mapId(bpf_object* obj, const char* name) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    bpf_obj_get_info_by_fd(bpf_map__fd(bpf_object__find_map_by_name(obj, name)), &info, &len);
    return info.id;
  }
  std::string dir_;
  std::vector<bpf_object*> objs_;
};

TEST_F(PinningTest, MapsPinnedByNameAreSharedBetweenObjects) {
  bpf_object* a = openPinned(1);
  ASSERT_NE(a, nullptr);
  bpf_object* b = openPinned(2);
  ASSERT_NE(b, nullptr);
  for (const char* name :
       {"mb_identity", "mb_conntrack", "mb_rule_stats", "mb_reasons", "mb_events", "mb_fragments"}) {
    SCOPED_TRACE(name);
    struct stat st{};
    EXPECT_EQ(stat((dir_ + "/" + name).c_str(), &st), 0);
    EXPECT_NE(mapId(a, name), 0u);
    EXPECT_EQ(mapId(a, name), mapId(b, name));
  }
  // Per object: the config and the stub's private map.
  EXPECT_NE(mapId(a, ".rodata"), mapId(b, ".rodata"));
  EXPECT_NE(mapId(a, "stub_decide_calls"), mapId(b, "stub_decide_calls"));
}

}  // namespace
}  // namespace mbtest
