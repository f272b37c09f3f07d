// Thin wrappers over what the loader asks of the kernel: bpffs, feature
// probes, network namespaces, and attaching programs with links (TCX on
// Linux 6.6+, cgroup links), with the few constants newer than our uapi
// headers defined here.
#pragma once

#include <bpf/bpf.h>

#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
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
