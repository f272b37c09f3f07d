// See http.h: HTTP methods, path patterns and header names, checked and
// matched.
#include "names/http.h"

#include <vector>

namespace membrane::names {

namespace {

std::string shown(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  static const char hex[] = "0123456789abcdef";
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

bool isVisible(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string asciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 3986 section 2.3: characters a URI writes as themselves, whose
// escapes a normalizing server decodes (section 6.2.2.2).
bool isUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// What is wrong with the escape at s[i] == '%', or "" when it is canonical.
std::string escapeFault(std::string_view s, size_t i) {
  if (i + 2 >= s.size() || hexValue(s[i + 1]) < 0 || hexValue(s[i + 2]) < 0)
    return "'%' not followed by two hex digits";
  std::string escape(s.substr(i, 3));
  char byte = static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
  if (byte == '/' || byte == '\\' || byte == '.') return "\"" + escape + "\" hides a " + shown(byte);
  if (isUnreserved(byte))
    return "\"" + escape + "\" escapes " + shown(byte) + ", which a canonical path writes as itself";
  if (s[i + 1] >= 'a' || s[i + 2] >= 'a')
    return "\"" + escape + "\" has a lowercase hex digit (the canonical escape is \"" + asciiUpper(escape) + "\")";
  return "";
}

// Glob match of one segment: '*' is any run of characters (the segment has
// no '/'). Iterative with one remembered star: linear in practice, no
// backtracking blow-up since a later star supersedes an earlier one.
bool segmentMatches(std::string_view glob, std::string_view text) {
  size_t g = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = t;
    } else if (g < glob.size() && glob[g] == text[t]) {
      ++g, ++t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

std::vector<std::string_view> segments(std::string_view path) {
  // path starts with '/'; segments are what lies between slashes.
  std::vector<std::string_view> out;
  size_t start = 1;
  for (;;) {
    size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

bool isHttpTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
  }
  return false;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::optional<HttpPathFault> httpPathFault(std::string_view path) {
  if (path.empty()) return HttpPathFault{std::string::npos, "the path is empty"};
  if (path[0] != '/') return HttpPathFault{0, "it does not start with '/'"};
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (!isVisible(c) || c == '\\' || c == '#' || c == '?')
      return HttpPathFault{i, "character " + shown(c) + " is not allowed in a path"};
    if (c == '%') {
      if (std::string why = escapeFault(path, i); !why.empty()) return HttpPathFault{i, why};
      i += 2;
    }
  }
  // No "." or ".." segment, and no empty one but the last ("/a//b", "//"):
  // the last is the trailing slash of "/a/" (and the only segment of "/").
  auto segs = segments(path);
  for (size_t i = 0; i < segs.size(); ++i) {
    size_t at = static_cast<size_t>(segs[i].data() - path.data());
    if (segs[i].empty() && i + 1 < segs.size()) return HttpPathFault{at, "empty path segment (two '/' in a row)"};
    if (segs[i] == "." || segs[i] == "..") return HttpPathFault{at, "a \"" + std::string(segs[i]) + "\" segment"};
  }
  return std::nullopt;
}

bool httpPathCanonical(std::string_view path) { return !httpPathFault(path); }

std::variant<HttpPathPattern, std::string> parseHttpPathPattern(std::string_view written, size_t* column) {
  size_t unused = 0;
  size_t& col = column ? *column : unused;
  col = std::string::npos;
  auto fail = [&](size_t at, std::string message) -> std::variant<HttpPathPattern, std::string> {
    col = at;
    return message;
  };
  if (written.empty()) return fail(std::string::npos, "the path is empty");
  if (written[0] != '/') return fail(0, "a path starts with '/'");
  if (written.size() > kHttpPathPatternMaxChars)
    return fail(kHttpPathPatternMaxChars, "the path is " + std::to_string(written.size()) +
                                              " characters long, more than " +
                                              std::to_string(kHttpPathPatternMaxChars));
  // A pattern is held to the rules of a canonical path ('*' is visible
  // ASCII like any other character): a request that needs a non-canonical
  // path to match is unreadable, whatever the rules say.
  size_t query = written.find('?');
  if (auto fault = httpPathFault(written.substr(0, query)))
    return fail(fault->at, fault->why + "; requests with such a path are denied as unreadable, so no pattern may "
                                        "hold one");
  if (query != std::string_view::npos)
    return fail(query, "a path pattern has no query: the path is matched up to '?', whatever follows it");
  HttpPathPattern p{std::string(written), written.find('*') != std::string_view::npos};
  auto segs = segments(written);
  for (size_t i = 0; i < segs.size(); ++i) {
    auto seg = segs[i];
    size_t at = static_cast<size_t>(seg.data() - written.data());
    size_t dbl = seg.find("**");
    if (dbl != std::string_view::npos && (seg != "**" || i + 1 != segs.size()))
      return fail(at + dbl, "\"**\" stands only as the last segment (\"/static/**\"); '*' matches within one segment");
  }
  return p;
}

bool httpPathMatches(const HttpPathPattern& pattern, std::string_view path) {
  if (path.size() > kHttpPathMaxBytes || !httpPathCanonical(path)) return false;
  auto globs = segments(pattern.text);
  auto parts = segments(path);
  bool rest = !globs.empty() && globs.back() == "**";
  if (rest) {
    globs.pop_back();
    // "/static/**" matches "/static" and everything below it; "/**" all.
    if (parts.size() < globs.size()) return false;
    for (size_t i = 0; i < globs.size(); ++i)
      if (!segmentMatches(globs[i], parts[i])) return false;
    return true;
  }
  if (globs.size() != parts.size()) return false;
  for (size_t i = 0; i < globs.size(); ++i)
    if (!segmentMatches(globs[i], parts[i])) return false;
  return true;
}

bool httpPathPatternCovers(std::string_view outer, std::string_view inner) {
  if (outer == inner || outer == "/**") return true;
  auto o = segments(outer);
  auto in = segments(inner);
  bool oRest = o.back() == "**", iRest = in.back() == "**";
  if (oRest) o.pop_back();
  if (iRest) in.pop_back();
  // Without a final "**" the outer matches exactly its number of segments;
  // with one, at least its prefix (and the inner must not reach above it).
  if (oRest ? in.size() < o.size() : (iRest || in.size() != o.size())) return false;
  for (size_t k = 0; k < o.size(); ++k) {
    if (o[k] == in[k] || o[k] == "*") continue;
    // A literal inner segment: the outer glob must match it.
    if (in[k].find('*') != std::string_view::npos || !segmentMatches(o[k], in[k])) return false;
  }
  return true;
}

std::string checkHttpMethod(std::string_view written, size_t* column) {
  size_t unused = 0;
  size_t& col = column ? *column : unused;
  col = std::string::npos;
  if (written.empty()) return "the method is empty";
  for (size_t i = 0; i < written.size(); ++i)
    if (written[i] < 'A' || written[i] > 'Z') {
      col = i;
      return "a method is written in capital letters A-Z only (methods are case-sensitive)";
    }
  if (written.size() > kHttpMethodMaxChars) {
    col = kHttpMethodMaxChars;
    return "the method is longer than " + std::to_string(kHttpMethodMaxChars) + " letters";
  }
  return "";
}

std::string checkHttpHeaderName(std::string_view written, size_t* column) {
  size_t unused = 0;
  size_t& col = column ? *column : unused;
  col = std::string::npos;
  if (written.empty()) return "the header name is empty";
  for (size_t i = 0; i < written.size(); ++i)
    if (!isHttpTokenChar(written[i])) {
      col = i;
      return "character " + shown(written[i]) + " is not allowed in a header name";
    }
  if (written.size() > kHttpHeaderNameMaxChars) {
    col = kHttpHeaderNameMaxChars;
    return "the header name is longer than " + std::to_string(kHttpHeaderNameMaxChars) + " characters";
  }
  return "";
}

std::string checkHttpHeaderValue(std::string_view written, size_t* column) {
  size_t unused = 0;
  size_t& col = column ? *column : unused;
  col = std::string::npos;
  if (written.empty()) return "the header value is empty (to require only that the header is present, give no value)";
  for (size_t i = 0; i < written.size(); ++i)
    if (!isVisible(written[i]) && written[i] != ' ') {
      col = i;
      return "character " + shown(written[i]) + " is not allowed in a header value";
    }
  if (written.front() == ' ' || written.back() == ' ') {
    col = written.front() == ' ' ? 0 : written.size() - 1;
    return "a header value is compared without the spaces around it, so it cannot begin or end with one";
  }
  if (written.size() > kHttpHeaderValueMaxChars) {
    col = kHttpHeaderValueMaxChars;
    return "the header value is longer than " + std::to_string(kHttpHeaderValueMaxChars) + " characters";
  }
  return "";
}

}  // namespace membrane::names
