// io::JsonNesting (runtime/io/json.h): the one finder of repeated JSON keys,
// driven here by hand as a streaming reader drives it. The strict reader's
// messages are tested in tests/runtime/strict_json_test.cpp, the inventory's
// in inventory_test.cpp.
#include "io/json.h"

#include <gtest/gtest.h>

namespace {

using membrane::io::JsonNesting;
using membrane::io::memberPath;

// A member step that brackets every key, as a reader with its own quoting would.
std::string bracketed(const std::string& parent, const std::string& key) { return parent + "[" + key + "]"; }

TEST(JsonNesting, ARepeatedKeyGivesTheOffsetOfItsFirstUse) {
  JsonNesting n;
  n.value();
  n.open(true);
  EXPECT_EQ(n.key("a", 1), std::nullopt);
  n.value();
  EXPECT_EQ(n.key("b", 9), std::nullopt);
  n.value();
  EXPECT_EQ(n.key("a", 17), std::optional<size_t>(1));
}

TEST(JsonNesting, KeysCountPerObjectSoEqualKeysInSiblingObjectsAreFine) {
  JsonNesting n;
  n.value();
  n.open(false);  // [
  for (size_t i = 0; i < 2; ++i) {
    n.value();
    n.open(true);  // {"name": ...}
    EXPECT_EQ(n.key("name", 10 * i), std::nullopt) << i;
    n.value();
    n.close();
  }
  n.close();
  EXPECT_EQ(n.depth(), 0u);
}

TEST(JsonNesting, PathsNameTheMemberAndElementBeingRead) {
  // {"endpoints": [1, {"labels": {"x": ...
  JsonNesting n;
  n.value();
  n.open(true);
  n.key("endpoints", 1);
  n.value();
  n.open(false);
  n.value();  // element 0, a scalar
  n.value();  // element 1
  n.open(true);
  n.key("labels", 20);
  n.value();
  n.open(true);
  n.key("x", 31);
  EXPECT_EQ(n.depth(), 4u);
  EXPECT_EQ(n.path(n.depth() - 1, memberPath), "endpoints[1].labels");
  EXPECT_EQ(n.path(n.depth(), memberPath), "endpoints[1].labels.x");
  EXPECT_EQ(n.path(n.depth() - 1, bracketed), "[endpoints][1][labels]");
  EXPECT_EQ(n.path(0, memberPath), "");
  EXPECT_TRUE(n.isObject(0));
  EXPECT_FALSE(n.isObject(1));
  EXPECT_EQ(n.currentKey(0), "endpoints");
  EXPECT_EQ(n.currentIndex(1), 1u);
}

}  // namespace
