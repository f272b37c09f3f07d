#include "harness.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace mbtest {
namespace {

// libbpf's own messages only matter when something fails to load; keep
// warnings (with the verifier log) and drop the chatter.
int libbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG)
    return 0;
  return vfprintf(stderr, fmt, args);
}

struct LibbpfSetup {
  LibbpfSetup() {
    libbpf_set_print(libbpfPrint);
  }
} libbpf_setup;

int possibleCpus() {
  static int n = libbpf_num_possible_cpus();
  return n;
}

}  // namespace

std::string setRodata(bpf_object* obj, const char* name, const void* value, size_t size) {
  bpf_map* rodata = bpf_object__find_map_by_name(obj, ".rodata");
  if (!rodata)
    return "no .rodata map";
  const btf* btf = bpf_object__btf(obj);
  int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (sec_id < 0)
    return "no .rodata DATASEC in BTF";
  const btf_type* sec = btf__type_by_id(btf, sec_id);
  const btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++) {
    const btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (std::strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
      continue;
    if (vars[i].size != size)
      return std::string("size mismatch for ") + name;
    size_t total = 0;
    const void* initial = bpf_map__initial_value(rodata, &total);
    std::vector<uint8_t> data(static_cast<const uint8_t*>(initial),
                              static_cast<const uint8_t*>(initial) + total);
    std::memcpy(data.data() + vars[i].offset, value, size);
    if (bpf_map__set_initial_value(rodata, data.data(), data.size()) != 0)
      return "bpf_map__set_initial_value failed";
    return "";
  }
  return std::string("no .rodata variable ") + name;
}

const char* stubObjectPath() { return MEMBRANE_BPF_STUB_OBJ; }

const char* progName(Prog p) {
  switch (p) {
  case Prog::TcFromEndpoint:
    return MB_PROG_TC_FROM_ENDPOINT;
  case Prog::TcToEndpoint:
    return MB_PROG_TC_TO_ENDPOINT;
  case Prog::CgroupIngress:
    return MB_PROG_CGROUP_INGRESS;
  case Prog::CgroupEgress:
    return MB_PROG_CGROUP_EGRESS;
  }
  return "?";
}

int progDirection(Prog p) {
  return p == Prog::TcToEndpoint || p == Prog::CgroupIngress ? MB_DIR_INGRESS : MB_DIR_EGRESS;
}

bool progIsTc(Prog p) { return p == Prog::TcFromEndpoint || p == Prog::TcToEndpoint; }

uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

Datapath::Datapath(const Options& options) {
  bpf_object* obj = bpf_object__open_file(stubObjectPath(), nullptr);
  if (!obj) {
    error_ = std::string("open ") + stubObjectPath() + ": " + std::strerror(errno);
    return;
  }
  // No pinning in tests: fresh maps per object, nothing left in bpffs.
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    bpf_map__set_pin_path(m, nullptr);
  }
  mb_config config{};
  config.endpoint_id = options.endpoint_id;
  endpointId_ = options.endpoint_id;
  config.events = options.events;
  config.flags = options.config_flags;
  uint32_t egress = options.egress_enforced ? 1 : 0;
  std::string err = setRodata(obj, "mb_config", &config, sizeof(config));
  if (err.empty())
    err = setRodata(obj, "stub_egress_enforced", &egress, sizeof(egress));
  if (err.empty())
    err = setRodata(obj, "mb_dns_class_features", &options.dns_features, sizeof(options.dns_features));
  if (err.empty() && bpf_object__load(obj) != 0)
    err = std::string("bpf_object__load: ") + std::strerror(errno);
  if (!err.empty()) {
    error_ = err;
    bpf_object__close(obj);
    return;
  }
  obj_ = obj;
}

Datapath::~Datapath() { bpf_object__close(obj_); }

bpf_program* Datapath::program(Prog p) const {
  return bpf_object__find_program_by_name(obj_, progName(p));
}

bpf_map* Datapath::map(const char* name) const { return bpf_object__find_map_by_name(obj_, name); }

int Datapath::mapFd(const char* name) const {
  bpf_map* m = map(name);
  return m ? bpf_map__fd(m) : -1;
}

int Datapath::run(Prog p, const Bytes& frame) {
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = uint32_t(frame.size());
  opts.repeat = 1;
  int err = bpf_prog_test_run_opts(bpf_program__fd(program(p)), &opts);
  EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN(" << progName(p) << "): " << std::strerror(errno);
  return err ? -1 : int(opts.retval);
}

