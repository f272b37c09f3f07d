#include "codegen/object_linker.h"

#include "libbpf/libbpf_log.h"

#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace membrane::codegen {

namespace {

class MemFd {
 public:
  explicit MemFd(const char* name) : fd_(memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  }
  ~MemFd() { close(fd_); }
  MemFd(const MemFd&) = delete;
  MemFd& operator=(const MemFd&) = delete;

  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  void write(std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(done));
      if (n <= 0) throw std::runtime_error(std::string("writing an object to memory: ") + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
  }
  std::string read() const {
    std::string out;
    char buf[65536];
    off_t at = 0;
    for (;;) {
      ssize_t n = ::pread(fd_, buf, sizeof buf, at);
      if (n < 0) throw std::runtime_error(std::string("reading the linked object: ") + std::strerror(errno));
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      at += n;
    }
    return out;
  }

 private:
  int fd_;
};

}  // namespace

std::string linkBpfObjects(const std::vector<std::string_view>& objects) {
  libbpf::LibbpfLog log;

  MemFd output("membrane-linked");
  std::vector<std::unique_ptr<MemFd>> inputs;
  bpf_linker* linker = bpf_linker__new(output.path().c_str(), nullptr);
  if (!linker) throw std::runtime_error("cannot start the BPF linker: " + log.text());
  int err = 0;
  for (size_t i = 0; i < objects.size() && !err; ++i) {
    inputs.push_back(std::make_unique<MemFd>("membrane-object"));
    inputs.back()->write(objects[i]);
    err = bpf_linker__add_file(linker, inputs.back()->path().c_str(), nullptr);
  }
  if (!err) err = bpf_linker__finalize(linker);
  bpf_linker__free(linker);
  if (err) throw std::runtime_error("linking the class object failed (" + std::string(std::strerror(-err)) + "): " + log.text());
  return output.read();
}

}  // namespace membrane::codegen
