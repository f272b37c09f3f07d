#include "loader/kernel.h"

#include "artifacts/manifest.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace membrane::loader {

uint64_t clockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace fs = std::filesystem;

namespace {
constexpr long kBpffsMagic = 0xcafe4a11;

bool onBpffs(const std::string& dir) {
  struct statfs st {};
  return statfs(dir.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kBpffsMagic;
}
}  // namespace

bool ensureBpffs(const std::string& dir, std::string* error) {
  std::error_code ec;
  // Find the nearest existing ancestor: if it is a bpffs, mkdir below it.
  fs::path p = fs::absolute(dir, ec);
  fs::path existing = p;
  while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
  if (onBpffs(existing.string())) {
    fs::create_directories(p, ec);
    if (ec && error) *error = "cannot create '" + dir + "': " + ec.message();
    return !ec;
  }
  fs::create_directories(p, ec);
  if (ec) {
    if (error) *error = "cannot create '" + dir + "': " + ec.message();
    return false;
  }
  if (onBpffs(p.string())) return true;
  if (mount("bpf", p.c_str(), "bpf", 0, "mode=0700") != 0) {
    if (error) *error = "cannot mount a bpffs at '" + dir + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

std::vector<std::string> missingFeatures(const std::vector<std::string>& required) {
  std::vector<std::string> missing;
  for (const auto& f : required) {
    int ok = 1;
    if (f == "btf") ok = fs::exists("/sys/kernel/btf/vmlinux");
    else if (f == "map:lpm_trie") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, nullptr);
    else if (f == "map:lru_hash") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LRU_HASH, nullptr);
    else if (f == "map:percpu_array") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERCPU_ARRAY, nullptr);
    else if (f == "map:ringbuf") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
    else if (f == "prog:sched_cls") ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, nullptr);
    else if (f == "prog:cgroup_skb") ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SKB, nullptr);
    // The socket layer (docs/http.md).
    else if (f == "prog:sock_ops") ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, nullptr);
    else if (f == "prog:sk_skb") ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_SKB, nullptr);
    else if (f == "prog:sk_msg") ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_MSG, nullptr);
    else if (f == "map:sockhash") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SOCKHASH, nullptr);
    else if (f == "map:prog_array") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PROG_ARRAY, nullptr);
    else if (f == "map:sk_storage") ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, nullptr);
    // Process rules (docs/process.md).
    else if (f == "prog:cgroup_sock_addr") ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, nullptr);
    else if (f == "helper:bpf_get_current_task_btf")
      ok = libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_task_btf, nullptr);
    else if (f == artifacts::kNamedPortPeersFeature) ok = 1;  // manifest content this loader reads
    else if (f == "helper:bpf_loop") ok = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, nullptr);
    else ok = 0;  // a feature this loader does not know cannot be promised
    if (ok != 1) missing.push_back(f);
  }
  return missing;
}

bool enterNetns(const std::string& nameOrPath, std::string* error) {
  std::string path = nameOrPath.find('/') == std::string::npos ? "/run/netns/" + nameOrPath : nameOrPath;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = "cannot open network namespace '" + path + "': " + std::strerror(errno);
    return false;
  }
  int rc = setns(fd, CLONE_NEWNET);
  int saved = errno;
  close(fd);
  if (rc != 0) {
    if (error) *error = "cannot enter network namespace '" + path + "': " + std::strerror(saved);
    return false;
  }
  return true;
}

int attachTcx(int progFd, const std::string& interface, bool ingress, std::string* error) {
  unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0) {
    if (error) *error = "no interface '" + interface + "' in this network namespace";
    return -ENODEV;
  }
  // libbpf 1.1 predates TCX: issue BPF_LINK_CREATE ourselves. The TCX fields
  // after `flags` stay zero (append at the end of the chain).
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.link_create.prog_fd = static_cast<__u32>(progFd);
  attr.link_create.target_ifindex = ifindex;
  attr.link_create.attach_type = static_cast<__u32>(ingress ? kBpfTcxIngress : kBpfTcxEgress);
  int fd = static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
  if (fd < 0) {
    int err = errno;
    if (error) *error = "TCX attach to " + interface + (ingress ? " ingress" : " egress") + ": " + std::strerror(err);
    return -err;
  }
  return fd;
}

int attachCgroup(int progFd, const std::string& cgroupPath, bool ingress, std::string* error) {
  return attachCgroupAs(progFd, cgroupPath, ingress ? BPF_CGROUP_INET_INGRESS : BPF_CGROUP_INET_EGRESS, error);
}

int attachCgroupAs(int progFd, const std::string& cgroupPath, int attachType, std::string* error) {
  int cg = open(cgroupPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) {
    int err = errno;
    if (error) *error = "cannot open cgroup '" + cgroupPath + "': " + std::strerror(err);
    return -err;
  }
  int fd = bpf_link_create(progFd, cg, static_cast<bpf_attach_type>(attachType), nullptr);
  int err = errno;
  close(cg);
  if (fd < 0) {
    if (error) *error = "cgroup attach to " + cgroupPath + ": " + std::strerror(err);
    return -err;
  }
  return fd;
}

namespace {
constexpr uint32_t kTcHandle = 0x6d62;   // "mb"
constexpr uint32_t kTcPriority = 0x6d62;

bool tcHook(const std::string& interface, bool ingress, bpf_tc_hook* hook, std::string* error) {
  unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0) {
    if (error) *error = "no interface '" + interface + "' in this network namespace";
    return false;
  }
  std::memset(hook, 0, sizeof *hook);
  hook->sz = sizeof *hook;
  hook->ifindex = static_cast<int>(ifindex);
  hook->attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return true;
}
}  // namespace

