// The HTTP differential test through real sockets (issue #15, docs/http.md
// "Datapath"): random requests near the patterns' edges
// (tests/codegen/http_requests.h, the generators the BPF-level differential
// test draws from) go over real TCP connections from a client pod to a real
// server in a server pod, under a policy with HTTP rules that the real
// `membrane` binary applies; each request's outcome must be the reference
// evaluator's (features::http::readRequest, then ir::evaluate):
//   - allowed: the server gets it byte for byte (its record of every byte
//     each connection delivered is compared whole) and its 200 comes back;
//   - denied: the datapath's 403, and the server never sees a byte of it;
//   - unreadable: the datapath's 400, and the connection ends.
// Two sides: the server side (ingress rules on the server pod, the stream
// verdict) and the client side (the same rules as egress rules on the
// client pod, the sk_msg verdict; the server pod unpoliced).
//
// Both ends are membrane_e2e_http_peer (http_peer.cpp) run in the pods: the
// socket layer's sockops sees only sockets made in the pods' cgroups, so
// the test cannot make them in-process. The test draws the whole run first
// and hands the client a script: which connections (IPv4 or IPv6) to open,
// which bytes to send in which writes, how many answers to read. Requests
// carry sometimes a Content-Length body (sometimes holding a request line,
// which must be skipped as body), are split at random points into several
// writes (sometimes with pauses between, so they arrive as separate
// segments) and pipelined several to a write, on keep-alive connections.
// The documented per-connection semantics shape the script:
//   - a 403 leaves the connection usable; a 400, or a 403 that is the
//     status line alone (the server side's answer to a request too short
//     for the whole answer), ends it: the client then sends the next batch
//     on a new connection of its own (counted; every 400 must say
//     Connection: close, and no 200 or full 403 may);
//   - server side: a segment needing two outcomes cuts the connection, so
//     only allowed requests are pipelined (the others drawn meanwhile go
//     after them, alone), and a denied or unreadable one is split only
//     inside its header block (its body comes with the block's end), after
//     the answers to all before it: its bytes never share a segment with
//     another request's;
//   - client side: requests pipelined in one write are decided one by one;
//     the datapath's answers are queued at once, before the server's answers
//     to earlier requests, so a pipelined batch's answers are compared as a
//     multiset (the server's record still pins which requests reached it),
//     and an unreadable request ends its batch. A connection splits
//     requests or pipelines them, not both: after a corked write, an answer
//     with bytes after it in its write closes the connection (lib/l7_msg.h;
//     tests/bpf/http_test.cpp checks that case on its own).
// Tests: the server side with every shape; the client side with one write
// per request; the client side with every shape.
//
// Seeded: MEMBRANE_HTTP_DIFF_SEED (default 1; the codegen differential test
// reads the same variable), MEMBRANE_HTTP_DIFF_E2E_REQUESTS requests per
// test (default 10,000; 4,000 for the client side's split and pipelined
// shapes) // side (default 10,000: 20,000 in a run). A disagreement prints the seed,
// the request's bytes, what the evaluator expects and what came back, and
// keeps the client's script and both peers' output in
// /tmp/membrane-http-diff-<side>-seed<N>.* to replay by hand.
// Measured on the shared 2-core VM, 10,000 requests a side: server side
// about 16 s (5,300 of its connections end after a 400 or a short 403),
// client side about 3 s; the whole executable about 20 s.
//
// To see it fail: MEMBRANE_HTTP_DIFF_FLIP=1 hands the evaluator a policy
// whose deny rule is an allow rule (the datapath still enforces the real
// one): the test then reports the requests the deny rule decides (2,000
// requests a side: 178 and 269 disagreements).
//
// Label e2e.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"
#include "evaluator/evaluator.h"
#include "features/http/http.h"
#include "http_requests.h"
#include "seeded_random.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

using namespace std::chrono_literals;
using membrane::testing::envOr;
using membrane::testing::Random;

constexpr int kPort = 8080;

