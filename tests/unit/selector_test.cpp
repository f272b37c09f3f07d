// Label-selector matching: Kubernetes semantics, shared by compiler and node.
#include "labels/selector.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace membrane::labels {
namespace {

Selector sel(std::vector<Requirement> reqs) {
  Selector s{std::move(reqs)};
  s.canonicalize();
  return s;
}

TEST(Selector, EmptyMatchesEverything) {
  EXPECT_TRUE(Selector{}.matches({}));
  EXPECT_TRUE(Selector{}.matches({{"app", "api"}}));
}

TEST(Selector, EqualsAndNotEquals) {
  auto eq = sel({{"app", Op::Equals, {"api"}}});
  EXPECT_TRUE(eq.matches({{"app", "api"}, {"tier", "x"}}));
  EXPECT_FALSE(eq.matches({{"app", "web"}}));
  EXPECT_FALSE(eq.matches({}));
  auto ne = sel({{"app", Op::NotEquals, {"api"}}});
  EXPECT_FALSE(ne.matches({{"app", "api"}}));
  EXPECT_TRUE(ne.matches({{"app", "web"}}));
  EXPECT_TRUE(ne.matches({})) << "a missing key satisfies != as in Kubernetes";
}

TEST(Selector, SetOperators) {
  auto in = sel({{"env", Op::In, {"prod", "staging"}}});
  EXPECT_TRUE(in.matches({{"env", "staging"}}));
  EXPECT_FALSE(in.matches({{"env", "dev"}}));
  EXPECT_FALSE(in.matches({}));
  auto notin = sel({{"env", Op::NotIn, {"prod", "staging"}}});
  EXPECT_FALSE(notin.matches({{"env", "prod"}}));
  EXPECT_TRUE(notin.matches({{"env", "dev"}}));
  EXPECT_TRUE(notin.matches({}));
}

TEST(Selector, Existence) {
  auto has = sel({{"canary", Op::Exists, {}}});
  EXPECT_TRUE(has.matches({{"canary", ""}}));
  EXPECT_FALSE(has.matches({{"app", "x"}}));
  auto hasNot = sel({{"canary", Op::DoesNotExist, {}}});
  EXPECT_FALSE(hasNot.matches({{"canary", "yes"}}));
  EXPECT_TRUE(hasNot.matches({}));
}

TEST(Selector, ConjunctionOfRequirements) {
  auto s = sel({{"app", Op::Equals, {"api"}}, {"tier", Op::In, {"backend"}}, {"legacy", Op::DoesNotExist, {}}});
  EXPECT_TRUE(s.matches({{"app", "api"}, {"tier", "backend"}}));
  EXPECT_FALSE(s.matches({{"app", "api"}, {"tier", "backend"}, {"legacy", "1"}}));
  EXPECT_FALSE(s.matches({{"app", "api"}}));
}

TEST(Selector, CanonicalFormMakesEqualSelectorsEqual) {
  auto a = sel({{"tier", Op::In, {"b", "a", "a"}}, {"app", Op::Equals, {"x"}}});
  auto b = sel({{"app", Op::In, {"x"}}, {"tier", Op::In, {"a", "b"}}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.str(), "{app = x, tier in (a, b)}");
}

TEST(Selector, StrQuotesWhatIsNotAWord) {
  auto s = sel({{"version", Op::Equals, {"1.2"}}, {"app.kubernetes.io/name", Op::Exists, {}}});
  EXPECT_EQ(s.str(), "{app.kubernetes.io/name, version = \"1.2\"}");
}

TEST(Selector, JsonRoundTrip) {
  auto s = sel({{"env", Op::NotIn, {"dev", "test"}}, {"app", Op::Equals, {"api"}}, {"x", Op::DoesNotExist, {}}});
  nlohmann::json j = s;
  EXPECT_EQ(j.get<Selector>(), s);
  EXPECT_THROW((nlohmann::json{{{"key", "a"}, {"op", "like"}}}.get<Selector>()), nlohmann::json::exception);
}

}  // namespace
}  // namespace membrane::labels
