// The meaning of HTTP rules (docs/http.md, "Meaning" and "What the datapath
// reads"): the reference evaluator's connection and request verdicts, and
// the reference reader of a request's header block, which the datapath's
// reader and the generated request decision are held to.
#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "features/http/http.h"
#include "names/http.h"

namespace membrane::features::http {
namespace {

ir::Rule rule(uint32_t id, ir::Action action, std::vector<ir::HttpRequestMatch> http = {}) {
  ir::Rule r;
  r.id = id;
  r.action = action;
  r.peer.world = true;
  r.conditions.push_back(ir::L4Condition{{{ir::kTCP, {{8080, 8080}}}}});
  if (!http.empty()) r.conditions.push_back(ir::HttpCondition{std::move(http)});
  return r;
}

ir::DirectionPolicy policy(std::vector<ir::Rule> rules) {
  ir::DirectionPolicy p;
  p.enforced = true;
  p.rules = std::move(rules);
  return p;
}

const ir::Peer kWorld = ir::Peer::world(*net::Address::parse("198.19.1.1"));

ir::Traffic connection() { return {ir::kTCP, 8080}; }

ir::Traffic request(std::string_view bytes) {
  ir::Traffic t{ir::kTCP, 8080};
  t.http = readRequest(bytes);
  return t;
}

ir::HttpRequestMatch get(std::string path) { return {"GET", std::move(path), "", {}}; }

TEST(HttpMeaning, AConnectionOnlyAnHttpAllowCoversIsAllowedAndInspected) {
  auto p = policy({rule(1, ir::Action::Allow, {get("/api/*")})});
  auto v = ir::evaluate(p, kWorld, connection());
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.inspectsHttp);
  EXPECT_EQ(v.rule, 1u);
}

TEST(HttpMeaning, APlainAllowWithAnHttpDenyStillInspects) {
  auto p = policy({rule(1, ir::Action::Deny, {{"DELETE", "", "", {}}}), rule(2, ir::Action::Allow)});
  auto v = ir::evaluate(p, kWorld, connection());
  EXPECT_TRUE(v.allowed) << "an http deny never denies the connection";
  EXPECT_TRUE(v.inspectsHttp);
  EXPECT_FALSE(ir::evaluate(p, kWorld, request("DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n")).allowed)
      << "the http deny beats the plain allow for the requests it matches";
  auto other = ir::evaluate(p, kWorld, request("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.rule, 2u);
  EXPECT_FALSE(other.inspectsHttp) << "a request's own verdict";
}

TEST(HttpMeaning, APlainAllowAloneReadsNoRequest) {
  auto p = policy({rule(1, ir::Action::Allow), rule(2, ir::Action::Allow, {get("/a")})});
  auto v = ir::evaluate(p, kWorld, connection());
  EXPECT_TRUE(v.allowed);
  EXPECT_FALSE(v.inspectsHttp) << "the plain allow lets every request through; nothing could deny one";
  EXPECT_FALSE(ir::evaluate(policy({rule(1, ir::Action::Allow)}), kWorld, connection()).inspectsHttp);
}

TEST(HttpMeaning, RequestsAreDecidedOneByOneAgainstTheItems) {
  auto p = policy({rule(1, ir::Action::Allow,
                        {get("/api/v1/products/*"),
                         {"POST", "/api/v1/orders", "", {{"content-type", std::string("application/json")}}},
                         {"", "", "*.shop.example", {}}})});
  EXPECT_TRUE(ir::evaluate(p, kWorld, request("GET /api/v1/products/42?x=1 HTTP/1.1\r\n\r\n")).allowed)
      << "the query is not part of the path";
  EXPECT_FALSE(ir::evaluate(p, kWorld, request("GET /api/v1/products/42/x HTTP/1.1\r\n\r\n")).allowed);
  EXPECT_FALSE(ir::evaluate(p, kWorld, request("get /api/v1/products/42 HTTP/1.1\r\n\r\n")).allowed)
      << "methods are case-sensitive";
  EXPECT_TRUE(ir::evaluate(p, kWorld,
                           request("POST /api/v1/orders HTTP/1.1\r\nCONTENT-TYPE:  application/json \r\n"
                                   "Content-Length: 2\r\n\r\n{}"))
                  .allowed)
      << "header names without regard to case, values trimmed";
  EXPECT_FALSE(ir::evaluate(p, kWorld,
                            request("POST /api/v1/orders HTTP/1.1\r\nContent-Type: application/json\r\n"
                                    "Content-Type: application/json\r\n\r\n"))
                   .allowed)
      << "a value must appear exactly once";
  EXPECT_FALSE(ir::evaluate(p, kWorld, request("POST /api/v1/orders HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n"))
                   .allowed);
  EXPECT_TRUE(ir::evaluate(p, kWorld, request("PUT /x HTTP/1.1\r\nHost: API.Shop.Example.:8080\r\n\r\n")).allowed)
      << "the host lowercased, without its port and trailing dot";
  EXPECT_FALSE(ir::evaluate(p, kWorld, request("PUT /x HTTP/1.1\r\nHost: shop.example\r\n\r\n")).allowed);
  EXPECT_FALSE(ir::evaluate(p, kWorld, request("PUT /x HTTP/1.1\r\n\r\n")).allowed) << "no host matches no pattern";
  EXPECT_EQ(ir::evaluate(p, kWorld, request("GET /api/v1//products/42 HTTP/1.1\r\n\r\n")).reason,
            ir::Reason::UnreadableRequest)
      << "a path that is not canonical makes the request unreadable";
}

// The bypass a path that merely matched no pattern allowed: the server reads
// each of these as /admin/x, the deny rule must not be stepped around.
TEST(HttpMeaning, ADenyRulesPathCannotBeSteppedAroundWithAnotherSpellingOfIt) {
  auto p = policy({rule(1, ir::Action::Allow, {{"GET", "", "", {}}}), rule(2, ir::Action::Deny, {get("/admin/**")})});
  ASSERT_TRUE(ir::evaluate(p, kWorld, connection()).inspectsHttp);
  auto admin = ir::evaluate(p, kWorld, request("GET /admin/x HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(admin.reason, ir::Reason::DeniedByRule);
  EXPECT_EQ(admin.rule, 2u);
  EXPECT_TRUE(ir::evaluate(p, kWorld, request("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n")).allowed);
  const std::string padded = "/admin/" + std::string(names::kHttpPathMaxBytes, 'x');
  const std::vector<std::string> spellings = {"/%61dmin/x", "/%61%64%6D%69%6E/x", "/adm%69n/x", "/./admin/x",
                                              "//admin/x",  "/x/../admin/x",      "/admin%2Fx", "/admin%2fx",
                                              "/admin%5Cx", "/%2E/admin/x",       "/%2e%2e/admin/x", padded};
  for (const std::string& path : spellings) {
    auto v = ir::evaluate(p, kWorld, request("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    EXPECT_FALSE(v.allowed) << path;
    EXPECT_EQ(v.reason, ir::Reason::UnreadableRequest) << path;
  }
  EXPECT_TRUE(ir::evaluate(p, kWorld, request("GET /public?next=/%61dmin/../x%zz HTTP/1.1\r\n\r\n")).allowed)
      << "the query is not the path: it is not checked";
  auto plain = policy({rule(1, ir::Action::Allow)});
  EXPECT_TRUE(ir::evaluate(plain, kWorld, request("GET /%61dmin/x HTTP/1.1\r\n\r\n")).allowed)
      << "a connection nothing reads: the connection's verdict holds";
}

TEST(HttpMeaning, UnreadableBytesAreDeniedOnlyOnInspectedConnections) {
  const char* tls = "\x16\x03\x01\x00\x05hello";
  auto inspected = policy({rule(1, ir::Action::Allow, {get("/a")})});
  auto v = ir::evaluate(inspected, kWorld, request(tls));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reason, ir::Reason::UnreadableRequest);
  EXPECT_TRUE(ir::evaluate(policy({rule(1, ir::Action::Allow, {get("/**")}), rule(2, ir::Action::Allow)}), kWorld,
                           request("GET /a HTTP/1.1\nHost: x\n\n"))
                  .allowed)
      << "not read there, so nothing can be unreadable: the connection's verdict holds";
  auto denied = ir::evaluate(policy({rule(1, ir::Action::Deny)}), kWorld, request(tls));
  EXPECT_EQ(denied.reason, ir::Reason::DeniedByRule) << "a denied connection stays denied for its rule";
}

TEST(HttpMeaning, AuditPoliciesReportTheRequestsTheyWouldDeny) {
  auto p = policy({rule(1, ir::Action::Allow), rule(2, ir::Action::Deny, {{"DELETE", "", "", {}}})});
  p.rules[1].audit = true;
  p.audited = true;
  auto v = ir::evaluate(p, kWorld, request("DELETE /a HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(v.allowed) << "audit never changes the verdict";
  EXPECT_TRUE(v.auditWouldDeny);
  EXPECT_EQ(v.auditRule, 2u);
  auto get = ir::evaluate(p, kWorld, request("GET /a HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(get.allowed);
  EXPECT_FALSE(get.auditWouldDeny);
}

// ---- the reference reader ---------------------------------------------------------

std::string unreadable(std::string_view bytes) {
  auto m = readRequest(bytes);
  return m.kind == ir::HttpMessage::Kind::Unreadable ? m.why : "readable";
}

TEST(HttpReader, ReadsTheRequestLineAndHeadersAsSent) {
  auto m = readRequest("PATCH /a/b?c=d HTTP/1.0\r\nHost: api\r\nX-K:\tv 1 \r\nEmpty:\r\n\r\nbody");
  ASSERT_EQ(m.kind, ir::HttpMessage::Kind::Request) << m.why;
  EXPECT_EQ(m.request.method, "PATCH");
  EXPECT_EQ(m.request.target, "/a/b?c=d");
  EXPECT_EQ(pathOf(m.request), "/a/b");
  using H = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(m.request.headers, (H{{"Host", "api"}, {"X-K", "v 1"}, {"Empty", ""}}));
}

TEST(HttpReader, RefusesWhatItCannotInspect) {
  EXPECT_NE(unreadable("\x16\x03\x01\x02\x00"), "readable") << "TLS";
  EXPECT_NE(unreadable("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "readable") << "the HTTP/2 preface";
  EXPECT_NE(unreadable("GET / HTTP/2.0\r\n\r\n"), "readable");
  EXPECT_NE(unreadable("GET / HTTP/1.1\r\nHost: a"), "readable") << "no end";
}

TEST(HttpReader, RefusesLineEndingsAServerCouldFrameDifferently) {
  EXPECT_EQ(unreadable("GET / HTTP/1.1\nHost: a\r\n\r\n"), "a bare LF");
  EXPECT_EQ(unreadable("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), "a bare LF");
  EXPECT_EQ(unreadable("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), "a CR not followed by LF");
  EXPECT_EQ(unreadable("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), "a folded header line");
}

TEST(HttpReader, RefusesAmbiguousFraming) {
  EXPECT_EQ(unreadable("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), "more than one Host header");
  EXPECT_EQ(unreadable("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "both Content-Length and Transfer-Encoding");
  EXPECT_EQ(unreadable("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
            "more than one Content-Length header");
  EXPECT_EQ(unreadable("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            "a transfer coding other than chunked");
  EXPECT_NE(unreadable("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n"), "readable");
  EXPECT_NE(unreadable("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"), "readable");
  EXPECT_EQ(unreadable("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"), "readable");
  EXPECT_NE(unreadable("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), "readable") << "a space before the colon";
  EXPECT_NE(unreadable("GET  / HTTP/1.1\r\n\r\n"), "readable");
  EXPECT_NE(unreadable("G(T / HTTP/1.1\r\n\r\n"), "readable");
  EXPECT_NE(unreadable("GET /\x80 HTTP/1.1\r\n\r\n"), "readable");
  EXPECT_NE(unreadable("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), "readable");
}

TEST(HttpReader, APathThatIsNotCanonicalMakesTheRequestUnreadable) {
  EXPECT_EQ(unreadable("GET /%61dmin/x HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: \"%61\" escapes 'a', which a canonical path writes as itself");
  EXPECT_EQ(unreadable("GET /a/%7e HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: \"%7e\" escapes '~', which a canonical path writes as itself");
  EXPECT_EQ(unreadable("GET /a%2Fb HTTP/1.1\r\n\r\n"), "a path that is not canonical: \"%2F\" hides a '/'");
  EXPECT_EQ(unreadable("GET /caf%c3%a9 HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: \"%c3\" has a lowercase hex digit (the canonical escape is \"%C3\")");
  EXPECT_EQ(unreadable("GET /50% HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: '%' not followed by two hex digits");
  EXPECT_EQ(unreadable("GET /a%4?x=1 HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: '%' not followed by two hex digits")
      << "the escape is cut short by the query";
  EXPECT_EQ(unreadable("GET //a HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: empty path segment (two '/' in a row)");
  EXPECT_EQ(unreadable("GET /a/./b HTTP/1.1\r\n\r\n"), "a path that is not canonical: a \".\" segment");
  EXPECT_EQ(unreadable("GET /a\\b HTTP/1.1\r\n\r\n"),
            "a path that is not canonical: character '\\' is not allowed in a path");
  EXPECT_EQ(unreadable("OPTIONS * HTTP/1.1\r\n\r\n"), "a path that is not canonical: it does not start with '/'");
  EXPECT_EQ(unreadable("GET http://h/a HTTP/1.1\r\n\r\n"), "a path that is not canonical: it does not start with '/'");
  EXPECT_EQ(unreadable("GET ?a HTTP/1.1\r\n\r\n"), "a path that is not canonical: the path is empty");
  EXPECT_EQ(unreadable("GET /caf%C3%A9/%20?q=%zz/../%61 HTTP/1.1\r\n\r\n"), "readable")
      << "escapes of other bytes are canonical; the query is not checked";
  EXPECT_EQ(unreadable("GET //a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "more than one Host header")
      << "malformed bytes are reported before the path";
}

TEST(HttpReader, APathOverTheLimitMakesTheRequestUnreadable) {
  const std::string atLimit = "/" + std::string(names::kHttpPathMaxBytes - 1, 'a');
  EXPECT_EQ(unreadable("GET " + atLimit + " HTTP/1.1\r\n\r\n"), "readable");
  EXPECT_EQ(unreadable("GET " + atLimit + "?" + std::string(1000, 'q') + " HTTP/1.1\r\n\r\n"), "readable")
      << "the query does not count";
  EXPECT_EQ(unreadable("GET " + atLimit + "a HTTP/1.1\r\n\r\n"), "a path longer than 511 bytes");
}

// A header block of exactly `size` bytes, request line through the empty line.
std::string headerBlockOf(size_t size) {
  std::string head = "GET / HTTP/1.1\r\nX: ";
  std::string block = head + std::string(size - head.size() - 4, 'v') + "\r\n\r\n";
  EXPECT_EQ(block.size(), size);
  return block;
}

TEST(HttpReader, AHeaderBlockOfTheLimitIsReadAndOneByteMoreIsNot) {
  const size_t limit = names::kHttpHeaderBlockMaxBytes;
  EXPECT_EQ(unreadable(headerBlockOf(limit)), "readable");
  EXPECT_EQ(unreadable(headerBlockOf(limit) + "body after the block"), "readable");
  EXPECT_NE(unreadable(headerBlockOf(limit + 1)), "readable");
  EXPECT_NE(unreadable(headerBlockOf(limit).substr(0, limit - 1)), "readable") << "cut short: no end";
  EXPECT_NE(unreadable(std::string(limit + 100, 'a')), "readable");
}

}  // namespace
}  // namespace membrane::features::http
