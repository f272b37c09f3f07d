#include "loaded_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "abi/datapath.h"
#include "identity/identity_table.h"
#include "loader/kernel.h"

namespace membrane::testing {

std::unique_ptr<LoadedObject> LoadedObject::load(const std::string& elf, uint32_t endpointId, std::string* error,
                                                 uint32_t configFlags) {
  auto object = verify::LoadedClass::load(elf, endpointId, 0, configFlags, error);
  if (!object) return nullptr;
  std::unique_ptr<LoadedObject> out(new LoadedObject());
  out->object_ = std::move(object);
  return out;
}

void LoadedObject::fillIdentities(const artifacts::Manifest& manifest, const std::vector<net::Address>& hostAddresses) {
  std::vector<identity::TrieEntry> entries;
  std::string error;
  ASSERT_TRUE(identity::buildEntries(manifest, hostAddresses, entries, &error)) << error;
  ASSERT_TRUE(object_->setIdentities(entries, &error)) << error;
}

void LoadedObject::setIdentities(const std::vector<identity::TrieEntry>& entries) {
  std::string error;
  ASSERT_TRUE(object_->setIdentities(entries, &error)) << error;
}

void LoadedObject::ownAddresses(const std::vector<net::Address>& addresses) {
  std::string error;
  ASSERT_TRUE(object_->own(addresses, &error)) << error;
}

bool LoadedObject::passes(Program p, const mbtest::Bytes& frame) {
  std::string error;
  auto passed = object_->passes(p, frame, &error);
  EXPECT_TRUE(passed) << error;
  return passed.value_or(false);
}

int LoadedObject::run(Program p, const mbtest::Bytes& frame, mbtest::Bytes* out) {
  mbtest::Bytes buffer(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = buffer.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .data_size_out = static_cast<uint32_t>(buffer.size()),
              .repeat = 1);
  EXPECT_EQ(bpf_prog_test_run_opts(object_->programFd(p), &opts), 0) << std::strerror(errno);
  if (out) {
    buffer.resize(std::min<size_t>(opts.data_size_out, buffer.size()));
    *out = std::move(buffer);
  }
  return static_cast<int>(opts.retval);
}

int LoadedObject::mapFd(const char* name) const { return object_->mapFd(name); }

uint32_t LoadedObject::verifiedInstructions(Program p) const {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(object_->programFd(p), &info, &len) != 0) return 0;
  return info.verified_insns;
}

void LoadedObject::clearConntrack() {
  int fd = object_->mapFd("mb_conntrack");
  for (const auto& k : loader::mapKeys<mb_ct_key>(fd)) bpf_map_delete_elem(fd, &k);
}

uint64_t LoadedObject::rulePackets(uint32_t ruleId) const {
  int fd = object_->mapFd("mb_rule_stats");
  int cpus = libbpf_num_possible_cpus();
  std::vector<mb_rule_stats> values(static_cast<size_t>(cpus));
  if (bpf_map_lookup_elem(fd, &ruleId, values.data()) != 0) return 0;
  uint64_t sum = 0;
  for (const auto& v : values) sum += v.packets;
  return sum;
}

}  // namespace membrane::testing
