// The socket layer on real sockets (bpf-templates/entry/sockops.c, sk_skb.c,
// lib/l7_*.h, lib/http_read.h; docs/http.md "Datapath").
//
// Each test loads the stub-compiled datapath (decide_stub.c: its HTTP
// decision allows GET on paths starting "/ok", POST "/ok/env" with
// "X-Env: prod", every request for host "api.test", denies requests with
// an "X-Deny" header, default deny), moves this process into a network
// namespace and a cgroup of its own, attaches mb_sockops to the cgroup and
// the stream parser and dispatch to mb_l7_socks_in, and drives real TCP
// over loopback: a server (a thread that answers every complete request
// "200 OK") on SERVER:8080, a client from CLIENT. Everything is undone in
// TearDown, also after a failure.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "socket_sandbox.h"

namespace mbtest {
namespace {

constexpr uint16_t kPort = 8080;
constexpr uint32_t kSlot = 5;

// A request's end in `buf` from `at` (header block, then Content-Length or
// chunked body), or npos while incomplete. The server's framing, for tests.
size_t requestEnd(const std::string& buf, size_t at) {
  size_t head = buf.find("\r\n\r\n", at);
  if (head == std::string::npos) return std::string::npos;
  head += 4;
  std::string block = buf.substr(at, head - at);
  for (auto& c : block) c = char(std::tolower(static_cast<unsigned char>(c)));
  size_t cl = block.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    size_t n = std::stoul(block.substr(cl + 17));
    return buf.size() >= head + n ? head + n : std::string::npos;
  }
  if (block.find("\r\ntransfer-encoding:") != std::string::npos) {
    size_t pos = head;
    for (;;) {
      size_t line = buf.find("\r\n", pos);
      if (line == std::string::npos) return std::string::npos;
      size_t size = std::stoul(buf.substr(pos, line - pos), nullptr, 16);
      pos = line + 2;
      if (size == 0) {
        size_t end = buf.find("\r\n\r\n", pos - 2);
        return end == std::string::npos ? std::string::npos : end + 4;
      }
      if (buf.size() < pos + size + 2) return std::string::npos;
      pos += size + 2;
    }
  }
  return head;
}

// One server connection at a time; answers each complete request.
// Writes `bytes` to the socket with sendfile(2), from a file holding them.
bool sendWithSendfile(int socket, const std::string& bytes) {
  char path[] = "/tmp/mb-http-test-XXXXXX";
  int f = mkstemp(path);
  if (f < 0) return false;
  unlink(path);
  bool ok = write(f, bytes.data(), bytes.size()) == ssize_t(bytes.size());
  off_t off = 0;
  ok = ok && sendfile(socket, f, &off, bytes.size()) == ssize_t(bytes.size());
  close(f);
  return ok;
}

class Server {
 public:
  enum class Send { Write, Sendfile };

  Server(int family, const std::string& addr, Send send = Send::Write) : send_(send) {
    fd_ = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_storage ss = sockaddrOf(family, addr, kPort);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), sizeof(ss)) != 0 || listen(fd_, 16) != 0)
      error_ = std::string("server: ") + std::strerror(errno);
    thread_ = std::thread([this] { run(); });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  const std::string& error() const { return error_; }
  std::string received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  static sockaddr_storage sockaddrOf(int family, const std::string& addr, uint16_t port) {
    sockaddr_storage ss{};
    if (family == 4) {
      auto* s = reinterpret_cast<sockaddr_in*>(&ss);
      s->sin_family = AF_INET;
      s->sin_port = htons(port);
      inet_pton(AF_INET, addr.c_str(), &s->sin_addr);
    } else {
      auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
      s->sin6_family = AF_INET6;
      s->sin6_port = htons(port);
      inet_pton(AF_INET6, addr.c_str(), &s->sin6_addr);
    }
    return ss;
  }

 private:
  void answer(int c) {
    static const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    if (send_ == Send::Write) {
      (void)!write(c, ok.data(), ok.size());
      return;
    }
    if (!sendWithSendfile(c, ok)) sendfileFailed_ = true;
  }

  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      accepted_++;
      std::string buf;
      size_t at = 0;
      // No SO_RCVTIMEO here: the stream parser takes the socket's receive
      // timeout as the time a message may take to arrive, and stops the
      // socket's parsing for good when one takes longer (docs/datapath.md).
      while (!stop_) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 20) <= 0) continue;
        char tmp[16384];
        ssize_t n = recv(c, tmp, sizeof(tmp), MSG_DONTWAIT);
        // Bytes that arrived before accept() make the first read fail
        // with EAGAIN although poll() said readable, even on a blocking
        // socket (tcp_bpf hands them to the stream parser then): servers
        // retry, as event loops do.
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          eagain_++;
          continue;
        }
        if (n <= 0) break;
        buf.append(tmp, size_t(n));
        {
          std::lock_guard<std::mutex> lock(mu_);
          received_.append(tmp, size_t(n));
        }
        for (size_t end; (end = requestEnd(buf, at)) != std::string::npos; at = end) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            requests_++;
          }
          answer(c);
        }
      }
      close(c);
    }
  }

  int fd_ = -1;
  Send send_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string received_, error_;
  int requests_ = 0;

 public:
  std::atomic<int> eagain_{0};
  std::atomic<int> accepted_{0};
  // Waits until the server accepted `n` connections: requests sent before
  // that meet the kernel's pre-accept path (see the tests at the end).
  // Up to 10 s: on a loaded 2-core machine (ctest -j2 beside a build) the
  // accepting thread was once not scheduled within 2 s.
  bool waitAccepted(int n = 1) {
    for (int i = 0; i < 2000 && accepted_ < n; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return accepted_ >= n;
  }
  std::atomic<bool> sendfileFailed_{false};
};

// A client connection with blocking reads that time out.
class Client {
 public:
  Client(int family, const std::string& from, const std::string& to) {
    fd_ = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    sockaddr_storage src = Server::sockaddrOf(family, from, 0), dst = Server::sockaddrOf(family, to, kPort);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    connected_ = bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) == 0 &&
                 connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool send(const std::string& s) { return write(fd_, s.data(), s.size()) == ssize_t(s.size()); }

