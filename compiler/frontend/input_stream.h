// The ANTLR input stream every lexer of policy text reads from.
#pragma once

#include <string_view>

#include "antlr4-runtime.h"

namespace membrane::frontend {

// ANTLR's own ANTLRInputStream converts UTF-8 to UTF-32 with
// std::wstring_convert, which leaves the buffer with about five times the
// capacity it needs: 2 GB of heap for 100 MB of whitespace. This one sizes it
// exactly (four bytes per character). The text must be well-formed UTF-8
// (parseFile checks it first); a malformed byte passes as its own value.
class Utf8InputStream : public antlr4::ANTLRInputStream {
 public:
  explicit Utf8InputStream(std::string_view utf8);
};

}  // namespace membrane::frontend
