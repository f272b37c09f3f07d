// membrane_bench_http: section 6 of docs/benchmarks.md, HTTP requests per
// second and latency (p50, p99) that wrk gets from nginx in another pod:
// with no filter; with membrane enforcing an L3/L4 rule; with membrane's
// HTTP rules (10, 100 and 1,000 path rules on the port, decided in the
// kernel on the sockets); and through HAProxy as an in-path L7 proxy with the
// same rules as ACLs (the proxy model, standing in for Envoy, which Debian
// does not ship). A scenario whose policy does not compile is reported as not
// available, with the compiler's message, never with a figure.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/pod_node.h"
#include "common/program.h"
#include "http_server.h"
#include "topology.h"

namespace membrane::bench {
namespace {

namespace fs = std::filesystem;
using e2e::ExecResult;
using e2e::HttpServer;
using e2e::HttpServerOptions;
using e2e::Millis;
using e2e::Pod;
using e2e::Topology;

const char* kDescription =
    "Section 6 of docs/benchmarks.md: HTTP requests/s and latency (p50, p99) wrk gets from nginx in another pod, with "
    "no filter, membrane L3/L4 rules, membrane HTTP rules (10, 100, 1,000 paths) and HAProxy as an in-path L7 proxy "
    "with the same rules. Prints markdown on stdout, progress on stderr.";
const char* kExitCodes =
    "Exit status: 0 measured (a scenario whose policy does not compile is reported as not available); 1 a set-up step "
    "failed, or not root under CI=true; 2 usage. Needs root, nginx-light, wrk and haproxy.";

constexpr int kPort = 8080;
constexpr int kProxyPort = 8081;
// The path every request of the load asks for: allowed by the last rule of
// every rule set, so no set decides it early by order.
std::string requestedPath(int rules) { return "/echo/p" + std::to_string(rules - 1) + "/item"; }

std::string l3l4Policy() {
  return "namespace bench\npolicy api {\n  selects { app = api }\n  ingress {\n"
         "    allow from pods { app = client } on tcp/8080, tcp/8081\n  }\n}\n";
}

std::string httpPolicy(int rules) {
  std::ostringstream p;
  p << "namespace bench\npolicy api {\n  selects { app = api }\n  ingress {\n"
    << "    allow from pods { app = client } on tcp/8080 with http {\n";
  for (int i = 0; i < rules; ++i) p << "      GET \"/echo/p" << i << "/*\"" << (i + 1 < rules ? ";" : "") << "\n";
  p << "    }\n  }\n}\n";
  return p.str();
}

// HAProxy in the api pod on kProxyPort, in front of nginx, denying what the
// same rules would deny.
std::string haproxyConfig(const Pod& api, int rules) {
  std::ostringstream c;
  c << "global\n  maxconn 4096\n  nbthread 1\n"
    << "defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
    << "  option http-keep-alive\n"
    << "frontend api\n  bind " << api.address4() << ":" << kProxyPort << "\n";
  for (int i = 0; i < rules; ++i) c << "  acl allowed path_reg ^/echo/p" << i << "/[^/]*$\n";
  c << "  http-request deny deny_status 403 unless METH_GET allowed\n"
    << "  default_backend nginx\n"
    << "backend nginx\n  server api " << api.address4() << ":" << kPort << "\n";
  return c.str();
}

struct Figures {
  double requestsPerSecond = 0;
  double p50us = 0, p99us = 0;
  long requests = 0, errors = 0;
};

struct Row {
  std::string scenario;
  std::optional<Figures> figures;
  std::string note;
};

// "1.23ms" / "456.00us" / "1.02s" → µs.
double durationUs(const std::string& text) {
  double v = std::atof(text.c_str());
  if (text.find("us") != std::string::npos) return v;
  if (text.find("ms") != std::string::npos) return v * 1000;
  if (text.find('s') != std::string::npos) return v * 1e6;
  return v;
}

Figures parseWrk(const std::string& out) {
  Figures f;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    char unit[32] = {};
    double v = 0;
    long n = 0, bytes = 0;
    if (std::sscanf(line.c_str(), " 50%% %31s", unit) == 1) f.p50us = durationUs(unit);
    if (std::sscanf(line.c_str(), " 99%% %31s", unit) == 1) f.p99us = durationUs(unit);
    if (std::sscanf(line.c_str(), "Requests/sec: %lf", &v) == 1) f.requestsPerSecond = v;
    if (std::sscanf(line.c_str(), " %ld requests in", &n) == 1) f.requests = n;
    long c = 0, r = 0, w = 0, t = 0;
    if (std::sscanf(line.c_str(), " Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &c, &r, &w, &t) == 4)
      f.errors += c + r + w + t;
    if (std::sscanf(line.c_str(), " Non-2xx or 3xx responses: %ld", &bytes) == 1) f.errors += bytes;
  }
  return f;
}

Figures load(Pod& client, const std::string& url, int seconds) {
  ExecResult r = client.exec({testkit::findSystemProgram("wrk"), "-t2", "-c32", "-d" + std::to_string(seconds) + "s",
                              "--latency", url},
                             Millis(1000L * (seconds + 30)));
  if (!r.succeeded()) throw std::runtime_error("wrk failed: " + r.describe());
  Figures f = parseWrk(r.out);
  if (f.requests == 0) throw std::runtime_error("wrk made no request: " + r.out);
  return f;
}

// Pools blocks: requests add up, rates and percentiles average over blocks.
struct Pool {
  std::vector<Figures> blocks;
  Figures total() const {
    Figures t;
    for (const auto& b : blocks) {
      t.requestsPerSecond += b.requestsPerSecond / static_cast<double>(blocks.size());
      t.p50us += b.p50us / static_cast<double>(blocks.size());
      t.p99us += b.p99us / static_cast<double>(blocks.size());
      t.requests += b.requests;
      t.errors += b.errors;
    }
    return t;
  }
};

std::string us(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f µs", v);
  return b;
}

int run(bool quick) {
  std::string missing;
  if (auto why = HttpServer::unavailable()) missing = *why;
  else if (testkit::findSystemProgram("wrk").empty()) missing = "wrk is not installed (Debian package wrk)";
  else if (testkit::findSystemProgram("haproxy").empty()) missing = "haproxy is not installed (Debian package haproxy)";
  if (!missing.empty()) {
    progress(missing);
    if (runningInCi()) return 1;
    std::cout << "## 6. HTTP requests\n\nNot measured: " << missing << ".\n";
    return 0;
  }
  const int seconds = quick ? 1 : 5;
  const int blocks = quick ? 2 : 5;
  ScratchDir work("membrane-bench-http");
  Topology t("mbbhttp");
  Pod& client = t.addPod("client");
  Pod& api = t.addPod("api");
  t.up();
  HttpServer nginx(api, HttpServerOptions{.port = kPort, .upstream = {}});
  PodNode node(t, {&client, &api}, work.path());

  const std::vector<int> ruleCounts = {10, 100, 1000};
  if (auto e = node.compile("l3l4", l3l4Policy())) throw std::runtime_error("the L3/L4 policy does not compile: " + *e);
  std::map<int, std::optional<std::string>> httpError;
  for (int n : ruleCounts) {
    progress("compiling " + std::to_string(n) + " HTTP rules");
    httpError[n] = node.compile("http" + std::to_string(n), httpPolicy(n), {});
    if (httpError[n]) progress("membrane HTTP rules: not available: " + *httpError[n]);
  }

  const std::string url = "http://" + api.address4() + ":" + std::to_string(kPort);
  const std::string proxyUrl = "http://" + api.address4() + ":" + std::to_string(kProxyPort);
  Pool none, l3l4;
  std::map<int, Pool> http, proxy;
  load(client, url + requestedPath(10), 1);  // warm-up
  for (int b = 0; b < blocks; ++b) {
    throwIfInterrupted();
    progress("block " + std::to_string(b + 1) + "/" + std::to_string(blocks));
    node.detach();
    none.blocks.push_back(load(client, url + requestedPath(10), seconds));
    for (int n : ruleCounts) {
      // The proxy runs only while measured: one process, its rules.
      fs::path conf = work.path() / ("haproxy" + std::to_string(n) + ".cfg");
      std::ofstream(conf) << haproxyConfig(api, n);
      auto haproxy = api.spawn({testkit::findSystemProgram("haproxy"), "-db", "-f", conf.string()});
      bool up = false;
      for (int i = 0; i < 100 && !up; ++i) {
        up = client.exec({"curl", "-s", "-o", "/dev/null", "--max-time", "1", proxyUrl + requestedPath(n)}, Millis(3000))
                 .succeeded();
        if (!up) std::this_thread::sleep_for(Millis(20));
      }
      if (!up) throw std::runtime_error("haproxy did not start: " + haproxy.stop().describe());
      proxy[n].blocks.push_back(load(client, proxyUrl + requestedPath(n), seconds));
      haproxy.stop();
    }
    node.apply("l3l4");
    l3l4.blocks.push_back(load(client, url + requestedPath(10), seconds));
    for (int n : ruleCounts) {
      if (httpError[n]) continue;
      node.apply("http" + std::to_string(n));
      uint64_t before = node.httpCounter("http-allowed");
      uint64_t socksBefore = node.httpCounter("l7-sockets-in");
      http[n].blocks.push_back(load(client, url + requestedPath(n), seconds));
      // The figure is the socket layer's only if it decided every request.
      uint64_t decided = node.httpCounter("http-allowed") - before;
      if (decided < static_cast<uint64_t>(http[n].blocks.back().requests))
        throw std::runtime_error("the socket layer decided " + std::to_string(decided) + " requests of the " +
                                 std::to_string(http[n].blocks.back().requests) + " wrk made with " +
                                 std::to_string(n) + " HTTP rules; sockets policed " +
                                 std::to_string(node.httpCounter("l7-sockets-in") - socksBefore) + ", refused " +
                                 std::to_string(node.httpCounter("l7-socket-refused")) + ", cut " +
                                 std::to_string(node.httpCounter("http-cut")) + ", held " +
                                 std::to_string(node.httpCounter("http-held")) + ", body bytes " +
                                 std::to_string(node.httpCounter("http-body-bytes")) + ", denied " +
                                 std::to_string(node.httpCounter("http-denied")) + ", malformed " +
                                 std::to_string(node.httpCounter("http-malformed")));
    }
  }
  node.detach();

  std::vector<Row> rows;
  rows.push_back({"no filter", none.total(), ""});
  rows.push_back({"membrane, L3/L4 rule", l3l4.total(), ""});
  for (int n : ruleCounts) {
    std::string name = "membrane, " + std::to_string(n) + " HTTP path rules";
    if (httpError[n])
      rows.push_back({name, std::nullopt, "**not available**: the policy does not compile on this build (`` " +
                                              *httpError[n] + " ``)"});
    else
      rows.push_back({name, http[n].total(), ""});
  }
  for (int n : ruleCounts)
    rows.push_back({"HAProxy in path, " + std::to_string(n) + " ACL rules", proxy[n].total(), ""});

  const Figures& base = *rows[1].figures;  // L3/L4: what HTTP rules are measured against
  std::cout << "## 6. HTTP requests\n\n"
            << "wrk (2 threads, 32 keep-alive connections, " << seconds << " s per run) in a client pod against nginx "
            << "in an api pod (`/echo/...`: a short answer from memory), every request `GET " << requestedPath(10)
            << "` (for N rules: the path of rule N, so the last rule allows it). The scenarios take turns in " << blocks
            << " blocks (membrane detached, applied, swapped between them; HAProxy started for its runs only); "
            << "figures are the blocks' means. No filter; membrane with `allow from pods { app = client } on tcp/8080` "
            << "(L3/L4); membrane with N rules `GET \"/echo/pI/*\"` on tcp/8080 (every request read and decided on "
            << "the server's socket); HAProxy (one thread) in the api pod in front of nginx with the same rules as "
            << "`path_reg` ACLs (`bench/http/README.md`).\n\n"
            << "| scenario | requests/s | of L3/L4 | p50 | p99 | p99 added to L3/L4 | errors |\n"
            << "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& r : rows) {
    if (!r.figures) {
      std::cout << "| " << r.scenario << " | " << r.note << " | | | | | |\n";
      continue;
    }
    const Figures& f = *r.figures;
    char rate[32], share[32];
    std::snprintf(rate, sizeof rate, "%.0f", f.requestsPerSecond);
    std::snprintf(share, sizeof share, "%.0f%%", 100.0 * f.requestsPerSecond / base.requestsPerSecond);
    double added = f.p99us - base.p99us;
    std::cout << "| " << r.scenario << " | " << rate << " | " << share << " | " << us(f.p50us) << " | " << us(f.p99us)
              << " | " << (added >= 0 ? "+" : "−") << us(added >= 0 ? added : -added) << " | " << f.errors << " |\n";
  }
  std::cout << "\nGoals (issue #15): membrane's HTTP rules keep at least 90% of the L3/L4 rate and add at most "
               "20 µs at p99, and the rule count barely changes either. Errors are wrk's socket errors and "
               "non-2xx answers (none expected: every request is allowed).\n";
  return 0;
}

}  // namespace
}  // namespace membrane::bench

int main(int argc, char** argv) {
  using namespace membrane::bench;
  BenchProgram program("bench/http", kDescription, kExitCodes);
  if (auto rc = program.parse(argc, argv)) return *rc;
  program.needsRoot("## 6. HTTP requests", "network namespaces, BPF");
  return program.run([&] { return run(program.quick); });
}
