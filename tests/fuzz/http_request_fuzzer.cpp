// libFuzzer target: arbitrary bytes as what a client sends on a port HTTP
// rules police, through the reference request reader the evaluator, explain
// and the differential tests use (features::http::readRequest,
// docs/http.md "What the datapath reads"), then through what the evaluator
// asks of the request it read (pathOf, hostOf, path pattern matching).
//
// A bug is anything that escapes as an exception, any ASan/UBSan report, and
// these broken promises (each abort()s with a message):
//   - the reader returns neither a request nor an unreadable reason, or an
//     unreadable verdict without a reason;
//   - it accepts a request the docs call unreadable: a method or header name
//     that is not a token, a target with a byte outside visible ASCII, a
//     path that is not canonical or longer than 511 bytes, two Host or
//     Content-Length headers, both Content-Length and Transfer-Encoding, a
//     Content-Length that is not digits, a header value with a control byte
//     or not trimmed;
//   - the verdict depends on anything after the header block (the first
//     request is decided by its header block alone: the same bytes cut just
//     after the empty line, or followed by other bytes, read the same), or a
//     header block cut short reads as anything but "does not end" (TLS and
//     the HTTP/2 preface aside): the datapath holds such a block back;
//   - a request written back as a header block ("METHOD TARGET HTTP/1.1",
//     "Name: value" lines) reads as a different request;
//   - hostOf gives a host that is empty, longer than 253, or holds a
//     character outside a-z 0-9 - _ .;
//   - a path pattern's match disagrees with what docs/http.md says it
//     matches, for three patterns with an exact description ('*' in the
//     last segment, a final "**", a '*' before a suffix).
//
// Seeds: tests/fuzz/corpus/http_request/ (requests as curl and wrk send
// them, pipelined and with bodies, and one of each unreadable kind);
// http_request.dict holds the methods, header names and path pieces. Run:
// FUZZ_TARGETS=http_request tests/fuzz/run_fuzz.sh; a longer run is 10
// minutes (FUZZ_SECONDS=600). Inputs past the 8 KiB header block limit only
// exercise the "too long" branch: http_request.args lets inputs reach 10 KiB.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <variant>

#include "features/http/http.h"
#include "names/dns.h"
#include "names/http.h"

namespace {

using namespace membrane;
using ir::HttpMessage;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "http_request_fuzzer: %s\n", what.c_str());
  std::abort();
}

bool sameMessage(const HttpMessage& a, const HttpMessage& b) {
  return a.kind == b.kind && a.why == b.why && a.request.method == b.request.method &&
         a.request.target == b.request.target && a.request.headers == b.request.headers;
}

std::string show(const HttpMessage& m) {
  if (m.kind == HttpMessage::Kind::Unreadable) return "unreadable (" + m.why + ")";
  if (m.kind == HttpMessage::Kind::None) return "none";
  return "request " + m.request.method + " " + m.request.target + " with " + std::to_string(m.request.headers.size()) +
         " headers";
}

bool isDnsChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; }

bool noSlash(std::string_view s) { return s.find('/') == std::string_view::npos; }

