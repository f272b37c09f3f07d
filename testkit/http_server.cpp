// HttpServer: nginx as a topology pod (see http_server.h). One master and
// one worker, in the foreground, every path under a scratch directory (-p,
// temp paths, pid file), errors to stderr, so nothing of the machine's
// nginx installation (/etc/nginx, /var/log/nginx) is read or written.
#include "http_server.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace membrane::e2e {
namespace {

constexpr const char* kReadyPath = "/.membrane-ready";

}  // namespace

std::optional<std::string> HttpServer::unavailable() {
  if (testkit::findSystemProgram("nginx").empty()) return "nginx is not installed (Debian package nginx-light)";
  if (testkit::findSystemProgram("curl").empty()) return "curl is not installed (Debian package curl)";
  return std::nullopt;
}

HttpServer::HttpServer(const Pod& pod, HttpServerOptions options)
    : pod_(pod), options_(std::move(options)), dir_("membrane-nginx") {
  namespace fs = std::filesystem;
  if (options_.port <= 0 || options_.port > 65535) throw std::invalid_argument("HttpServer: bad port");
  if (!options_.upstream.empty() &&
      options_.upstream.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789:/.[]") != std::string::npos)
    throw std::invalid_argument("HttpServer: bad upstream '" + options_.upstream + "'");
  for (const auto& prefix : options_.echoPrefixes)  // written into nginx.conf: nothing that could end the line
    if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() != '/' ||
        prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") !=
            std::string::npos)
      throw std::invalid_argument("HttpServer: bad echo prefix '" + prefix + "'");
  const fs::path root = dir_.path();
  fs::create_directories(root / "www");
  fs::create_directories(root / "tmp");
  // nginx's workers run as root here (the scratch directory is private to
  // root), so they read what the test writes.
  std::ofstream(root / "www" / (kReadyPath + 1)) << "ready\n";
  const std::string port = std::to_string(options_.port);
  std::ofstream conf(root / "nginx.conf");
  conf << "# Written by testkit/http_server.cpp for pod " << pod_.name() << "\n"
       << "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
       << "pid " << (root / "nginx.pid").string() << ";\n"
       << "error_log stderr warn;\n"
       << "events { worker_connections 1024; }\n"
       << "http {\n"
       << "  default_type text/plain;\n"
       << "  sendfile on;\n"
       << "  keepalive_requests 1000000;\n"
       << "  keepalive_timeout 60s;\n"
       << "  client_body_temp_path " << (root / "tmp" / "body").string() << ";\n"
       << "  proxy_temp_path " << (root / "tmp" / "proxy").string() << ";\n"
       << "  log_format membrane '$request_method $request_uri';\n"
       << "  access_log " << (root / "requests.log").string() << " membrane;\n"
       << "  server {\n"
       << "    listen " << pod_.address4() << ":" << port << ";\n"
       << "    listen [" << pod_.address6() << "]:" << port << ";\n"
       << "    root " << (root / "www").string() << ";\n"
       << "    location = " << kReadyPath << " { access_log off; }\n"
       << "    location /echo/ { return 200 \"echo $request_method $uri\\n\"; }\n";
  for (const auto& prefix : options_.echoPrefixes)
    conf << "    location " << prefix << " { return 200 \"echo $request_method $uri\\n\"; }\n";
  if (!options_.upstream.empty())
    conf << "    location /proxy/ { proxy_pass " << options_.upstream << "; proxy_http_version 1.1;"
         << " proxy_set_header Connection \"\"; }\n";
  conf << "  }\n}\n";
  conf.close();
  if (!conf) throw std::runtime_error("HttpServer: cannot write " + (root / "nginx.conf").string());

  const std::string nginx = testkit::findSystemProgram("nginx");
  if (nginx.empty()) throw std::runtime_error("HttpServer: " + *unavailable());
  process_ = pod_.spawn({nginx, "-p", root.string(), "-c", (root / "nginx.conf").string(), "-e", "stderr"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) {
      ExecResult r = process_.wait(Millis(100));
      throw std::runtime_error("HttpServer: nginx exited in pod " + pod_.name() + ": " + r.describe());
    }
    ExecResult probe = pod_.exec({"curl", "-sf", "--max-time", "1", url(kReadyPath)}, Millis(3000));
    if (probe.succeeded()) return;
    last = probe.describe();
    std::this_thread::sleep_for(Millis(20));
  }
  ExecResult r = process_.stop();
  throw std::runtime_error("HttpServer: nginx in pod " + pod_.name() + " did not answer within 5 s (last probe: " +
                           last + "); nginx: " + r.describe());
}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::url(const std::string& path, bool ipv6) const {
  std::string host = ipv6 ? "[" + pod_.address6() + "]" : pod_.address4();
  return "http://" + host + ":" + std::to_string(options_.port) + path;
}

void HttpServer::writeFile(const std::string& relativePath, const std::string& content) {
  if (relativePath.empty() || relativePath[0] == '/' || relativePath.find("..") != std::string::npos)
    throw std::invalid_argument("HttpServer::writeFile: bad path '" + relativePath + "'");
  auto target = dir_ / "www" / relativePath;
  std::filesystem::create_directories(target.parent_path());
  std::ofstream out(target, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("HttpServer::writeFile: cannot write " + target.string());
}

std::vector<std::string> HttpServer::requests() const {
  auto read = [&] {
    std::ifstream in(dir_ / "requests.log");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  };
  // nginx writes a request's line in its log phase, after the answer has
  // gone out: a client can hold the answer before the line exists. Read
  // until the log has been still for 100 ms (3 s at most).
  std::vector<std::string> seen = read();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<std::string> again = read();
    if (again == seen) break;
    seen = std::move(again);
  }
  return seen;
}

std::string HttpServer::stop() {
  if (!process_.valid() || !process_.running()) return {};
  process_.signal(SIGQUIT);  // graceful: finish requests in flight
  return process_.stop().describe();
}

}  // namespace membrane::e2e
