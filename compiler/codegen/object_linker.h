// Static linking of BPF ELF objects with libbpf's linker (what `bpftool gen
// object` does): the skeleton, compiled once, with each class's decision.
// In memory: inputs and output go through memfds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace membrane::codegen {

// The linked object; throws std::runtime_error with libbpf's messages.
std::string linkBpfObjects(const std::vector<std::string_view>& objects);

}  // namespace membrane::codegen
