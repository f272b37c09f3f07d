#include "codegen/object_linker.h"

#include "libbpf/libbpf_log.h"

#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace membrane::codegen {

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
  // The whole file, read into a string of its size (no growing copies of a
  // 600 KB object).
  std::string read() const {
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw std::runtime_error(std::string("reading the linked object: ") + std::strerror(errno));
    std::string out(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(done));
      if (n < 0) throw std::runtime_error(std::string("reading the linked object: ") + std::strerror(errno));
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    out.resize(done);
    return out;
  }

 private:
  int fd_;
};

namespace {

// Links the objects at `paths` (memfds) into one.
std::string link(const std::vector<std::string>& paths) {
  libbpf::LibbpfLog log;
  MemFd output("membrane-linked");
  bpf_linker* linker = bpf_linker__new(output.path().c_str(), nullptr);
  if (!linker) throw std::runtime_error("cannot start the BPF linker: " + log.text());
  int err = 0;
  for (size_t i = 0; i < paths.size() && !err; ++i) err = bpf_linker__add_file(linker, paths[i].c_str(), nullptr);
  if (!err) err = bpf_linker__finalize(linker);
  bpf_linker__free(linker);
  if (err) throw std::runtime_error("linking the class object failed (" + std::string(std::strerror(-err)) + "): " + log.text());
  return output.read();
}

}  // namespace

StagedObject::StagedObject(std::string_view object) : fd_(std::make_unique<MemFd>("membrane-staged")) {
  fd_->write(object);
}
StagedObject::~StagedObject() = default;

std::string linkBpfObjects(const std::vector<std::string_view>& objects) {
  std::vector<std::unique_ptr<MemFd>> inputs;
  std::vector<std::string> paths;
  for (std::string_view object : objects) {
    inputs.push_back(std::make_unique<MemFd>("membrane-object"));
    inputs.back()->write(object);
    paths.push_back(inputs.back()->path());
  }
  return link(paths);
}

std::string linkBpfObjects(const StagedObject& first, std::string_view second) {
  MemFd input("membrane-object");
  input.write(second);
  return link({first.fd_->path(), input.path()});
}

}  // namespace membrane::codegen
