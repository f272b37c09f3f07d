// The list of rule kinds (compiler/features/registry/): `with` bodies reach
// it as tokens, unknown kinds are refused where they are written, and a
// condition no program of the target can enforce is an error naming the
// rule — never dropped.
#include "features/registry/registry.h"

#include <gtest/gtest.h>

#include "frontend_test_support.h"

namespace membrane::features {
namespace {

TEST(FeatureRegistry, AWithBodyReachesTheCheckerAsItsTokens) {
  pipeline::Compilation c;
  pipeline::runText({{"a.policy",
                      "policy p {\n  selects {}\n  ingress {\n    allow from world on tcp/80 with http { GET \"/a\"; "
                      "headers { x } }\n  }\n}\n"}},
                    c);
  ASSERT_EQ(c.ast.files.size(), 1u);
  const auto& ext = c.ast.files[0].policies.at(0).sections.at(0).rules.at(0).extensions.at(0);
  EXPECT_EQ(ext.kind.text, "http");
  std::vector<std::string> texts;
  for (const auto& t : ext.body) texts.push_back(t.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"GET", "\"/a\"", ";", "headers", "{", "x", "}"}));
  EXPECT_EQ(c.sources.describe(ext.body.at(1).range.begin), "a.policy:4:48");
}

TEST(FeatureRegistry, AWithKindNoModuleProvidesIsAnErrorAtItsWith) {
  auto c = testing::compile("policy p {\n  selects {}\n  ingress {\n    allow from world with kafka { topic x }\n  }\n}\n");
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(testing::diagnostics(*c),
            (testing::Lines{"a.policy:4:22: error: `with kafka` rules are not supported yet | hint: membrane "
                            "enforces L3/L4, DNS (`with dns`), HTTP (`with http`) and executables (`with "
                            "process`) today"}));
}

TEST(FeatureRegistry, AConditionNoHookOfTheTargetEnforcesIsAnErrorNamingTheRule) {
  auto c = testing::compile("policy p {\n  selects {}\n  ingress {\n    allow from world on tcp/80\n  }\n}\n");
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const auto& rule = c->checked->policies.at(0).rules.at(0);
  const std::string policy = c->checked->policies.at(0).key();

  DiagnosticEngine ok(c->sources);
  EXPECT_TRUE(checkEnforceable(rule.conditions, rule.text, policy, rule.range, endpointTarget(), ok));
  EXPECT_FALSE(ok.hasErrors());

  DiagnosticEngine refused(c->sources);
  EXPECT_FALSE(checkEnforceable(rule.conditions, rule.text, policy, rule.range, Target{}, refused));
  ASSERT_EQ(refused.all().size(), 1u);
  EXPECT_EQ(refused.all()[0].message,
            "rule `allow from world on tcp/80` of policy default/p has a condition of kind l4 that no program of "
            "this target can enforce");
  EXPECT_EQ(c->sources.describe(refused.all()[0].range.begin), "a.policy:4:5");
}

TEST(FeatureRegistry, ARuleWithoutConditionsIsEnforceableAnywhere) {
  SourceManager sources;
  DiagnosticEngine diags(sources);
  EXPECT_TRUE(checkEnforceable({}, "allow from world", "default/p", {}, Target{}, diags));
}

}  // namespace
}  // namespace membrane::features