RunResult Datapath::runOut(Prog p, const Bytes& frame) {
  RunResult r;
  r.out.resize(frame.size() + 256);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = uint32_t(frame.size());
  opts.data_out = r.out.data();
  opts.data_size_out = uint32_t(r.out.size());
  opts.repeat = 1;
  int err = bpf_prog_test_run_opts(bpf_program__fd(program(p)), &opts);
  EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN(" << progName(p) << "): " << std::strerror(errno);
  r.retval = err ? -1 : int(opts.retval);
  r.out.resize(err ? 0 : opts.data_size_out);
  return r;
}

bool Datapath::passes(Prog p, const Bytes& frame) {
  int rc = run(p, frame);
  int pass = progIsTc(p) ? 0 /* TC_ACT_OK */ : 1;
  int drop = progIsTc(p) ? 2 /* TC_ACT_SHOT */ : 0;
  EXPECT_TRUE(rc == pass || rc == drop) << progName(p) << " returned " << rc;
  return rc == pass;
}

uint32_t Datapath::seenLen(Prog p, const Bytes& frame) {
  return uint32_t(progIsTc(p) ? frame.size() : frame.size() - 14);
}

uint64_t Datapath::reason(uint32_t r) const {
  std::vector<uint64_t> values(possibleCpus());
  if (bpf_map_lookup_elem(mapFd("mb_reasons"), &r, values.data()) != 0)
    return ~0ull;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

uint64_t Datapath::dnsStat(uint32_t stat) const {
  std::vector<uint64_t> values(possibleCpus());
  if (bpf_map_lookup_elem(mapFd("mb_dns_stats"), &stat, values.data()) != 0)
    return ~0ull;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

std::vector<std::pair<mb_dns_pending_key, mb_dns_pending>> Datapath::pending() const {
  std::vector<std::pair<mb_dns_pending_key, mb_dns_pending>> out;
  int fd = mapFd("mb_dns_pending");
  mb_dns_pending_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    mb_dns_pending v{};
    if (bpf_map_lookup_elem(fd, &next, &v) == 0)
      out.emplace_back(next, v);
    key = next;
    prev = &key;
  }
  return out;
}

namespace {
mb_dns_learned_key learnedKey(const std::string& addr, uint32_t endpoint) {
  Addr a = Addr::parse(addr);
  mb_dns_learned_key key{};
  key.endpoint = endpoint;
  key.family = uint32_t(a.family);
  std::memcpy(key.addr, a.bytes.data(), 16);
  return key;
}
}  // namespace

std::optional<mb_dns_learned> Datapath::learned(const std::string& addr,
                                                std::optional<uint32_t> endpoint) const {
  mb_dns_learned_key key = learnedKey(addr, endpoint.value_or(endpointId_));
  mb_dns_learned v{};
  if (bpf_map_lookup_elem(mapFd("mb_dns_learned"), &key, &v) != 0)
    return std::nullopt;
  return v;
}

void Datapath::putLearned(const std::string& addr, const mb_dns_learned& value,
                          std::optional<uint32_t> endpoint) {
  mb_dns_learned_key key = learnedKey(addr, endpoint.value_or(endpointId_));
  ASSERT_EQ(bpf_map_update_elem(mapFd("mb_dns_learned"), &key, &value, BPF_ANY), 0)
      << std::strerror(errno);
}

size_t Datapath::learnedSize() const {
  int fd = mapFd("mb_dns_learned");
  mb_dns_learned_key key{}, next{};
  size_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    n++;
    key = next;
    prev = &key;
  }
  return n;
}

std::vector<uint64_t> Datapath::reasons() const {
  std::vector<uint64_t> all;
  for (uint32_t r = 0; r < MB_REASON_MAX; r++) all.push_back(reason(r));
  return all;
}

mb_rule_stats Datapath::rule(uint32_t id) const {
  std::vector<mb_rule_stats> values(possibleCpus());
  mb_rule_stats sum{};
  // No entry: the rule has decided nothing yet (entries are made by a
  // rule's first decision).
  if (bpf_map_lookup_elem(mapFd("mb_rule_stats"), &id, values.data()) != 0)
    return errno == ENOENT ? mb_rule_stats{0, 0} : mb_rule_stats{~0ull, ~0ull};
  for (const auto& v : values) {
    sum.packets += v.packets;
    sum.bytes += v.bytes;
  }
  return sum;
}

uint64_t Datapath::decideCalls(int dir) const {
  uint32_t key = uint32_t(dir);
  uint64_t n = 0;
  bpf_map_lookup_elem(mapFd("stub_decide_calls"), &key, &n);
  return n;
}

void Datapath::setIdentity(const std::string& addr, int prefix, uint32_t flags,
                           std::initializer_list<int> bits, uint32_t identity) {
  Addr a = Addr::parse(addr);
  mb_lpm_key key{};
  key.prefixlen = uint32_t(32 + prefix);
  key.family = uint32_t(a.family);
  std::memcpy(key.addr, a.bytes.data(), 16);
  mb_identity value{};
  value.flags = flags;
  value.identity = identity;
  for (int bit : bits) value.bits[bit / 64] |= 1ull << (bit % 64);
  ASSERT_EQ(bpf_map_update_elem(mapFd("mb_identity"), &key, &value, BPF_ANY), 0)
      << std::strerror(errno);
}

