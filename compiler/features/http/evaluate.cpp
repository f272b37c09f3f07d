// HTTP, meaning (http.h): what the reference evaluator asks of an http
// condition, and the reference reader of a request's header block. The
// datapath (bpf-templates/lib/http*.h reading, the generated request
// decision matching, codegen/http_codegen.cpp) is held to both by the
// differential tests.
#include "features/http/http.h"

#include <algorithm>

#include "names/dns.h"
#include "names/http.h"

namespace membrane::features::http {

namespace {

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
           return lower(x) == lower(y);
         });
}

size_t countHeader(const ir::HttpRequest& request, std::string_view lowerName, const std::string** value) {
  size_t n = 0;
  for (const auto& [name, v] : request.headers)
    if (equalsIgnoringCase(name, lowerName)) {
      ++n;
      if (value) *value = &v;
    }
  return n;
}

bool isDnsChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; }

}  // namespace

std::string_view pathOf(const ir::HttpRequest& request) {
  std::string_view t = request.target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::optional<std::string> hostOf(const ir::HttpRequest& request) {
  const std::string* value = nullptr;
  if (countHeader(request, "host", &value) != 1) return std::nullopt;
  std::string host = names::asciiLower(*value);
  size_t colon = host.rfind(':');
  if (colon != std::string::npos) {
    bool digits = colon + 1 < host.size();
    for (size_t i = colon + 1; i < host.size(); ++i) digits = digits && host[i] >= '0' && host[i] <= '9';
    if (digits) host.resize(colon);
  }
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty() || host.size() > names::kDnsNameMaxChars) return std::nullopt;
  for (char c : host)
    if (!isDnsChar(c)) return std::nullopt;
  return host;
}

bool requestMatches(const ir::HttpRequestMatch& match, const ir::HttpRequest& request) {
  if (!match.method.empty() && match.method != request.method) return false;
  if (!match.path.empty()) {
    auto parsed = names::parseHttpPathPattern(match.path);
    const auto* pattern = std::get_if<names::HttpPathPattern>(&parsed);
    if (!pattern || !names::httpPathMatches(*pattern, pathOf(request))) return false;
  }
  if (!match.host.empty()) {
    auto host = hostOf(request);
    if (!host) return false;
    auto parsed = names::parseDnsPattern(match.host);
    const auto* pattern = std::get_if<names::DnsPattern>(&parsed);
    if (!pattern || !names::dnsPatternMatches(*pattern, *host)) return false;
  }
  for (const auto& h : match.headers) {
    const std::string* value = nullptr;
    size_t n = countHeader(request, h.name, &value);
    if (n == 0) return false;
    if (h.value && (n != 1 || *value != *h.value)) return false;
  }
  return true;
}

bool matches(const ir::HttpCondition& condition, const ir::Traffic& traffic) {
  switch (traffic.http.kind) {
    case ir::HttpMessage::Kind::None: return true;
    case ir::HttpMessage::Kind::Unreadable: return false;
    case ir::HttpMessage::Kind::Request:
      for (const auto& m : condition.requests)
        if (requestMatches(m, traffic.http.request)) return true;
      return false;
  }
  return false;
}

