#include "frontend/lexical.h"

#include "support/utf8.h"

namespace membrane::frontend {

namespace {

bool isLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::string> quoteWord(std::string_view text) {
  // Policy files are UTF-8 as a whole.
  if (firstInvalidUtf8(text) != std::string_view::npos) return std::nullopt;
  bool bare = !text.empty() && (isLetter(text[0]) || text[0] == '_');
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    // C0 controls (line breaks among them) and DEL; the rest of UTF-8 a
    // STRING holds.
    if (u < 0x20 || u == 0x7F) return std::nullopt;
    if (!(isLetter(c) || isDigit(c) || c == '_' || c == '.' || c == '-')) bare = false;
  }
  if (bare) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string unquoteWord(std::string_view token) {
  if (token.size() < 2 || token.front() != '"') return std::string(token);
  std::string out;
  for (size_t i = 1; i + 1 < token.size(); ++i) {
    if (token[i] == '\\' && i + 2 < token.size()) ++i;
    out += token[i];
  }
  return out;
}

SourceRange characterRange(SourceRange token, std::string_view content, size_t column) {
  if (column == std::string_view::npos || column >= content.size() || token.length != content.size() + 2) return token;
  token.begin.offset += static_cast<uint32_t>(column + 1);
  token.begin.column += static_cast<uint32_t>(column + 1);
  token.length = 1;
  return token;
}

}  // namespace membrane::frontend
