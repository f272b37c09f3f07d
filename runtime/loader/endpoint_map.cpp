// The node's endpoint maps: see endpoint_map.h.
#include "loader/endpoint_map.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "loader/kernel.h"

namespace membrane::loader::endpoint_map {
namespace {

std::string pin(const std::string& bpffsRoot, const char* name) { return bpffsRoot + "/maps/" + name; }

bool failed(std::string* error, const std::string& what) {
  if (error) *error = what + ": " + std::strerror(errno);
  return false;
}

std::vector<uint32_t> readDepths(int fd) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < MB_ENDPOINT_DEPTHS_MAX; ++i) {
    uint32_t d = 0;
    if (bpf_map_lookup_elem(fd, &i, &d) != 0 || d == 0) break;
    out.push_back(d);
  }
  return out;
}

// New depths go into free places after the ones in use: the list the
// dispatchers walk only grows here.
bool appendDepths(int fd, const std::vector<Entry>& entries, std::string* error) {
  std::vector<uint32_t> have = readDepths(fd);
  for (const auto& e : entries) {
    if (e.key.kind != MB_ENDPOINT_BY_CGROUP || std::count(have.begin(), have.end(), e.depth)) continue;
    uint32_t at = static_cast<uint32_t>(have.size());
    if (at >= MB_ENDPOINT_DEPTHS_MAX) {
      errno = ENOSPC;
      return failed(error, "endpoints' cgroups sit at more than " + std::to_string(MB_ENDPOINT_DEPTHS_MAX) + " depths");
    }
    if (bpf_map_update_elem(fd, &at, &e.depth, BPF_ANY) != 0) return failed(error, "cannot fill mb_endpoint_depths");
    have.push_back(e.depth);
  }
  return true;
}

std::pair<uint32_t, uint64_t> ordered(const mb_endpoint_key& k) { return {k.kind, k.id}; }

}  // namespace

Entry byInterface(uint32_t ifindex, uint32_t endpoint) {
  Entry e;
  e.key.kind = MB_ENDPOINT_BY_IFINDEX;
  e.key.id = ifindex;
  e.endpoint = endpoint;
  return e;
}

Entry byCgroup(uint64_t cgroupId, uint32_t depth, uint32_t endpoint) {
  Entry e;
  e.key.kind = MB_ENDPOINT_BY_CGROUP;
  e.key.id = cgroupId;
  e.endpoint = endpoint;
  e.depth = depth;
  return e;
}

std::vector<uint32_t> currentDepths(const std::string& bpffsRoot) {
  Fd depths(bpf_obj_get(pin(bpffsRoot, "mb_endpoint_depths").c_str()));
  return depths.fd < 0 ? std::vector<uint32_t>{} : readDepths(depths.fd);
}

bool add(const std::string& bpffsRoot, const std::vector<Entry>& entries, uint32_t slot, std::string* error) {
  auto fail = [&](const std::string& what) { return failed(error, what); };
  Fd map(bpf_obj_get(pin(bpffsRoot, "mb_endpoints").c_str()));
  Fd depths(bpf_obj_get(pin(bpffsRoot, "mb_endpoint_depths").c_str()));
  if (map.fd < 0 || depths.fd < 0) return fail("the endpoint maps are not pinned under " + bpffsRoot + "/maps");
  if (slot >= MB_DISPATCH_SLOTS) {
    errno = EINVAL;
    return fail("no version slot " + std::to_string(slot));
  }
  std::set<std::pair<uint32_t, uint64_t>> wanted;
  for (const auto& e : entries) wanted.insert(ordered(e.key));
  for (const auto& k : mapKeys<mb_endpoint_key>(map.fd)) {
    mb_endpoint_entry value{};
    if (wanted.count(ordered(k)) || bpf_map_lookup_elem(map.fd, &k, &value) != 0) continue;
    value.slot[slot] = {0, MB_LOAD_NONE};
    if (bpf_map_update_elem(map.fd, &k, &value, BPF_EXIST) != 0 && errno != ENOENT)
      return fail("cannot update mb_endpoints");
  }
  for (const auto& e : entries) {
    mb_endpoint_entry value{};
    if (bpf_map_lookup_elem(map.fd, &e.key, &value) != 0)
      for (auto& s : value.slot) s = {0, MB_LOAD_NONE};
    value.slot[slot] = {e.endpoint, e.load};
    if (bpf_map_update_elem(map.fd, &e.key, &value, BPF_ANY) != 0) return fail("cannot fill mb_endpoints");
  }
  return appendDepths(depths.fd, entries, error);
}

