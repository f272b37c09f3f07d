// HTTP request parts (compiler/names/http.*): which path patterns, methods
// and header names and values a rule may hold, the reference meaning of a
// path pattern, and which request paths are canonical (docs/http.md,
// "Requests and patterns").
#include "names/http.h"

#include <gtest/gtest.h>

namespace membrane::names {
namespace {

HttpPathPattern pattern(std::string_view text) {
  auto parsed = parseHttpPathPattern(text);
  EXPECT_TRUE(std::holds_alternative<HttpPathPattern>(parsed)) << text << ": " << std::get<std::string>(parsed);
  return std::get<HttpPathPattern>(parsed);
}

// The error for `text`, with the offending character's offset.
std::pair<std::string, size_t> refused(std::string_view text) {
  size_t column = 0;
  auto parsed = parseHttpPathPattern(text, &column);
  if (!std::holds_alternative<std::string>(parsed)) return {"accepted", 0};
  return {std::get<std::string>(parsed), column};
}

TEST(NamesHttp, PathPatternsAreRefusedAtTheirOffendingCharacter) {
  EXPECT_EQ(refused("").second, std::string::npos) << "the whole string";
  EXPECT_EQ(refused("api/x"), (std::pair<std::string, size_t>{"a path starts with '/'", 0}));
  EXPECT_EQ(refused("/a b").second, 2u);
  EXPECT_EQ(refused("/a\\b").second, 2u);
  EXPECT_EQ(refused("/a#b").second, 2u);
  EXPECT_EQ(refused("/a?x=1").second, 2u);
  EXPECT_EQ(refused("/a/%2F").second, 3u) << "an escaped '/' in any case";
  EXPECT_EQ(refused("/a/%2E%2E").second, 3u);
  EXPECT_EQ(refused("/a%5cb").second, 2u);
  EXPECT_EQ(refused("/a//b").second, 3u) << "the empty segment";
  EXPECT_EQ(refused("//").second, 1u);
  EXPECT_EQ(refused("/a/./b").second, 3u);
  EXPECT_EQ(refused("/a/..").second, 3u);
  EXPECT_EQ(refused("/**/a").second, 1u) << "'**' only last";
  EXPECT_EQ(refused("/a**").second, 2u) << "'**' only as a whole segment";
  EXPECT_EQ(refused("/a\x80").second, 2u);
  EXPECT_EQ(refused("/" + std::string(kHttpPathPatternMaxChars, 'a')).second, kHttpPathPatternMaxChars);
  EXPECT_EQ(refused("/" + std::string(kHttpPathPatternMaxChars - 1, 'a')).first, "accepted") << "the limit itself";
  EXPECT_EQ(refused("/a/").first, "accepted") << "a trailing slash is the empty last segment";
  EXPECT_EQ(refused("/%20/caf%C3%A9").first, "accepted") << "escapes of other bytes, in capitals, are canonical";
  EXPECT_TRUE(pattern("/a/*").wildcard);
  EXPECT_FALSE(pattern("/a").wildcard);
}

TEST(NamesHttp, AStarMatchesWithinOneSegmentOnly) {
  auto p = pattern("/api/v1/products/*");
  EXPECT_TRUE(httpPathMatches(p, "/api/v1/products/42"));
  EXPECT_TRUE(httpPathMatches(p, "/api/v1/products/")) << "'*' may be empty";
  EXPECT_FALSE(httpPathMatches(p, "/api/v1/products")) << "the segment must be there";
  EXPECT_FALSE(httpPathMatches(p, "/api/v1/products/42/reviews"));
  auto pdf = pattern("/files/*.pdf");
  EXPECT_TRUE(httpPathMatches(pdf, "/files/a.pdf"));
  EXPECT_TRUE(httpPathMatches(pdf, "/files/.pdf"));
  EXPECT_FALSE(httpPathMatches(pdf, "/files/a.pdf.exe"));
  EXPECT_FALSE(httpPathMatches(pdf, "/files/x/a.pdf"));
  auto mid = pattern("/a*b*c");
  EXPECT_TRUE(httpPathMatches(mid, "/abc"));
  EXPECT_TRUE(httpPathMatches(mid, "/aXbYbZc"));
  EXPECT_FALSE(httpPathMatches(mid, "/aXbYcZ"));
  EXPECT_TRUE(httpPathMatches(pattern("/a/*/c"), "/a/b/c"));
  EXPECT_FALSE(httpPathMatches(pattern("/a/*/c"), "/a/b/d/c"));
}

TEST(NamesHttp, ExactPatternsMatchTheirPathOnlyCaseSensitively) {
  auto p = pattern("/api/v1/orders");
  EXPECT_TRUE(httpPathMatches(p, "/api/v1/orders"));
  EXPECT_FALSE(httpPathMatches(p, "/api/v1/orders/"));
  EXPECT_FALSE(httpPathMatches(p, "/API/v1/orders"));
  EXPECT_FALSE(httpPathMatches(p, "/api/v1/order"));
  EXPECT_TRUE(httpPathMatches(pattern("/"), "/"));
  EXPECT_FALSE(httpPathMatches(pattern("/"), "/a"));
}

TEST(NamesHttp, AFinalDoubleStarMatchesThePathBeforeItAndEverythingBelow) {
  auto p = pattern("/static/**");
  EXPECT_TRUE(httpPathMatches(p, "/static"));
  EXPECT_TRUE(httpPathMatches(p, "/static/"));
  EXPECT_TRUE(httpPathMatches(p, "/static/css/site.css"));
  EXPECT_FALSE(httpPathMatches(p, "/staticx"));
  EXPECT_FALSE(httpPathMatches(p, "/stat"));
  EXPECT_FALSE(httpPathMatches(p, "/"));
  auto all = pattern("/**");
  EXPECT_TRUE(httpPathMatches(all, "/"));
  EXPECT_TRUE(httpPathMatches(all, "/a/b/c"));
  EXPECT_TRUE(httpPathMatches(pattern("/v*/**"), "/v2/x/y"));
  EXPECT_FALSE(httpPathMatches(pattern("/v*/**"), "/w2/x"));
}

TEST(NamesHttp, NonCanonicalPathsMatchNoPatternNotEvenEverything) {
  auto all = pattern("/**");
  for (std::string_view path : {"", "*", "http://h/a", "//", "/a//b", "/a/./b", "/a/../b", "/.", "/a/..", "/a%2Fb",
                                "/a%2fb", "/%2e%2e/x", "/a%5Cb", "/a\\b", "/a b", "/a\tb", "/a\x7f", "/caf\xc3\xa9",
                                "/a#frag", "/%61dmin", "/%41", "/a%2", "/a%", "/caf%c3%a9"}) {
    EXPECT_FALSE(httpPathCanonical(path)) << path;
    EXPECT_FALSE(httpPathMatches(all, path)) << path;
  }
  for (std::string_view path : {"/", "/a/", "/a/b", "/a/.b", "/a/..b", "/a%20b", "/caf%C3%A9", "/a%3B", "/%25"}) {
    EXPECT_TRUE(httpPathCanonical(path)) << path;
    EXPECT_TRUE(httpPathMatches(all, path)) << path;
  }
}

// RFC 3986 section 2.3: a canonical URI writes these as themselves, and a
// server that normalizes decodes their escapes ("/%61dmin" is "/admin").
const std::string kUnreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

std::string escaped(unsigned byte, bool lowercase) {
  const char* digits = lowercase ? "0123456789abcdef" : "0123456789ABCDEF";
  return std::string("%") + digits[byte >> 4] + digits[byte & 15];
}

TEST(NamesHttp, OnlyCapitalEscapesOfBytesOtherThanUnreservedCharactersAndSeparatorsAreCanonical) {
  for (unsigned byte = 0; byte < 256; ++byte) {
    bool neverEscaped = kUnreserved.find(static_cast<char>(byte)) != std::string::npos || byte == '/' || byte == '\\';
    for (bool lowercase : {false, true}) {
      std::string path = "/a" + escaped(byte, lowercase) + "b";
      bool hasLetter = path.substr(2, 3).find_first_of("abcdef") != std::string::npos;
      EXPECT_EQ(httpPathCanonical(path), !neverEscaped && !hasLetter) << path;
    }
  }
}

TEST(NamesHttp, AnEscapeWithALowercaseHexDigitIsNotCanonical) {
  EXPECT_TRUE(httpPathCanonical("/caf%C3%A9/%3A%2C%20"));
  for (std::string_view path : {"/caf%c3%A9", "/caf%C3%a9", "/%3a", "/%2c", "/a%ff"})
    EXPECT_FALSE(httpPathCanonical(path)) << path;
}

TEST(NamesHttp, APercentSignNotFollowedByTwoHexDigitsIsNotCanonical) {
  for (std::string_view path : {"/a%", "/a%4", "/a%4/b", "/a%G1", "/a%4G", "/%%41", "/a%/b", "/100%", "/a%2"})
    EXPECT_FALSE(httpPathCanonical(path)) << path;
}

TEST(NamesHttp, TheFaultOfAPathNamesItsCharacterAndWhy) {
  auto fault = httpPathFault("/%61dmin/x");
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->at, 1u);
  EXPECT_EQ(fault->why, "\"%61\" escapes 'a', which a canonical path writes as itself");
  EXPECT_EQ(httpPathFault("/a/%2f")->why, "\"%2f\" hides a '/'");
  EXPECT_EQ(httpPathFault("/a/%5C")->why, "\"%5C\" hides a '\\'");
  EXPECT_EQ(httpPathFault("/x%c3")->why, "\"%c3\" has a lowercase hex digit (the canonical escape is \"%C3\")");
  EXPECT_EQ(httpPathFault("/x%c")->at, 2u);
  EXPECT_EQ(httpPathFault("/x%c")->why, "'%' not followed by two hex digits");
  EXPECT_EQ(httpPathFault("/a//b")->at, 3u);
  EXPECT_EQ(httpPathFault("/a/../b")->why, "a \"..\" segment");
  EXPECT_FALSE(httpPathFault("/a/%C3%A9"));
}

TEST(NamesHttp, PatternsHoldingANonCanonicalEscapeAreRefusedAtThePercentSign) {
  EXPECT_EQ(refused("/%61dmin/**"),
            (std::pair<std::string, size_t>{"\"%61\" escapes 'a', which a canonical path writes as itself; requests "
                                            "with such a path are denied as unreadable, so no pattern may hold one",
                                            1}));
  EXPECT_EQ(refused("/api/%7Euser").second, 5u);
  EXPECT_EQ(refused("/api/x%2Dy").second, 6u);
  EXPECT_EQ(refused("/a/b%c3%a9").second, 4u) << "lowercase hex";
  EXPECT_EQ(refused("/a/50%").second, 5u) << "a malformed escape";
  EXPECT_EQ(refused("/a/%4*").second, 3u) << "'*' is no hex digit";
  EXPECT_EQ(refused("/a/%C3%A9/*").first, "accepted");
}

TEST(NamesHttp, PathsOverTheLimitMatchNoPattern) {
  auto all = pattern("/**");
  std::string atLimit = "/" + std::string(kHttpPathMaxBytes - 1, 'a');
  EXPECT_TRUE(httpPathMatches(all, atLimit));
  EXPECT_FALSE(httpPathMatches(all, atLimit + "a"));
  EXPECT_FALSE(httpPathMatches(pattern("/*"), atLimit + "a"));
}

TEST(NamesHttp, MethodsHeaderNamesAndValuesAreCheckedWithTheirColumn) {
  size_t column = 0;
  EXPECT_EQ(checkHttpMethod("GET"), "");
  EXPECT_NE(checkHttpMethod("Get", &column), "");
  EXPECT_EQ(column, 1u);
  EXPECT_NE(checkHttpMethod(""), "");
  EXPECT_EQ(checkHttpMethod(std::string(kHttpMethodMaxChars, 'A')), "");
  EXPECT_NE(checkHttpMethod(std::string(kHttpMethodMaxChars + 1, 'A'), &column), "");
  EXPECT_EQ(column, kHttpMethodMaxChars);

  EXPECT_EQ(checkHttpHeaderName("X-Api_Key.1~"), "");
  EXPECT_NE(checkHttpHeaderName("X:Y", &column), "");
  EXPECT_EQ(column, 1u);
  EXPECT_NE(checkHttpHeaderName(""), "");
  EXPECT_NE(checkHttpHeaderName(std::string(kHttpHeaderNameMaxChars + 1, 'a')), "");

  EXPECT_EQ(checkHttpHeaderValue("application/json; charset=utf-8"), "");
  EXPECT_NE(checkHttpHeaderValue("a\tb", &column), "");
  EXPECT_EQ(column, 1u);
  EXPECT_NE(checkHttpHeaderValue("v ", &column), "");
  EXPECT_EQ(column, 1u);
  EXPECT_NE(checkHttpHeaderValue(""), "") << "presence is written without a value";
  EXPECT_EQ(checkHttpHeaderValue(std::string(kHttpHeaderValueMaxChars, 'v')), "");
  EXPECT_NE(checkHttpHeaderValue(std::string(kHttpHeaderValueMaxChars + 1, 'v')), "");
}

}  // namespace
}  // namespace membrane::names
