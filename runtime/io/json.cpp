// See json.h: strict JSON (no repeated keys, bounded depth), with where each
// value starts.
//
// nlohmann's parser reports keys and values (parse callback, SAX) but not
// where they are. It reads its input one character at a time through an
// iterator and never ahead of the token it is finishing (except one
// character after a number), so an iterator that remembers the last
// character read tells where the parser is when it reports: on the closing
// quote of a key or string, on the '{' or '[' that opens a container, at or
// just past the end of a number or literal. The start of the token is found
// from there.
//
// Memory stays linear in the input: while parsing, only the keys of the
// objects being read are kept (to find repeats); paths are built only for an
// error, and where() finds a path's position by reading the text again.
#include "io/json.h"

#include <cstring>
#include <iterator>
#include <map>
#include <variant>
#include <vector>

namespace membrane::io {

using nlohmann::json;

namespace {

// A const char* that records, in `*last`, the last character dereferenced.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* p, const char** last) : p_(p), last_(last) {}
  const char& operator*() const {
    *last_ = p_;
    return *p_;
  }
  TrackingIterator& operator++() {
    ++p_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator old = *this;
    ++p_;
    return old;
  }
  bool operator==(const TrackingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const TrackingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  const char** last_;
};

// Offset of the opening quote of the string whose closing quote is at `close`.
size_t stringStart(const std::string& text, size_t close) {
  for (size_t i = close; i-- > 0;) {
    if (text[i] != '"') continue;
    size_t backslashes = 0;
    while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return i;
  }
  return close;
}

// Offset of the first character of the number or literal ending at or just
// before `at`.
size_t scalarStart(const std::string& text, size_t at) {
  auto part = [](char c) { return c != 0 && std::strchr("0123456789+-.eEtruefalsn", c) != nullptr; };
  if (at > 0 && at < text.size() && !part(text[at])) --at;
  while (at > 0 && part(text[at - 1])) --at;
  return at;
}

struct Refusal {
  size_t offset;
  std::string message;
};

// The parse callback: refuses repeated keys and deep nesting.
class StrictCallback {
 public:
  explicit StrictCallback(const std::string& text) : text_(text) {}
  const char* last = nullptr;

  bool operator()(int, json::parse_event_t event, json& value) {
    using E = json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        nesting_.value();
        if (nesting_.depth() >= kMaxJsonDepth)
          throw Refusal{here(), "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
        nesting_.open(event == E::object_start);
        break;
      case E::object_end:
      case E::array_end:
        nesting_.close();
        break;
      case E::key: {
        std::string key = value.get<std::string>();
        size_t at = stringStart(text_, here());
        if (auto first = nesting_.key(key, at)) {
          std::string object = nesting_.path(nesting_.depth() - 1, memberPath);
          throw Refusal{at, (object.empty() ? "" : object + ": ") + "duplicate key " + json(key).dump() +
                                " (first at " + lineColumn(text_, *first) + ")"};
        }
        break;
      }
      case E::value:
        nesting_.value();
        break;
    }
    return true;
  }

 private:
  size_t here() const { return last ? static_cast<size_t>(last - text_.data()) : 0; }

  const std::string& text_;
  JsonNesting nesting_;
};

// A path split into its members and elements: "a[1].b" is a, 1, b.
using Step = std::variant<std::string, size_t>;
std::vector<Step> stepsOf(const std::string& path) {
  std::vector<Step> steps;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos) break;
      steps.emplace_back(static_cast<size_t>(std::strtoull(path.c_str() + i + 1, nullptr, 10)));
      i = close + 1;
    } else {
      if (path[i] == '.') ++i;
      size_t end = path.find_first_of(".[", i);
      if (end == std::string::npos) end = path.size();
      steps.emplace_back(path.substr(i, end - i));
      i = end;
    }
  }
  return steps;
}

// SAX handler for where(): walks to `steps`, remembering where the deepest
// matching member or element started, and stops once the whole path is found.
class Finder : public nlohmann::json_sax<json> {
 public:
  Finder(const std::string& text, std::vector<Step> steps) : text_(text), steps_(std::move(steps)) {}
  const char* last = nullptr;
  size_t found = 0;  // offset of the deepest match
  size_t foundDepth = 0;

