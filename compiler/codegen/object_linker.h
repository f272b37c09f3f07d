// Static linking of BPF ELF objects with libbpf's linker (what `bpftool gen
// object` does): the skeleton, compiled once, with each class's decision.
// In memory: inputs and output go through memfds.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace membrane::codegen {

class MemFd;

// An object written to memory once, to be linked many times (the skeleton,
// with each class's decision).
class StagedObject {
 public:
  explicit StagedObject(std::string_view object);
  ~StagedObject();

 private:
  friend std::string linkBpfObjects(const StagedObject& first, std::string_view second);
  std::unique_ptr<MemFd> fd_;
};

// The linked object; throws std::runtime_error with libbpf's messages.
std::string linkBpfObjects(const std::vector<std::string_view>& objects);
std::string linkBpfObjects(const StagedObject& first, std::string_view second);

}  // namespace membrane::codegen
