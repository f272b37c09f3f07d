// HTTP requests in the end-to-end tests: sent from a pod with curl (each
// request's status code, all requests on one keep-alive connection, curl
// --next, so per-request decisions on one connection show), and the
// reference evaluator's verdict on the same request.
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "evaluator/evaluator.h"
#include "features/http/http.h"
#include "http_server.h"
#include "net/address.h"
#include "topology.h"

namespace membrane::e2e {

struct HttpRequest {
  std::string method, path;
  std::vector<std::string> headers;  // "Name: value"
};

// curl's status code for each request to `server` (0: no answer within 3 s).
// POSTs carry the body "{}".
inline std::vector<int> curlStatusCodes(const Pod& from, const HttpServer& server,
                                        const std::vector<HttpRequest>& requests, bool ipv6 = false) {
  std::vector<std::string> argv = {"curl", "-s", "--max-time", "3"};
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    if (i) argv.push_back("--next");
    argv.insert(argv.end(), {"-o", "/dev/null", "-w", "%{http_code}\\n", "-X", r.method});
    for (const auto& h : r.headers) argv.insert(argv.end(), {"-H", h});
    if (r.method == "POST") argv.insert(argv.end(), {"--data", "{}"});
    argv.push_back(server.url(r.path, ipv6));
  }
  ExecResult res = from.exec(argv, std::chrono::seconds(20));
  std::vector<int> codes;
  size_t at = 0;
  while (at < res.out.size()) {
    size_t nl = res.out.find('\n', at);
    codes.push_back(std::atoi(res.out.substr(at, nl - at).c_str()));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return codes;
}

// The evaluator's verdict on `r` sent to `serverAddress`:`port`, as the
// endpoint `decider` sees it in `direction` (ingress: the server's rules;
// egress: the client's), `peer` at `peerAddress` the other side.
inline ir::Verdict evaluateHttpRequest(const ir::Program& program, const ir::Endpoint& decider,
                                       ir::Direction direction, const ir::Endpoint& peer,
                                       const std::string& peerAddress, const std::string& serverAddress,
                                       uint16_t port, const HttpRequest& r) {
  std::string bytes = r.method + " " + r.path + " HTTP/1.1\r\nHost: " + serverAddress + ":" + std::to_string(port) +
                      "\r\n";
  for (const auto& h : r.headers) bytes += h + "\r\n";
  bytes += "\r\n";
  ir::Traffic t(ir::kTCP, port);
  t.http = features::http::readRequest(bytes);
  ir::Peer p = ir::Peer::endpoint(program.identity(peer.identity), *net::Address::parse(peerAddress));
  return ir::evaluate(program, decider, direction, p, t);
}

}  // namespace membrane::e2e
