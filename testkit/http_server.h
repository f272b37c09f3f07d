// A real HTTP server as a pod of the end-to-end topology: Debian's nginx,
// started as a plain process in the pod's network namespace and cgroup
// (never the machine's service), serving on one port of the pod's two
// addresses:
//   - static files the test writes (HttpServer::writeFile), sent with
//     sendfile(2) as nginx does in production;
//   - `/echo/...`: a small answer naming the method and path nginx saw
//     ("echo GET /echo/a\n"), without touching the disk; so are the paths
//     under each of `echoPrefixes` ("/api/": an application's routes);
//   - `/proxy/...` when `upstream` is given: proxy_pass to another server
//     ("http://198.18.1.2:8080"), the path kept.
// Every request nginx receives is logged ("METHOD URI" per line, unbuffered)
// so a test can check what reached the application: `requests()`.
//
//   HttpServer web(t.pod("api"), {.port = 8080});
//   web.writeFile("index.html", "hello");
//   t.pod("client").exec({"curl", "-s", web.url("/index.html")});
//
// Cleanup: stop() or the destructor ends nginx (SIGQUIT, then SIGKILL) and
// removes its files; the Topology kills it too if this process dies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "environment.h"
#include "topology.h"

namespace membrane::e2e {

struct HttpServerOptions {
  int port = 8080;
  std::string upstream;  // "http://ADDR:PORT" for /proxy/, or none
  // More path prefixes answered like /echo/ (e.g. "/api/"): an
  // application's routes, for every method (a static file answers POST 405).
  std::vector<std::string> echoPrefixes = {};
};

class HttpServer {
 public:
  // Starts nginx in `pod`; returns once it answers. Throws
  // std::runtime_error with nginx's messages if it cannot start.
  HttpServer(const Pod& pod, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return options_.port; }
  // "http://198.18.1.2:8080/path" (IPv6: "http://[2001:2::1:2]:8080/path").
  std::string url(const std::string& path, bool ipv6 = false) const;
  // A static file under the document root ("dir/name.txt" creates dir/).
  void writeFile(const std::string& relativePath, const std::string& content);
  // "METHOD URI" of every request nginx received so far, in order (the
  // readiness probe's own GET /.membrane-ready excluded). Waits until the
  // log has been still for 100 ms: nginx logs a request after answering it.
  std::vector<std::string> requests() const;
  // Ends nginx (SIGQUIT, SIGKILL after 2 s); idempotent. Returns what it
  // printed, for messages.
  std::string stop();

  // Why no server can run here (nginx or curl not installed), or nullopt.
  static std::optional<std::string> unavailable();

 private:
  const Pod& pod_;
  HttpServerOptions options_;
  testkit::ScratchDir dir_;
  Process process_;
};

}  // namespace membrane::e2e

// In a test (gtest): without nginx or curl FAIL under CI=true, skip with the
// reason otherwise.
#define MEMBRANE_E2E_REQUIRE_HTTP_SERVER()                                                    \
  do {                                                                                        \
    if (const auto mb_why = ::membrane::e2e::HttpServer::unavailable()) {                     \
      if (::membrane::e2e::runningInCi())                                                     \
        FAIL() << "HTTP e2e tests cannot run under CI: " << *mb_why;                          \
      GTEST_SKIP() << *mb_why << " (scripts/setup.sh installs it). Set CI=true to make this "  \
                               "a failure.";                                                  \
    }                                                                                         \
  } while (0)
