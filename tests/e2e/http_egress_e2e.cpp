// The client side of HTTP-aware policy on real traffic (issue #15,
// docs/http.md): egress HTTP rules decide each request where the pod sends
// it, whatever the server's node runs. The `membrane` binary enforces; the
// servers' pods have no policy at all.
//   - curl in a "client" pod: the allowed/denied matrix equals the
//     evaluator's, nginx's log in the "api" pod holds exactly the allowed
//     requests, and a denied one is answered 403 at once on the client's own
//     connection, which then carries the next request;
//   - nginx as the client: a "gateway" pod's nginx proxies /proxy/... to the
//     api pod; its egress rules decide each request it forwards, and the
//     403 reaches curl through it;
//   - bytes that reach TCP without the verdict (TCP Fast Open) never leave
//     the pod.
//
// Label e2e.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster.h"
#include "http_requests_e2e.h"
#include "http_server.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

const char* kPolicy = R"(
namespace e2e
policy client {
  selects { app = client }
  egress {
    allow to pods { app = api } on tcp/8080 with http {
      GET "/echo/products/*";
      POST "/echo/orders" header "Content-Type" = "application/json"
    }
    allow to pods { app = gateway } on tcp/8080
  }
}
policy gateway {
  selects { app = gateway }
  egress {
    allow to pods { app = api } on tcp/8080 with http { GET "/proxy/products/*" }
  }
}
)";

class HttpEgressEnforcement : public ::testing::Test {
 protected:
  void SetUp() override {
    MB_REQUIRE_ROOT();
    MEMBRANE_E2E_REQUIRE_HTTP_SERVER();
    cluster_ = std::make_unique<Cluster>(std::vector<std::tuple<std::string, std::string, labels::LabelSet>>{
        {"e2e", "client", {{"app", "client"}}},
        {"e2e", "api", {{"app", "api"}}},
        {"e2e", "gateway", {{"app", "gateway"}}}});
    client_ = cluster_->members()[0].pod;
    api_ = cluster_->members()[1].pod;
    gatewayPod_ = cluster_->members()[2].pod;
    api = std::make_unique<HttpServer>(*api_, HttpServerOptions{.port = 8080, .upstream = {}});
    gateway = std::make_unique<HttpServer>(
        *gatewayPod_, HttpServerOptions{.port = 8080, .upstream = "http://" + api_->address4() + ":8080"});
    auto artifacts = cluster_->compile(kPolicy, "http-egress");
    ASSERT_FALSE(artifacts.empty()) << "the HTTP policy does not compile";
    ExecResult applied = cluster_->apply(artifacts);
    ASSERT_TRUE(applied.succeeded()) << applied.describe();
  }

  // The evaluator's verdict on a request the client pod sends the api pod.
  ir::Verdict evaluatorVerdict(const HttpRequest& r) {
    const auto& program = cluster_->program();
    return evaluateHttpRequest(program, *program.findEndpoint("e2e", "client"), ir::Direction::Egress,
                               *program.findEndpoint("e2e", "api"), api_->address4(), api_->address4(), 8080, r);
  }

  std::unique_ptr<Cluster> cluster_;
  Pod* client_ = nullptr;
  Pod* api_ = nullptr;
  Pod* gatewayPod_ = nullptr;
  std::unique_ptr<HttpServer> api, gateway;
};

TEST_F(HttpEgressEnforcement, TheClientsAllowedAndDeniedRequestsAreTheEvaluatorsAndOnlyAllowedOnesLeaveIt) {
  const std::vector<HttpRequest> requests = {
      {"GET", "/echo/products/42", {}},
      {"GET", "/echo/products/42/reviews", {}},
      {"DELETE", "/echo/products/42", {}},
      {"POST", "/echo/orders", {"Content-Type: application/json"}},
      {"POST", "/echo/orders", {"Content-Type: text/plain"}},
      {"GET", "/echo/%70roducts/1", {}},
      {"GET", "/echo/products/1?q=1", {}},
  };
  std::vector<std::string> expectedLog;
  for (const auto& r : requests) {
    std::vector<int> codes = curlStatusCodes(*client_, *api, {r});
    ASSERT_EQ(codes.size(), 1u) << r.method << " " << r.path;
    const ir::Verdict v = evaluatorVerdict(r);
    if (v.allowed) {
      EXPECT_EQ(codes[0], 200) << r.method << " " << r.path;
      expectedLog.push_back(r.method + " " + r.path);
    } else {
      EXPECT_EQ(codes[0], v.reason == ir::Reason::UnreadableRequest ? 400 : 403) << r.method << " " << r.path;
    }
  }
  EXPECT_EQ(api->requests(), expectedLog);
}

