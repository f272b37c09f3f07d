// UTF-8 well-formedness (RFC 3629), shared by every reader of text that must
// be UTF-8: policy files (the ANTLR input stream throws on anything else) and
// Kubernetes manifests (YAML streams are Unicode; membrane reads UTF-8 only).
#pragma once

#include <cstddef>
#include <string_view>

namespace membrane {

// Byte offset of the first byte that is not part of well-formed UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included), or
// std::string_view::npos.
size_t firstInvalidUtf8(std::string_view s);

// The code point that starts at s[i], in text already known to be well-formed
// UTF-8; advances i past it.
char32_t nextCodePoint(std::string_view s, size_t& i);

}  // namespace membrane