// A request the reader accepted, held to the reading rules docs/http.md states.
void checkRequest(const ir::HttpRequest& r) {
  if (r.method.empty()) broken("an empty method accepted");
  for (char c : r.method)
    if (!names::isHttpTokenChar(c)) broken("a method that is not a token accepted: " + r.method);
  if (r.target.empty()) broken("an empty target accepted");
  for (char c : r.target)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
      broken("a target byte outside visible ASCII accepted");
  std::string_view path = features::http::pathOf(r);
  if (path.size() > names::kHttpPathMaxBytes) broken("a path over the limit accepted");
  if (!names::httpPathCanonical(path)) broken("a path that is not canonical accepted: " + std::string(path));
  size_t hosts = 0, lengths = 0, codings = 0;
  for (const auto& [name, value] : r.headers) {
    if (name.empty()) broken("a header without a name accepted");
    for (char c : name)
      if (!names::isHttpTokenChar(c)) broken("a header name that is not a token accepted: " + name);
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        broken("a control byte in a value accepted");
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    if (!value.empty() && (blank(value.front()) || blank(value.back())))
      broken("a value not trimmed: '" + value + "'");
    std::string lower = names::asciiLower(name);
    hosts += lower == "host";
    codings += lower == "transfer-encoding";
    if (lower == "content-length") {
      ++lengths;
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        broken("a Content-Length that is not digits accepted: " + value);
    }
    if (lower == "transfer-encoding" && names::asciiLower(value) != "chunked")
      broken("a transfer coding other than chunked accepted: " + value);
  }
  if (hosts > 1 || lengths > 1 || codings > 1) broken("a repeated Host, Content-Length or Transfer-Encoding accepted");
  if (lengths && codings) broken("both Content-Length and Transfer-Encoding accepted");

  if (auto host = features::http::hostOf(r)) {
    // One trailing dot goes; a second stays ("a.." gives "a."), as documented.
    if (host->empty() || host->size() > names::kDnsNameMaxChars) broken("hostOf gave '" + *host + "'");
    for (char c : *host)
      if (!isDnsChar(c)) broken("hostOf gave a character outside a DNS name: '" + *host + "'");
  }

  // Three patterns and exactly what docs/http.md says each matches.
  auto matches = [&](const char* written) {
    auto parsed = names::parseHttpPathPattern(written);
    const auto* pattern = std::get_if<names::HttpPathPattern>(&parsed);
    if (!pattern) broken(std::string("a documented pattern refused: ") + written);
    return names::httpPathMatches(*pattern, path);
  };
  auto below = [&](std::string_view prefix) {
    return path.starts_with(prefix) ? path.substr(prefix.size()) : std::string_view("/");
  };
  const bool products = path.starts_with("/api/v1/products/") && noSlash(below("/api/v1/products/"));
  if (matches("/api/v1/products/*") != products)
    broken("\"/api/v1/products/*\" and " + std::string(path) + " disagree");
  const bool statics = path == "/static" || path.starts_with("/static/");
  if (matches("/static/**") != statics) broken("\"/static/**\" and " + std::string(path) + " disagree");
  const bool pdf = path.starts_with("/files/") && noSlash(below("/files/")) && path.ends_with(".pdf") &&
                   below("/files/").size() >= 4;
  if (matches("/files/*.pdf") != pdf) broken("\"/files/*.pdf\" and " + std::string(path) + " disagree");
}

void check(std::string_view bytes) {
  const HttpMessage m = features::http::readRequest(bytes);
  if (m.kind == HttpMessage::Kind::None) broken("neither a request nor unreadable");
  if ((m.kind == HttpMessage::Kind::Unreadable) == m.why.empty()) broken("a reason that does not fit: " + show(m));

  const size_t end = bytes.find("\r\n\r\n");
  if (end != std::string_view::npos && end + 4 <= names::kHttpHeaderBlockMaxBytes) {
    // Decided by the header block alone.
    const std::string_view block = bytes.substr(0, end + 4);
    if (!sameMessage(features::http::readRequest(block), m))
      broken("the bytes after the header block changed " + show(m));
    if (!sameMessage(features::http::readRequest(std::string(block) + "GET / HTTP/1.1\r\n\r\n"), m))
      broken("a pipelined request changed " + show(m));
    // A block cut short (here, just before its last byte) is incomplete.
    const std::string_view cut = block.substr(0, block.size() - 1);
    const HttpMessage partial = features::http::readRequest(cut);
    const bool tls = !cut.empty() && static_cast<unsigned char>(cut[0]) == 0x16;
    const bool h2 = cut.starts_with("PRI * HTTP/2.0\r\n");
    if (!tls && !h2 && partial.why != "the header block does not end")
      broken("a header block cut short reads as " + show(partial));
  }

  if (m.kind != HttpMessage::Kind::Request) return;
  checkRequest(m.request);
  // Written back, it reads the same.
  std::string again = m.request.method + " " + m.request.target + " HTTP/1.1\r\n";
  for (const auto& [name, value] : m.request.headers) again += name + ": " + value + "\r\n";
  again += "\r\n";
  const HttpMessage reread = features::http::readRequest(again);
  if (again.size() <= names::kHttpHeaderBlockMaxBytes && !sameMessage(reread, m))
    broken("written back, " + show(m) + " reads as " + show(reread));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    check(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& e) {
    broken(std::string("an exception escaped: ") + e.what());
  }
  return 0;
}
