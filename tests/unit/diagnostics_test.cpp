// The diagnostic printer: how much of a long source line and of a long
// message it shows, and "did you mean" matching on words of any length.
#include "support/diagnostics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "frontend_test_support.h"
#include "heap_peak.h"

namespace membrane {
namespace {

using namespace membrane::testing;

TEST(DiagnosticExcerpt, ShortLinesAreShownWhole) {
  SourceExcerpt e = excerpt("  allow to wrold", 12, 5);
  EXPECT_EQ(e.line, "  allow to wrold");
  EXPECT_EQ(e.caret, "           ^~~~~");
}

TEST(DiagnosticExcerpt, TabsStayInTheCaretLine) {
  SourceExcerpt e = excerpt("\tallow to wrold", 11, 5);
  EXPECT_EQ(e.caret, "\t         ^~~~~");
}

TEST(DiagnosticExcerpt, ALongLineIsCutAroundTheCaret) {
  std::string line = std::string(1000, 'a') + " bad " + std::string(1000, 'b');
  SourceExcerpt e = excerpt(line, 1002, 3);  // `bad`
  // 40 bytes before the caret (39 `a` and the space), 160 bytes in all.
  EXPECT_EQ(e.line, "..." + std::string(39, 'a') + " bad " + std::string(kMaxLineBytes - 44, 'b') + "...");
  EXPECT_EQ(e.caret, std::string(3 + 40, ' ') + "^~~");
}

TEST(DiagnosticExcerpt, ALongRangeIsUnderlinedToTheCut) {
  std::string line = "selects { app = \"" + std::string(10'000'000, 'x') + "\" }";
  SourceExcerpt e = excerpt(line, 17, static_cast<uint32_t>(line.size() - 18));
  EXPECT_EQ(e.line, line.substr(0, kMaxLineBytes) + "...");
  EXPECT_EQ(e.caret, std::string(16, ' ') + "^" + std::string(kMaxLineBytes - 17, '~'));
}

TEST(DiagnosticExcerpt, CutsNeverSplitACharacter) {
  std::string line;
  while (line.size() < 1000) line += "é";  // two bytes each
  SourceExcerpt e = excerpt(line, 501, 2);
  ASSERT_EQ(e.line.substr(0, 3), "...");
  ASSERT_EQ(e.line.substr(e.line.size() - 3), "...");
  std::string shown = e.line.substr(3, e.line.size() - 6);
  EXPECT_EQ(shown.size() % 2, 0u);
  EXPECT_EQ(shown.substr(0, 2), "é");
}

TEST(DiagnosticMessage, LongWordsAreShortenedKeepingTheirQuote) {
  std::string value(10'000'000, 'v');
  EXPECT_EQ(shortenLongWords("invalid label value '" + value + "': is longer than 63 characters"),
            "invalid label value '" + std::string(kWordKeptBytes - 1, 'v') + "...': is longer than 63 characters");
  EXPECT_EQ(shortenLongWords("found `" + value + "`"), "found `" + std::string(kWordKeptBytes - 1, 'v') + "...`");
  EXPECT_EQ(shortenLongWords("unknown peers 'web'"), "unknown peers 'web'");
}

TEST(DiagnosticMessage, ManyShortWordsAreCutAtTheMessageLimit) {
  std::string words;
  while (words.size() < 100'000) words += "a b ";
  std::string shown = shortenLongWords("value \"" + words + "\"");
  EXPECT_LE(shown.size(), kMaxMessageBytes + 3);
  EXPECT_EQ(shown.substr(shown.size() - 3), "...");
}

// The whole report for a long label value: the message, the line and the
// caret were each as long as the value (31 MB for a 10 MB value).
TEST(DiagnosticPrinter, AMegabyteLabelValuePrintsAFewLines) {
  std::string value(1'000'000, 'v');
  auto c = compile("policy p {\n  selects { app = " + value + " }\n  ingress {}\n}\n");
  std::string out = rendered(*c);
  EXPECT_LT(out.size(), 1000u) << out.substr(0, 2000);
  std::string v = std::string(kWordKeptBytes - 1, 'v');
  const std::string start = "  selects { app = ";
  EXPECT_EQ(out, "a.policy:2:13: error: invalid label value '" + v + "...': is longer than 63 characters\n  " +
                     start + std::string(kMaxLineBytes - start.size(), 'v') + "...\n  " + std::string(12, ' ') +
                     "^" + std::string(kMaxLineBytes - 13, '~') + "\n");
}

// A word of 10 MB against a few keywords built a 10-million-row table per
// candidate; now a word no name could be is not compared at all.
TEST(DidYouMean, AWordLongerThanAnyNameIsNotCompared) {
  std::string word(1'000'000, 'w');
  size_t before = resetHeapPeak();
  EXPECT_EQ(closestMatch(word, {"world", "cluster", "host", "all"}), "");
  EXPECT_LT(heapPeak.load() - before, 4096u);
  EXPECT_EQ(closestMatch("wrold", {"world", "cluster"}), "world");
  EXPECT_EQ(closestMatch("clusterr", {"world", "cluster"}), "cluster");
}

}  // namespace
}  // namespace membrane
