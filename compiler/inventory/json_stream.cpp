// See json_stream.h: an inventory file read in two streaming passes with
// nlohmann's SAX interface.
#include "inventory/json_stream.h"

#include <string_view>
#include <utility>
#include <vector>

#include "inventory/json_reader.h"
#include "io/json.h"

namespace membrane::inventory::detail {

using nlohmann::json;

namespace {

// nlohmann reports number overflow without a position; find the literal
// outside string values so the message can still point at it.
size_t findNumberLiteral(const std::string& text, std::string_view literal) {
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (text.compare(i, literal.size(), literal) == 0 &&
               (i == 0 || std::string_view("0123456789+-.eE").find(text[i - 1]) == std::string_view::npos)) {
      return i;
    }
  }
  return std::string::npos;
}

// Pass 1: the outline, and the first repeated key.
class OutlineScanner {
 public:
  using string_t = json::string_t;

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(json::number_integer_t v) { return value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value(v); }
  bool number_float(json::number_float_t v, const string_t&) { return value(v); }
  bool string(string_t& v) { return value(std::move(v)); }
  bool binary(json::binary_t&) { return value(json::binary({})); }
  bool start_object(size_t) { return open(true); }
  bool start_array(size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  // A repeated key is reported (nlohmann keeps the last copy; like an
  // unknown key, a repeat usually means an edit went wrong).
  bool key(string_t& k) {
    if (nesting_.key(k, 0) && !duplicate_) {
      duplicate_ = true;
      duplicatePath_ = nesting_.path(nesting_.depth() - 1, memberStep);
      duplicateKey_ = k;
    }
    return true;
  }

  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    errorPosition_ = position;
    errorId_ = e.id;
    errorWhat_ = e.what();
    return false;
  }

  const json& top() const { return top_; }
  // Elements of each array at the top level, by its key.
  const std::map<std::string, size_t>& elements() const { return elements_; }
  bool duplicate() const { return duplicate_; }
  const std::string& duplicatePath() const { return duplicatePath_; }
  const std::string& duplicateKey() const { return duplicateKey_; }
  size_t errorPosition() const { return errorPosition_; }
  int errorId() const { return errorId_; }
  const std::string& errorWhat() const { return errorWhat_; }

 private:
  // Paths in messages quote keys that are not identifiers (json_reader.h).
  static std::string memberStep(const std::string& parent, const std::string& key) { return member(parent, key); }

  // A value starts (a scalar, or a container emptied): the root and the
  // root's members go into the outline.
  void starting(json&& outline) {
    size_t depth = nesting_.depth();
    if (depth == 0) {
      top_ = std::move(outline);
    } else if (depth == 1 && nesting_.isObject(0)) {
      top_[nesting_.currentKey(0)] = std::move(outline);
    } else if (depth == 2 && nesting_.isObject(0) && !nesting_.isObject(1)) {
      ++elements_[nesting_.currentKey(0)];
    }
    nesting_.value();
  }

  bool value(json&& v) {
    starting(std::move(v));
    return true;
  }

  bool open(bool object) {
    starting(object ? json::object() : json::array());
    nesting_.open(object);
    return true;
  }

  bool close() {
    nesting_.close();
    return true;
  }

  json top_;
  std::map<std::string, size_t> elements_;
  io::JsonNesting nesting_;  // finds the repeated key
  bool duplicate_ = false;
  std::string duplicatePath_, duplicateKey_;
  size_t errorPosition_ = 0;
  int errorId_ = 0;
  std::string errorWhat_;
};

// Builds a document from SAX events of text the scanner accepted. Elements
// of the top-level arrays named in `streamed` go to `onElement` (key, index,
// element) instead, one at a time.
class DocumentBuilder {
 public:
  using string_t = json::string_t;

