// Real etcd members on loopback ports for tests (etcd_cluster.h).
#include "etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace membrane::testkit {

namespace {

using namespace std::chrono_literals;

// A port nothing listens on now (the kernel's choice for a socket bound to
// port 0). Another process could take it before etcd does; two calls in a
// row never return the same port while the first socket is open, so the
// caller holds them until all are chosen.
int reservePort(std::vector<int>& held) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error(std::string("cannot pick a free port: ") + std::strerror(errno));
  }
  held.push_back(fd);
  return ntohs(a.sin_port);
}

// GET `path` from 127.0.0.1:`port`; the whole answer, "" if it fails.
std::string httpGet(int port, const std::string& path, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

int portOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

}  // namespace

std::string EtcdCluster::unavailableReason() {
  return findSystemProgram("etcd").empty() ? "etcd is not installed (Debian package etcd-server; scripts/setup.sh)" : "";
}

void EtcdCluster::makeCertificates() {
  std::string d = dir_->path().string();
  auto run = [&](const std::string& command) {
    std::string full = command + " >>" + d + "/openssl.log 2>&1";
    if (std::system(full.c_str()) != 0)
      throw std::runtime_error("openssl failed: " + command + " (see " + d + "/openssl.log)");
  };
  // A CA; a certificate for the members (127.0.0.1), one for a client, both
  // signed by it; and one signed by nobody.
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=membrane-test-ca -keyout " + d + "/ca.key -out " +
      d + "/ca.pem");
  auto signedCert = [&](const std::string& name, const std::string& cn, const std::string& ext) {
    run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + cn + " -keyout " + d + "/" + name + ".key -out " + d + "/" +
        name + ".csr");
    std::ofstream(d + "/" + name + ".ext") << ext << "\n";
    run("openssl x509 -req -days 2 -in " + d + "/" + name + ".csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -CAcreateserial -extfile " + d + "/" + name + ".ext -out " + d + "/" + name + ".pem");
  };
  signedCert("server", "etcd", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth");
  signedCert("client", "node", "extendedKeyUsage=clientAuth");
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stranger -keyout " + d + "/stranger.key -out " + d +
      "/stranger.pem");
  serverCert_ = d + "/server.pem";
  serverKey_ = d + "/server.key";
  tls_ = {d + "/ca.pem", d + "/client.pem", d + "/client.key", d + "/stranger.pem", d + "/stranger.key"};
}

EtcdCluster::EtcdCluster(int members, bool tls) : useTls_(tls) {
  binary_ = findSystemProgram("etcd");
  if (binary_.empty()) throw std::runtime_error(unavailableReason());
  if (members < 1) throw std::invalid_argument("an etcd cluster needs a member");
  dir_ = std::make_unique<ScratchDir>("membrane-etcd");
  if (tls) makeCertificates();
  std::vector<int> held;
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.clientUrl = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(reservePort(held));
    m.peerUrl = "http://127.0.0.1:" + std::to_string(reservePort(held));
    // Health and metrics, always plain HTTP: the tests ask them without TLS.
    m.metricsUrl = "http://127.0.0.1:" + std::to_string(reservePort(held));
    m.dataDir = (*dir_ / m.name).string();
    m.logPath = (*dir_ / (m.name + ".log")).string();
    initialCluster_ += (initialCluster_.empty() ? "" : ",") + m.name + "=" + m.peerUrl;
    members_.push_back(m);
  }
  for (int fd : held) close(fd);
  try {
    for (auto& m : members_) launch(m, true);
    for (const auto& m : members_) waitHealthy(m, 20s);
  } catch (...) {
    for (auto& m : members_)
      if (m.pid > 0) {
        ::kill(m.pid, SIGKILL);
        waitpid(m.pid, nullptr, 0);
      }
    throw;
  }
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i)
    if (running(i)) kill(i);
}

std::vector<std::string> EtcdCluster::clientUrls() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m.clientUrl);
  return out;
}

const std::string& EtcdCluster::clientUrl(int member) const { return members_.at(static_cast<size_t>(member)).clientUrl; }

bool EtcdCluster::running(int member) const { return members_.at(static_cast<size_t>(member)).pid > 0; }

void EtcdCluster::launch(Member& m, bool fresh) {
  std::vector<std::string> args = {binary_,
                                   "--name=" + m.name,
                                   "--data-dir=" + m.dataDir,
                                   "--listen-client-urls=" + m.clientUrl,
                                   "--advertise-client-urls=" + m.clientUrl,
                                   "--listen-peer-urls=" + m.peerUrl,
                                   "--initial-advertise-peer-urls=" + m.peerUrl,
                                   "--initial-cluster=" + initialCluster_,
                                   "--initial-cluster-state=" + std::string(fresh ? "new" : "existing"),
                                   "--initial-cluster-token=" + dir_->path().filename().string(),
                                   // Elections in well under a second, as the failure tests need.
                                   "--heartbeat-interval=50",
                                   "--election-timeout=500",
                                   "--listen-metrics-urls=" + m.metricsUrl,
                                   "--log-level=warn"};
  if (useTls_)
    args.insert(args.end(), {"--cert-file=" + serverCert_, "--key-file=" + serverKey_,
                             "--trusted-ca-file=" + tls_.ca, "--client-cert-auth"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int log = open(m.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    if (null >= 0) dup2(null, 0);
    setpgid(0, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  m.pid = pid;
}

void EtcdCluster::waitHealthy(const Member& m, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (m.pid > 0 && waitpid(m.pid, nullptr, WNOHANG) == m.pid)
      throw std::runtime_error("etcd member " + m.name + " exited:\n" + log(static_cast<int>(&m - members_.data())));
    if (httpGet(portOf(m.metricsUrl), "/health", 1s).find("\"health\":\"true\"") != std::string::npos) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("etcd member " + m.name + " not healthy after " + std::to_string(timeout.count()) +
                           " ms:\n" + log(static_cast<int>(&m - members_.data())));
}

void EtcdCluster::stop(int member) {
  Member& m = members_.at(static_cast<size_t>(member));
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (waitpid(m.pid, nullptr, WNOHANG) != m.pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(m.pid, SIGKILL);
      waitpid(m.pid, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  m.pid = -1;
}

void EtcdCluster::kill(int member) {
  Member& m = members_.at(static_cast<size_t>(member));
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

void EtcdCluster::start(int member, bool wait) {
  Member& m = members_.at(static_cast<size_t>(member));
  if (m.pid > 0) return;
  launch(m, false);
  if (wait) waitHealthy(m, 20s);
}

std::string EtcdCluster::get(int member, const std::string& path) const {
  std::string answer = httpGet(portOf(members_.at(static_cast<size_t>(member)).metricsUrl), path, 5s);
  auto body = answer.find("\r\n\r\n");
  return body == std::string::npos ? "" : answer.substr(body + 4);
}

std::string EtcdCluster::log(int member) const {
  std::ifstream in(members_.at(static_cast<size_t>(member)).logPath);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace membrane::testkit