  // One response (header block and Content-Length body), or "" on timeout
  // or EOF. Keeps what follows for the next call.
  std::string response() {
    for (;;) {
      size_t head = buf_.find("\r\n\r\n");
      if (head != std::string::npos) {
        size_t cl = buf_.find("Content-Length: ");
        size_t n = cl != std::string::npos && cl < head ? std::stoul(buf_.substr(cl + 16)) : 0;
        if (buf_.size() >= head + 4 + n) {
          std::string r = buf_.substr(0, head + 4 + n);
          buf_.erase(0, head + 4 + n);
          return r;
        }
      }
      char tmp[4096];
      ssize_t n = read(fd_, tmp, sizeof(tmp));
      if (n <= 0) return "";
      buf_.append(tmp, size_t(n));
    }
  }
  // Exactly `n` bytes (fewer on timeout or EOF).
  std::string bytes(size_t n) {
    char tmp[4096];
    for (ssize_t got; buf_.size() < n && (got = read(fd_, tmp, std::min(sizeof(tmp), n - buf_.size()))) > 0;)
      buf_.append(tmp, size_t(got));
    std::string r = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, r.size());
    return r;
  }
  // Whether the connection reads EOF (or an error) within the timeout, no data.
  bool closedOrSilent() {
    char c;
    return read(fd_, &c, 1) <= 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

const std::string k403Head = "HTTP/1.1 403 Forbidden\r\n";
// The socket layer's answers (bpf-templates/lib/l7_verdict.h): as long as
// the bytes they answer, the body padding them (and where no digit count
// fits, a space after the digits).
std::string answer(const std::string& head, size_t len) {
  for (size_t k = 0; k < 10; k++) {
    size_t digits = 1 + k / 2, pad = k % 2;
    if (len < head.size() + 4 + digits + pad) break;
    size_t body = len - head.size() - 4 - digits - pad;
    if (std::to_string(body).size() != digits) continue;
    std::string b = head.find("403") != std::string::npos && body >= 10 ? "Forbidden" : "";
    b += std::string(body - b.size() - 1, ' ') + "\n";
    return head + std::to_string(body) + std::string(pad, ' ') + "\r\n\r\n" + b;
  }
  return (head.find("403") != std::string::npos ? "HTTP/1.1 403 \r\n\r\n" : "HTTP/1.1 400 \r\n\r\n") +
         std::string(len - 17, ' ');
}
std::string k403(size_t len) { return answer("HTTP/1.1 403 Forbidden\r\nContent-Length: ", len); }
std::string k403Close(size_t len) { return answer("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: ", len); }
std::string k400(size_t len) { return answer("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ", len); }
const std::string k200 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: svc\r\nUser-Agent: membrane-test\r\n" + extra + "\r\n";
}

class SocketLayerTest : public ::testing::TestWithParam<int> {
 protected:
  int family() const { return GetParam(); }
  // A listening socket on the server's address and port that no Server
  // thread accepts from: the test accepts (or not) when it wants.
  void listenOnServer(int& l) const {
    l = socket(family() == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    ASSERT_GE(l, 0) << std::strerror(errno);
    sockaddr_storage ss = Server::sockaddrOf(family(), server(), kPort);
    ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&ss), sizeof(ss)), 0) << std::strerror(errno);
    ASSERT_EQ(listen(l, 4), 0);
  }
  std::string server() const { return family() == 4 ? "198.18.7.1" : "2001:2:0:7::1"; }
  std::string client() const { return family() == 4 ? "198.18.7.2" : "2001:2:0:7::2"; }

  void SetUp() override {
    MB_REQUIRE_BPF();
    dp_ = std::make_unique<Datapath>(
        Options{.events = (1u << MB_EVENT_HTTP_ALLOW) | (1u << MB_EVENT_HTTP_DENY) | (1u << MB_EVENT_HTTP_AUDIT)});
    ASSERT_TRUE(dp_->loaded()) << dp_->error();

    // A network namespace of our own, for this thread (and what it forks),
    // and a cgroup of our own, holding this process.
    sandbox_ = std::make_unique<SocketSandbox>();
    std::string why = sandbox_->enterNetns(
        "ip link set lo up && ip addr add 198.18.7.1/32 dev lo && "
        "ip addr add 198.18.7.2/32 dev lo && ip addr add 2001:2:0:7::1/128 dev lo nodad && "
        "ip addr add 2001:2:0:7::2/128 dev lo nodad");
    ASSERT_EQ(why, "");
    ASSERT_EQ(why = sandbox_->enterCgroup("mb-http-test-"), "");
    cgroup_ = sandbox_->cgroup();
    cgFd_ = sandbox_->cgroupFd();

    sockops_ = bpf_program__attach_cgroup(prog(MB_PROG_SOCKOPS), cgFd_);
    ASSERT_NE(sockops_, nullptr) << "attach sockops: " << std::strerror(errno);
    int in = dp_->mapFd("mb_l7_socks_in");
    ASSERT_EQ(bpf_prog_attach(bpf_program__fd(prog(MB_PROG_L7_SKB_DISPATCH)), in, BPF_SK_SKB_STREAM_VERDICT, 0), 0)
        << std::strerror(errno);
    int out = dp_->mapFd("mb_l7_socks_out");
    ASSERT_EQ(bpf_prog_attach(bpf_program__fd(prog(MB_PROG_L7_MSG_DISPATCH)), out, BPF_SK_MSG_VERDICT, 0), 0)
        << std::strerror(errno);
    fillSlot();
    police(server(), kPort, MB_DIR_INGRESS);
  }

  void expectEachDecidedRequestIsAnEvent(int direction);
  void expectKeepAliveConnectionDecidedPerRequest(const std::function<std::string(const std::string&)>& denied);

  // The client side alone: the server's port unpoliced, the client's
  // requests to it decided where the client sends them.
  void policeClientOnly() {
    unpolice(server(), kPort, MB_DIR_INGRESS);
    police(client(), kPort, MB_DIR_EGRESS);
  }

  void TearDown() override {
    if (sockops_) bpf_link__destroy(sockops_);
    sandbox_.reset();
    dp_.reset();
  }

  bpf_program* prog(const char* name) { return bpf_object__find_program_by_name(dp_->object(), name); }

  void fillSlot() {
    uint32_t slot = kSlot;
    int fd = bpf_program__fd(prog(MB_PROG_L7_SKB_VERDICT));
    ASSERT_EQ(bpf_map_update_elem(dp_->mapFd("mb_l7_skb_progs"), &slot, &fd, BPF_ANY), 0) << std::strerror(errno);
    fd = bpf_program__fd(prog(MB_PROG_L7_MSG_VERDICT));
    ASSERT_EQ(bpf_map_update_elem(dp_->mapFd("mb_l7_msg_progs"), &slot, &fd, BPF_ANY), 0) << std::strerror(errno);
  }
  void emptySlot(const char* progs = "mb_l7_skb_progs") {
    uint32_t slot = kSlot;
    bpf_map_delete_elem(dp_->mapFd(progs), &slot);
  }

  static mb_l7_endpoint_key endpointKey(const std::string& addr, uint16_t port, int dir) {
    Addr a = Addr::parse(addr);
    mb_l7_endpoint_key k{};
    k.family = uint8_t(a.family);
    k.direction = uint8_t(dir);
    k.port = port;
    std::memcpy(k.addr, a.bytes.data(), 16);
    return k;
  }
  void unpolice(const std::string& addr, uint16_t port, int dir) {
    mb_l7_endpoint_key k = endpointKey(addr, port, dir);
    bpf_map_delete_elem(dp_->mapFd("mb_l7_endpoints"), &k);
  }
  void police(const std::string& addr, uint16_t port, int dir) {
    mb_l7_endpoint_key k = endpointKey(addr, port, dir);
    mb_l7_endpoint v{};
    v.slot = kSlot;
    v.endpoint = 7;
    v.protocol = MB_L7_HTTP;
    ASSERT_EQ(bpf_map_update_elem(dp_->mapFd("mb_l7_endpoints"), &k, &v, BPF_ANY), 0) << std::strerror(errno);
  }

  uint64_t stat(uint32_t s) const {
    std::vector<uint64_t> values(libbpf_num_possible_cpus());
    if (bpf_map_lookup_elem(dp_->mapFd("mb_http_stats"), &s, values.data()) != 0) return ~0ull;
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    return sum;
  }


  // Waits until the server has seen `n` requests (or a second passed).
  static void waitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 200 && !done(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  std::unique_ptr<Datapath> dp_;
  std::unique_ptr<SocketSandbox> sandbox_;
  int cgFd_ = -1;         // the sandbox's cgroup
  std::string cgroup_;
  bpf_link* sockops_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Families, SocketLayerTest, ::testing::Values(4, 6),
                         [](const ::testing::TestParamInfo<int>& p) { return p.param == 4 ? "IPv4" : "IPv6"; });

