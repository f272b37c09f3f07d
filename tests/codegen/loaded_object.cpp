#include "loaded_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdarg>
#include <cstring>

#include "abi/datapath.h"
#include "loader/kernel.h"
#include "loader/libbpf_log.h"
#include "loader/object_config.h"

namespace membrane::testing {

namespace {

}  // namespace

std::string bpfUnavailableReason() {
  // The cheapest thing that needs the same privileges as loading programs.
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "mb_probe", 4, 4, 1, nullptr);
  if (fd < 0) return std::string("bpf_map_create: ") + std::strerror(errno);
  close(fd);
  return "";
}

bool runningInCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

const char* programName(Program p) {
  switch (p) {
    case Program::FromEndpoint: return "mb_tc_from_endpoint";
    case Program::ToEndpoint: return "mb_tc_to_endpoint";
    case Program::CgroupIngress: return "mb_cgroup_ingress";
    case Program::CgroupEgress: return "mb_cgroup_egress";
  }
  return "";
}

std::unique_ptr<LoadedObject> LoadedObject::load(const std::string& elf, uint32_t endpointId, std::string* error) {
  loader::LibbpfLog log;
  std::unique_ptr<LoadedObject> out(new LoadedObject());
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "membrane-class");
  out->object_ = bpf_object__open_mem(elf.data(), elf.size(), &opts);
  if (!out->object_) {
    out->object_ = nullptr;
    if (error) *error = "bpf_object__open_mem failed: " + log.text();
    return nullptr;
  }
  bpf_map* map;
  bpf_object__for_each_map(map, out->object_) {
    bpf_map__set_pin_path(map, nullptr);  // fresh, private maps for every test
  }
  mb_config config{};
  config.endpoint_id = endpointId;
  out->endpointId_ = endpointId;
  std::string configError;
  if (!loader::setConfig(out->object_, config, &configError)) {
    if (error) *error = configError;
    return nullptr;
  }
  if (int err = bpf_object__load(out->object_); err) {
    if (error) *error = "bpf_object__load failed (" + std::string(std::strerror(-err)) + "):\n" + log.tail(40);
    return nullptr;
  }
  return out;
}

LoadedObject::~LoadedObject() {
  if (object_) bpf_object__close(object_);
}

int LoadedObject::progFd(Program p) const {
  bpf_program* prog = bpf_object__find_program_by_name(object_, programName(p));
  return prog ? bpf_program__fd(prog) : -1;
}

int LoadedObject::mapFd(const char* name) const {
  bpf_map* map = bpf_object__find_map_by_name(object_, name);
  return map ? bpf_map__fd(map) : -1;
}

void LoadedObject::fillIdentities(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses) {
  std::vector<identity::TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(identity::buildEntries(manifest, hostAddresses, entries, &error)) << error;
  int fd = mapFd("mb_identity");
  ASSERT_GE(fd, 0);
  for (const auto& e : entries) ASSERT_EQ(bpf_map_update_elem(fd, &e.key, &e.value, BPF_ANY), 0) << std::strerror(errno);
}

void LoadedObject::ownAddresses(const std::vector<net::Address>& addresses) {
  int fd = mapFd("mb_endpoint_addrs");
  ASSERT_GE(fd, 0);
  uint32_t one = 1;
  for (const auto& a : addresses) {
    mb_endpoint_addr_key key = identity::ownedAddressKey(endpointId_, a);
    ASSERT_EQ(bpf_map_update_elem(fd, &key, &one, BPF_ANY), 0) << std::strerror(errno);
  }
}

int LoadedObject::run(Program p, const mbtest::Bytes& frame) {
  mbtest::Bytes out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .data_size_out = static_cast<uint32_t>(out.size()),
              .repeat = 1);
  int err = bpf_prog_test_run_opts(progFd(p), &opts);
  EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN: " << std::strerror(errno);
  return static_cast<int>(opts.retval);
}

bool LoadedObject::passes(Program p, const mbtest::Bytes& frame) {
  int rv = run(p, frame);
  bool tc = p == Program::FromEndpoint || p == Program::ToEndpoint;
  if (tc) {
    EXPECT_TRUE(rv == 0 || rv == 2) << "tc program returned " << rv;
    return rv == 0;
  }
  EXPECT_TRUE(rv == 0 || rv == 1) << "cgroup_skb program returned " << rv;
  return rv == 1;
}

uint32_t LoadedObject::verifiedInstructions(Program p) const {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(progFd(p), &info, &len) != 0) return 0;
  return info.verified_insns;
}

void LoadedObject::clearConntrack() {
  int fd = mapFd("mb_conntrack");
  for (const auto& k : loader::mapKeys<mb_ct_key>(fd)) bpf_map_delete_elem(fd, &k);
}

uint64_t LoadedObject::rulePackets(uint32_t ruleId) const {
  int fd = mapFd("mb_rule_stats");
  int cpus = libbpf_num_possible_cpus();
  std::vector<mb_rule_stats> values(static_cast<size_t>(cpus));
  if (bpf_map_lookup_elem(fd, &ruleId, values.data()) != 0) return 0;
  uint64_t sum = 0;
  for (const auto& v : values) sum += v.packets;
  return sum;
}

}  // namespace membrane::testing
