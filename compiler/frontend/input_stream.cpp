// See input_stream.h: UTF-8 to UTF-32 into a buffer of the exact size.
#include "frontend/input_stream.h"

namespace membrane::frontend {

Utf8InputStream::Utf8InputStream(std::string_view utf8) {
  size_t characters = 0;
  for (unsigned char c : utf8) characters += (c & 0xC0) != 0x80;
  _data.clear();
  _data.reserve(characters);
  for (size_t i = 0; i < utf8.size();) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(utf8[k]); };
    unsigned char lead = byte(i);
    size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    char32_t cp = length == 1 ? lead : length == 2 ? lead & 0x1F : length == 3 ? lead & 0x0F : lead & 0x07;
    bool ok = length > 0 && i + length <= utf8.size();
    for (size_t k = 1; ok && k < length; ++k) {
      ok = (byte(i + k) & 0xC0) == 0x80;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    _data.push_back(ok ? cp : U'\uFFFD');
    i += ok ? length : 1;
  }
}

}  // namespace membrane::frontend
