// Per-endpoint configuration of a class object before load: mb_config lives
// in the object's .rodata, found by its BTF so that other read-only data in
// the section never gets overwritten.
#pragma once

#include <string>

#include "abi/datapath.h"

struct bpf_object;

namespace membrane::loader {

// Call between bpf_object__open* and bpf_object__load.
bool setConfig(bpf_object* object, const mb_config& config, std::string* error);

}  // namespace membrane::loader
