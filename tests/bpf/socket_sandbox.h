// A sandbox for the bpf tests that use real sockets (http_test.cpp,
// process_test.cpp): the calling thread in a network namespace of its own,
// set up by an `ip` script, and this process in a cgroup v2 directory of its
// own, where the tests attach cgroup programs. Both are left again (and the
// cgroup removed) by the destructor; cgroups of earlier runs killed before
// their clean-up are removed when the next one is created.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <string>

namespace mbtest {

inline std::string cgroup2Root() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
    if (type == "cgroup2") return dir;
  return "/sys/fs/cgroup/unified";
}

inline bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return bool(f);
}

// This process's cgroup v2 path below the root ("" for the root itself).
inline std::string currentCgroup() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3) == "/" ? "" : line.substr(3);
  return "";
}

class SocketSandbox {
 public:
  SocketSandbox() = default;
  SocketSandbox(const SocketSandbox&) = delete;
  SocketSandbox& operator=(const SocketSandbox&) = delete;
  ~SocketSandbox() {
    if (cgFd_ >= 0) close(cgFd_);
    if (movedIn_) writeFile(origCgroup_ + "/cgroup.procs", std::to_string(getpid()));
    if (!cgroup_.empty()) rmdir(cgroup_.c_str());
    if (inNetns_) setns(origNetns_, CLONE_NEWNET);
    if (origNetns_ >= 0) close(origNetns_);
  }

  // The calling thread (and what it forks) into a new network namespace,
  // then `script` (shell commands, `ip ...`) run there; "" when done, else why not.
  std::string enterNetns(const std::string& script) {
    origNetns_ = open("/proc/thread-self/ns/net", O_RDONLY);
    if (origNetns_ < 0) return std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno);
    if (unshare(CLONE_NEWNET) != 0) return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    inNetns_ = true;
    if (std::system(script.c_str()) != 0) return "the namespace's set-up failed: " + script;
    return "";
  }

  // This process into a new cgroup <root>/<prefix><pid>; "" when done, else why not.
  std::string enterCgroup(const std::string& prefix) {
    std::string root = cgroup2Root();
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      pid_t pid = pid_t(std::atoi(name.c_str() + prefix.size()));
      if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) rmdir(entry.path().c_str());
    }
    cgroup_ = root + "/" + prefix + std::to_string(getpid());
    if (mkdir(cgroup_.c_str(), 0755) != 0) {
      std::string why = cgroup_ + ": " + std::strerror(errno);
      cgroup_.clear();
      return why;
    }
    origCgroup_ = root + currentCgroup();
    if (!writeFile(cgroup_ + "/cgroup.procs", std::to_string(getpid()))) return "cannot move into " + cgroup_;
    movedIn_ = true;
    cgFd_ = open(cgroup_.c_str(), O_RDONLY | O_DIRECTORY);
    if (cgFd_ < 0) return cgroup_ + ": " + std::strerror(errno);
    return "";
  }

  int cgroupFd() const { return cgFd_; }
  const std::string& cgroup() const { return cgroup_; }

 private:
  int origNetns_ = -1, cgFd_ = -1;
  bool inNetns_ = false, movedIn_ = false;
  std::string cgroup_, origCgroup_;
};

}  // namespace mbtest