ir::HttpMessage readRequest(std::string_view bytes) {
  using ir::HttpMessage;
  if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x16)
    return HttpMessage::unreadable("a TLS handshake where HTTP/1.x is policed");
  if (bytes.starts_with("PRI * HTTP/2.0\r\n")) return HttpMessage::unreadable("the HTTP/2 connection preface");
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > names::kHttpHeaderBlockMaxBytes) {
    if (bytes.size() >= names::kHttpHeaderBlockMaxBytes || (end != std::string_view::npos))
      return HttpMessage::unreadable("a header block longer than " +
                                     std::to_string(names::kHttpHeaderBlockMaxBytes) + " bytes");
    return HttpMessage::unreadable("the header block does not end");
  }
  std::string_view block = bytes.substr(0, end + 2);  // every line with its CRLF
  // Every line ends in CRLF; a CR or LF anywhere else is malformed (a server
  // that accepts bare LF would frame the stream differently).
  for (size_t i = 0; i < block.size(); ++i) {
    if (block[i] == '\r' && (i + 1 >= block.size() || block[i + 1] != '\n'))
      return HttpMessage::unreadable("a CR not followed by LF");
    if (block[i] == '\n' && (i == 0 || block[i - 1] != '\r')) return HttpMessage::unreadable("a bare LF");
  }

  ir::HttpRequest r;
  size_t lineEnd = block.find("\r\n");
  std::string_view line = block.substr(0, lineEnd);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return HttpMessage::unreadable("a request line that is not METHOD SP TARGET SP VERSION");
  r.method = std::string(line.substr(0, sp1));
  r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::string_view version = line.substr(sp2 + 1);
  if (r.method.empty()) return HttpMessage::unreadable("an empty method");
  for (char c : r.method)
    if (!names::isHttpTokenChar(c)) return HttpMessage::unreadable("a method that is not a token");
  if (r.target.empty()) return HttpMessage::unreadable("an empty request target");
  for (char c : r.target) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return HttpMessage::unreadable("a request target with a byte outside visible ASCII");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return HttpMessage::unreadable("a version other than HTTP/1.1 or HTTP/1.0");

  size_t contentLengths = 0, transferEncodings = 0, hosts = 0;
  std::string contentLength;
  size_t at = lineEnd + 2;
  while (at < block.size()) {
    size_t e = block.find("\r\n", at);
    std::string_view h = block.substr(at, e - at);
    at = e + 2;
    if (h.empty()) break;
    if (h[0] == ' ' || h[0] == '\t') return HttpMessage::unreadable("a folded header line");
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return HttpMessage::unreadable("a header line without a name");
    std::string_view name = h.substr(0, colon);
    for (char c : name)
      if (!names::isHttpTokenChar(c)) return HttpMessage::unreadable("a header name that is not a token");
    std::string_view value = h.substr(colon + 1);
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return HttpMessage::unreadable("a control byte in a header value");
    }
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    std::string lower = names::asciiLower(name);
    if (lower == "host") ++hosts;
    if (lower == "content-length") {
      ++contentLengths;
      contentLength = std::string(value);
    }
    if (lower == "transfer-encoding") {
      ++transferEncodings;
      if (names::asciiLower(value) != "chunked")
        return HttpMessage::unreadable("a transfer coding other than chunked");
    }
    r.headers.emplace_back(std::string(name), std::string(value));
  }
  if (hosts > 1) return HttpMessage::unreadable("more than one Host header");
  if (contentLengths > 1) return HttpMessage::unreadable("more than one Content-Length header");
  if (transferEncodings > 1) return HttpMessage::unreadable("more than one Transfer-Encoding header");
  if (contentLengths && transferEncodings)
    return HttpMessage::unreadable("both Content-Length and Transfer-Encoding");
  if (contentLengths) {
    if (contentLength.empty() || contentLength.size() > 18)
      return HttpMessage::unreadable("a Content-Length that is not a number below 10^18");
    for (char c : contentLength)
      if (c < '0' || c > '9') return HttpMessage::unreadable("a Content-Length that is not a number below 10^18");
  }
  // Last, as the datapath's reader tells a path apart from the rest (it
  // reports malformed bytes first): a path a server could read differently
  // from the policy is refused, not matched against no pattern, or a deny
  // rule's path could be stepped around ("/%61dmin", "//admin") or padded
  // past the limit.
  std::string_view path = pathOf(r);
  if (path.size() > names::kHttpPathMaxBytes)
    return HttpMessage::unreadable("a path longer than " + std::to_string(names::kHttpPathMaxBytes) + " bytes");
  if (auto fault = names::httpPathFault(path))
    return HttpMessage::unreadable("a path that is not canonical: " + fault->why);
  return HttpMessage::of(std::move(r));
}

}  // namespace membrane::features::http