bool addNew(const std::string& bpffsRoot, const Entry& entry, uint32_t slot, std::string* error) {
  Fd map(bpf_obj_get(pin(bpffsRoot, "mb_endpoints").c_str()));
  Fd depths(bpf_obj_get(pin(bpffsRoot, "mb_endpoint_depths").c_str()));
  if (map.fd < 0 || depths.fd < 0)
    return failed(error, "the endpoint maps are not pinned under " + bpffsRoot + "/maps");
  if (slot >= MB_DISPATCH_SLOTS) {
    errno = EINVAL;
    return failed(error, "no version slot " + std::to_string(slot));
  }
  // The depth first: once the entry is there, a dispatcher may look for it.
  if (!appendDepths(depths.fd, {entry}, error)) return false;
  mb_endpoint_entry value{};
  for (auto& s : value.slot) s = {0, MB_LOAD_NONE};
  value.slot[slot] = {entry.endpoint, entry.load};
  if (bpf_map_update_elem(map.fd, &entry.key, &value, BPF_NOEXIST) != 0)
    return failed(error, "cannot add to mb_endpoints");
  return true;
}

void prune(const std::string& bpffsRoot, const std::vector<Entry>& keep) {
  Fd map(bpf_obj_get(pin(bpffsRoot, "mb_endpoints").c_str()));
  if (map.fd >= 0) {
    std::set<std::pair<uint32_t, uint64_t>> wanted;
    for (const auto& e : keep) wanted.insert(ordered(e.key));
    for (const auto& k : mapKeys<mb_endpoint_key>(map.fd))
      if (!wanted.count(ordered(k))) bpf_map_delete_elem(map.fd, &k);
  }
  Fd depths(bpf_obj_get(pin(bpffsRoot, "mb_endpoint_depths").c_str()));
  if (depths.fd < 0) return;
  std::set<uint32_t> needed;
  for (const auto& e : keep)
    if (e.key.kind == MB_ENDPOINT_BY_CGROUP) needed.insert(e.depth);
  // A depth no longer needed is overwritten by the last one, then the last
  // slot cleared: the list stays a superset of what is needed throughout.
  std::vector<uint32_t> have = readDepths(depths.fd);
  for (size_t i = 0; i < have.size();) {
    if (needed.count(have[i])) {
      ++i;
      continue;
    }
    uint32_t last = static_cast<uint32_t>(have.size() - 1), at = static_cast<uint32_t>(i), zero = 0;
    if (at != last) bpf_map_update_elem(depths.fd, &at, &have[last], BPF_ANY);
    bpf_map_update_elem(depths.fd, &last, &zero, BPF_ANY);
    have[i] = have[last];
    have.pop_back();
  }
}

Snapshot snapshot(const std::string& bpffsRoot) {
  Snapshot s;
  Fd map(bpf_obj_get(pin(bpffsRoot, "mb_endpoints").c_str()));
  if (map.fd >= 0)
    for (const auto& k : mapKeys<mb_endpoint_key>(map.fd)) {
      mb_endpoint_entry e{};
      if (bpf_map_lookup_elem(map.fd, &k, &e) == 0) s.entries.push_back({k, e});
    }
  s.depths = currentDepths(bpffsRoot);
  return s;
}

void restore(const std::string& bpffsRoot, const Snapshot& before) {
  Fd map(bpf_obj_get(pin(bpffsRoot, "mb_endpoints").c_str()));
  if (map.fd >= 0) {
    std::set<std::pair<uint32_t, uint64_t>> had;
    for (const auto& [k, e] : before.entries) {
      had.insert(ordered(k));
      bpf_map_update_elem(map.fd, &k, &e, BPF_ANY);
    }
    for (const auto& k : mapKeys<mb_endpoint_key>(map.fd))
      if (!had.count(ordered(k))) bpf_map_delete_elem(map.fd, &k);
  }
  // add only appends: the depths before are a prefix of the list now.
  Fd depths(bpf_obj_get(pin(bpffsRoot, "mb_endpoint_depths").c_str()));
  if (depths.fd < 0) return;
  uint32_t zero = 0;
  for (uint32_t slot = static_cast<uint32_t>(readDepths(depths.fd).size()); slot-- > before.depths.size();)
    bpf_map_update_elem(depths.fd, &slot, &zero, BPF_ANY);
}

}  // namespace membrane::loader::endpoint_map
