// support/text.h: the counting and timing every command's summary line uses.
#include "support/text.h"

#include <gtest/gtest.h>

namespace {

using membrane::plural;

TEST(Plural, UsesTheSingularForExactlyOne) {
  EXPECT_EQ(plural(1, "file", "files"), "1 file");
  EXPECT_EQ(plural(1, "policy", "policies"), "1 policy");
}

TEST(Plural, UsesThePluralForZeroAndForMany) {
  EXPECT_EQ(plural(0, "file", "files"), "0 files");
  EXPECT_EQ(plural(2, "class", "classes"), "2 classes");
  EXPECT_EQ(plural(1000000, "endpoint", "endpoints"), "1000000 endpoints");
}

TEST(SecondsText, PrintsHundredthsOfASecond) {
  EXPECT_EQ(membrane::secondsText(0.184), "0.18 s");
  EXPECT_EQ(membrane::secondsText(12.5), "12.50 s");
  EXPECT_EQ(membrane::secondsText(0), "0.00 s");
}

}  // namespace