  DocumentBuilder(std::set<std::string> streamed, ElementReader onElement)
      : streamed_(std::move(streamed)), onElement_(std::move(onElement)) {}

  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(json::number_integer_t v) { return add(v); }
  bool number_unsigned(json::number_unsigned_t v) { return add(v); }
  bool number_float(json::number_float_t v, const string_t&) { return add(v); }
  bool string(string_t& v) { return add(std::move(v)); }
  bool binary(json::binary_t& v) { return add(json::binary(std::move(v))); }
  bool start_object(size_t) { return open(json::object()); }
  bool start_array(size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(string_t& k) {
    key_ = &(*open_.back())[k];
    keys_.back() = std::move(k);
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  json& root() { return root_; }

 private:
  // Inside a streamed array, directly: the next value is one of its elements.
  bool inStreamedArray() const {
    return open_.size() == 2 && open_[0]->is_object() && open_[1]->is_array() && streamed_.count(keys_[0]);
  }

  // Where the next value goes: the root, the member whose key came last, or
  // the end of the enclosing array.
  json* slot() {
    if (open_.empty()) return &root_;
    json& parent = *open_.back();
    if (parent.is_object()) return key_;
    parent.push_back(nullptr);
    return &parent.back();
  }

  bool add(json&& v) {
    if (inStreamedArray()) {
      onElement_(keys_[0], elements_++, v);
    } else {
      *slot() = std::move(v);
    }
    return true;
  }

  bool open(json&& container) {
    if (open_.size() == 1) elements_ = 0;  // a member of the root: maybe a streamed array
    json* at = inStreamedArray() ? &element_ : slot();
    *at = std::move(container);
    open_.push_back(at);
    keys_.emplace_back();
    return true;
  }

  bool close() {
    bool element = open_.back() == &element_;
    open_.pop_back();
    keys_.pop_back();
    if (element) {
      onElement_(keys_[0], elements_++, element_);
      element_ = nullptr;
    }
    return true;
  }

  std::set<std::string> streamed_;
  ElementReader onElement_;
  json root_;
  json element_;                    // the streamed element being built
  size_t elements_ = 0;             // elements of the current streamed array so far
  std::vector<json*> open_;         // the containers being filled, outermost first
  std::vector<std::string> keys_;   // per open container: its last key (objects)
  json* key_ = nullptr;             // the member the last key named
};

}  // namespace

Outline outline(const std::string& file, const std::string& text) {
  OutlineScanner scanner;
  if (!json::sax_parse(text, &scanner)) {
    const std::string& what = scanner.errorWhat();
    if (scanner.errorId() == 406) {  // out_of_range: a number too large for a double
      auto open = what.find('\''), close = what.rfind('\'');
      std::string literal =
          open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1) : "";
      std::string where = file;
      if (size_t at = literal.empty() ? std::string::npos : findNumberLiteral(text, literal);
          at != std::string::npos) {
        where += ":" + io::lineColumn(text, at);
      }
      throw LoadError{where + ": invalid JSON: number " + literal + " is out of range"};
    }
    // The position counts the offending character itself.
    std::string at = io::lineColumn(text, scanner.errorPosition() > 0 ? scanner.errorPosition() - 1 : 0);
    auto detail = what.find(": ");
    throw LoadError{file + ":" + at + ": invalid JSON: " + (detail == std::string::npos ? what : what.substr(detail + 2))};
  }
  if (scanner.duplicate()) {
    std::string where = scanner.duplicatePath().empty() ? "" : scanner.duplicatePath() + ": ";
    throw LoadError{file + ": " + where + "duplicate key " + quote(scanner.duplicateKey())};
  }
  return {scanner.top(), scanner.elements()};
}

bool buildDocument(const std::string& text, std::set<std::string> streamed, ElementReader onElement, json& root) {
  DocumentBuilder builder(std::move(streamed), std::move(onElement));
  if (!json::sax_parse(text, &builder)) return false;
  root = std::move(builder.root());
  return true;
}

}  // namespace membrane::inventory::detail
