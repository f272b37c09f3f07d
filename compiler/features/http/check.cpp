// HTTP, checking (http.h): the body of `with http { ... }` — request items
// separated by `;`, each `[METHOD] ["PATH"] [host "HOST"] [header "NAME"
// [= "VALUE"]]...` in that order — with every part checked by names/http.h
// (methods, paths, header names and values) and names/dns.h (hosts), and
// every problem reported at the token, or the character, that causes it.
// The order is fixed so that an item reads one way only, as `membranec ir`
// prints it.
#include <cctype>
#include <map>

#include "features/http/http.h"
#include "frontend/lexical.h"
#include "names/dns.h"
#include "names/http.h"

namespace membrane::features::http {

namespace {

const char* kItemHint =
    "an item is [METHOD] [\"PATH\"] [host \"HOST\"] [header \"NAME\" [= \"VALUE\"]]..., in that order; items are "
    "separated by `;` (docs/http.md)";

bool isString(const ast::Name& token) {
  return token.text.size() >= 2 && token.text.front() == '"' && token.text.back() == '"';
}

SourceRange spanning(SourceRange first, SourceRange last) {
  SourceRange out = first;
  if (last.begin.file == first.begin.file && last.begin.offset >= first.begin.offset)
    out.length = last.begin.offset + last.length - first.begin.offset;
  return out;
}

// Reads one item's tokens; reports and returns false at the first problem
// (the rest of the item is not read: its meaning is unclear).
class ItemReader {
 public:
  ItemReader(const std::vector<ast::Name>& tokens, DiagnosticEngine& diags) : tokens_(tokens), diags_(diags) {}

  bool read(CheckedRequest& out) {
    auto& m = out.match;
    std::map<std::string, const ast::Name*> headerAt;  // lowercased name → where first written
    enum Stage { Start, Method, Path, Host, Headers } stage = Start;
    while (i_ < tokens_.size()) {
      const ast::Name& t = tokens_[i_++];
      if (isString(t)) {
        if (stage >= Path) return misplaced(t, stage == Path ? "an item has at most one path"
                                                                : "the path comes before `host` and `header`");
        std::string path = frontend::unquoteWord(t.text);
        size_t column = std::string::npos;
        auto parsed = names::parseHttpPathPattern(path, &column);
        if (auto* error = std::get_if<std::string>(&parsed))
          return fail(frontend::characterRange(t.range, path, column), "invalid path pattern \"" + path + "\": " + *error,
                      "a path pattern starts with '/'; '*' matches within one segment, a final \"/**\" everything "
                      "below (docs/http.md)");
        m.path = path;
        stage = Path;
      } else if (t.text == "host") {
        if (stage >= Host) return misplaced(t, stage == Host ? "an item has at most one host"
                                                              : "`host` comes before `header`");
        const ast::Name* s = string(t, "a quoted host name", "host \"api.example.com\"");
        if (!s) return false;
        std::string host = frontend::unquoteWord(s->text);
        size_t column = std::string::npos;
        auto parsed = names::parseDnsPattern(host, &column);
        if (auto* error = std::get_if<std::string>(&parsed))
          return fail(frontend::characterRange(s->range, host, column), "invalid host \"" + host + "\": " + *error,
                      "a host is a DNS name or pattern (docs/dns.md): labels of letters, digits, '-' and '_' "
                      "separated by '.', with at most one '*' per label");
        m.host = std::get<names::DnsPattern>(parsed).text;
        stage = Host;
      } else if (t.text == "header") {
        const ast::Name* s = string(t, "a quoted header name", "header \"X-Api-Key\"");
        if (!s) return false;
        std::string name = frontend::unquoteWord(s->text);
        size_t column = std::string::npos;
        std::string error = names::checkHttpHeaderName(name, &column);
        if (!error.empty())
          return fail(frontend::characterRange(s->range, name, column), "invalid header name \"" + name + "\": " + error,
                      "a header name is a token: letters, digits and !#$%&'*+-.^_`|~");
        ir::HttpHeaderMatch h{names::asciiLower(name), std::nullopt};
        if (auto [first, fresh] = headerAt.emplace(h.name, s); !fresh) {
          auto& d = diags_.error(s->range, "header \"" + name + "\" is named twice in one item",
                                 "an item requires each header once; to allow either of two values, write two items");
          d.notes.push_back({Severity::Note, first->second->range, "the first one is here", "", {}});
          return false;
        }
        if (i_ < tokens_.size() && tokens_[i_].text == "=") {
          const ast::Name& equals = tokens_[i_++];
          const ast::Name* v = string(equals, "a quoted header value", "header \"X-Env\" = \"prod\"");
          if (!v) return false;
          std::string value = frontend::unquoteWord(v->text);
          error = names::checkHttpHeaderValue(value, &column);
          if (!error.empty())
            return fail(frontend::characterRange(v->range, value, column),
                        "invalid value \"" + value + "\" of header \"" + name + "\": " + error);
          h.value = value;
        }
        m.headers.push_back(std::move(h));
        stage = Headers;
      } else if (t.text == ",") {
        return fail(t.range, "request items are separated by `;`, not `,`", kItemHint);
      } else if (stage == Start && !t.text.empty() && (std::isalpha(static_cast<unsigned char>(t.text[0])) != 0)) {
        size_t column = std::string::npos;
        std::string error = names::checkHttpMethod(t.text, &column);
        if (!error.empty()) {
          SourceRange where = t.range;
          if (column != std::string::npos && column > 0 && column < t.text.size()) {
            where.begin.offset += static_cast<uint32_t>(column);
            where.begin.column += static_cast<uint32_t>(column);
            where.length = 1;
          }
          return fail(where, "invalid method `" + t.text + "`: " + error,
                      "write the method as sent, e.g. GET, POST, DELETE; `host` and `header` are written in "
                      "lowercase");
        }
        m.method = t.text;
        stage = Method;
      } else if (stage > Start && !t.text.empty() && std::isupper(static_cast<unsigned char>(t.text[0])) != 0) {
        return misplaced(t, stage == Method ? "an item has at most one method; write one item per method"
                                            : "the method comes first in an item");
      } else {
        return fail(t.range, "unexpected `" + t.text + "` in a request item of `with http { ... }`", kItemHint);
      }
    }
    return true;
  }

