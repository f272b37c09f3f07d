// names/dns: the rules for DNS names and patterns (docs/dns.md, "Names and
// patterns") — what is accepted, how it is normalized, where errors point,
// and the reference meaning of a pattern.
#include "names/dns.h"

#include <gtest/gtest.h>

#include <string>

namespace membrane::names {
namespace {

DnsPattern parsed(std::string_view written) {
  auto r = parseDnsPattern(written);
  if (auto* error = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "\"" << written << "\": " << *error;
    return {};
  }
  return std::get<DnsPattern>(r);
}

struct Refusal {
  std::string message;
  size_t column = 0;
};

Refusal refused(std::string_view written) {
  size_t column = 12345;
  auto r = parseDnsPattern(written, &column);
  if (!std::holds_alternative<std::string>(r)) {
    ADD_FAILURE() << "\"" << written << "\" was accepted";
    return {};
  }
  return {std::get<std::string>(r), column};
}

bool matches(std::string_view pattern, std::string_view name) { return dnsPatternMatches(parsed(pattern), name); }

TEST(DnsPattern, SplitsANameIntoItsLabelsAndMarksNoWildcard) {
  DnsPattern p = parsed("api.stripe.com");
  EXPECT_EQ(p.text, "api.stripe.com");
  EXPECT_EQ(p.labels, (std::vector<std::string>{"api", "stripe", "com"}));
  EXPECT_FALSE(p.wildcard);
}

TEST(DnsPattern, LowercasesAndDropsOneTrailingDot) {
  DnsPattern p = parsed("API.Stripe.COM.");
  EXPECT_EQ(p.text, "api.stripe.com");
  EXPECT_EQ(p.labels, (std::vector<std::string>{"api", "stripe", "com"}));
}

TEST(DnsPattern, MarksAPatternHoldingAStar) {
  EXPECT_TRUE(parsed("*.s3.amazonaws.com").wildcard);
  EXPECT_TRUE(parsed("api-*.example.com").wildcard);
  DnsPattern all = parsed("*");
  EXPECT_TRUE(all.wildcard);
  EXPECT_EQ(all.text, "*");
  EXPECT_EQ(all.labels, (std::vector<std::string>{"*"}));
}

TEST(DnsPattern, AcceptsDigitsHyphensAndUnderscoresAnywhereInALabel) {
  EXPECT_EQ(parsed("_sip._tcp.example.com").text, "_sip._tcp.example.com");
  EXPECT_EQ(parsed("-x-.9.com").text, "-x-.9.com");
}

TEST(DnsPattern, AcceptsTheLimitsExactly) {
  std::string label63(63, 'a');
  EXPECT_EQ(parsed(label63 + ".com").labels[0], label63);
  // 32 labels of one character: 63 characters.
  std::string labels32 = "a";
  for (int i = 1; i < 32; ++i) labels32 += ".a";
  EXPECT_EQ(parsed(labels32).labels.size(), 32u);
  // 253 characters: four labels of 63 and '.' between them is 255, so three
  // of 63 and one of 61.
  std::string long253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                        std::string(61, 'd');
  ASSERT_EQ(long253.size(), 253u);
  EXPECT_EQ(parsed(long253 + ".").text, long253);
}

TEST(DnsPattern, RefusesAnEmptyNameWithoutAColumn) {
  Refusal r = refused("");
  EXPECT_EQ(r.message, "the name is empty");
  EXPECT_EQ(r.column, std::string::npos);
}

TEST(DnsPattern, RefusesTheRootAloneAtItsDot) {
  Refusal r = refused(".");
  EXPECT_EQ(r.column, 0u);
  EXPECT_NE(r.message.find("no label"), std::string::npos) << r.message;
}

TEST(DnsPattern, RefusesEmptyLabelsAtTheDotThatEndsThem) {
  EXPECT_EQ(refused("a..b").column, 2u);
  EXPECT_EQ(refused(".a").column, 0u);
  EXPECT_EQ(refused("a..").column, 2u);
  EXPECT_NE(refused("a..b").message.find("empty label"), std::string::npos);
}

TEST(DnsPattern, RefusesOtherCharactersAtTheirColumn) {
  Refusal space = refused("api.str ipe.com");
  EXPECT_EQ(space.column, 7u);
  EXPECT_NE(space.message.find("character ' '"), std::string::npos) << space.message;
  EXPECT_EQ(refused("a/b").column, 1u);
  EXPECT_EQ(refused("a:b").column, 1u);
  // A byte outside printable ASCII is shown in hex, never raw.
  Refusal utf8 = refused("b\xc3\xbc.de");
  EXPECT_EQ(utf8.column, 1u);
  EXPECT_NE(utf8.message.find("byte 0xc3"), std::string::npos) << utf8.message;
  EXPECT_EQ(refused(std::string_view("a\0b", 3)).column, 1u);
}

TEST(DnsPattern, RefusesANameLongerThan253Characters) {
  std::string long254 = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                        std::string(62, 'd');
  Refusal r = refused(long254);
  EXPECT_EQ(r.column, 253u);
  EXPECT_NE(r.message.find("254 characters"), std::string::npos) << r.message;
}

TEST(DnsPattern, RefusesMoreThan32LabelsAtTheFirstOneTooMany) {
  std::string labels33 = "a";
  for (int i = 1; i < 33; ++i) labels33 += ".a";
  Refusal r = refused(labels33);
  EXPECT_EQ(r.column, 64u);
  EXPECT_NE(r.message.find("more than 32 labels"), std::string::npos) << r.message;
}

TEST(DnsPattern, RefusesALabelLongerThan63CharactersAtItsSixtyFourthCharacter) {
  Refusal r = refused("www." + std::string(64, 'x') + ".com");
  EXPECT_EQ(r.column, 4u + 63u);
  EXPECT_NE(r.message.find("longer than 63"), std::string::npos) << r.message;
}

TEST(DnsPattern, RefusesTwoStarsInOneLabelAtTheSecond) {
  Refusal r = refused("x.a*b*.com");
  EXPECT_EQ(r.message, "label \"a*b*\" has more than one '*'");
  EXPECT_EQ(r.column, 5u);
}

TEST(DnsPattern, RefusesADoubleStarSayingAStarStandsWithinOneLabel) {
  Refusal r = refused("**.example.com");
  EXPECT_EQ(r.column, 1u);
  EXPECT_NE(r.message.find("\"**\""), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("one label"), std::string::npos) << r.message;
  EXPECT_EQ(refused("**").column, 1u);
}

TEST(DnsPattern, ReportsErrorsInTheStringAsWrittenWithUppercaseAndTrailingDot) {
  EXPECT_EQ(refused("A.B*C*.COM.").column, 5u);
}

TEST(DnsPatternMatches, AnExactNameMatchesItselfOnly) {
  EXPECT_TRUE(matches("api.stripe.com", "api.stripe.com"));
  EXPECT_FALSE(matches("api.stripe.com", "stripe.com"));
  EXPECT_FALSE(matches("api.stripe.com", "x.api.stripe.com"));
  EXPECT_FALSE(matches("api.stripe.com", "api.stripe.co"));
}

TEST(DnsPatternMatches, ALeadingStarMatchesExactlyOneLabelBeforeTheRest) {
  EXPECT_TRUE(matches("*.s3.amazonaws.com", "bucket.s3.amazonaws.com"));
  EXPECT_FALSE(matches("*.s3.amazonaws.com", "s3.amazonaws.com"));
  EXPECT_FALSE(matches("*.s3.amazonaws.com", "a.b.s3.amazonaws.com"));
  EXPECT_FALSE(matches("*.s3.amazonaws.com", "bucket.s3.amazonaws.com.evil.net"));
}

TEST(DnsPatternMatches, AStarInsideALabelMatchesAnyRunIncludingAnEmptyOne) {
  EXPECT_TRUE(matches("api-*.example.com", "api-eu.example.com"));
  EXPECT_TRUE(matches("api-*.example.com", "api-.example.com"));
  EXPECT_FALSE(matches("api-*.example.com", "api.example.com"));
  EXPECT_FALSE(matches("api-*.example.com", "api-eu.west.example.com"));
  EXPECT_TRUE(matches("a*z.example.com", "az.example.com"));
  EXPECT_TRUE(matches("a*z.example.com", "abcz.example.com"));
  // Prefix and suffix do not share characters: "aba" is not "ab" + run + "ba".
  EXPECT_FALSE(matches("ab*ba.example.com", "aba.example.com"));
  EXPECT_TRUE(matches("ab*ba.example.com", "abba.example.com"));
}

TEST(DnsPatternMatches, StarsInSeveralLabelsEachMatchTheirOwnLabel) {
  EXPECT_TRUE(matches("*.*.example.com", "a.b.example.com"));
  EXPECT_FALSE(matches("*.*.example.com", "b.example.com"));
}

TEST(DnsPatternMatches, AStarAloneMatchesEveryName) {
  EXPECT_TRUE(matches("*", "com"));
  EXPECT_TRUE(matches("*", "a.b.c.d.example.com"));
  EXPECT_FALSE(matches("*", ""));
}

TEST(DnsPatternMatches, IgnoresCaseInTheNameAndThePatternAsWritten) {
  EXPECT_TRUE(matches("API.Stripe.com.", "api.stripe.com"));
  EXPECT_TRUE(matches("*.S3.amazonaws.com", "Bucket.s3.AMAZONAWS.com"));
}

TEST(DnsPatternMatches, ATrailingDotInThePatternChangesNothing) {
  EXPECT_TRUE(matches("*.s3.amazonaws.com.", "bucket.s3.amazonaws.com"));
  EXPECT_FALSE(matches("*.s3.amazonaws.com.", "s3.amazonaws.com"));
}

TEST(DnsPatternMatches, NamesThatAreNotNamesMatchNothing) {
  EXPECT_FALSE(matches("*.example.com", "*.example.com"));
  EXPECT_FALSE(matches("*", "a..b"));
  EXPECT_FALSE(matches("*.example.com", ".example.com"));
}

}  // namespace
}  // namespace membrane::names
