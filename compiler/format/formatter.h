// `membranec fmt`: canonical layout of *.policy files.
//
// The formatter works on the token stream (all channels), not on the AST: it
// re-emits every token and comment in order and only decides the whitespace
// between them. The ANTLR parse tree is used to know where items, statements
// and rules begin and what kind each brace is; nothing is reordered, dropped
// or rewritten. Before returning, the output is lexed again and its tokens
// (whitespace aside) are compared with the input's; a difference is a bug and
// is thrown as FormatInternalError, so a changed program is never written.
//
// Layout rules (docs/cli.md, "membranec fmt", has the user-facing version):
//  - 2-space indentation by nesting: items at 0, policy statements at 1,
//    rules at 2. One item, statement or rule per line; `ingress {`, `egress {`
//    and `policy NAME {` open a block whose `}` is on its own line; an empty
//    block is written `{}` on the opening line.
//  - Blank lines: one or more blank lines between items, statements, rules or
//    own-line comments become exactly one; none after a `{` that opens a block,
//    before its `}`, at the start or end of the file. A policy is always
//    separated from the items around it by a blank line (placed before the
//    comments that lead the policy).
//  - Inside a line: single spaces between tokens, except none before `,` and
//    `)`, after `(` and `!`, around `/` and the `-` of a port range, and inside
//    the braces of a port or ICMP set (`tcp/{80, 443}`). Selectors read
//    `{ a = b, c in (x, y) }`, the empty selector `{}`.
//  - Consecutive one-line definitions (`selector`/`ports`/`peers`, no blank
//    or other line between them) are aligned in columns: keywords padded to
//    the longest keyword, names to the longest name, so the `=` line up.
//  - Comments: a comment that followed a token on the same line stays there,
//    one space after it; a comment on its own line stays on its own line,
//    indented like the line that follows it. Block comments are kept as
//    written (only trailing whitespace inside them is removed). A token that a
//    line comment pushes onto the next line is indented as a continuation
//    (statement indentation + 4).
//  - `with NAME { ... }` extension bodies (parsed, rejected by the checker)
//    and a policy's `processes { ... }` are put on one line; tokens that
//    touched in the input still touch.
//  - Trailing whitespace is removed, lines end in "\n" (CRLF input becomes
//    LF), the file ends with exactly one newline. A file without any token or
//    comment formats to the empty string.
//
// The result is idempotent: format(format(x)) == format(x).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "support/diagnostics.h"
#include "support/source.h"

namespace membrane::format {

// The formatter would have changed the program (a bug in the formatter).
class FormatInternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Formats one loaded file. Returns nullopt when the file does not parse; the
// syntax errors are reported to `diags` exactly as `membranec check` reports
// them. Throws FormatInternalError if the output would not be the same program.
std::optional<std::string> formatFile(FileId file, const SourceManager& sources, DiagnosticEngine& diags);

// Convenience for tests: formats policy text held in memory. On syntax errors
// returns nullopt and, when `errors` is given, stores the rendered diagnostics.
std::optional<std::string> formatPolicy(const std::string& text, std::string* errors = nullptr,
                                        const std::string& path = "<input>");

// A unified diff (like `diff -u`, 3 lines of context) turning `before` into
// `after`; empty when they are equal. Headers are `--- fromLabel` and
// `+++ toLabel`. A last line without a newline is marked as diff(1) does.
std::string unifiedDiff(const std::string& before, const std::string& after, const std::string& fromLabel,
                        const std::string& toLabel);

}  // namespace membrane::format