 private:
  bool fail(SourceRange where, std::string message, std::string hint = {}) {
    diags_.error(where, std::move(message), std::move(hint));
    return false;
  }
  bool misplaced(const ast::Name& t, const std::string& why) {
    return fail(t.range, "unexpected `" + t.text + "` in a request item of `with http { ... }`: " + why, kItemHint);
  }
  // The string token after `after`, or null (reported).
  const ast::Name* string(const ast::Name& after, const std::string& what, const std::string& example) {
    if (i_ < tokens_.size() && isString(tokens_[i_])) return &tokens_[i_++];
    std::string message = "expected " + what + " after `" + after.text + "`";
    if (i_ < tokens_.size())
      fail(tokens_[i_].range, message + ", found `" + tokens_[i_].text + "`", "for example " + example);
    else
      fail(after.range, message, "for example " + example);
    return nullptr;
  }

  const std::vector<ast::Name>& tokens_;
  DiagnosticEngine& diags_;
  size_t i_ = 0;
};

}  // namespace

std::optional<Checked> check(const ast::Extension& extension, const SourceManager&, DiagnosticEngine& diags) {
  if (extension.body.empty()) {
    diags.error(extension.range, "`with http { }` lists no requests",
                "list the requests the rule applies to, e.g. with http { GET \"/api/*\" }; without an http "
                "condition the rule applies to every request");
    return std::nullopt;
  }
  Checked out;
  out.range = extension.range;
  bool ok = true;
  // Split at `;`; a `;` after the last item is allowed, an empty item
  // elsewhere is not (a stray `;` is more likely a lost part).
  std::vector<ast::Name> item;
  auto finish = [&] {
    CheckedRequest request;
    request.range = spanning(item.front().range, item.back().range);
    if (ItemReader(item, diags).read(request))
      out.requests.push_back(std::move(request));
    else
      ok = false;
    item.clear();
  };
  for (const auto& token : extension.body) {
    if (token.text != ";") {
      item.push_back(token);
    } else if (item.empty()) {
      diags.error(token.range, "empty request item in `with http { ... }`", kItemHint);
      ok = false;
    } else {
      finish();
    }
  }
  if (!item.empty()) finish();
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace membrane::features::http
