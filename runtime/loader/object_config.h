// What the loader checks and sets in an object between open and load:
// per-endpoint configuration of a class object: mb_config lives
// in the object's .rodata, found by its BTF so that other read-only data in
// the section never gets overwritten.
#pragma once

#include <string>

#include "abi/datapath.h"

struct bpf_object;

namespace membrane::loader {

// Call between bpf_object__open* and bpf_object__load.
bool setConfig(bpf_object* object, const mb_config& config, std::string* error);

// Whether every map `object` would reuse from a pin has the shape the object
// declares. libbpf refuses a mismatch at load with "couldn't reuse pinned
// map"; saying which map and what to do is kinder. A mismatch means the
// maps were pinned by a membrane of another datapath ABI: their programs
// still run, so they cannot be replaced in place.
bool pinnedMapsFit(bpf_object* object, std::string* error);

}  // namespace membrane::loader
