// DNS, checking (dns.h): the body of `with dns { ... }` — strings separated
// by `,` or `;` — and each string as a name or pattern (names/dns.h), with
// every problem reported at the token, or the character, that causes it.
#include "features/dns/dns.h"
#include "frontend/lexical.h"
#include "names/dns.h"

namespace membrane::features::dns {

bool checkName(const ast::Name& written, DiagnosticEngine& diags, std::vector<CheckedName>& out) {
  size_t column = std::string::npos;
  auto parsed = names::parseDnsPattern(written.text, &column);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    diags.error(frontend::characterRange(written.range, written.text, column), "invalid DNS name \"" + written.text + "\": " + *error,
                "a name is labels of letters, digits, '-' and '_' separated by '.'; a pattern may hold one '*' "
                "per label (docs/dns.md)");
    return false;
  }
  out.push_back({std::get<names::DnsPattern>(parsed).text, written.range});
  return true;
}

std::optional<Checked> check(const ast::Extension& extension, const SourceManager&, DiagnosticEngine& diags) {
  Checked out;
  out.range = extension.range;
  bool ok = true;
  bool wantName = true;  // a string next; else a separator (or the end)
  for (const auto& token : extension.body) {
    bool isString = token.text.size() >= 2 && token.text.front() == '"' && token.text.back() == '"';
    if (wantName) {
      if (!isString) {
        diags.error(token.range, "expected a quoted DNS name in `with dns { ... }`, found `" + token.text + "`",
                    "write names and patterns as strings: with dns { \"api.example.com\", \"*.example.com\" }");
        return std::nullopt;
      }
      ok &= checkName({frontend::unquoteWord(token.text), token.range}, diags, out.names);
      wantName = false;
    } else if (token.text == "," || token.text == ";") {
      wantName = true;
    } else {
      diags.error(token.range, "expected `,` or `;` between DNS names, found `" + token.text + "`");
      return std::nullopt;
    }
  }
  if (extension.body.empty()) {
    diags.error(extension.range, "`with dns { }` lists no names",
                "list the names the endpoints may look up, e.g. with dns { \"*.example.com\" }; without a dns "
                "condition the rule allows every name");
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace membrane::features::dns
