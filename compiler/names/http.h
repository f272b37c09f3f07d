// HTTP request parts as policies write them and as requests carry them
// (docs/http.md, "Requests and patterns"): the one place that checks a
// method, a path pattern, a header name or a header value, and the reference
// meaning of a path pattern and of a canonical path. Shared by the checker
// (`with http { ... }`), the Kubernetes import (Cilium's rules.http) and the
// evaluator, which the generated request decision is held to.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace membrane::names {

// Limits docs/http.md states; the datapath's request layout
// (runtime/abi/datapath.h, struct mb_http_request) assumes them.
inline constexpr size_t kHttpMethodMaxChars = 16;
inline constexpr size_t kHttpPathPatternMaxChars = 256;
inline constexpr size_t kHttpPathMaxBytes = 511;       // a request with a longer path is unreadable
inline constexpr size_t kHttpHeaderNameMaxChars = 63;
inline constexpr size_t kHttpHeaderValueMaxChars = 128;
inline constexpr size_t kHttpHeaderBlockMaxBytes = 8192;  // request line to the empty line, inclusive

// A path pattern as docs/http.md defines it: starts with '/'; '*' is any
// run (possibly empty) of characters other than '/'; a final segment "**"
// (the pattern ends in "/**", or is "/**") matches the path before it and
// everything below it. Stored as written.
struct HttpPathPattern {
  std::string text;
  bool wildcard = false;  // holds a '*'
};

// Checks a path pattern (the string's content, without quotes). On error
// returns the message and, in *column, the 0-based offset of the offending
// character (npos when the whole string is at fault).
std::variant<HttpPathPattern, std::string> parseHttpPathPattern(std::string_view written, size_t* column = nullptr);

// Does `path` (the request's target up to '?') match `pattern`? The
// reference meaning: a path that is not canonical or longer than
// kHttpPathMaxBytes matches no pattern (fail closed; the reader refuses
// such a request before any pattern is asked, see readRequest).
bool httpPathMatches(const HttpPathPattern& pattern, std::string_view path);

// Does every path `inner` matches also match `outer` (both valid path
// patterns)? Sound, not complete: true only when it can show it segment by
// segment (equal segments, a '*' segment, or a literal segment the outer
// glob matches; a final "**" covering what is below it). Used by lint.
bool httpPathPatternCovers(std::string_view outer, std::string_view inner);

// A canonical path, the only kind the datapath matches patterns against
// (docs/http.md, "Canonical paths"): starts with '/'; holds only visible
// ASCII (no space, no control byte, no byte past 0x7e), no '\', no '#';
// no empty segment ("//"), no "." or ".." segment; and every '%' starts an
// escape of two capital hex digits ("%C3", not "%c3" or "%4") that hides
// neither a separator ('/', '\') nor an RFC 3986 unreserved character
// (A-Z a-z 0-9 '-' '.' '_' '~', which a canonical path writes as itself).
// A server could read any other spelling as a different path than the
// policy sees ("/%61dmin" as "/admin"). Length is not part of it: requests
// are held to kHttpPathMaxBytes, patterns to kHttpPathPatternMaxChars.
struct HttpPathFault {
  size_t at = 0;    // 0-based offset of the offending character (npos: the whole path)
  std::string why;  // a phrase: "empty path segment (two '/' in a row)"
};
// Why `path` is not canonical, at its first fault; nullopt when it is.
std::optional<HttpPathFault> httpPathFault(std::string_view path);
bool httpPathCanonical(std::string_view path);

// A method as a rule names it: 1 to kHttpMethodMaxChars of 'A'-'Z'. Returns
// an error message, or "" when valid (*column as above).
std::string checkHttpMethod(std::string_view written, size_t* column = nullptr);
// A header name as a rule names it: an RFC 9110 token of at most
// kHttpHeaderNameMaxChars. Compared without regard to ASCII case.
std::string checkHttpHeaderName(std::string_view written, size_t* column = nullptr);
// A header value a rule requires: visible ASCII and inner spaces, no space
// or tab at either end, at most kHttpHeaderValueMaxChars.
std::string checkHttpHeaderValue(std::string_view written, size_t* column = nullptr);

// RFC 9110 token characters (methods and header names on the wire).
bool isHttpTokenChar(char c);
// ASCII lowercase.
std::string asciiLower(std::string_view s);

}  // namespace membrane::names
