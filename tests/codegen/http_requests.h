// Random HTTP requests near the edges of path, host and header patterns,
// shared by the differential tests that hold the datapath to the reference
// evaluator: tests/codegen/http_differential_test.cpp (the generated
// decision and the BPF reader, with BPF_PROG_TEST_RUN) and
// tests/e2e/http_differential_e2e.cpp (through real sockets). The same seed
// draws the same requests in both: change the order of draws here and every
// recorded seed means something else.
//
// The vocabulary (methods, path segments, host patterns, header names and
// values) is what random conditions and policies are written in, so that
// requests drawn from it come near their patterns' edges: paths that almost
// match, non-canonical and long paths (escapes of unreserved and reserved
// bytes in either case, malformed escapes, dot segments, double slashes),
// repeated headers, a missing or odd Host, now and then malformed bytes.
#pragma once

#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "features/http/http.h"
#include "seeded_random.h"

namespace membrane::testing {

inline const std::vector<std::string> kMethods = {"GET", "POST", "DELETE", "VERYLONGMETHODXY"};
inline const std::vector<std::string> kSegments = {"api", "v1",    "orders", "a",         "*",
                                            "x*",  "*.pdf", "a*b",    "files",     "%20",
                                            "a%3B", "caf%C3%A9"};
inline const std::vector<std::string> kHostPatterns = {"api.shop.test", "*.shop.test", "api-*.shop.test", "*",
                                                "shop.test",     "a*.*.test",   "x_y.test"};
inline const std::vector<std::string> kHeaderNames = {"x-api-key", "content-type", "x-env", "accept"};
inline const std::vector<std::string> kValues = {"prod", "application/json", "a b", "k1"};

inline std::string randomPathPattern(Random& r) {
  std::string p;
  size_t n = 1 + r.below(3);
  for (size_t i = 0; i < n; ++i) p += "/" + r.pick(kSegments);
  if (r.chance(0.25)) p += "/**";
  if (r.chance(0.05)) p = "/**";
  return p;
}

// Bytes a pattern matches, mostly: '*' as 0-3 characters, "**" as a tail.
inline std::string instance(Random& r, const std::string& pattern, const char* alphabet) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '*') {
      out += pattern[i];
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '*') {
      ++i;
      size_t n = r.below(3);
      for (size_t k = 0; k < n; ++k) out += (k ? "/" : "") + std::string(1 + r.below(2), alphabet[r.below(3)]);
      if (n == 0 && !out.empty()) out.pop_back();  // "/static/**" → "/static"
      continue;
    }
    size_t n = r.below(4);
    for (size_t k = 0; k < n; ++k) out += alphabet[r.below(std::strlen(alphabet))];
  }
  return out;
}

// Escapes a canonical path never holds (unreserved characters and
// separators in either case, lowercase hex, malformed ones) and some it may.
inline const std::vector<std::string> kEscapes = {"%61", "%41", "%2D", "%5F", "%7E", "%7e", "%30", "%2E", "%2e", "%2F",
                                           "%2f", "%5C", "%5c", "%20", "%3A", "%3a", "%3B", "%C3%A9", "%c3%a9",
                                           "%25", "%",   "%4",  "%G1", "%4g", "%%41", "%FF"};

inline std::string randomTarget(Random& r, const std::vector<std::string>& patterns) {
  std::string path = patterns.empty() || r.chance(0.2) ? randomPathPattern(r) : r.pick(patterns);
  path = instance(r, path, "ab.x-");
  if (path.empty()) path = "/";
  switch (r.below(26)) {
    case 0: path += "/"; break;
    case 1: if (path.size() > 1) path.pop_back(); break;
    case 2: path.insert(path.rfind('/'), "/"); break;                 // an empty segment
    case 3: path.insert(path.rfind('/'), "/."); break;                // a "." segment
    case 4: path.insert(path.rfind('/'), "/.."); break;
    case 5: path += r.chance(0.5) ? "%2F" : "%2e"; break;
    case 6: path += "?q=1&x=/a"; break;
    case 7: path = std::string(400 + r.below(200), 'a'); path[0] = '/'; break;  // around the 511-byte limit
    case 8: path = r.chance(0.5) ? "*" : "http://api.shop.test" + path; break;
    case 9: for (auto& c : path) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c))); break;
    case 10: path += "\\"; break;
    case 11: case 12: case 13: path.insert(1 + r.below(path.size()), r.pick(kEscapes)); break;
    case 14: path += r.pick(kEscapes) + (r.chance(0.5) ? "?q=%zz/../%61" : ""); break;
    case 15: path = (r.chance(0.5) ? "/" : "//.") + path; break;              // "//a", "//./a"
    case 16: path = "/" + std::string(509 + r.below(4), 'b'); break;          // 510 to 513 bytes
    case 17: path = "/" + std::string(505 + r.below(10), 'c') + "?" + std::string(r.below(50), 'q'); break;
    default: break;
  }
  return path;
}

inline std::string randomHost(Random& r) {
  std::string host = instance(r, r.pick(kHostPatterns), "ab1-");
  if (host.empty() || host == "*") host = "a";
  switch (r.below(10)) {
    case 0: host += ":8080"; break;
    case 1: host += "."; break;
    case 2: host[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(host[0]))); break;
    case 3: host += ":x"; break;
    case 4: host = "a..shop.test"; break;
    case 5: host = ""; break;
    default: break;
  }
  return host;
}

struct RandomRequest {
  std::string block;  // the raw header block
  ir::HttpRequest read;
  bool readable = false;
  bool pathUnreadable = false;  // unreadable for its path (readRequest's reasons starting "a path")
};

inline RandomRequest randomRequest(Random& r, const std::vector<std::string>& patterns) {
  std::string method = r.chance(0.9) ? r.pick(kMethods) : (r.chance(0.5) ? "get" : "VERYLONGMETHODXYZ");
  if (r.chance(0.3)) method = "GET";
  std::string block = method + " " + randomTarget(r, patterns) + (r.chance(0.5) ? " HTTP/1.1" : " HTTP/1.0") + "\r\n";
  if (r.chance(0.85)) block += "Host: " + randomHost(r) + "\r\n";
  size_t headers = r.below(5);
  std::vector<std::string> lines;
  for (size_t i = 0; i < headers; ++i) {
    std::string name = r.pick(kHeaderNames);
    if (r.chance(0.3)) name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    std::string value = r.chance(0.8) ? r.pick(kValues) : "prodx";
    lines.push_back(name + ":" + (r.chance(0.5) ? " " : "") + value + (r.chance(0.2) ? " \t" : "") + "\r\n");
  }
  // A header sent twice: a value condition then fails, whatever the values.
  if (!lines.empty() && r.chance(0.4)) lines.push_back(lines[r.below(lines.size())]);
  for (const auto& l : lines) block += l;
  // Sometimes malformed as well: the readers must refuse it for that first,
  // whatever its path.
  if (r.chance(0.05)) {
    static const std::vector<std::string> kMalformed = {"Host: a\r\nHost: b\r\n", "Content-Length: 1x\r\n",
                                                        "Transfer-Encoding: gzip\r\n", "X-Folded: a\r\n b\r\n",
                                                        "No colon\r\n"};
    block += r.pick(kMalformed);
  }
  block += "\r\n";
  RandomRequest out;
  out.block = block;
  ir::HttpMessage m = features::http::readRequest(block);
  out.readable = m.kind == ir::HttpMessage::Kind::Request;
  out.pathUnreadable = !out.readable && m.why.starts_with("a path");
  out.read = m.request;
  return out;
}

}  // namespace membrane::testing