TEST_P(SocketLayerTest, AllowedRequestReachesTheServerByteForByte) {
  Server srv(family(), server());
  ASSERT_EQ(srv.error(), "");
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected()) << std::strerror(errno);
  ASSERT_TRUE(srv.waitAccepted());
  std::string req = get("/ok/items?x=1");
  ASSERT_TRUE(c.send(req));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), req);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 1u);
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 1u);
}

TEST_P(SocketLayerTest, DeniedRequestGetsA403AndNeverReachesTheServer) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send(get("/secret")));
  std::string r = c.response();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_EQ(r, k403(get("/secret").size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(srv.received(), "");
  EXPECT_EQ(stat(MB_HTTP_STAT_DENIED), 1u);
}

// What `membrane events` and `status` show of requests: an event per
// request with its method, path, rule, direction and connection (source the
// client, as the packet path reports it), and the deciding rule's counter.
void SocketLayerTest::expectEachDecidedRequestIsAnEvent(int direction) {
  dp_->records();  // nothing from before
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/ok/seen")));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(c.send(get("/ok/hidden", "X-Deny: 1\r\n")));
  EXPECT_EQ(c.response().rfind(k403Head, 0), 0u);
  std::vector<mb_http_event> http;
  for (const std::string& r : dp_->records()) {
    ASSERT_GE(r.size(), sizeof(mb_event));
    mb_event flow{};
    std::memcpy(&flow, r.data(), sizeof flow);
    if (flow.kind != MB_EVENT_HTTP_ALLOW && flow.kind != MB_EVENT_HTTP_DENY) continue;
    ASSERT_EQ(r.size(), sizeof(mb_http_event));
    http.emplace_back();
    std::memcpy(&http.back(), r.data(), sizeof(mb_http_event));
  }
  ASSERT_EQ(http.size(), 2u);
  auto path = [](const mb_http_event& e) { return std::string(e.path, e.path_len); };
  EXPECT_EQ(http[0].flow.kind, MB_EVENT_HTTP_ALLOW);
  EXPECT_EQ(http[0].flow.rule_id, 21u);
  EXPECT_EQ(std::string(http[0].method, http[0].method_len), "GET");
  EXPECT_EQ(path(http[0]), "/ok/seen");
  EXPECT_EQ(http[1].flow.kind, MB_EVENT_HTTP_DENY);
  EXPECT_EQ(http[1].flow.rule_id, 22u);
  EXPECT_EQ(http[1].why, MB_HTTP_WHY_RULE);
  EXPECT_EQ(path(http[1]), "/ok/hidden");
  Addr clientAddr = Addr::parse(client());
  for (const auto& e : http) {
    EXPECT_EQ(e.flow.endpoint, 7u);
    EXPECT_EQ(e.flow.direction, direction);
    EXPECT_EQ(e.flow.dport, kPort);
    EXPECT_EQ(e.flow.family, family() == 4 ? MB_FAMILY_V4 : MB_FAMILY_V6);
    EXPECT_EQ(std::memcmp(e.flow.saddr, clientAddr.bytes.data(), 16), 0);
  }
  EXPECT_EQ(dp_->rule(21).packets, 1u);
  EXPECT_EQ(dp_->rule(21).bytes, get("/ok/seen").size());
  EXPECT_EQ(dp_->rule(22).packets, 1u);
}

TEST_P(SocketLayerTest, EachDecidedRequestIsAnEventAndCountsUnderItsRule) {
  expectEachDecidedRequestIsAnEvent(MB_DIR_INGRESS);
}

TEST_P(SocketLayerTest, ClientSideEachDecidedRequestIsAnEventAndCountsUnderItsRule) {
  policeClientOnly();
  expectEachDecidedRequestIsAnEvent(MB_DIR_EGRESS);
}

// Where the Content-Length's digit count changes, no count fits the
// answer's length exactly (a 403 of 55 bytes: 1 digit leaves a body of 10,
// 2 digits one of 9): the answer was the status line alone, delimited by a
// connection end that never came, and the client waited. A space after the
// digits fits it now.
TEST_P(SocketLayerTest, DeniedRequestAtADigitBoundaryGetsA403WithLengthAndKeepsTheConnection) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  for (size_t len : {size_t(55), size_t(146)}) {
    std::string head = "GET /no HTTP/1.1\r\nHost: s\r\nX-P: ";
    std::string req = head + std::string(len - head.size() - 4, 'a') + "\r\n\r\n";
    ASSERT_EQ(req.size(), len);
    ASSERT_TRUE(c.send(req));
    std::string r = c.response();
    EXPECT_EQ(r, k403(len)) << len;
    EXPECT_NE(r.find("Content-Length: "), std::string::npos) << len;
  }
  ASSERT_TRUE(c.send(get("/ok/after")));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), get("/ok/after"));
}

TEST_P(SocketLayerTest, DeniedRequestTooShortForA403WithLengthGetsAStatusLineAndTheConnectionIsDiscarded) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string tiny = "GET /no HTTP/1.1\r\nHost: s\r\n\r\n";
  ASSERT_TRUE(c.send(tiny));
  std::string got;
  char tmp[64];
  for (ssize_t n; got.size() < tiny.size() && (n = read(c.fd(), tmp, sizeof(tmp))) > 0;) got.append(tmp, size_t(n));
  // Exactly as long as the request; spaces pad it, ended by the connection.
  EXPECT_EQ(got, "HTTP/1.1 403 \r\n\r\n" + std::string(tiny.size() - 17, ' '));
  ASSERT_TRUE(c.send(get("/ok/after")));
  EXPECT_TRUE(c.closedOrSilent());
  EXPECT_EQ(srv.received(), "");
}

// Six requests on one connection, allowed and denied in turn: each decided
// on its own, the denied ones answered `denied(request)`.
void SocketLayerTest::expectKeepAliveConnectionDecidedPerRequest(
    const std::function<std::string(const std::string&)>& denied) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string expected;
  for (int i = 0; i < 6; i++) {
    bool allowed = i % 2 == 0;
    std::string req = allowed ? get("/ok/" + std::to_string(i)) : get("/ok/" + std::to_string(i), "X-Deny: 1\r\n");
    ASSERT_TRUE(c.send(req));
    std::string r = c.response();
    if (allowed) {
      EXPECT_EQ(r, k200) << i;
      expected += req;
    } else {
      EXPECT_EQ(r, denied(req)) << i;
    }
  }
  EXPECT_EQ(srv.received(), expected);
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 3u);
  EXPECT_EQ(stat(MB_HTTP_STAT_DENIED), 3u);
}

