// support/utf8: UTF-8 well-formedness (RFC 3629) as every reader of text
// that must be UTF-8 checks it, and decoding text already checked.
#include "support/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace membrane {
namespace {

TEST(Utf8, AcceptsAsciiAndEveryLengthOfSequence) {
  EXPECT_EQ(firstInvalidUtf8(""), std::string_view::npos);
  EXPECT_EQ(firstInvalidUtf8("allow from world"), std::string_view::npos);
  EXPECT_EQ(firstInvalidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string_view::npos);  // é € 😀
  EXPECT_EQ(firstInvalidUtf8("\xF4\x8F\xBF\xBF"), std::string_view::npos);                           // U+10FFFF
}

TEST(Utf8, PointsAtTheFirstByteThatIsNotWellFormed) {
  EXPECT_EQ(firstInvalidUtf8("ab\x80"), 2u);             // a continuation byte alone
  EXPECT_EQ(firstInvalidUtf8("ab\xC3"), 2u);             // cut short at the end
  EXPECT_EQ(firstInvalidUtf8("a\xC3(b"), 1u);            // not followed by a continuation
  EXPECT_EQ(firstInvalidUtf8("ok\xFF"), 2u);             // never in UTF-8
}

TEST(Utf8, RefusesOverlongFormsSurrogatesAndCodePointsPastTheLast) {
  EXPECT_EQ(firstInvalidUtf8("\xC0\xAF"), 0u);           // '/' in two bytes
  EXPECT_EQ(firstInvalidUtf8("\xE0\x80\xAF"), 0u);       // '/' in three
  EXPECT_EQ(firstInvalidUtf8("\xF0\x80\x80\xAF"), 0u);   // '/' in four
  EXPECT_EQ(firstInvalidUtf8("x\xED\xA0\x80"), 1u);      // U+D800, a surrogate
  EXPECT_EQ(firstInvalidUtf8("\xF4\x90\x80\x80"), 0u);   // U+110000
}

TEST(Utf8, DecodesOneCodePointAtATime) {
  std::string_view s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  size_t i = 0;
  EXPECT_EQ(nextCodePoint(s, i), U'a');
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(nextCodePoint(s, i), U'\u00E9');
  EXPECT_EQ(i, 3u);
  EXPECT_EQ(nextCodePoint(s, i), U'\u20AC');
  EXPECT_EQ(i, 6u);
  EXPECT_EQ(nextCodePoint(s, i), U'\U0001F600');
  EXPECT_EQ(i, s.size());
}

}  // namespace
}  // namespace membrane
