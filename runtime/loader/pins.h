// Names of membrane's pins under the bpffs root: one per endpoint hook in
// links/, one trie per version in versions/.
//
// A link's file name is derived from the endpoint's namespace and name, which
// come from outside (NODE.json). The derivation must be injective, or two
// endpoints share a pin and one of them runs the other's program while its
// own interface is left unfiltered; and it must yield names bpffs takes
// (no '.', no '/', no NUL, at most 255 bytes):
//
//   <escaped namespace>_<escaped name>_<hook>
//
// where escaping keeps a-z, A-Z, 0-9 and '-' and writes every other byte,
// '%' included, as '%' and two lowercase hex digits ("api.v2-0" becomes
// "api%2ev2-0"). An escaped part never holds '_', so the parts are found again
// by splitting at '_', and %XX is undone in one way only: injective. A name
// longer than 255 bytes keeps its first bytes, then '~' and the SHA-256 of
// the whole escaped name (64 hex digits), then "_<hook>"; '~' is never in an
// escaped part, so no hashed name equals an unhashed one, and two hashed names
// are equal only if the SHA-256 of different names is.
#pragma once

#include <optional>
#include <string>

namespace membrane::loader {

inline constexpr size_t kMaxPinName = 255;  // NAME_MAX, what bpffs takes

// One part of a pin name, escaped as above.
std::string escapePinPart(const std::string& s);

// The file name under links/ for an endpoint's hook (tc-from, tc-to, cg-in,
// cg-out).
std::string linkPinName(const std::string& ns, const std::string& name, const std::string& hook);

struct LinkPinParts {
  std::string ns, name, hook;  // ns and name empty when the name was hashed
  bool hashed = false;
};
// The parts of a links/ file name, or nullopt when it is not one linkPinName
// makes (status uses this to name links nobody recorded).
std::optional<LinkPinParts> parseLinkPinName(const std::string& fileName);

}  // namespace membrane::loader
