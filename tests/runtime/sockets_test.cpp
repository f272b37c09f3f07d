// The socket layer's slots (runtime/loader/sockets.h): which prog-array slot
// each endpoint with L7 rules gets across applies. Pure: no kernel needed.
#include <gtest/gtest.h>

#include "abi/datapath.h"
#include "loader/sockets.h"

namespace membrane::loader::sockets {
namespace {

TEST(SocketSlots, AnEndpointKeepsItsSlotAcrossApplies) {
  auto slots = assignSlots({"a/x", "a/y"}, {{"a/y", 7}}, nullptr);
  ASSERT_TRUE(slots);
  EXPECT_EQ(slots->at("a/y"), 7u);
  EXPECT_EQ(slots->at("a/x"), 0u);
}

TEST(SocketSlots, ASlotAGoneEndpointHeldIsGivenOutLast) {
  // a/old held 0 and is gone: its connections may still reach slot 0, so
  // the newcomer gets 2, not 0.
  auto slots = assignSlots({"a/new", "a/kept"}, {{"a/old", 0}, {"a/kept", 1}}, nullptr);
  ASSERT_TRUE(slots);
  EXPECT_EQ(slots->at("a/kept"), 1u);
  EXPECT_EQ(slots->at("a/new"), 2u);
}

TEST(SocketSlots, FreedSlotsAreReusedOnlyWhenNoOtherIsLeft) {
  std::vector<std::string> need;
  std::map<std::string, uint32_t> previous = {{"gone/0", 0}};
  for (uint32_t i = 1; i < MB_L7_SLOTS; ++i) {
    need.push_back("k/" + std::to_string(i));
    previous["k/" + std::to_string(i)] = i;
  }
  need.push_back("new/0");
  auto slots = assignSlots(need, previous, nullptr);
  ASSERT_TRUE(slots);
  EXPECT_EQ(slots->at("new/0"), 0u);
}

TEST(SocketSlots, MoreEndpointsThanSlotsAreRefusedSayingSo) {
  std::vector<std::string> need;
  for (uint32_t i = 0; i <= MB_L7_SLOTS; ++i) need.push_back("k/" + std::to_string(i));
  std::string error;
  EXPECT_FALSE(assignSlots(need, {}, &error));
  EXPECT_NE(error.find("more than the socket layer's 4096 slots"), std::string::npos) << error;
}

}  // namespace
}  // namespace membrane::loader::sockets