  bool null() override { return scalar(false); }
  bool boolean(bool) override { return scalar(false); }
  bool number_integer(number_integer_t) override { return scalar(false); }
  bool number_unsigned(number_unsigned_t) override { return scalar(false); }
  bool number_float(number_float_t, const string_t&) override { return scalar(false); }
  bool string(string_t&) override { return scalar(true); }
  bool binary(binary_t&) override { return scalar(false); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    // A member starts at its key.
    size_t at = stringStart(text_, here());
    nesting_.key(k, at);
    if (matches(nesting_.depth(), Step(k))) return reached(at);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  size_t here() const { return last ? static_cast<size_t>(last - text_.data()) : 0; }
  // Does the value about to start, at `depth`, reached by `step`, continue the match?
  bool matches(size_t depth, const Step& step) const {
    return depth <= steps_.size() && matchedDepth_ == depth - 1 && steps_[depth - 1] == step;
  }
  bool reached(size_t offset) {
    ++matchedDepth_;
    if (matchedDepth_ > foundDepth || foundDepth == 0) {
      found = offset;
      foundDepth = matchedDepth_;
    }
    return matchedDepth_ < steps_.size();  // the whole path: stop
  }
  // An element of an array starts; members were matched at their key.
  bool element(size_t offset) {
    nesting_.value();
    size_t depth = nesting_.depth();
    if (depth == 0 || nesting_.isObject(depth - 1)) return true;
    if (matches(depth, Step(nesting_.currentIndex(depth - 1)))) return reached(offset);
    return true;
  }
  bool scalar(bool isString) {
    size_t at = isString ? stringStart(text_, here()) : scalarStart(text_, here());
    bool go = element(at);
    leave(nesting_.depth());
    return go;
  }
  bool open(bool isObject) {
    bool go = element(here());
    nesting_.open(isObject);
    return go;
  }
  bool close() {
    nesting_.close();
    leave(nesting_.depth());
    return true;
  }
  // The value at `depth` (steps from the root) ended: it no longer matches.
  void leave(size_t depth) {
    if (depth > 0 && matchedDepth_ >= depth) matchedDepth_ = depth - 1;
  }

  const std::string& text_;
  std::vector<Step> steps_;
  JsonNesting nesting_;
  size_t matchedDepth_ = 0;
};

}  // namespace

void JsonNesting::value() {
  if (!frames_.empty() && !frames_.back().isObject) ++frames_.back().count;
}

void JsonNesting::open(bool isObject) { frames_.push_back({isObject, {}, 0, {}}); }

void JsonNesting::close() { frames_.pop_back(); }

std::optional<size_t> JsonNesting::key(std::string k, size_t offset) {
  Frame& f = frames_.back();
  auto [it, fresh] = f.keys.emplace(k, offset);
  f.key = std::move(k);
  if (fresh) return std::nullopt;
  return it->second;
}

std::string JsonNesting::path(size_t levels, MemberStep member) const {
  std::string p;
  for (size_t i = 0; i < levels && i < frames_.size(); ++i)
    p = frames_[i].isObject ? member(p, frames_[i].key) : elementPath(p, frames_[i].count - 1);
  return p;
}

std::string memberPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string elementPath(const std::string& parent, size_t index) { return parent + "[" + std::to_string(index) + "]"; }

std::string lineColumn(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

std::string JsonDocument::where(const std::string& path) const {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  Finder finder(text, stepsOf(path));
  const char* begin = text.data();
  try {
    json::sax_parse(TrackingIterator(begin, &finder.last), TrackingIterator(begin + text.size(), &finder.last),
                    &finder);
  } catch (const json::exception&) {
  }
  return lineColumn(text, finder.foundDepth ? finder.found : start);
}

std::optional<JsonDocument> parseJsonStrictly(const std::string& text, std::string* error) {
  JsonDocument doc;
  doc.text = text;
  StrictCallback callback(doc.text);
  const char* begin = doc.text.data();
  auto fail = [&](size_t offset, const std::string& message) {
    if (error) *error = lineColumn(doc.text, offset) + ": " + message;
    return std::nullopt;
  };
  try {
    doc.value =
        json::parse(TrackingIterator(begin, &callback.last), TrackingIterator(begin + doc.text.size(), &callback.last),
                    [&callback](int depth, json::parse_event_t e, json& v) { return callback(depth, e, v); });
  } catch (const Refusal& r) {
    return fail(r.offset, r.message);
  } catch (const json::parse_error& e) {
    // e.byte counts the offending character itself, from 1.
    std::string what = e.what();
    auto detail = what.find("error");
    detail = what.find(": ", detail == std::string::npos ? 0 : detail);
    return fail(e.byte > 0 ? e.byte - 1 : 0,
                "not valid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2)));
  } catch (const json::exception& e) {
    // Numbers out of range and the like: where the parser stopped.
    std::string what = e.what();
    auto detail = what.find("] ");
    return fail(callback.last ? static_cast<size_t>(callback.last - begin) : 0,
                "not valid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2)));
  }
  return doc;
}

}  // namespace membrane::io
