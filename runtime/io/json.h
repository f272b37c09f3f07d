// Reading JSON the node is given (NODE.json, manifest.json, state.json)
// strictly: nlohmann keeps the last of two equal keys in an object, so
// `{"endpoints": [...], "endpoints": []}` would silently mean "no endpoints".
// This reader refuses a repeated key anywhere in the document, refuses
// nesting deeper than any real input has, and can tell where a member or
// element starts (line:column), so that errors found later, while
// interpreting the value, point into the file too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

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

// `v` as an integer of type T, or nullopt unless it is a JSON integer that T
// holds. nlohmann's get<T>() converts anything numeric: a float too large
// for T is undefined behaviour, and 4294967301 read as uint32_t is 5.
template <typename T>
std::optional<T> integerIn(const nlohmann::json& v) {
  static_assert(std::numeric_limits<T>::is_integer && !std::is_same_v<T, bool>);
  using Limits = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(Limits::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    bool fits = Limits::is_signed ? i >= static_cast<int64_t>(Limits::min()) && i <= static_cast<int64_t>(Limits::max())
                                  : i >= 0 && static_cast<uint64_t>(i) <= static_cast<uint64_t>(Limits::max());
    if (fits) return static_cast<T>(i);
  }
  return std::nullopt;
}

// The containers a streaming JSON reader is inside, outermost first: the
// member or element each is at, and the keys each object has had so far, so
// that a repeated key is found as it is read (nlohmann keeps the last of two
// equal keys). The one finder of repeated keys: parseJsonStrictly's, and the
// compiler's streaming inventory reader's, which reports them in its own
// words. Only the keys of the open objects are kept.
class JsonNesting {
 public:
  // A value starts (a scalar or a container): the next element when the
  // innermost container is an array.
  void value();
  // A container opens, after its value(), or closes.
  void open(bool isObject);
  void close();
  // A key of the innermost object, starting at byte `offset`: the offset of
  // the same key earlier in that object, or nullopt when it is new.
  std::optional<size_t> key(std::string k, size_t offset);

  size_t depth() const { return frames_.size(); }
  bool isObject(size_t level) const { return frames_[level].isObject; }
  // Level `level`'s current key (objects) or element index (arrays).
  const std::string& currentKey(size_t level) const { return frames_[level].key; }
  size_t currentIndex(size_t level) const { return frames_[level].count - 1; }

  // The path of the member or element being read at level `levels` - 1,
  // the outermost `levels` containers' steps, "" for none. `member`
  // forms a member step (memberPath, or a reader's own quoting).
  using MemberStep = std::string (*)(const std::string& parent, const std::string& key);
  std::string path(size_t levels, MemberStep member) const;

 private:
  struct Frame {
    bool isObject;
    std::string key;                     // objects: the member being read
    size_t count = 0;                    // arrays: elements started
    std::map<std::string, size_t> keys;  // objects: keys so far → offset
  };
  std::vector<Frame> frames_;
};

// "line:column" of a byte offset in `text`.
std::string lineColumn(const std::string& text, size_t offset);

// Member and element paths as the readers print them: "a.b", "a[3]".
std::string memberPath(const std::string& parent, const std::string& key);
std::string elementPath(const std::string& parent, size_t index);

}  // namespace membrane::io
