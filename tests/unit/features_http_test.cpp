// The HTTP rule kind as a module (compiler/features/http/): what the checker
// accepts and refuses where it is written, what lowering keeps, its printing
// and enforcement, and the rules an http condition must combine with
// (features/registry). Its meaning is features_http_meaning_test.cpp.
#include "features/http/http.h"

#include <gtest/gtest.h>

#include "features/registry/registry.h"
#include "frontend_test_support.h"
#include "ir_print/ir_json.h"

namespace membrane::features::http {
namespace {

std::string ingress(const std::string& rules) {
  return "policy p {\n  selects {}\n  ingress {\n" + rules + "  }\n}\n";
}

// The diagnostics without their hints.
testing::Lines located(const testing::Lines& lines) {
  testing::Lines out;
  for (const auto& l : lines) out.push_back(l.substr(0, l.find(" | ")));
  return out;
}

TEST(FeaturesHttp, ItemsAreCheckedAndNormalizedInSourceOrder) {
  auto c = testing::compile(ingress(
      "    allow from world on tcp/8080 with http {\n"
      "      GET \"/api/v1/products/*\";\n"
      "      POST \"/api/v1/orders\" header \"Content-Type\" = \"application/json\";\n"
      "      host \"API.Shop.Example.\" header \"X-b\" header \"X-A\" = \"a b\";\n"
      "      DELETE;\n"
      "    }\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  const Checked* h = c->checked->policies.at(0).rules.at(0).condition<Checked>();
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->requests.size(), 4u) << "a `;` after the last item is allowed";
  EXPECT_EQ(h->requests[0].match, (ir::HttpRequestMatch{"GET", "/api/v1/products/*", "", {}}));
  EXPECT_EQ(h->requests[1].match,
            (ir::HttpRequestMatch{"POST", "/api/v1/orders", "", {{"content-type", "application/json"}}}))
      << "header names lowercase, values as written";
  EXPECT_EQ(h->requests[2].match,
            (ir::HttpRequestMatch{"", "", "api.shop.example", {{"x-b", std::nullopt}, {"x-a", "a b"}}}))
      << "the host normalized as a DNS name; headers in source order until lowering";
  EXPECT_EQ(h->requests[3].match, (ir::HttpRequestMatch{"DELETE", "", "", {}}));
  EXPECT_EQ(c->sources.describe(h->requests[1].range.begin), "a.policy:6:7");
  EXPECT_EQ(h->requests[1].range.length, std::string("POST \"/api/v1/orders\" header \"Content-Type\" = "
                                                     "\"application/json\"").size());
}

TEST(FeaturesHttp, LoweringSortsItemsAndHeadersAndDropsDuplicates) {
  auto c = testing::compile(
      ingress("    allow from world on tcp/80 with http { POST \"/b\"; GET header \"b\" header \"A\"; POST \"/b\"; "
              "GET \"/a\" }\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  auto lowered = lower(*c->checked->policies.at(0).rules.at(0).condition<Checked>());
  ASSERT_EQ(lowered.requests.size(), 3u);
  EXPECT_EQ(lowered.requests[0], (ir::HttpRequestMatch{"GET", "", "", {{"a", std::nullopt}, {"b", std::nullopt}}}));
  EXPECT_EQ(lowered.requests[1], (ir::HttpRequestMatch{"GET", "/a", "", {}}));
  EXPECT_EQ(lowered.requests[2], (ir::HttpRequestMatch{"POST", "/b", "", {}}));
}

TEST(FeaturesHttp, TheIrPrintsTheLoweredConditionAsWritten) {
  auto c = testing::compile(ingress("    allow from world on tcp/80 with http { GET \"/a/*\" host \"*.shop.example\" "
                                    "header \"x-k\"; PUT header \"X-Env\" = \"prod\" }\n"));
  ASSERT_TRUE(c->checked) << testing::rendered(*c);
  std::vector<ir::Rule> rules(1);
  rules[0].conditions = {ir::L4Condition{{{ir::kTCP, {{80, 80}}}}},
                         lower(*c->checked->policies.at(0).rules.at(0).condition<Checked>())};
  EXPECT_EQ(describe(rules[0]), " with http { GET \"/a/*\" host \"*.shop.example\" header \"x-k\"; PUT header "
                                "\"x-env\" = \"prod\" }");
  auto j = ir::toJson(rules[0]);
  EXPECT_EQ(j["http"], nlohmann::json::parse(R"([
    {"method": "GET", "path": "/a/*", "host": "*.shop.example", "headers": [{"name": "x-k"}]},
    {"method": "PUT", "headers": [{"name": "x-env", "value": "prod"}]}])"));
  EXPECT_EQ(features::describeConditions(rules[0]),
            " on tcp/80 with http { GET \"/a/*\" host \"*.shop.example\" header \"x-k\"; PUT header \"x-env\" = "
            "\"prod\" }");
}

TEST(FeaturesHttp, EveryBadPartIsAnErrorAtItsTokenOrCharacter) {
  auto c = testing::compile(ingress(
      "    allow from world on tcp/80 with http { get }\n"                      // 4
      "    allow from world on tcp/80 with http { GET \"api\" }\n"              // 5
      "    allow from world on tcp/80 with http { GET \"/a//b\" }\n"            // 6
      "    allow from world on tcp/80 with http { \"/a/%2e/b\" }\n"             // 7
      "    allow from world on tcp/80 with http { host \"a..b\" }\n"            // 8
      "    allow from world on tcp/80 with http { header \"X Y\" }\n"           // 9
      "    allow from world on tcp/80 with http { header \"x\" = \" v\" }\n"    // 10
      "    allow from world on tcp/80 with http { header \"x\" header \"X\" }\n"  // 11
      "    allow from world on tcp/80 with http { \"/a\" GET }\n"               // 12
      "    allow from world on tcp/80 with http { GET POST }\n"                 // 13
      "    allow from world on tcp/80 with http { \"/a\" \"/b\" }\n"            // 14
      "    allow from world on tcp/80 with http { header \"x\" host \"a\" }\n"  // 15
      "    allow from world on tcp/80 with http { GET, POST }\n"                // 16
      "    allow from world on tcp/80 with http { ; GET }\n"                    // 17
      "    allow from world on tcp/80 with http { host }\n"                     // 18
      "    allow from world on tcp/80 with http { header = \"v\" }\n"           // 19
      "    allow from world on tcp/80 with http { }\n"                          // 20
      "    allow from world on tcp/80 with http { GETTINGTOOLONGMETHODS }\n"    // 21
      "    allow from world on tcp/80 with http { GET \"/a/**/b\" }\n"          // 22
      "    allow from world on tcp/80 with http { GET } with http { POST }\n"));  // 23
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(located(testing::diagnostics(*c)),
            (testing::Lines{
                "a.policy:4:44: error: invalid method `get`: a method is written in capital letters A-Z only "
                "(methods are case-sensitive)",
                "a.policy:5:49: error: invalid path pattern \"api\": a path starts with '/'",
                "a.policy:6:52: error: invalid path pattern \"/a//b\": empty path segment (two '/' in a row); "
                "requests with such a path are denied as unreadable, so no pattern may hold one",
                "a.policy:7:48: error: invalid path pattern \"/a/%2e/b\": \"%2e\" hides a '.'; requests with such a "
                "path are denied as unreadable, so no pattern may hold one",
                "a.policy:8:52: error: invalid host \"a..b\": empty label: a leading '.' or two '.' in a row",
                "a.policy:9:53: error: invalid header name \"X Y\": character byte 0x20 is not allowed in a header "
                "name",
                "a.policy:10:58: error: invalid value \" v\" of header \"x\": a header value is compared without the "
                "spaces around it, so it cannot begin or end with one",
                "a.policy:11:62: error: header \"X\" is named twice in one item",
                "a.policy:12:49: error: unexpected `GET` in a request item of `with http { ... }`: the method comes "
                "first in an item",
                "a.policy:13:48: error: unexpected `POST` in a request item of `with http { ... }`: an item has at "
                "most one method; write one item per method",
                "a.policy:14:49: error: unexpected `\"/b\"` in a request item of `with http { ... }`: an item has at "
                "most one path",
                "a.policy:15:55: error: unexpected `host` in a request item of `with http { ... }`: `host` comes "
                "before `header`",
                "a.policy:16:47: error: request items are separated by `;`, not `,`",
                "a.policy:17:44: error: empty request item in `with http { ... }`",
                "a.policy:18:44: error: expected a quoted host name after `host`",
                "a.policy:19:51: error: expected a quoted header name after `header`, found `=`",
                "a.policy:20:32: error: `with http { }` lists no requests",
                "a.policy:21:60: error: invalid method `GETTINGTOOLONGMETHODS`: the method is longer than 16 "
                "letters",
                "a.policy:22:52: error: invalid path pattern \"/a/**/b\": \"**\" stands only as the last segment "
                "(\"/static/**\"); '*' matches within one segment",
                "a.policy:23:50: error: a rule has at most one `with http { ... }`",
            }))
      << testing::rendered(*c);
}

TEST(FeaturesHttp, AnHttpConditionNeedsTcpPortNumbersAndNoDnsCondition) {
  auto c = testing::compile(
      "policy p {\n  selects {}\n  ingress {\n"
      "    allow from world with http { GET }\n"                                            // 4
      "    allow from world on udp/80 with http { GET }\n"                                  // 5
      "    allow from world on tcp with http { GET }\n"                                     // 6
      "    allow from world on tcp/http with http { GET }\n"                                // 7
      "    deny from world on tcp/80, tcp/8000-8080 with http { DELETE }\n"                 // 8: fine
      "  }\n  egress {\n"
      "    allow to world on tcp/53 with dns { \"a.example\" } with http { GET }\n"          // 11
      "    deny to world on tcp/443 with http { GET \"/admin/**\" }\n"                       // 12: fine
      "  }\n}\n");
  EXPECT_FALSE(c->checked);
  EXPECT_EQ(located(testing::diagnostics(*c)),
            (testing::Lines{
                "a.policy:4:22: error: a rule with `with http` must name its ports",
                "a.policy:5:25: error: a rule with `with http` reads requests on TCP ports given by number",
                "a.policy:6:25: error: a rule with `with http` reads requests on TCP ports given by number",
                "a.policy:7:29: error: a rule with `with http` takes port numbers: named ports are not supported "
                "with `with http` yet",
                "a.policy:11:55: error: a rule cannot have both `with http` and `with dns`",
            }))
      << testing::rendered(*c);
}

TEST(FeaturesHttp, OnlyTheSocketLayerEnforcesItAndEveryTargetHasOne) {
  EXPECT_FALSE(enforceableBy(ProgramKind::Tc));
  EXPECT_FALSE(enforceableBy(ProgramKind::CgroupSkb));
  EXPECT_TRUE(enforceableBy(ProgramKind::SkSkb));
  EXPECT_TRUE(enforceableBy(ProgramKind::SkMsg));
  auto c = testing::compile(ingress("    allow from world on tcp/80 with http { GET }\n"));
  ASSERT_TRUE(c->ir) << "the pipeline's enforceability check passes it to the socket layer: "
                     << testing::rendered(*c);
}

}  // namespace
}  // namespace membrane::features::http
