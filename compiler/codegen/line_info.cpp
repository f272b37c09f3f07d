// See line_info.h.
#include "codegen/line_info.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace membrane::codegen {

namespace {

template <typename T>
bool readAt(const std::string& bytes, uint64_t offset, T& out) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + offset, sizeof(T));
  return true;
}

// The kernel's struct btf_ext_header (include/uapi/linux/btf.h's layout;
// BTF.ext is always in the object's byte order, little-endian for bpfel).
constexpr uint16_t kBtfMagic = 0xeB9F;
constexpr uint64_t kLineInfoLenAt = 20;  // magic, version, flags, hdr_len, func_info off/len, line_info_off

}  // namespace

namespace {

// Where the line_info length of `elf`'s .BTF.ext header is, if it has one.
std::optional<uint64_t> lineInfoLengthOffset(const std::string& elf) {
  // ELF64 little-endian only: e_ident, then e_shoff at 0x28, e_shentsize,
  // e_shnum and e_shstrndx at 0x3a.
  if (elf.size() < 0x40 || elf.compare(0, 4, "\x7f" "ELF") != 0 || elf[4] != 2 || elf[5] != 1) return std::nullopt;
  uint64_t shoff = 0;
  uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  if (!readAt(elf, 0x28, shoff) || !readAt(elf, 0x3a, shentsize) || !readAt(elf, 0x3c, shnum) ||
      !readAt(elf, 0x3e, shstrndx) || shentsize < 0x40 || shstrndx >= shnum)
    return std::nullopt;
  auto section = [&](uint16_t i, uint32_t& name, uint64_t& offset, uint64_t& size) {
    uint64_t at = shoff + uint64_t(i) * shentsize;
    return readAt(elf, at, name) && readAt(elf, at + 0x18, offset) && readAt(elf, at + 0x20, size) &&
           offset <= elf.size() && size <= elf.size() - offset;
  };
  uint32_t ignored = 0;
  uint64_t strOffset = 0, strSize = 0;
  if (!section(shstrndx, ignored, strOffset, strSize)) return std::nullopt;
  std::string_view names(elf.data() + strOffset, strSize);
  for (uint16_t i = 0; i < shnum; ++i) {
    uint32_t name = 0;
    uint64_t offset = 0, size = 0;
    if (!section(i, name, offset, size) || name >= names.size()) continue;
    std::string_view sectionName = names.substr(name);
    if (sectionName.substr(0, sectionName.find('\0')) != ".BTF.ext") continue;
    uint16_t magic = 0;
    uint32_t headerLength = 0;
    if (size < kLineInfoLenAt + 4 || !readAt(elf, offset, magic) || magic != kBtfMagic ||
        !readAt(elf, offset + 4, headerLength) || headerLength < kLineInfoLenAt + 4)
      return std::nullopt;
    return offset + kLineInfoLenAt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint32_t> lineInfoLength(const std::string& elf) {
  auto at = lineInfoLengthOffset(elf);
  uint32_t length = 0;
  if (!at || !readAt(elf, *at, length)) return std::nullopt;
  return length;
}

bool dropLineInfo(std::string& elf) {
  auto at = lineInfoLengthOffset(elf);
  uint32_t length = 0;
  if (!at || !readAt(elf, *at, length) || length == 0) return false;
  uint32_t none = 0;
  std::memcpy(elf.data() + *at, &none, sizeof none);
  return true;
}

}  // namespace membrane::codegen
