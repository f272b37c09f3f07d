// The HTTP part of the end-to-end infrastructure, with no policy loaded: a
// real nginx runs as a pod and serves static files (with sendfile), its echo
// location and a proxy_pass location to a second nginx, over IPv4 and IPv6;
// curl and wrk in a client pod reach it; the server's request log tells
// which requests reached the application. What the HTTP enforcement tests
// and the HTTP benchmark build on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http_server.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

using namespace std::chrono_literals;

class HttpServerE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    MEMBRANE_E2E_REQUIRE_PRIVILEGES();
    MEMBRANE_E2E_REQUIRE_HTTP_SERVER();
    topo_ = std::make_unique<Topology>("mbhttp");
    client_ = &topo_->addPod("client");
    web_ = &topo_->addPod("web");
    backend_ = &topo_->addPod("backend");
    topo_->up();
    backendServer_ = std::make_unique<HttpServer>(*backend_, HttpServerOptions{.port = 9090, .upstream = {}});
    server_ = std::make_unique<HttpServer>(
        *web_, HttpServerOptions{.port = 8080, .upstream = "http://" + backend_->address4() + ":9090"});
  }

  ExecResult curl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"curl", "-s", "--max-time", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    return client_->exec(argv, 10s);
  }

  std::unique_ptr<Topology> topo_;
  Pod* client_ = nullptr;
  Pod* web_ = nullptr;
  Pod* backend_ = nullptr;
  std::unique_ptr<HttpServer> backendServer_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerE2e, ServesAStaticFileOverIpv4AndIpv6) {
  // Large enough that nginx sends it with sendfile in several pieces.
  std::string body(1 << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>('a' + (i / 4096) % 26);
  server_->writeFile("files/big.bin", body);
  for (bool ipv6 : {false, true}) {
    ExecResult r = curl({server_->url("/files/big.bin", ipv6)});
    ASSERT_TRUE(r.succeeded()) << r.describe();
    EXPECT_EQ(r.out, body) << (ipv6 ? "IPv6" : "IPv4");
  }
}

TEST_F(HttpServerE2e, EchoesTheMethodAndPathItSaw) {
  ExecResult r = curl({"-X", "DELETE", server_->url("/echo/orders/7?x=1")});
  ASSERT_TRUE(r.succeeded()) << r.describe();
  EXPECT_EQ(r.out, "echo DELETE /echo/orders/7\n");
}

TEST_F(HttpServerE2e, ProxiesToItsUpstreamInAnotherPod) {
  backendServer_->writeFile("proxy/a", "from the backend\n");
  ExecResult r = curl({server_->url("/proxy/a")});
  ASSERT_TRUE(r.succeeded()) << r.describe();
  EXPECT_EQ(r.out, "from the backend\n");
  EXPECT_EQ(backendServer_->requests(), std::vector<std::string>{"GET /proxy/a"});
  EXPECT_EQ(server_->requests(), std::vector<std::string>{"GET /proxy/a"});
}

TEST_F(HttpServerE2e, LogsEveryRequestThatReachedTheApplicationInOrder) {
  ASSERT_TRUE(curl({server_->url("/echo/1"), server_->url("/echo/2")}).succeeded());  // one keep-alive connection
  ASSERT_TRUE(curl({"-X", "POST", "-d", "body", server_->url("/echo/3")}).succeeded());
  EXPECT_EQ(server_->requests(), (std::vector<std::string>{"GET /echo/1", "GET /echo/2", "POST /echo/3"}));
}

TEST_F(HttpServerE2e, CarriesAWrkLoadOnKeepAliveConnections) {
  if (testkit::findSystemProgram("wrk").empty()) {
    if (runningInCi()) FAIL() << "wrk is not installed (Debian package wrk)";
    GTEST_SKIP() << "wrk is not installed (Debian package wrk)";
  }
  ExecResult r = client_->exec({testkit::findSystemProgram("wrk"), "-t1", "-c4", "-d1s", server_->url("/echo/load")},
                               20s);
  ASSERT_TRUE(r.succeeded()) << r.describe();
  EXPECT_NE(r.out.find("Requests/sec"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Non-2xx"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Socket errors"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace membrane::e2e
