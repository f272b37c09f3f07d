// Thin wrappers over what the loader asks of the kernel: bpffs, feature
// probes, network namespaces, and attaching programs with links (TCX on
// Linux 6.6+, cgroup links), with the few constants newer than our uapi
// headers defined here.
#pragma once

#include <bpf/bpf.h>

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace membrane::loader {

// A file descriptor (bpf objects, links, maps) closed when it goes out of
// scope; movable, not copyable.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// Attach types added after Linux 6.1's uapi headers.
inline constexpr int kBpfTcxIngress = 46;
inline constexpr int kBpfTcxEgress = 47;

// Now on `clock` in ns: CLOCK_MONOTONIC is the clock bpf_ktime_get_ns()
// reads, so deadlines and timestamps the datapath writes compare with it.
uint64_t clockNs(clockid_t clock);

// Makes `dir` (and parents) exist on a bpffs, mounting one at `dir` if it is
// not on one already.
bool ensureBpffs(const std::string& dir, std::string* error);

// Every key of a map with keys of type Key, all read before the caller
// deletes any (deleting while walking would skip or repeat keys).
template <typename Key>
std::vector<Key> mapKeys(int fd) {
  std::vector<Key> keys;
  Key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

// Whether a batch operation's error means the map type has no batch
// operations (older kernels, some map types), so entry by entry is next.
inline bool batchUnsupported(int err) { return err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */; }

// Every entry of a map, read in batches (BPF_MAP_LOOKUP_BATCH: one bpf()
// call per 1,024 entries instead of two per entry, from about 1 µs to 5-8 µs
// each on the VMs measured; LPM tries have them through the kernel's
// generic batch operations), or
// entry by entry where the map has none. nullopt with `error` when the
// kernel refuses a read.
template <typename Key, typename Value>
std::optional<std::vector<std::pair<Key, Value>>> mapEntries(int fd, std::string* error) {
  std::vector<std::pair<Key, Value>> out;
  constexpr uint32_t kBatch = 1024;
  std::vector<Key> keys(kBatch);
  std::vector<Value> values(kBatch);
  Key from{}, next{};
  bool first = true;
  for (;;) {
    uint32_t count = kBatch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &from, &next, keys.data(), values.data(), &count, nullptr);
    if (err < 0 && err != -ENOENT) {
      if (first && batchUnsupported(err)) break;
      if (error) *error = std::string("cannot read a map: ") + std::strerror(-err);
      return std::nullopt;
    }
    for (uint32_t i = 0; i < count; ++i) out.emplace_back(keys[i], values[i]);
    if (err == -ENOENT) return out;  // the end
    from = next;
    first = false;
  }
  for (const auto& k : mapKeys<Key>(fd)) {
    Value v{};
    if (bpf_map_lookup_elem(fd, &k, &v) == 0) out.emplace_back(k, v);  // else deleted meanwhile
  }
  return out;
}

// keys[i] → values[i] written (BPF_ANY), in batches where the map has
// batch operations. false with `error` at the first the kernel refuses.
template <typename Key, typename Value>
bool mapWrite(int fd, const std::vector<Key>& keys, const std::vector<Value>& values, std::string* error) {
  size_t done = 0;
  if (!keys.empty()) {
    uint32_t count = static_cast<uint32_t>(keys.size());
    int err = bpf_map_update_batch(fd, keys.data(), values.data(), &count, nullptr);
    if (err == 0) return true;
    if (!batchUnsupported(err) || count != 0) {
      if (error) *error = std::string("cannot write a map: ") + std::strerror(-err);
      return false;
    }
  }
  for (; done < keys.size(); ++done)
    if (bpf_map_update_elem(fd, &keys[done], &values[done], BPF_ANY) != 0) {
      if (error) *error = std::string("cannot write a map: ") + std::strerror(errno);
      return false;
    }
  return true;
}

// `keys` deleted, in batches where the map has batch operations; a key
// already gone is passed over. Returns how many were deleted.
template <typename Key>
size_t mapDelete(int fd, const std::vector<Key>& keys) {
  size_t deleted = 0, at = 0;
  bool batches = true;
  while (at < keys.size()) {
    if (batches) {
      uint32_t count = static_cast<uint32_t>(keys.size() - at);
      int err = bpf_map_delete_batch(fd, keys.data() + at, &count, nullptr);
      deleted += count;
      at += count;
      if (err == 0) break;
      if (count == 0 && batchUnsupported(err)) {
        batches = false;
      } else {
        ++at;  // keys[at] was refused (gone already): the rest in batches again
      }
      continue;
    }
    if (bpf_map_delete_elem(fd, &keys[at]) == 0) ++deleted;
    ++at;
  }
  return deleted;
}

// Names of required features (manifest `requiredFeatures`) this kernel lacks.
std::vector<std::string> missingFeatures(const std::vector<std::string>& required);

// Enters the network namespace /run/netns/NAME (or a path) for this process.
bool enterNetns(const std::string& nameOrPath, std::string* error);

// A new link attaching `progFd` at an interface (TCX) or a cgroup. Returns
// the link fd or -errno.
int attachTcx(int progFd, const std::string& interface, bool ingress, std::string* error);
int attachCgroup(int progFd, const std::string& cgroupPath, bool ingress, std::string* error);
// The same at any cgroup attach type (BPF_CGROUP_SOCK_OPS, ...).
int attachCgroupAs(int progFd, const std::string& cgroupPath, int attachType, std::string* error);

// The cls_bpf fallback for kernels without TCX (before 6.6): a direct-action
// filter at membrane's handle and priority on the interface's clsact qdisc.
// Attaching again replaces the program atomically (BPF_TC_F_REPLACE).
bool attachTc(int progFd, const std::string& interface, bool ingress, std::string* error);
bool detachTc(const std::string& interface, bool ingress);
uint32_t tcProgramId(const std::string& interface, bool ingress);
// Whether this kernel has TCX (probed once by attaching nothing).
bool tcxSupported();

// Replaces a link's program only if it still runs `oldProgFd`; atomic.
bool updateLink(int linkFd, int newProgFd, int oldProgFd, std::string* error);

// Whether the link's target (interface, cgroup) is gone.
bool linkSevered(int linkFd);
// The program id a link runs (0 on error).
uint32_t linkProgramId(int linkFd);

// What a TCX or cgroup link is attached to: the interface's index (TCX) or
// the cgroup's id (cgroup links); nullopt when the link cannot be queried.
struct LinkTarget {
  uint32_t programId = 0;
  bool tcx = false, cgroup = false;
  uint32_t ifindex = 0;   // TCX; 0 once the interface is gone
  uint64_t cgroupId = 0;  // cgroup links
};
std::optional<LinkTarget> linkTarget(int linkFd);
// The id the kernel gives the cgroup v2 directory `path` (its inode number),
// as cgroup links report it; 0 if it cannot be read.
uint64_t cgroupId(const std::string& path);
// How many levels below its hierarchy's root the cgroup v2 directory `path`
// sits (the root is 0; the kernel's ancestor level), or nullopt if `path` is
// not a cgroup v2 directory.
std::optional<uint32_t> cgroupDepth(const std::string& path);

// A loaded program: its id, its tag (16 hex digits, a hash of its
// instructions) and the ids of the maps it uses.
struct ProgramInfo {
  uint32_t id = 0;
  std::string tag;
  std::vector<uint32_t> mapIds;
};
std::optional<ProgramInfo> programInfo(int progFd);
std::optional<ProgramInfo> programInfoById(uint32_t id);
// The id of a map (0 on error).
uint32_t mapId(int mapFd);

}  // namespace membrane::loader
