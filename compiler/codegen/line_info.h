// BTF line info (.BTF.ext's line_info: source file, line and column per
// instruction) dropped from BPF objects before they are linked. The kernel
// needs func_info and CO-RE relocations, never line info; it only makes
// verifier logs quote source lines. For the skeleton it was 237 KB of a
// class object's 630, paid by the linker, the writes, the hashing and the
// cache of every class (docs/artifacts.md, "Class objects").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace membrane::codegen {

// Every input of a link must agree: libbpf refuses to load a program with
// line info that calls a subprogram without ("failed to relocate calls"),
// so whatever is linked with a class object drops its own too.
//
// Sets the line_info length in the .BTF.ext header of `elf` (a 64-bit
// little-endian ELF object) to 0, so libbpf's linker and loader read none;
// the bytes stay, unreferenced, and a linked output no longer has them.
// Returns false, leaving `elf` as it was, when it has no .BTF.ext or the
// header is not one this understands.
bool dropLineInfo(std::string& elf);

// The line_info length in the .BTF.ext header of `elf`, or nullopt without
// one (the check of the above).
std::optional<uint32_t> lineInfoLength(const std::string& elf);

}  // namespace membrane::codegen
