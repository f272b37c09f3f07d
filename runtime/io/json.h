// Reading JSON the node is given (NODE.json, manifest.json, state.json)
// strictly: nlohmann keeps the last of two equal keys in an object, so
// `{"endpoints": [...], "endpoints": []}` would silently mean "no endpoints".
// This reader refuses a repeated key anywhere in the document, refuses
// nesting deeper than any real input has, and can tell where a member or
// element starts (line:column), so that errors found later, while
// interpreting the value, point into the file too.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace membrane::io {

// Deeper documents are refused: no input of the node nests more than a few
// levels, and the reader's memory grows with the depth.
inline constexpr size_t kMaxJsonDepth = 64;

struct JsonDocument {
  nlohmann::json value;
  std::string text;  // what it was read from

  // "line:column" (1-based, columns in bytes) where the member or element
  // at `path` starts ("host.addresses[1]"; a member starts at its key; "" is
  // the root), or where its nearest enclosing one starts when it is not
  // there. Found by reading the text again: meant for error messages.
  std::string where(const std::string& path) const;
};

// Parses `text`, refusing invalid JSON, repeated keys and nesting deeper
// than kMaxJsonDepth. On failure returns nullopt and `error` is
// "line:column: <problem>", e.g.
//   "3:1: not valid JSON: syntax error while parsing object - unexpected end of input"
//   "5:3: endpoints[0]: duplicate key \"name\" (first at 4:6)"  (the object's path, then the key)
//   "1:9: duplicate key \"endpoints\" (first at 1:2)"           (at the top level)
std::optional<JsonDocument> parseJsonStrictly(const std::string& text, std::string* error);

// "line:column" of a byte offset in `text`.
std::string lineColumn(const std::string& text, size_t offset);

// Member and element paths as the readers print them: "a.b", "a[3]".
std::string memberPath(const std::string& parent, const std::string& key);
std::string elementPath(const std::string& parent, size_t index);

}  // namespace membrane::io
