// support/text.h: the counting, timing and case folding the commands share.
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

TEST(Lowercase, LowersAsciiLettersOnly) {
  EXPECT_EQ(membrane::lowercase("MB101 Shadowed-Rule"), "mb101 shadowed-rule");
  EXPECT_EQ(membrane::lowercase("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");  // UTF-8 bytes stay as they are
}

TEST(SecondsText, PrintsHundredthsOfASecond) {
  EXPECT_EQ(membrane::secondsText(0.184), "0.18 s");
  EXPECT_EQ(membrane::secondsText(12.5), "12.50 s");
  EXPECT_EQ(membrane::secondsText(0), "0.00 s");
}

}  // namespace