TEST_P(SocketLayerTest, KeepAliveConnectionMixesAllowedAndDeniedRequests) {
  expectKeepAliveConnectionDecidedPerRequest([](const std::string& req) { return k403(req.size()); });
}

// Connections from one client address to one server port differ only in
// the client's port: each must stay in the sockhash under its own key (one
// keyed without the port replaced the one before it, whose requests then
// reached the server undecided).
TEST_P(SocketLayerTest, ConcurrentConnectionsFromOneClientAreEachDecided) {
  int l = -1;
  ASSERT_NO_FATAL_FAILURE(listenOnServer(l));
  Client first(family(), client(), server());
  Client second(family(), client(), server());
  ASSERT_TRUE(first.connected() && second.connected());
  int a = accept4(l, nullptr, nullptr, 0), b = accept4(l, nullptr, nullptr, 0);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 2u);
  mb_l7_sock_key refused{};
  EXPECT_NE(bpf_map_get_next_key(dp_->mapFd("mb_l7_refused"), nullptr, &refused), 0) << "a socket was refused";
  // The first connection's denied request: answered, never read.
  ASSERT_TRUE(first.send(get("/secret")));
  EXPECT_EQ(first.response().rfind(k403Head, 0), 0u);
  ASSERT_TRUE(second.send(get("/secret")));
  EXPECT_EQ(second.response().rfind(k403Head, 0), 0u);
  char buf[512];
  EXPECT_EQ(recv(a, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(recv(b, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(stat(MB_HTTP_STAT_DENIED), 2u);
  close(a);
  close(b);
  close(l);
}

TEST_P(SocketLayerTest, PipelinedRequestsAreEachDecided) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string all = get("/ok/1") + get("/ok/2") + get("/ok/3");
  ASSERT_TRUE(c.send(all));
  for (int i = 0; i < 3; i++) EXPECT_EQ(c.response(), k200) << i;
  EXPECT_EQ(srv.received(), all);
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 3u);
}

TEST_P(SocketLayerTest, RequestSplitAcrossManySmallWritesIsReadWhole) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string req = get("/ok/split", "X-Env: prod\r\nAccept: */*\r\n");
  for (size_t i = 0; i < req.size(); i += 3) {
    ASSERT_TRUE(c.send(req.substr(i, 3)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), req);
  // A denied one split the same way: nothing of it reaches the server.
  std::string denied = get("/nope", "X-Env: prod\r\n");
  for (size_t i = 0; i < denied.size(); i += 3) ASSERT_TRUE(c.send(denied.substr(i, 3)));
  EXPECT_EQ(c.response().rfind(k403Head, 0), 0u);
  EXPECT_EQ(srv.received(), req);
}

TEST_P(SocketLayerTest, ContentLengthBodyFollowsItsRequestsVerdict) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string body(3000, 'b');
  std::string allowed = "POST /ok/env HTTP/1.1\r\nHost: svc\r\nX-Env:  prod \r\nContent-Length: 3000\r\n\r\n" + body;
  std::string denied = "POST /ok/env HTTP/1.1\r\nHost: svc\r\nX-Env: dev\r\nContent-Length: 3000\r\n\r\n" +
                       std::string(3000, 'D');
  ASSERT_TRUE(c.send(allowed.substr(0, 100)));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(c.send(allowed.substr(100)));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(c.send(denied));
  EXPECT_EQ(c.response().rfind(k403Head, 0), 0u);
  ASSERT_TRUE(c.send(get("/ok/after")));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), allowed + get("/ok/after"));
  EXPECT_EQ(stat(MB_HTTP_STAT_BODY_BYTES), 3000u);
}

TEST_P(SocketLayerTest, ChunkedBodyFollowsItsRequestsVerdict) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string chunks = "5\r\nhello\r\n1a;ext=1\r\n" + std::string(26, 'z') + "\r\n0\r\nX-Trailer: t\r\n\r\n";
  std::string allowed = "GET /ok/chunked HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
  std::string denied = "GET /no HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: Chunked\r\n\r\n" +
                       std::string("3\r\nDDD\r\n0\r\n\r\n");
  ASSERT_TRUE(c.send(allowed));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(c.send(denied));
  EXPECT_EQ(c.response().rfind(k403Head, 0), 0u);
  ASSERT_TRUE(c.send(get("/ok/after")));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), allowed + get("/ok/after"));
}

TEST_P(SocketLayerTest, ChunkedRequestInSevenByteWritesIsFramedExactly) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string allowed = "GET /ok/chunked HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (int round = 0; round < 10; round++) {
    for (size_t i = 0; i < allowed.size(); i += 7) ASSERT_TRUE(c.send(allowed.substr(i, 7)));
    EXPECT_EQ(c.response(), k200) << round;
  }
}