TEST_F(HttpEgressEnforcement, AKeepAliveConnectionFromTheClientIsDecidedPerRequest) {
  EXPECT_EQ(curlStatusCodes(*client_, *api,
                            {{"GET", "/echo/products/1", {}},
                             {"DELETE", "/echo/products/1", {}},
                             {"GET", "/echo/products/2", {}},
                             {"GET", "/echo/admin", {}},
                             {"GET", "/echo/products/3", {}}}),
            (std::vector<int>{200, 403, 200, 403, 200}));
  EXPECT_EQ(api->requests(),
            (std::vector<std::string>{"GET /echo/products/1", "GET /echo/products/2", "GET /echo/products/3"}));
}

TEST_F(HttpEgressEnforcement, TheClientsRequestsOverIpv6AreDecidedTheSameWay) {
  EXPECT_EQ(curlStatusCodes(*client_, *api, {{"GET", "/echo/products/1", {}}, {"DELETE", "/echo/x", {}}}, true),
            (std::vector<int>{200, 403}));
}

// nginx proxying: the gateway's requests upstream are what its egress
// rules decide. The api pod answers /proxy/... with 404 (it has no such
// location), so an allowed request shows as 404 and in the api's log; a
// denied one as the datapath's 403, relayed by nginx, and nowhere in it.
TEST_F(HttpEgressEnforcement, RequestsNginxProxiesAreDecidedByTheProxysEgressRules) {
  std::vector<int> codes = curlStatusCodes(*client_, *gateway,
                                           {{"GET", "/proxy/products/7", {}}, {"GET", "/proxy/admin", {}}});
  EXPECT_EQ(codes, (std::vector<int>{404, 403}));
  EXPECT_EQ(api->requests(), (std::vector<std::string>{"GET /proxy/products/7"}));
  EXPECT_EQ(gateway->requests(), (std::vector<std::string>{"GET /proxy/products/7", "GET /proxy/admin"}));
}

// Bytes that reach TCP before the socket is policed never pass the sk_msg
// verdict: TCP Fast Open puts them on the SYN (and, when the SYN's data is
// not taken, TCP sends them again after the handshake from its own queue);
// a send() blocked while another thread connects, or a raw socket, gets
// them there the same way. The packet programs let a policed connection's
// bytes go only as far as its verdict did (lib/l7_sent.h): the request
// never reaches nginx, and requests the verdict decides still do.
TEST_F(HttpEgressEnforcement, BytesThatBypassTheClientSidesVerdictNeverLeaveThePod) {
  ExecResult tfo = client_->exec({"sh", "-c", "echo 5 > /proc/sys/net/ipv4/tcp_fastopen"});
  ASSERT_TRUE(tfo.succeeded()) << tfo.describe();
  const std::string denied = "GET /echo/admin HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n";
  ExecResult early =
      client_->exec({proberPath(), "send-early", "tcp", api_->address4(), "8080", denied, "--timeout-ms", "1500"});
  EXPECT_EQ(early.out, "sent " + std::to_string(denied.size() - 6) + " answer none\n") << early.describe();
  EXPECT_EQ(api->requests(), std::vector<std::string>{});
  EXPECT_EQ(curlStatusCodes(*client_, *api, {{"GET", "/echo/products/1", {}}, {"GET", "/echo/admin", {}}}),
            (std::vector<int>{200, 403}));
  EXPECT_EQ(api->requests(), std::vector<std::string>{"GET /echo/products/1"});
}

}  // namespace
}  // namespace membrane::e2e
