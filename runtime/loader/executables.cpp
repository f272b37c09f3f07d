// See executables.h.
#include "loader/executables.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "loader/kernel.h"

namespace membrane::loader {

namespace {

// The kernel's dev_t (MKDEV in include/linux/kdev_t.h): what
// inode->i_sb->s_dev holds, which userspace's st_dev encodes differently.
uint32_t kernelDev(dev_t dev) { return (static_cast<uint32_t>(major(dev)) << 20) | minor(dev); }

}  // namespace

std::optional<mb_process_exe_key> resolveExecutable(const std::string& root, const std::string& path,
                                                    std::string* why) {
  auto fail = [&](const std::string& what) -> std::optional<mb_process_exe_key> {
    if (why) *why = what;
    return std::nullopt;
  };
  Fd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) return fail("cannot open the root '" + root + "': " + std::strerror(errno));
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  // Relative to the root: RESOLVE_IN_ROOT treats it as "/".
  std::string relative = path.substr(path.find_first_not_of('/'));
  Fd file(static_cast<int>(syscall(SYS_openat2, dir.fd, relative.c_str(), &how, sizeof how)));
  if (file.fd < 0) return fail(std::string("not found under '") + root + "': " + std::strerror(errno));
  struct stat st{};
  if (fstat(file.fd, &st) != 0) return fail(std::string("cannot stat it: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  mb_process_exe_key key{};
  key.ino = st.st_ino;
  key.dev = kernelDev(st.st_dev);
  return key;
}

bool fillExecutables(int mapFd, const std::vector<std::string>& executables, const std::string& root,
                     std::vector<std::string>* missing, std::string* error) {
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> bits;
  for (size_t i = 0; i < executables.size() && i < MB_PROCESS_EXE_BITS; ++i) {
    std::string why;
    auto key = resolveExecutable(root, executables[i], &why);
    if (!key) {
      if (missing) missing->push_back(executables[i] + ": " + why);
      continue;
    }
    bits[{key->dev, key->ino}] |= uint64_t(1) << i;
  }
  for (const auto& [file, value] : bits) {
    mb_process_exe_key key{};
    key.dev = file.first;
    key.ino = file.second;
    if (bpf_map_update_elem(mapFd, &key, &value, BPF_ANY) != 0) {
      if (error) *error = std::string("cannot fill mb_process_exe: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace membrane::loader