void Datapath::ownAddress(const std::string& addr, std::optional<uint32_t> endpoint) {
  Addr a = Addr::parse(addr);
  mb_endpoint_addr_key key{};
  key.endpoint = endpoint.value_or(endpointId_);
  key.family = uint32_t(a.family);
  std::memcpy(key.addr, a.bytes.data(), 16);
  uint32_t one = 1;
  ASSERT_EQ(bpf_map_update_elem(mapFd("mb_endpoint_addrs"), &key, &one, BPF_ANY), 0)
      << std::strerror(errno);
}

std::optional<mb_ct_entry> Datapath::ct(const mb_ct_key& key) const {
  mb_ct_entry e{};
  if (bpf_map_lookup_elem(mapFd("mb_conntrack"), &key, &e) != 0)
    return std::nullopt;
  return e;
}

void Datapath::putCt(const mb_ct_key& key, const mb_ct_entry& entry) {
  ASSERT_EQ(bpf_map_update_elem(mapFd("mb_conntrack"), &key, &entry, BPF_ANY), 0)
      << std::strerror(errno);
}

std::vector<std::pair<mb_ct_key, mb_ct_entry>> Datapath::ctEntries() const {
  std::vector<std::pair<mb_ct_key, mb_ct_entry>> out;
  int fd = mapFd("mb_conntrack");
  mb_ct_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    mb_ct_entry e{};
    if (bpf_map_lookup_elem(fd, &next, &e) == 0)
      out.emplace_back(next, e);
    key = next;
    prev = &key;
  }
  return out;
}

size_t Datapath::ctSize() const { return ctEntries().size(); }

size_t Datapath::fragmentsSize() const {
  int fd = mapFd("mb_fragments");
  std::vector<uint8_t> key(bpf_map__key_size(map("mb_fragments"))), next(key.size());
  size_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    n++;
    key = next;
    prev = key.data();
  }
  return n;
}

std::vector<mb_event> Datapath::events() {
  std::vector<mb_event> out;
  auto collect = [](void* ctx, void* data, size_t size) -> int {
    auto* vec = static_cast<std::vector<mb_event>*>(ctx);
    EXPECT_EQ(size, sizeof(mb_event));
    mb_event ev{};
    std::memcpy(&ev, data, std::min(size, sizeof(ev)));
    vec->push_back(ev);
    return 0;
  };
  ring_buffer* rb = ring_buffer__new(mapFd("mb_events"), collect, &out, nullptr);
  EXPECT_NE(rb, nullptr) << "ring_buffer__new: " << std::strerror(errno);
  if (rb) {
    EXPECT_GE(ring_buffer__consume(rb), 0);
    ring_buffer__free(rb);
  }
  return out;
}

std::vector<std::string> Datapath::records() {
  std::vector<std::string> out;
  auto collect = [](void* ctx, void* data, size_t size) -> int {
    static_cast<std::vector<std::string>*>(ctx)->emplace_back(static_cast<const char*>(data), size);
    return 0;
  };
  ring_buffer* rb = ring_buffer__new(mapFd("mb_events"), collect, &out, nullptr);
  EXPECT_NE(rb, nullptr) << "ring_buffer__new: " << std::strerror(errno);
  if (rb) {
    EXPECT_GE(ring_buffer__consume(rb), 0);
    ring_buffer__free(rb);
  }
  return out;
}

namespace {
bpf_prog_info progInfo(bpf_program* prog) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0)
    return bpf_prog_info{};
  return info;
}
}  // namespace

uint32_t Datapath::verifiedInsns(Prog p) const { return progInfo(program(p)).verified_insns; }

uint32_t Datapath::xlatedInsns(Prog p) const {
  return progInfo(program(p)).xlated_prog_len / sizeof(bpf_insn);
}

mb_ct_key ctKey(const std::string& saddr, uint16_t sport, const std::string& daddr,
                uint16_t dport, uint8_t proto, uint32_t endpoint) {
  Addr s = Addr::parse(saddr), d = Addr::parse(daddr);
  mb_ct_key k{};
  std::memcpy(k.saddr, s.bytes.data(), 16);
  std::memcpy(k.daddr, d.bytes.data(), 16);
  k.sport = htons(sport);
  k.dport = htons(dport);
  k.proto = proto;
  k.family = uint8_t(s.family);
  k.endpoint = endpoint;
  return k;
}

}  // namespace mbtest
