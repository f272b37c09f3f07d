// io::parseJsonStrictly (runtime/io/json.h): JSON as nlohmann reads it, but a
// key repeated in one object is an error, and every member and element can
// be found again by its path, as line:column.
#include <gtest/gtest.h>

#include "io/json.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

std::string refusal(const std::string& text) {
  std::string error;
  return io::parseJsonStrictly(text, &error) ? "" : error;
}

TEST(StrictJson, ReadsWhatNlohmannReads) {
  std::string error;
  auto doc = io::parseJsonStrictly(R"({"a": [1, {"b": "c"}], "d": null, "e": -1.5e3})", &error);
  ASSERT_TRUE(doc) << error;
  EXPECT_EQ(doc->value, nlohmann::json::parse(R"({"a": [1, {"b": "c"}], "d": null, "e": -1.5e3})"));
}

TEST(StrictJson, RefusesAKeyRepeatedInAnyObject) {
  EXPECT_EQ(refusal(R"({"a": 1, "a": 2})"), R"(1:10: duplicate key "a" (first at 1:2))");
  EXPECT_EQ(refusal("{\"a\": [[{}], [{\"x\": 1,\n \"y\": {}, \"x\": 3}]]}"),
            R"(2:11: a[1][0]: duplicate key "x" (first at 1:16))");
  // Keys are compared after escapes are undone.
  EXPECT_EQ(refusal(R"({"k": {"\u0061": 1, "a": 2}})"), R"(1:21: k: duplicate key "a" (first at 1:8))");
  // Equal keys in different objects are no duplicates.
  EXPECT_EQ(refusal(R"({"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]})"), "");
}

TEST(StrictJson, TellsWhereEachMemberAndElementStarts) {
  std::string text = "{\n  \"host\": {\"addresses\": [\"198.18.0.1\", 12, true]},\n  \"e\": [{\"k\": \"v\\\"\"}]\n}";
  std::string error;
  auto doc = io::parseJsonStrictly(text, &error);
  ASSERT_TRUE(doc) << error;
  EXPECT_EQ(doc->where(""), "1:1");
  EXPECT_EQ(doc->where("host"), "2:3");
  EXPECT_EQ(doc->where("host.addresses"), "2:12");
  EXPECT_EQ(doc->where("host.addresses[0]"), "2:26");
  EXPECT_EQ(doc->where("host.addresses[1]"), "2:40");
  EXPECT_EQ(doc->where("host.addresses[2]"), "2:44");
  EXPECT_EQ(doc->where("e[0]"), "3:9");
  EXPECT_EQ(doc->where("e[0].k"), "3:10");
  // Something not there: its nearest recorded ancestor.
  EXPECT_EQ(doc->where("e[0].missing"), "3:9");
  EXPECT_EQ(doc->where("nowhere.at.all"), "1:1");
  EXPECT_EQ(doc->where("host.addresses[7]"), "2:12");
}

TEST(StrictJson, SaysWhereInvalidJsonStops) {
  EXPECT_TRUE(Contains(refusal("{\n  \"a\": tru\n}"),
                       "2:11: not valid JSON: syntax error while parsing value - invalid literal"));
  EXPECT_TRUE(Contains(refusal(""), "1:1: not valid JSON: "));
  EXPECT_TRUE(Contains(refusal("{\"a\": 1e99999}"), "not valid JSON: "));
}

// Nesting deeper than any input of the node is refused where it gets too
// deep, before it costs memory or stack (200,000 levels took gigabytes when
// every value's path was kept).
TEST(StrictJson, RefusesDeepNesting) {
  EXPECT_EQ(refusal(std::string(64, '[') + std::string(64, ']')), "");
  EXPECT_EQ(refusal(std::string(200000, '[') + std::string(200000, ']')), "1:65: nested deeper than 64 levels");
  EXPECT_EQ(refusal("{\"a\": " + std::string(100, '[')), "1:70: nested deeper than 64 levels");
}

// Long keys and many elements: the reader stays linear in the input.
TEST(StrictJson, LongKeysAndLongArraysStayCheap) {
  std::string key(1 << 20, 'k');
  std::string text = "{\"" + key + "\": [";
  for (int i = 0; i < 200000; ++i) text += i ? ",1" : "1";
  text += "], \"x\": {\"" + key + "\": {\"y\": 1, \"y\": 2}}}";
  EXPECT_TRUE(finishesWithin(std::chrono::seconds(10), [text] {
    std::string error;
    EXPECT_FALSE(io::parseJsonStrictly(text, &error));
    EXPECT_TRUE(Contains(error, ": duplicate key \"y\"")) << error.substr(0, 100);
  }));
  std::string ok = text.substr(0, text.find("], \"x\"")) + "]}";
  std::string error;
  auto doc = io::parseJsonStrictly(ok, &error);
  ASSERT_TRUE(doc) << error;
  EXPECT_EQ(doc->where(key + "[199999]"), "1:" + std::to_string(key.size() + 7 + 2 * 199999));
}

}  // namespace
}  // namespace membrane::testing