// Nothing of a header block reaches the server before the whole block has
// been decided: the segments that carry its first part are held back.
TEST_P(SocketLayerTest, PartOfAHeaderBlockIsHeldBackUntilTheBlockIsWhole) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string req = get("/ok/held");
  ASSERT_TRUE(c.send(req.substr(0, 20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(c.send(req.substr(20, 10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(srv.received(), "");
  ASSERT_TRUE(c.send(req.substr(30)));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), req);
  EXPECT_EQ(stat(MB_HTTP_STAT_HELD), 2u);
}

// The longest header block read (8,192 bytes), all but its last byte in
// one segment: the whole segment is held back, and its length accounted
// for later (cut to 0 in three steps of at most 4,095 bytes).
TEST_P(SocketLayerTest, LongestHeaderBlockHeldAllButItsLastByteIsReadWhole) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string head = "GET /ok/longest HTTP/1.1\r\nHost: svc\r\nX-Pad: ";
  std::string req = head + std::string(MB_HTTP_HEADER_MAX - head.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(req.size(), size_t(MB_HTTP_HEADER_MAX));
  ASSERT_TRUE(c.send(req.substr(0, req.size() - 1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(srv.received(), "");
  ASSERT_TRUE(c.send(req.substr(req.size() - 1)));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), req);
  EXPECT_EQ(stat(MB_HTTP_STAT_CUT), 0u);
}

// The held part goes back in front of a segment much larger than itself.
TEST_P(SocketLayerTest, HeldPartOfAHeaderBlockGoesBackInFrontOfALargeBody) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string body(30000, 'b');
  std::string req = "POST /ok/env HTTP/1.1\r\nHost: svc\r\nX-Env: prod\r\nContent-Length: 30000\r\n\r\n" + body;
  ASSERT_TRUE(c.send(req.substr(0, 12)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(c.send(req.substr(12)));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), req);
  EXPECT_EQ(stat(MB_HTTP_STAT_BODY_BYTES), 30000u);
}

// One write is one segment on loopback. An allowed request, then a denied
// one: the segment can be neither passed whole nor answered, so it is
// dropped and the connection cut there.
TEST_P(SocketLayerTest, DeniedRequestPipelinedBehindAnAllowedOneInOneSegmentCutsTheConnection) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/ok/1") + get("/secret") + get("/ok/2")));
  EXPECT_TRUE(c.closedOrSilent());
  EXPECT_EQ(srv.received(), "");
  EXPECT_EQ(stat(MB_HTTP_STAT_CUT), 1u);
  EXPECT_EQ(stat(MB_HTTP_STAT_DENIED), 1u);
}

TEST_P(SocketLayerTest, RequestPipelinedBehindADeniedOneInOneSegmentGetsA403ThatClosesTheConnection) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/secret") + get("/ok/1")));
  EXPECT_EQ(c.response(), k403Close(get("/secret").size() + get("/ok/1").size()));
  ASSERT_TRUE(c.send(get("/ok/2")));
  EXPECT_TRUE(c.closedOrSilent());
  EXPECT_EQ(srv.received(), "");
  EXPECT_EQ(stat(MB_HTTP_STAT_CUT), 1u);
}

// A denied request's body ends in the segment that starts the next
// request (the client had both queued): the request cannot be delivered
// without the body's bytes before it, so the connection is cut.
TEST_P(SocketLayerTest, RequestInTheSegmentThatEndsADeniedBodyCutsTheConnection) {
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string head = "POST /secret HTTP/1.1\r\nHost: svc\r\nContent-Length: 9000\r\n\r\n";
  ASSERT_TRUE(c.send(head + std::string(1000, 'D')));
  EXPECT_EQ(c.response(), k403(head.size() + 1000));
  ASSERT_TRUE(c.send(std::string(7000, 'D')));
  ASSERT_TRUE(c.send(std::string(1000, 'D') + get("/ok/next")));
  EXPECT_TRUE(c.closedOrSilent());
  EXPECT_EQ(srv.received(), "");
  EXPECT_EQ(stat(MB_HTTP_STAT_CUT), 1u);
}

struct Unreadable {
  const char* name;
  std::string bytes;
  uint32_t stat;
};

TEST_P(SocketLayerTest, UnreadableBytesGetA400AndEverythingAfterIsDiscarded) {
  const Unreadable cases[] = {
      {"header block over the limit", "GET /ok HTTP/1.1\r\nX-Long: " + std::string(9000, 'a') + "\r\n\r\n",
       MB_HTTP_STAT_TOO_LONG},
      {"TLS ClientHello", std::string("\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03", 11) + std::string(38, '\0'),
       MB_HTTP_STAT_TLS},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", MB_HTTP_STAT_HTTP2},
      {"bare LF", "GET /ok HTTP/1.1\nHost: svc\r\n\r\n", MB_HTTP_STAT_MALFORMED},
      {"two Content-Length", "GET /ok HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
       MB_HTTP_STAT_MALFORMED},
      {"gzip coding", "GET /ok HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", MB_HTTP_STAT_MALFORMED},
      {"a path that is not canonical", get("/%6Fk"), MB_HTTP_STAT_PATH},
      {"a path that hides a dot segment", get("/ok/%2E%2E/secret"), MB_HTTP_STAT_PATH},
  };
  for (const auto& u : cases) {
    SCOPED_TRACE(u.name);
    Server srv(family(), server());
    Client c(family(), client(), server());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(srv.waitAccepted());
    uint64_t before = stat(u.stat);
    ASSERT_TRUE(c.send(u.bytes));
    EXPECT_EQ(c.bytes(u.bytes.size()), k400(u.bytes.size()));
    ASSERT_TRUE(c.send(get("/ok/later")));
    EXPECT_TRUE(c.closedOrSilent());
    EXPECT_EQ(srv.received(), "");
    EXPECT_EQ(stat(u.stat), before + 1);
  }
  EXPECT_GE(stat(MB_HTTP_STAT_DISCARDED), 1u);
}

TEST_P(SocketLayerTest, EmptySlotDropsAndCountsNoProgram) {
  emptySlot();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/ok")));
  EXPECT_TRUE(c.closedOrSilent());
  EXPECT_EQ(srv.received(), "");
  EXPECT_GE(stat(MB_HTTP_STAT_NO_PROGRAM), 1u);
}

TEST_P(SocketLayerTest, UnpolicedPortIsNotPutInTheSockhash) {
  // The policed address, another port: no entry in mb_l7_endpoints.
  uint32_t key = 0;
  mb_l7_endpoint_key k{};
  ASSERT_EQ(bpf_map_get_next_key(dp_->mapFd("mb_l7_endpoints"), nullptr, &k), 0);
  ASSERT_EQ(bpf_map_delete_elem(dp_->mapFd("mb_l7_endpoints"), &k), 0);
  (void)key;
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/secret")));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 0u);
}

}  // namespace
}  // namespace mbtest

namespace mbtest {
namespace {

// The hazards of sockets in a sockhash on this kernel (docs/datapath.md,
// "Socket layer"): readiness, FIONREAD, bytes before accept(), a server
// that sends with sendfile() or reads with splice().
TEST_P(SocketLayerTest, PolicedSocketWakesEpollAndCountsFionreadForAPassedRequest) {
  int l = -1;
  ASSERT_NO_FATAL_FAILURE(listenOnServer(l));
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  int s = accept(l, nullptr, nullptr);
  ASSERT_GE(s, 0);
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
  std::string req = get("/ok/epoll");
  ASSERT_TRUE(c.send(req));
  epoll_event out{};
  EXPECT_EQ(epoll_wait(ep, &out, 1, 1000), 1) << "an edge-triggered wait is woken";
  int avail = -1;
  ASSERT_EQ(ioctl(s, FIONREAD, &avail), 0);
  EXPECT_EQ(avail, int(req.size()));
  std::string got(512, '\0');
  ssize_t n = recv(s, got.data(), got.size(), MSG_DONTWAIT);
  EXPECT_EQ(n, ssize_t(req.size()));
  close(ep);
  close(s);
  close(l);
}

// Bytes that arrive before accept() wait in the TCP receive queue: the
// stream parser cannot read a socket that has no file yet. poll() reports
// them, FIONREAD counts 0 and the first read fails with EAGAIN (it hands
// them to the parser); the verdict then runs and an edge-triggered epoll
// is woken again, so event-loop servers read the request.
TEST_P(SocketLayerTest, RequestThatArrivesBeforeAcceptIsDecidedOnTheFirstRead) {
  int l = -1;
  ASSERT_NO_FATAL_FAILURE(listenOnServer(l));
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  std::string req = get("/ok/early");
  ASSERT_TRUE(c.send(req));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int s = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
  ASSERT_GE(s, 0);
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
  std::string got;
  for (int i = 0; i < 5 && got.size() < req.size(); i++) {
    epoll_event out{};
    if (epoll_wait(ep, &out, 1, 1000) != 1) continue;
    char tmp[512];
    for (ssize_t n; (n = recv(s, tmp, sizeof(tmp), 0)) > 0;) got.append(tmp, size_t(n));
  }
  EXPECT_EQ(got, req);
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 1u);
  close(ep);
  close(s);
  close(l);
}

TEST_P(SocketLayerTest, ServerThatAnswersWithSendfileOnAPolicedSocketReachesTheClient) {
  Server srv(family(), server(), Server::Send::Sendfile);
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(c.send(get("/ok/file")));
    EXPECT_EQ(c.response(), k200) << i;
  }
  ASSERT_TRUE(c.send(get("/denied")));
  EXPECT_EQ(c.response().rfind(k403Head, 0), 0u);
  EXPECT_FALSE(srv.sendfileFailed_);
  EXPECT_EQ(srv.requests(), 3);
}

