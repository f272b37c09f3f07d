// Reading an inventory file in two streaming passes, never into one whole
// document: a million endpoints took 1.2 GB as a document, more than the
// endpoints themselves.
//  1. outline() checks the syntax and repeated keys and outlines the top
//     level (its keys, with scalar values such as "kind" and containers
//     emptied), so the format is known, and mistakes there are reported,
//     before anything is read.
//  2. buildDocument() builds the document, except that each element of the
//     top-level arrays named as streamed ("namespaces" and "endpoints", or
//     kubectl's "items") is handed to its reader as soon as it is complete,
//     and dropped. The rest is built as usual, those arrays left empty.
// (nlohmann's callback parser, which these passes replace, also scanned the
// whole enclosing array after every object it ended: quadratic, 3 minutes
// for a million endpoints.)
// Internal to compiler/inventory/.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace membrane::inventory::detail {

struct Outline {
  nlohmann::json top;                      // the root, its containers emptied
  std::map<std::string, size_t> elements;  // elements of each top-level array
};

// Pass 1: the outline, or LoadError with the first syntax error
// ("file:line:col: invalid JSON: ...") or repeated key ("file: path:
// duplicate key ...").
Outline outline(const std::string& file, const std::string& text);

// Pass 2, on text outline() accepted: `onElement(key, index, element)` for
// every element of the top-level arrays named in `streamed`, in order; the
// rest of the document in `root`. False if the text does not parse (it did
// in pass 1, so never).
using ElementReader = std::function<void(const std::string&, size_t, const nlohmann::json&)>;
bool buildDocument(const std::string& text, std::set<std::string> streamed, ElementReader onElement,
                   nlohmann::json& root);

}  // namespace membrane::inventory::detail