// The rules of both sides, written in the generators' vocabulary (methods,
// segments, host patterns, header names and values of http_requests.h), so
// that the random requests come near their edges: exact, '*' and "/**"
// paths, escapes in patterns, host wildcards, header presence and value,
// items without a method or a path, and a deny rule over allowed paths.
// (Allow rules of four items, not one of eight: one rule with the first
// eight items makes the verdict programs too large for the verifier.)
const std::vector<const char*> kAllowItems = {
    R"(GET "/api/v1/orders"; GET "/api/*/orders/**";
      POST "/api/v1/orders" header "content-type" = "application/json";
      DELETE "/files/*.pdf" header "x-api-key")",
    R"(GET "/files/a*b/**" host "*.shop.test"; VERYLONGMETHODXY "/a/%20/caf%C3%A9";
      "/a%3B/x*" host "api-*.shop.test" header "x-env" = "prod";
      host "shop.test" header "accept" = "a b")",
    R"(GET "/api/**"; GET "/files/**"; DELETE "/api/**"; "/files/**" header "x-api-key")"};
const char* kDenyItems = R"(GET "/api/v1/orders/a*"; "/files/**" header "x-env" = "k1";
      host "a*.*.test" header "accept")";
const std::vector<std::string> kPathPatterns = {"/api/v1/orders", "/api/*/orders/**", "/files/*.pdf",
                                                "/files/a*b/**",  "/a/%20/caf%C3%A9", "/a%3B/x*",
                                                "/api/v1/orders/a*", "/files/**"};

// The policy of one side: its subject, its direction and its peer. The
// deny rule's action is `denyAction`: "deny", or "allow" for the flipped
// policy (see above).
std::string policy(bool ingress, const char* denyAction) {
  std::string subject = ingress ? "api" : "client";
  std::string peer = ingress ? "from pods { app = client }" : "to pods { app = api }";
  std::string out = "namespace e2e\npolicy " + subject + " {\n  selects { app = " + subject + " }\n  " +
                    (ingress ? "ingress" : "egress") + " {\n";
  for (const char* items : kAllowItems)
    out += "    allow " + peer + " on tcp/8080 with http {\n      " + items + "\n    }\n";
  out += std::string("    ") + denyAction + " " + peer + " on tcp/8080 with http {\n      " + kDenyItems + "\n    }\n";
  return out + "  }\n}\n";
}

enum class Outcome { Allowed, Denied, Unreadable };
const char* name(Outcome o) {
  return o == Outcome::Allowed ? "allowed (200)" : o == Outcome::Denied ? "denied (403)" : "unreadable (400)";
}
int status(Outcome o) { return o == Outcome::Allowed ? 200 : o == Outcome::Denied ? 403 : 400; }

struct Sent {
  std::string bytes;  // the header block, then the body
  size_t head = 0;    // the header block's length
  Outcome expected = Outcome::Allowed;
};

struct Batch {
  std::vector<size_t> requests;  // indexes into Plan::sent, in the order sent
  size_t writes = 0;
};

struct Connection {
  int family = 4;
  std::vector<Batch> batches;
};

struct Plan {
  std::vector<Sent> sent;
  std::vector<Connection> connections;
  std::string script;
  size_t pipelined = 0, split = 0, bodies = 0;
};

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < text.size(); i += 2) out += static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1]));
  return out;
}

// Bytes as a C string literal would show them, CR and LF included.
std::string shown(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c > 0x7e) out += "\\x" + hex(std::string_view(reinterpret_cast<const char*>(&c), 1));
    else out += static_cast<char>(c);
  }
  return out;
}

class HttpDifferentialThroughSockets : public ::testing::Test {
 protected:
  enum class Side { Server, Client };

  void SetUp() override {
    MB_REQUIRE_ROOT();
    cluster_ = std::make_unique<Cluster>(std::vector<std::tuple<std::string, std::string, labels::LabelSet>>{
        {"e2e", "client", {{"app", "client"}}}, {"e2e", "api", {{"app", "api"}}}});
    client_ = cluster_->members()[0].pod;
    api_ = cluster_->members()[1].pod;
    seed_ = envOr("MEMBRANE_HTTP_DIFF_SEED", 1);
    requests_ = envOr("MEMBRANE_HTTP_DIFF_E2E_REQUESTS", 10000);
  }

  // The evaluator's outcome for a request on a connection of `family`.
  Outcome expect(const ir::Program& program, Side side, int family, const std::string& head) {
    ir::Traffic t(ir::kTCP, kPort);
    t.http = features::http::readRequest(head);
    const ir::Endpoint* api = program.findEndpoint("e2e", "api");
    const ir::Endpoint* client = program.findEndpoint("e2e", "client");
    const Pod& peerPod = side == Side::Server ? *client_ : *api_;
    auto address = *net::Address::parse(family == 4 ? peerPod.address4() : peerPod.address6());
    ir::Verdict v = side == Side::Server
                        ? ir::evaluate(program, *api, ir::Direction::Ingress,
                                       ir::Peer::endpoint(program.identity(client->identity), address), t)
                        : ir::evaluate(program, *client, ir::Direction::Egress,
                                       ir::Peer::endpoint(program.identity(api->identity), address), t);
    if (v.allowed) return Outcome::Allowed;
    return v.reason == ir::Reason::UnreadableRequest ? Outcome::Unreadable : Outcome::Denied;
  }

  // A random request: the generators' header block, sometimes with a body.
  Sent draw(Random& r, const ir::Program& program, Side side, int family, Plan& plan) {
    testing::RandomRequest req = testing::randomRequest(r, kPathPatterns);
    Sent s;
    s.bytes = req.block;
    if (req.readable && r.chance(0.2)) {
      std::string body;
      size_t n = r.below(120);
      for (size_t i = 0; i < n; ++i) body += static_cast<char>('a' + r.below(26));
      // A request line in a body is body: the datapath must frame past it.
      if (r.chance(0.4)) body.insert(r.below(body.size() + 1), "GET /api/v1/orders/a HTTP/1.1\r\nHost: a\r\n\r\n");
      s.bytes.insert(s.bytes.size() - 2, "Content-Length: " + std::to_string(body.size()) + "\r\n");
      s.head = s.bytes.size();
      s.bytes += body;
      ++plan.bodies;
    } else {
      s.head = s.bytes.size();
    }
    s.expected = expect(program, side, family, s.bytes.substr(0, s.head));
    return s;
  }

  // The whole run: connections, batches, writes, and the client's script.
  // `whole`: each request in one write of its own (no splitting, no
  // pipelining).
  Plan plan(Random& r, const ir::Program& program, Side side, bool whole) {
    Plan p;
    while (p.sent.size() < requests_) {
      Connection conn;
      conn.family = r.chance(0.25) ? 6 : 4;
      p.script += "c " + std::to_string(conn.family) + "\n";
      size_t length = 1 + r.below(40);
      size_t inConnection = 0;
      Batch batch;
      size_t room = 1;
      // Client side: a connection either splits requests across writes or
      // pipelines them, never both. Once a write has been corked, the
      // kernel keeps the socket's writes in its cork message, and an answer
      // followed by more bytes of the same write then closes the connection
      // (docs/http.md, lib/l7_msg.h; SocketLayerTest checks that case).
      const bool splits = side == Side::Server || r.chance(0.5);
      const bool pipelines = side == Side::Server || !splits;
      auto flush = [&](bool headOnly) {
        if (batch.requests.empty()) return;
        std::string bytes;
        for (size_t i : batch.requests) bytes += p.sent[i].bytes;
        // Split points: anywhere, or for a lone request the server side
        // denies, only inside its header block.
        size_t limit = headOnly ? p.sent[batch.requests[0]].head : bytes.size();
        std::set<size_t> cuts;
        if (!whole && splits && limit > 1 && r.chance(0.5)) {
          size_t n = 1 + r.below(3);
          for (size_t k = 0; k < n; ++k) cuts.insert(1 + r.below(limit - 1));
        }
        cuts.insert(bytes.size());
        size_t from = 0;
        for (size_t cut : cuts) {
          if (from && r.chance(0.3)) p.script += "s 300\n";
          p.script += "w " + hex(bytes.substr(from, cut - from)) + "\n";
          from = cut;
        }
        batch.writes = cuts.size();
        p.split += cuts.size() > 1;
        p.pipelined += batch.requests.size() > 1;
        p.script += "r " + std::to_string(batch.requests.size()) + "\n";
        inConnection += batch.requests.size();
        conn.batches.push_back(std::move(batch));
        batch = {};
        room = !whole && pipelines && r.chance(0.3) ? 2 + r.below(4) : 1;
      };
      // Server side: requests it denies go alone, so a pipelined batch
      // waits for its allowed requests and the others drawn meanwhile
      // follow it, each on its own.
      std::vector<size_t> deferred;
      auto alone = [&](size_t index) {
        batch.requests.push_back(index);
        flush(true);
      };
      while (inConnection < length && p.sent.size() < requests_) {
        Sent s = draw(r, program, side, conn.family, p);
        size_t index = p.sent.size();
        Outcome o = s.expected;
        p.sent.push_back(std::move(s));
        if (side == Side::Server && o != Outcome::Allowed) {
          if (batch.requests.empty()) alone(index);
          else deferred.push_back(index);
          continue;
        }
        batch.requests.push_back(index);
        // Client side: what follows an unreadable request in its write is
        // answered with it, so it ends its batch.
        if (o == Outcome::Unreadable || batch.requests.size() >= room) {
          flush(false);
          for (size_t d : deferred) alone(d);
          deferred.clear();
        }
      }
      flush(false);
      for (size_t d : deferred) alone(d);
      p.script += "x\n";
      p.connections.push_back(std::move(conn));
    }
    return p;
  }

  // Applies the policy, runs the plan through the peers, and compares.
  void run(Side side, bool whole = false) {
    auto started = std::chrono::steady_clock::now();
    const char* what = side == Side::Server ? "server side" : "client side";
    auto artifacts = cluster_->compile(policy(side == Side::Server, "deny"), "http-diff");
    ASSERT_FALSE(artifacts.empty()) << "the HTTP policy does not compile";
    ExecResult applied = cluster_->apply(artifacts);
    ASSERT_TRUE(applied.succeeded()) << applied.describe();
    // The evaluator's program: the same policy, or (to see the test fail)
    // the flipped one.
    if (envOr("MEMBRANE_HTTP_DIFF_FLIP", 0)) {
      ASSERT_FALSE(cluster_->compile(policy(side == Side::Server, "allow"), "http-diff-flipped").empty());
    }
    const ir::Program& program = cluster_->program();

    Random r(seed_);
    Plan p = plan(r, program, side, whole);
    std::cout << what << ": seed " << seed_ << ", " << p.sent.size() << " requests on " << p.connections.size()
              << " connections, " << p.script.size() / 1024 << " KiB of script\n";

    Process server = api_->spawn({MEMBRANE_HTTP_PEER, "serve", std::to_string(kPort)});
    ASSERT_TRUE(server.waitForOutput("ready", 5s)) << server.err();
    ExecResult client = spawnProcess(client_->netns(),
                                     {MEMBRANE_HTTP_PEER, "client", api_->address4(), api_->address6(),
                                      std::to_string(kPort)},
                                     &p.script, client_->cgroup())
                            .wait(120s);
    std::this_thread::sleep_for(100ms);  // the server reads the last connections' ends
    ExecResult served = server.stop();
    ASSERT_TRUE(served.out.find("done") != std::string::npos) << served.describe();
    auto clientDone = std::chrono::steady_clock::now();

    // The run, to replay by hand (membrane_e2e_http_peer client ... <
    // script): kept if the peers disagree with the evaluator.
    std::string base = "/tmp/membrane-http-diff-" + std::string(side == Side::Server ? "server" : "client") +
                       "-seed" + std::to_string(seed_);
    std::ofstream(base + ".script") << p.script;
    std::ofstream(base + ".client") << client.out;
    std::ofstream(base + ".server") << served.out;
    {
      std::ofstream plan(base + ".plan");  // each batch's expected statuses, in the order sent
      for (const auto& conn : p.connections)
        for (const auto& b : conn.batches) {
          for (size_t i : b.requests) plan << status(p.sent[i].expected) << " ";
          plan << "\n";
        }
    }

    ASSERT_TRUE(client.succeeded()) << client.describe();

    // The server's record: every byte each connection delivered.
    std::map<std::pair<int, unsigned>, std::vector<std::string>> received;
    {
      std::istringstream in(served.out);
      std::string tag, bytes;
      int family;
      unsigned port;
      while (in >> tag) {
        if (tag != "S") continue;
        in >> family >> port;
        std::getline(in, bytes);
        received[{family, port}].push_back(unhex(bytes.size() > 1 ? bytes.substr(1) : ""));
      }
    }

    std::vector<std::string> lines;
    {
      std::istringstream in(client.out);
      for (std::string l; std::getline(in, l);) lines.push_back(l);
    }
    size_t at = 0, disagreements = 0, reconnects = 0;
    std::map<Outcome, size_t> counts;
    // Lengths of the requests answered with the status line alone, by status.
    std::map<int, std::set<size_t>> shortAnswers;
    auto report = [&](const std::string& text) {
      if (++disagreements <= 10)
        ADD_FAILURE() << what << ", seed " << seed_ << " (MEMBRANE_HTTP_DIFF_SEED): " << text;
    };
    // What reached the server on a connection: exactly the allowed requests
    // sent on it, byte for byte.
    auto compareReceived = [&](int family, unsigned port, const std::string& expectedBytes) {
      auto& records = received[{family, port}];
      std::string gotBytes = records.empty() ? std::string() : records.front();
      if (!records.empty()) records.erase(records.begin());
      if (gotBytes == expectedBytes) return;
      size_t diff = 0;
      while (diff < gotBytes.size() && diff < expectedBytes.size() && gotBytes[diff] == expectedBytes[diff]) ++diff;
      report("the connection from port " + std::to_string(port) + " (IPv" + std::to_string(family) +
             "): the server received " + std::to_string(gotBytes.size()) + " bytes, the allowed requests are " +
             std::to_string(expectedBytes.size()) + "; from byte " + std::to_string(diff) + " it got \"" +
             shown(gotBytes.substr(diff, 300)) + "\", expected \"" + shown(expectedBytes.substr(diff, 300)) + "\"");
    };
    for (size_t ci = 0; ci < p.connections.size(); ++ci) {
      const Connection& conn = p.connections[ci];
      unsigned port = 0;
      std::string expectedBytes;
      // A connection line: the planned one, or the client's new one after an
      // answer closed the last.
      auto connected = [&]() {
        const std::string& l = lines[at++];
        if (port) compareReceived(conn.family, port, expectedBytes);
        expectedBytes.clear();
        port = static_cast<unsigned>(std::stoul(l.substr(2)));
        if (port == 0) report("connection " + std::to_string(ci) + " did not connect: " + l);
      };
      if (at < lines.size() && lines[at].starts_with("C ")) connected();
      else {
        report("connection " + std::to_string(ci) + ": no connection line in the client's output");
        break;
      }
      for (const Batch& b : conn.batches) {
        if (at < lines.size() && lines[at].starts_with("C ")) {
          ++reconnects;
          connected();
        }
        std::vector<std::string> got;
        while (got.size() < b.requests.size() && at < lines.size()) {
          const std::string& l = lines[at];
          if (l.starts_with("R ")) got.push_back(l.substr(2));
          else if (l.starts_with("W ")) got.push_back("write failed, errno " + l.substr(2));
          else break;
          ++at;
        }
        // Each answer: its status; the server's 200 carries "ok". A 403
        // keeps the connection open unless it is the status line alone
        // (the datapath's short answer); a 400 closes it.
        std::multiset<int> want, have;
        for (size_t i : b.requests) want.insert(status(p.sent[i].expected));
        for (const auto& g : got) {
          std::istringstream in(g);
          int code = 0, closing = 0;
          size_t body = 0;
          std::string form;
          in >> code >> closing >> body >> form;
          if (code == 200 && (body != 2 || closing)) code = -200;
          if (code == 403 && closing && form != "S") code = -403;
          if (code == 400 && !closing) code = -400;
          if (form == "S" && b.requests.size() == 1) shortAnswers[code].insert(p.sent[b.requests[0]].bytes.size());
          have.insert(code);
        }
        for (size_t i : b.requests) {
          ++counts[p.sent[i].expected];
          if (p.sent[i].expected == Outcome::Allowed) expectedBytes += p.sent[i].bytes;
        }
        if (want != have) {
          std::string text = "connection " + std::to_string(ci) + " (IPv" + std::to_string(conn.family) +
                             ", port " + std::to_string(port) + "), " + std::to_string(b.requests.size()) +
                             " request(s) in " + std::to_string(b.writes) + " write(s)" +
                             (b.requests.size() > 1 ? " (answers compared in any order)" : "") + ":";
          for (size_t k = 0; k < b.requests.size(); ++k) {
            const Sent& s = p.sent[b.requests[k]];
            text += "\n  request " + std::to_string(b.requests[k]) + " \"" + shown(s.bytes) + "\"\n    expected " +
                    name(s.expected) + ", got " + (k < got.size() ? "\"" + got[k] + "\"" : "nothing");
          }
          report(text + "\n  (answers: status, closes, body length, L: Content-Length, S: status line alone)");
        }
      }
      if (port) compareReceived(conn.family, port, expectedBytes);
    }
    for (const auto& [key, records] : received)
      for (const auto& bytes : records)
        if (!bytes.empty())
          report("the server received " + std::to_string(bytes.size()) +
                 " bytes on a connection the client never made (IPv" +
                 std::to_string(key.first) + ", port " + std::to_string(key.second) + "): \"" +
                 shown(bytes.substr(0, 300)) + "\"");

    double seconds = std::chrono::duration<double>(clientDone - started).count();
    std::cout << what << ": " << counts[Outcome::Allowed] << " allowed, " << counts[Outcome::Denied] << " denied, "
              << counts[Outcome::Unreadable] << " unreadable; " << p.pipelined << " pipelined batches, " << p.split
              << " split into several writes, " << p.bodies << " with a body; " << reconnects
              << " new connections after an answer closed one; " << disagreements << " disagreements; " << seconds
              << " s\n";
    for (const auto& [code, lengths] : shortAnswers) {
      std::cout << what << ": " << code << " as the status line alone (the connection then given up) for requests of";
      for (size_t n : lengths) std::cout << " " << n;
      std::cout << " bytes\n";
    }
    if (disagreements) std::cout << what << ": the client's script and both peers' output are in " << base << ".*\n";
    else for (const char* ext : {".script", ".client", ".server", ".plan"}) std::filesystem::remove(base + ext);
    EXPECT_EQ(disagreements, 0u) << "seed " << seed_;
    // Every outcome and shape must be well represented, or the test proves little.
    size_t n = p.sent.size();
    EXPECT_GT(counts[Outcome::Allowed], n / 20);
    EXPECT_GT(counts[Outcome::Denied], n / 10);
    EXPECT_GT(counts[Outcome::Unreadable], n / 20);
    if (!whole) {
      EXPECT_GT(p.pipelined, n / 100);
      EXPECT_GT(p.split, n / 10);
    }
    EXPECT_GT(p.bodies, n / 20);
  }

  std::unique_ptr<Cluster> cluster_;
  Pod* client_ = nullptr;
  Pod* api_ = nullptr;
  uint64_t seed_ = 1;
  size_t requests_ = 0;
};

TEST_F(HttpDifferentialThroughSockets, EveryRequestTheServerSideDecidesIsTheEvaluatorsOutcome) { run(Side::Server); }

// The client side, each request in a write of its own.
TEST_F(HttpDifferentialThroughSockets, EveryRequestTheClientSideDecidesIsTheEvaluatorsOutcome) {
  run(Side::Client, true);
}

// The client side with requests split across writes, or pipelined in one,
// on keep-alive connections. It found the kernel's cork message losing the
// bytes after a redirected answer (seed 1, 2,000 requests: 252
// disagreements before lib/l7_msg.h closed such connections), e.g. a 403
// then a 200 expected, the 403 then a 400 got, for
//   write "DELETE /files/b/%3Bb HTTP/1.0"
//   write "\r\nHost: api-ab1.shop.test\r\n\r\nDELETE /api/v1/orders HTTP/1.1\r\n
//          Host: a..shop.test\r\nx-api-key: k1 \t\r\ncontent-type: prodx\r\n
//          x-api-key: application/json\r\ncon"
//   write "tent-type: prodx\r\n\r\n"
// 4,000 requests unless MEMBRANE_HTTP_DIFF_E2E_REQUESTS says otherwise: its
// pauses between writes make it the slowest (10,000: about 37 s).
TEST_F(HttpDifferentialThroughSockets, EveryRequestTheClientSideDecidesSplitOrPipelinedIsTheEvaluatorsOutcome) {
  requests_ = envOr("MEMBRANE_HTTP_DIFF_E2E_REQUESTS", 4000);
  run(Side::Client);
}

}  // namespace
}  // namespace membrane::e2e