// splice() reads the TCP receive queue, where the socket layer leaves
// nothing once the socket is accepted: passed requests wait in the
// socket's own queue, which recv() reads and splice() does not see. A
// server that splices from its client sockets never gets a request (it
// hangs; nothing undecided reaches it).
TEST_P(SocketLayerTest, SpliceFromAnAcceptedPolicedSocketFindsNothingAndRecvReadsTheRequest) {
  int l = -1;
  ASSERT_NO_FATAL_FAILURE(listenOnServer(l));
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  int s = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
  ASSERT_GE(s, 0);
  std::string req = get("/ok/splice");
  ASSERT_TRUE(c.send(req) && c.send(get("/denied/splice")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  errno = 0;
  EXPECT_EQ(splice(s, nullptr, p[1], nullptr, 4096, SPLICE_F_NONBLOCK), -1);
  EXPECT_EQ(errno, EAGAIN);
  std::string got(512, '\0');
  EXPECT_EQ(recv(s, got.data(), got.size(), MSG_DONTWAIT), ssize_t(req.size()));
  EXPECT_EQ(got.substr(0, req.size()), req);
  close(p[0]);
  close(p[1]);
  close(s);
  close(l);
}

// KNOWN HOLE (docs/datapath.md, "Socket layer"): bytes that arrive before
// accept() sit in the TCP receive queue until the first recv() hands them
// to the stream parser; a server that splices from the socket instead
// reads them undecided. Disabled until the socket layer closes it (e.g. by
// holding such bytes at the packet programs until the socket is accepted).
TEST_P(SocketLayerTest, DISABLED_DeniedRequestThatArrivesBeforeAcceptNeverReachesASpliceReader) {
  int l = -1;
  ASSERT_NO_FATAL_FAILURE(listenOnServer(l));
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(get("/denied/splice")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int s = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
  ASSERT_GE(s, 0);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_LE(splice(s, nullptr, p[1], nullptr, 4096, SPLICE_F_NONBLOCK), 0);
  close(p[0]);
  close(p[1]);
  close(s);
  close(l);
}

// With a stream parser, the request after one that arrived before accept()
// often stalled in the TCP receive queue on this kernel; the verdict alone
// takes every segment off the queue.
TEST_P(SocketLayerTest, RequestAfterOneThatArrivedBeforeAcceptIsDecided) {
  Server srv(family(), server());
  for (int round = 0; round < 5; round++) {
    Client c(family(), client(), server());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(get("/ok/first")));  // before the server accepts, most likely
    EXPECT_EQ(c.response(), k200);
    ASSERT_TRUE(c.send(get("/ok/second")));
    EXPECT_EQ(c.response(), k200) << "round " << round;
  }
}

// Another program's sockmap (a second BPF application on the node). A
// socket's psock takes one stream verdict: whichever sockops program puts
// the socket in its sockhash first owns it, and the other's insert fails
// (EBUSY). When the other wins, the socket layer refuses the socket and
// records its tuple, so the packet programs drop the connection
// (verdict_test.cpp, L7_REFUSED); when the socket layer wins, it decides the
// requests as always.
// ---- The client side: requests decided where the client sends them ------
//
// The server's port is not policed in these tests: what they show is the
// client side alone (entry/sk_msg.c, lib/l7_msg.h), as for an egress rule
// toward a server on a node without membrane.

// The client side's answers: a 403 or 400 of its own length, with the
// Content-Length body of a denied request after "Forbidden " when it has one.
std::string clientAnswer(const std::string& head, const std::string& echo = "") {
  std::string body = head.find("403") != std::string::npos ? "Forbidden" : std::string(9, ' ');
  body += echo.empty() ? "\n" : " " + echo;
  return head + std::to_string(body.size()) + "\r\n\r\n" + body;
}
const std::string kClient403Head = "HTTP/1.1 403 Forbidden\r\nContent-Length: ";
const std::string kClient403CloseHead = "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: ";
const std::string kClient400Head = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ";

// What a client side that refuses a write looks like: the write fails with
// EACCES and the server has received only `before`.
void expectWriteRefusedAfter(Client& c, Server& srv, const std::string& bytes, const std::string& before) {
  errno = 0;
  EXPECT_LT(write(c.fd(), bytes.data(), bytes.size()), 0);
  EXPECT_EQ(errno, EACCES);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(srv.received(), before);
}
void expectWriteRefused(Client& c, Server& srv, const std::string& bytes) { expectWriteRefusedAfter(c, srv, bytes, ""); }

TEST_P(SocketLayerTest, ClientSideAllowedRequestReachesTheServerByteForByte) {
  policeClientOnly();
  Server srv(family(), server());
  ASSERT_EQ(srv.error(), "");
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected()) << std::strerror(errno);
  ASSERT_TRUE(srv.waitAccepted());
  std::string req = get("/ok/items?x=1");
  ASSERT_TRUE(c.send(req));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), req);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_OUT), 1u);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 0u);
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 1u);
}

TEST_P(SocketLayerTest, ClientSideDeniedRequestIsAnsweredOnTheClientsOwnSocketAndNeverSent) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send(get("/secret"))) << "the client's write succeeds: " << std::strerror(errno);
  EXPECT_EQ(c.response(), clientAnswer(kClient403Head));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(srv.received(), "");
  EXPECT_EQ(stat(MB_HTTP_STAT_DENIED), 1u);
}

TEST_P(SocketLayerTest, ClientSideKeepAliveConnectionMixesAllowedAndDeniedRequests) {
  policeClientOnly();
  expectKeepAliveConnectionDecidedPerRequest([](const std::string&) { return clientAnswer(kClient403Head); });
}

TEST_P(SocketLayerTest, ClientSideRequestSplitAcrossManySmallWritesIsDecidedWhole) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  for (const std::string& req : {get("/ok/split"), get("/ok/split", "X-Deny: 1\r\n")}) {
    for (size_t i = 0; i < req.size(); i += 3) ASSERT_TRUE(c.send(req.substr(i, 3)));
    std::string r = c.response();
    if (req.find("X-Deny") == std::string::npos)
      EXPECT_EQ(r, k200);
    else
      EXPECT_EQ(r, clientAnswer(kClient403Head));
  }
  EXPECT_EQ(srv.received(), get("/ok/split"));
  EXPECT_GT(stat(MB_HTTP_STAT_HELD), 0u);
}

TEST_P(SocketLayerTest, ClientSidePipelinedRequestsAreEachDecided) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/ok/1") + get("/ok/2") + get("/ok/3")));
  for (int i = 0; i < 3; i++) EXPECT_EQ(c.response(), k200) << i;
  EXPECT_EQ(srv.received(), get("/ok/1") + get("/ok/2") + get("/ok/3"));
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 3u);
}

