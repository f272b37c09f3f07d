// Names and strings of the policy language as text (grammar/Membrane.g4,
// docs/language.md "Lexical structure"): the one place that knows how a word
// is written so that the lexer reads it back as exactly that word. Used by
// the AST builder (reading) and by everything that generates policy text
// from data it does not control (the Kubernetes import).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "support/source.h"

namespace membrane::frontend {

// `text` as one token that the parser reads back as exactly `text` wherever
// the grammar takes a word (a name, label key part, label value, namespace,
// port name): a bare NAME when that is unambiguous (a letter or '_', then
// letters, digits, '_', '.' and '-'; no ':', so it can never lex as an IPv6
// address), else a STRING with '"' and '\' escaped. nullopt when no token can
// hold it: a STRING cannot span lines and a policy file is UTF-8; control
// characters (which a reviewer cannot see) are refused too.
std::optional<std::string> quoteWord(std::string_view text);

// The word a NAME or STRING token stands for: a STRING without its quotes and
// escapes, anything else as it is.
std::string unquoteWord(std::string_view token);

// The range of one character of a STRING token's content (0-based
// `column` into `content`, the unquoted text), so a check can point at the
// offending character: only when the string has no escapes (its content's
// offsets are then the source's, one past the opening quote); else, or for
// npos, the whole token.
SourceRange characterRange(SourceRange token, std::string_view content, size_t column);

}  // namespace membrane::frontend
