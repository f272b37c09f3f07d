// Thin wrappers over what the loader asks of the kernel: bpffs, feature
// probes, network namespaces, and attaching programs with links (TCX on
// Linux 6.6+, cgroup links), with the few constants newer than our uapi
// headers defined here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace membrane::loader {

// Attach types added after Linux 6.1's uapi headers.
inline constexpr int kBpfTcxIngress = 46;
inline constexpr int kBpfTcxEgress = 47;

// Makes `dir` (and parents) exist on a bpffs, mounting one at `dir` if it is
// not on one already.
bool ensureBpffs(const std::string& dir, std::string* error);

// Names of required features (manifest `requiredFeatures`) this kernel lacks.
std::vector<std::string> missingFeatures(const std::vector<std::string>& required);

// Enters the network namespace /run/netns/NAME (or a path) for this process.
bool enterNetns(const std::string& nameOrPath, std::string* error);

// A new link attaching `progFd` at an interface (TCX) or a cgroup. Returns
// the link fd or -errno.
int attachTcx(int progFd, const std::string& interface, bool ingress, std::string* error);
int attachCgroup(int progFd, const std::string& cgroupPath, bool ingress, std::string* error);

// Replaces a link's program only if it still runs `oldProgFd`; atomic.
bool updateLink(int linkFd, int newProgFd, int oldProgFd, std::string* error);

// The program id a link runs (0 on error).
uint32_t linkProgramId(int linkFd);

}  // namespace membrane::loader