// A denied request's Content-Length body is not sent either: it comes back
// as the rest of the 403's body, so the connection stays in step and the
// next request is decided and sent as usual. An allowed one's body passes
// whole, written apart from its head or not.
TEST_P(SocketLayerTest, ClientSideContentLengthBodyFollowsItsRequestsVerdict) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string body(3000, 'b');
  std::string allowed = "POST /ok/env HTTP/1.1\r\nHost: svc\r\nX-Env:  prod \r\nContent-Length: 3000\r\n\r\n" + body;
  std::string deniedHead = "POST /ok/env HTTP/1.1\r\nHost: svc\r\nX-Env: dev\r\nContent-Length: 3000\r\n\r\n";
  std::string deniedBody(3000, 'D');
  ASSERT_TRUE(c.send(allowed.substr(0, 100)));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(c.send(allowed.substr(100)));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(c.send(deniedHead + deniedBody.substr(0, 1000)));
  ASSERT_TRUE(c.send(deniedBody.substr(1000)));
  EXPECT_EQ(c.response(), clientAnswer(kClient403Head, deniedBody));
  ASSERT_TRUE(c.send(get("/ok/after")));
  EXPECT_EQ(c.response(), k200);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(srv.received(), allowed + get("/ok/after"));
  EXPECT_EQ(stat(MB_HTTP_STAT_BODY_BYTES), 3000u);
}

// A denied request with a chunked body: its length is unknown, so the 403
// closes the connection and what the client sends after it fails.
TEST_P(SocketLayerTest, ClientSideDeniedChunkedRequestGetsA403ThatClosesAndLaterSendsFail) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send("POST /secret HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
  EXPECT_EQ(c.response(), clientAnswer(kClient403CloseHead));
  expectWriteRefused(c, srv, "0\r\n\r\n");
}

TEST_P(SocketLayerTest, ClientSideUnreadableBytesGetA400AndLaterSendsFail) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  EXPECT_EQ(c.response(), clientAnswer(kClient400Head));
  expectWriteRefused(c, srv, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(stat(MB_HTTP_STAT_HTTP2), 1u);
}

// The sockmap hazard (a socket in a sockmap without a stream verdict): the
// client socket has the sk_msg verdict only. An event loop waiting with
// epoll must be woken both for the server's answer (the TCP receive queue)
// and for the 403 (the socket's own message queue, where the redirect puts
// it), and recv() must read both in order.
TEST_P(SocketLayerTest, ClientSideEventLoopIsWokenForTheServersAnswerAndForThe403) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, c.fd(), &ev), 0);
  for (const std::string& req : {get("/ok/loop"), get("/secret"), get("/ok/again")}) {
    ASSERT_TRUE(c.send(req));
    epoll_event out{};
    ASSERT_EQ(epoll_wait(ep, &out, 1, 1000), 1) << "woken for the answer to " << req;
    std::string got(512, '\0');
    ssize_t n = recv(c.fd(), got.data(), got.size(), MSG_DONTWAIT);
    ASSERT_GT(n, 0) << std::strerror(errno);
    got.resize(size_t(n));
    EXPECT_EQ(got, req.find("secret") == std::string::npos ? k200 : clientAnswer(kClient403Head));
    int avail = -1;
    ASSERT_EQ(ioctl(c.fd(), FIONREAD, &avail), 0);
    EXPECT_EQ(avail, 0) << "nothing left after the whole answer was read";
  }
  close(ep);
}

// A 403 waits in the socket's message queue, not the TCP receive queue:
// poll() must report it and FIONREAD count it, or clients that size their
// reads by FIONREAD would read nothing.
TEST_P(SocketLayerTest, ClientSidePollReportsThe403ReadableAndFionreadCountsIt) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/secret")));
  pollfd p{c.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  EXPECT_TRUE(p.revents & POLLIN);
  int avail = -1;
  ASSERT_EQ(ioctl(c.fd(), FIONREAD, &avail), 0);
  EXPECT_EQ(avail, int(clientAnswer(kClient403Head).size()));
  EXPECT_EQ(c.response(), clientAnswer(kClient403Head));
}

TEST_P(SocketLayerTest, ClientSideEmptySlotFailsTheSendAndCountsNoProgram) {
  policeClientOnly();
  emptySlot("mb_l7_msg_progs");
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  expectWriteRefused(c, srv, "GET /ok HTTP/1.1\r\n\r\n");
  EXPECT_GE(stat(MB_HTTP_STAT_NO_PROGRAM), 1u);
}

// Once a write was corked (a header block split across writes), the kernel
// keeps the socket's writes in its cork message, and redirecting an answer
// out of it frees the rest of the message: a request pipelined behind a
// denied one was lost while the write reported it sent, and the client
// waited for its answer. Such an answer now closes the connection.
TEST_P(SocketLayerTest, ClientSideAnswerWithBytesAfterItOnACorkedSocketClosesTheConnection) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  std::string first = get("/ok/first");
  ASSERT_TRUE(c.send(first.substr(0, 20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(c.send(first.substr(20)));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(c.send(get("/secret") + get("/ok/behind")));
  EXPECT_EQ(c.response(), clientAnswer(kClient403CloseHead));
  expectWriteRefusedAfter(c, srv, get("/ok/after"), first);
}

// A client that sends its requests with sendfile(2) (as a proxy relaying a
// file, or nginx's proxy with a buffered body does) goes through the same
// verdict: allowed bytes arrive whole, a denied request is answered.
TEST_P(SocketLayerTest, ClientSideRequestsSentWithSendfileAreDecided) {
  policeClientOnly();
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(sendWithSendfile(c.fd(), get("/ok/file")));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(sendWithSendfile(c.fd(), get("/secret")));
  EXPECT_EQ(c.response(), clientAnswer(kClient403Head));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(srv.received(), get("/ok/file"));
}

// Both sides on one node: the client's egress rules decide first, the
// server's ingress rules then decide what the client side let through.
TEST_P(SocketLayerTest, RequestsBetweenTwoPolicedEndpointsPassBothSides) {
  police(client(), kPort, MB_DIR_EGRESS);
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  ASSERT_TRUE(c.send(get("/ok/both")));
  EXPECT_EQ(c.response(), k200);
  ASSERT_TRUE(c.send(get("/secret")));
  EXPECT_EQ(c.response(), clientAnswer(kClient403Head)) << "the client side answers first";
  ASSERT_TRUE(c.send(get("/ok/again")));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), get("/ok/both") + get("/ok/again"));
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 1u);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_OUT), 1u);
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), 4u) << "each allowed request decided on both sides";
  EXPECT_EQ(stat(MB_HTTP_STAT_DENIED), 1u);
}

