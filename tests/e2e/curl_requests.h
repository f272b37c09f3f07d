// HTTP requests from a pod with curl, as the HTTP end-to-end tests send
// them: each request's status code, all requests on one keep-alive
// connection (curl --next), so per-request decisions on one connection show.
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "http_server.h"
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

}  // namespace membrane::e2e