bool attachTc(int progFd, const std::string& interface, bool ingress, std::string* error) {
  bpf_tc_hook hook;
  if (!tcHook(interface, ingress, &hook, error)) return false;
  int err = bpf_tc_hook_create(&hook);  // the clsact qdisc; EEXIST is fine
  if (err && err != -EEXIST) {
    if (error) *error = "creating the clsact qdisc on " + interface + ": " + std::strerror(-err);
    return false;
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = progFd, .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
              .priority = kTcPriority);
  err = bpf_tc_attach(&hook, &opts);
  if (err) {
    if (error) *error = "cls_bpf attach to " + interface + (ingress ? " ingress" : " egress") + ": " + std::strerror(-err);
    return false;
  }
  return true;
}

bool detachTc(const std::string& interface, bool ingress) {
  bpf_tc_hook hook;
  if (!tcHook(interface, ingress, &hook, nullptr)) return false;
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  return bpf_tc_detach(&hook, &opts) == 0;
}

uint32_t tcProgramId(const std::string& interface, bool ingress) {
  bpf_tc_hook hook;
  if (!tcHook(interface, ingress, &hook, nullptr)) return 0;
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

bool tcxSupported() {
  // BPF_LINK_CREATE with a TCX attach type and no program: a kernel that knows
  // TCX rejects the bad fd (EBADF); one that does not rejects the type (EINVAL).
  static const bool supported = [] {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.link_create.prog_fd = static_cast<__u32>(-1);
    attr.link_create.target_ifindex = 1;
    attr.link_create.attach_type = kBpfTcxIngress;
    long rc = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr);
    return rc < 0 && errno == EBADF;
  }();
  return supported;
}

bool updateLink(int linkFd, int newProgFd, int oldProgFd, std::string* error) {
  LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE, .old_prog_fd = static_cast<__u32>(oldProgFd));
  if (bpf_link_update(linkFd, newProgFd, &opts) != 0) {
    if (error) *error = std::string("bpf_link_update: ") + std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<LinkTarget> linkTarget(int linkFd) {
  bpf_link_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(linkFd, &info, &len) != 0) return std::nullopt;
  LinkTarget t;
  t.programId = info.prog_id;
  constexpr uint32_t kLinkTypeTcx = 11;  // newer than our headers; ifindex first in its union member
  if (info.type == kLinkTypeTcx) {
    t.tcx = true;
    std::memcpy(&t.ifindex, &info.netns, sizeof t.ifindex);
  } else if (info.type == BPF_LINK_TYPE_CGROUP) {
    t.cgroup = true;
    t.cgroupId = info.cgroup.cgroup_id;
  }
  return t;
}

bool linkSevered(int linkFd) {
  // A TCX link whose device went away reports ifindex 0.
  auto t = linkTarget(linkFd);
  return !t || (t->tcx && t->ifindex == 0);
}

uint64_t cgroupId(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

std::optional<uint32_t> cgroupDepth(const std::string& path) {
  constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC
  constexpr ino_t kRootCgroupIno = 1;          // the hierarchy's root cgroup: id 1
  std::error_code ec;
  std::filesystem::path p = std::filesystem::canonical(path, ec);
  if (ec) return std::nullopt;
  // Up through the parents to the root cgroup. A mount of a subtree (a
  // cgroup namespace) never reaches it: its depths are not the kernel's.
  for (uint32_t depth = 0;; ++depth, p = p.parent_path()) {
    struct statfs fs {};
    struct stat st {};
    if (statfs(p.c_str(), &fs) != 0 || fs.f_type != kCgroup2Magic || stat(p.c_str(), &st) != 0) return std::nullopt;
    if (st.st_ino == kRootCgroupIno) return depth;
    if (p == p.parent_path()) return std::nullopt;
  }
}

std::optional<ProgramInfo> programInfo(int progFd) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(progFd, &info, &len) != 0) return std::nullopt;
  ProgramInfo out;
  out.id = info.id;
  static const char* hex = "0123456789abcdef";
  for (unsigned char b : info.tag) {
    out.tag += hex[b >> 4];
    out.tag += hex[b & 15];
  }
  // A second call with room for the map ids.
  std::vector<uint32_t> ids(info.nr_map_ids);
  if (!ids.empty()) {
    bpf_prog_info again{};
    again.nr_map_ids = static_cast<uint32_t>(ids.size());
    again.map_ids = reinterpret_cast<uint64_t>(ids.data());
    len = sizeof again;
    if (bpf_obj_get_info_by_fd(progFd, &again, &len) != 0) return std::nullopt;
    ids.resize(std::min<size_t>(ids.size(), again.nr_map_ids));
  }
  out.mapIds = std::move(ids);
  return out;
}

std::optional<ProgramInfo> programInfoById(uint32_t id) {
  int fd = id ? bpf_prog_get_fd_by_id(id) : -1;
  if (fd < 0) return std::nullopt;
  auto info = programInfo(fd);
  close(fd);
  return info;
}

uint32_t mapId(int mapFd) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  return bpf_obj_get_info_by_fd(mapFd, &info, &len) == 0 ? info.id : 0;
}

uint32_t linkProgramId(int linkFd) {
  auto t = linkTarget(linkFd);
  return t ? t->programId : 0;
}

}  // namespace membrane::loader
