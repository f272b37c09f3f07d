// See environment.h.
#include "environment.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace membrane::testkit {

std::string findSystemProgram(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/", "/usr/local/sbin/", "/usr/local/bin/"})
    if (::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  return {};
}

bool runningInCi() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

std::string bpfUnavailableReason() {
  static const std::string reason = [] {
    int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr);
    if (map < 0) return std::string("creating a BPF map failed: ") + std::strerror(errno);
    close(map);
    // r0 = 0; exit: a tc program, which needs CAP_NET_ADMIN as well.
    bpf_insn insns[2] = {};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[1].code = BPF_JMP | BPF_EXIT;
    int prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, nullptr, "GPL", insns, 2, nullptr);
    if (prog < 0) return std::string("loading a tc program failed: ") + std::strerror(errno);
    close(prog);
    return std::string();
  }();
  return reason;
}

ScratchDir::ScratchDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a directory " + tmpl + ": " + std::strerror(errno));
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace membrane::testkit
