// See input_stream.h: UTF-8 to UTF-32 into a buffer of the exact size.
#include "frontend/input_stream.h"

#include "support/utf8.h"

namespace membrane::frontend {

Utf8InputStream::Utf8InputStream(std::string_view utf8) {
  size_t characters = 0;
  for (unsigned char c : utf8) characters += (c & 0xC0) != 0x80;
  _data.clear();
  _data.reserve(characters);
  for (size_t i = 0; i < utf8.size();) _data.push_back(nextCodePoint(utf8, i));
}

}  // namespace membrane::frontend
