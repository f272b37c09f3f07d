// Kubernetes-style label selectors: the one definition of "matches" shared by
// the compiler (selector bits at compile time) and the node (bits for
// endpoints it learns later).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace membrane::labels {

using LabelSet = std::map<std::string, std::string>;

enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };

struct Requirement {
  std::string key;
  Op op = Op::Exists;
  std::vector<std::string> values;  // sorted, unique; one value for (Not)Equals

  bool matches(const LabelSet& labels) const;
  friend auto operator<=>(const Requirement&, const Requirement&) = default;
};

// A conjunction of requirements. The empty selector matches everything.
struct Selector {
  std::vector<Requirement> requirements;  // canonical: sorted, unique

  bool matches(const LabelSet& labels) const;
  bool empty() const { return requirements.empty(); }
  // Sorts and deduplicates so that equal selectors compare equal.
  void canonicalize();
  // `{app = api, tier in (a, b)}` in policy-language syntax.
  std::string str() const;
  friend auto operator<=>(const Selector&, const Selector&) = default;
};

const char* opName(Op op);

void to_json(nlohmann::json& j, const Requirement& r);
void from_json(const nlohmann::json& j, Requirement& r);
void to_json(nlohmann::json& j, const Selector& s);
void from_json(const nlohmann::json& j, Selector& s);

}  // namespace membrane::labels