class ForeignSockmap {
 public:
  ForeignSockmap() {
    map_ = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "foreign_socks", 4, 8, 16, nullptr);
    // The foreign verdict passes everything.
    const bpf_insn pass[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, SK_PASS},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, vopts, .expected_attach_type = BPF_SK_SKB_STREAM_VERDICT);
    verdict_ = bpf_prog_load(BPF_PROG_TYPE_SK_SKB, "foreign_verdict", "GPL", pass, 2, &vopts);
    // The foreign sockops: every passively established socket into its
    // sockhash under key 0.
    const bpf_insn ops[] = {
        {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0},
        {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0},  // op
        {BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 8, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB},
        {BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0},
        {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0},
        {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, map_},
        {0, 0, 0, 0, 0},
        {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0},
        {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -4},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, BPF_ANY},
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sock_hash_update},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    sockops_ = bpf_prog_load(BPF_PROG_TYPE_SOCK_OPS, "foreign_sockops", "GPL", ops, 13, nullptr);
    ok_ = map_ >= 0 && verdict_ >= 0 && sockops_ >= 0 &&
          bpf_prog_attach(verdict_, map_, BPF_SK_SKB_STREAM_VERDICT, 0) == 0;
  }
  ~ForeignSockmap() {
    if (cgroup_ >= 0) bpf_prog_detach2(sockops_, cgroup_, BPF_CGROUP_SOCK_OPS);
    for (int fd : {sockops_, verdict_, map_})
      if (fd >= 0) close(fd);
  }
  bool ok() const { return ok_; }
  bool attachTo(int cgroupFd) {
    if (bpf_prog_attach(sockops_, cgroupFd, BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI) != 0) return false;
    cgroup_ = cgroupFd;
    return true;
  }
  // Whether the foreign sockhash holds a socket.
  bool holdsASocket() const {
    uint32_t next = 0;
    return bpf_map_get_next_key(map_, nullptr, &next) == 0;
  }

 private:
  int map_ = -1, verdict_ = -1, sockops_ = -1, cgroup_ = -1;
  bool ok_ = false;
};

TEST_P(SocketLayerTest, SocketAnotherProgramsSockmapTookFirstIsRefusedAndRecorded) {
  ForeignSockmap foreign;
  ASSERT_TRUE(foreign.ok()) << std::strerror(errno);
  // The foreign program in a cgroup below ours runs first (a pod's own
  // program below the node's root).
  std::string inner = cgroup_ + "/inner";
  ASSERT_EQ(mkdir(inner.c_str(), 0755), 0) << std::strerror(errno);
  int innerFd = open(inner.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(innerFd, 0);
  struct Leave {
    std::string outer, inner;
    int fd;
    ~Leave() {
      writeFile(outer + "/cgroup.procs", std::to_string(getpid()));
      close(fd);
      rmdir(inner.c_str());
    }
  } leave{cgroup_, inner, innerFd};
  ASSERT_TRUE(foreign.attachTo(innerFd)) << std::strerror(errno);
  ASSERT_TRUE(writeFile(inner + "/cgroup.procs", std::to_string(getpid())));
  {
    Server srv(family(), server());
    Client c(family(), client(), server());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(srv.waitAccepted());
    EXPECT_TRUE(foreign.holdsASocket());
    EXPECT_EQ(stat(MB_HTTP_STAT_SOCK_REFUSED), 1u);
    EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 0u);
    mb_l7_sock_key k{};
    EXPECT_EQ(bpf_map_get_next_key(dp_->mapFd("mb_l7_refused"), nullptr, &k), 0) << "no refused tuple recorded";
    EXPECT_EQ(k.local_port, kPort);
    sockaddr_storage own{};
    socklen_t len = sizeof own;
    ASSERT_EQ(getsockname(c.fd(), reinterpret_cast<sockaddr*>(&own), &len), 0);
    uint16_t clientPort = ntohs(own.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&own)->sin_port
                                                         : reinterpret_cast<sockaddr_in6*>(&own)->sin6_port);
    EXPECT_EQ(k.remote_port, clientPort) << "the refused tuple must be the connection's, as packets carry it";
  }
}

TEST_P(SocketLayerTest, SocketTheSocketLayerTookFirstIsDecidedWhateverAnotherSockmapWants) {
  ForeignSockmap foreign;
  ASSERT_TRUE(foreign.ok()) << std::strerror(errno);
  ASSERT_TRUE(foreign.attachTo(cgFd_)) << std::strerror(errno);  // after ours: runs second
  Server srv(family(), server());
  Client c(family(), client(), server());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(srv.waitAccepted());
  EXPECT_FALSE(foreign.holdsASocket());
  ASSERT_TRUE(c.send(get("/secret")));
  EXPECT_EQ(c.response().rfind(k403Head, 0), 0u);
  ASSERT_TRUE(c.send(get("/ok/mine")));
  EXPECT_EQ(c.response(), k200);
  EXPECT_EQ(srv.received(), get("/ok/mine"));
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCKS_IN), 1u);
  EXPECT_EQ(stat(MB_HTTP_STAT_SOCK_REFUSED), 0u);
}

// The socket layer's programs, as the verifier sees them: far from its
// limit (1M instructions processed), so the request reader's loops stay
// bpf_loop callbacks. Prints the figures for docs/datapath.md.
TEST_P(SocketLayerTest, ProgramsStayFarBelowTheVerifiersLimit) {
  for (const char* name : {MB_PROG_SOCKOPS, MB_PROG_L7_SKB_DISPATCH, MB_PROG_L7_SKB_VERDICT,
                           MB_PROG_L7_MSG_DISPATCH, MB_PROG_L7_MSG_VERDICT}) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_program__fd(prog(name)), &info, &len), 0);
    std::printf("%s: %u instructions verified, %u translated\n", name, info.verified_insns,
                unsigned(info.xlated_prog_len / sizeof(bpf_insn)));
    EXPECT_LT(info.verified_insns, 200000u) << name;
  }
}

// Rough cost of the socket layer: keep-alive request/response round trips
// on loopback, policed against not (the port's mb_l7_endpoints entry
// removed). Prints the figures; asserts only that every request passed.
TEST_P(SocketLayerTest, RoundTripLatencyWithAndWithoutTheSocketLayer) {
  const int kTrips = 10000;
  auto run = [&]() -> double {
    Server srv(family(), server());
    Client c(family(), client(), server());
    EXPECT_TRUE(c.connected() && srv.waitAccepted());
    std::string req = get("/ok/bench");
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kTrips; i++) {
      if (!c.send(req) || c.response() != k200) {
        ADD_FAILURE() << "trip " << i << " eagain " << srv.eagain_.load() << " server got " << srv.requests();
        uint64_t key = 0, next = 0;
        const void* prev = nullptr;
        int fd = dp_->mapFd("mb_l7_state");
        while (bpf_map_get_next_key(fd, prev, &next) == 0) {
          struct {
            mb_l7_sock_key k;
            uint64_t remaining;
            uint32_t slot, endpoint;
            uint8_t protocol, direction, phase, deny;
            uint32_t held, cur_off, cur_len;
          } st{};
          bpf_map_lookup_elem(fd, &next, &st);
          ADD_FAILURE() << "state phase " << int(st.phase) << " held " << st.held << " cur " << st.cur_off << "+"
                        << st.cur_len;
          key = next;
          prev = &key;
        }
        break;
      }
    }
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kTrips;
  };
  double policed = run();
  mb_l7_endpoint_key k{};
  ASSERT_EQ(bpf_map_get_next_key(dp_->mapFd("mb_l7_endpoints"), nullptr, &k), 0);
  ASSERT_EQ(bpf_map_delete_elem(dp_->mapFd("mb_l7_endpoints"), &k), 0);
  double plain = run();
  EXPECT_EQ(stat(MB_HTTP_STAT_ALLOWED), uint64_t(kTrips));
  std::printf("round trip: %.1f us policed, %.1f us plain (%d trips; the test server polls every 20 ms at most)\n",
              policed, plain, kTrips);
}

}  // namespace
}  // namespace mbtest
