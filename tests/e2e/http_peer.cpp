// membrane_e2e_http_peer: both ends of the HTTP differential test through
// real sockets (http_differential_e2e.cpp), run inside pod namespaces and
// cgroups (the socket layer's sockops sees only sockets made there, so the
// test cannot make them in-process). POSIX sockets only.
//
//   serve PORT
//       A real HTTP/1.1 server on PORT of every IPv4 and IPv6 address: it
//       frames what each connection sends (header blocks up to the empty
//       line, bodies by Content-Length) and answers each complete request
//       with "HTTP/1.1 200 OK", Content-Length 2, body "ok"; it never
//       closes a connection itself. Records every byte each connection
//       delivers. Prints "ready" once listening, and on SIGTERM, for each
//       connection it accepted (ended first, in the order they ended, then
//       those still open)
//         S <family> <peer port> <hex of every byte received>
//       and finally "done" (nothing before: nobody reads the output while
//       the test runs).
//   client ADDRESS4 ADDRESS6 PORT
//       Runs the script on stdin, one command a line, and prints what
//       happens:
//         c 4|6      closes the connection if any, connects to ADDRESS4 or
//                    ADDRESS6 (TCP_NODELAY): prints "C <local port>", or
//                    "C 0 <errno>" if it cannot connect
//         w HEX      one send() of those bytes; a failure prints "W <errno>"
//                    (the connection is then dead)
//         s MICROS   sleeps
//         r N        reads N responses, printing for each
//                    "R <status> <close> <body length>" (close: 1 when it
//                    says Connection: close, or has no Content-Length: then
//                    its body ends with the connection, which the server
//                    may never end, so the client gives the connection up
//                    at once, the body length what has come), "R T" when
//                    none comes within 0.5 s (the connection is then given
//                    up), "R E" when the connection ends
//                    or is dead first
//         x          closes the connection
//       then "end".
//
// Exit status: 0, or 2 on a usage or local error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value of header `name` (lowercase) in a header block, if present.
std::optional<std::string> header(std::string_view block, std::string_view name) {
  std::string l = lower(block);
  std::string needle = "\r\n" + std::string(name) + ":";
  size_t at = l.find(needle);
  if (at == std::string::npos) return std::nullopt;
  size_t from = at + needle.size();
  size_t end = l.find("\r\n", from);
  std::string v = l.substr(from, end - from);
  size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : v.substr(a, b - a + 1);
}

// ---- serve ------------------------------------------------------------------

volatile sig_atomic_t stopping = 0;

struct Connection {
  int fd;
  int family;
  unsigned port;
  std::string received;  // every byte, for the record
  std::string pending;   // not yet framed
};

// Answers each complete request in `c.pending`.
void frame(Connection& c) {
  static const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (;;) {
    size_t end = c.pending.find("\r\n\r\n");
    if (end == std::string::npos) return;
    size_t head = end + 4;
    size_t body = 0;
    if (auto cl = header(std::string_view(c.pending).substr(0, head), "content-length"))
      body = std::strtoull(cl->c_str(), nullptr, 10);
    if (c.pending.size() < head + body) return;
    c.pending.erase(0, head + body);
    // Blocking send: the answer is small, the client reads.
    if (send(c.fd, kOk.data(), kOk.size(), MSG_NOSIGNAL) < 0) return;
  }
}

void report(const Connection& c) {
  std::printf("S %d %u %s\n", c.family, c.port, hex(c.received).c_str());
  std::fflush(stdout);
}

int listenOn(int family, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 512) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int serve(int port) {
  struct sigaction sa{};
  sa.sa_handler = [](int) { stopping = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  int l4 = listenOn(AF_INET, port), l6 = listenOn(AF_INET6, port);
  if (l4 < 0 || l6 < 0) {
    std::fprintf(stderr, "cannot listen on %d: %s\n", port, std::strerror(errno));
    return 2;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<std::unique_ptr<Connection>> conns, finished;
  std::vector<char> buf(65536);
  while (!stopping) {
    std::vector<pollfd> fds = {{l4, POLLIN, 0}, {l6, POLLIN, 0}};
    for (const auto& c : conns) fds.push_back({c->fd, POLLIN, 0});
    int n = poll(fds.data(), fds.size(), 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      return 2;
    }
    for (int k = 0; k < 2; ++k) {
      if (!(fds[k].revents & POLLIN)) continue;
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd = accept4(fds[k].fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (fd < 0) continue;
      unsigned p = peer.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port)
                                             : ntohs(reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port);
      conns.push_back(std::make_unique<Connection>(Connection{fd, peer.ss_family == AF_INET ? 4 : 6, p, {}, {}}));
    }
    // Connections accepted in this round are polled in the next.
    std::vector<std::unique_ptr<Connection>> open;
    for (size_t i = 0; i < conns.size(); ++i) {
      auto& c = conns[i];
      size_t slot = i + 2;
      bool ended = false;
      if (slot < fds.size() && (fds[slot].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t got = recv(c->fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (got > 0) {
          c->received.append(buf.data(), static_cast<size_t>(got));
          c->pending.append(buf.data(), static_cast<size_t>(got));
          frame(*c);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          ended = true;
        }
      }
      if (ended) {
        close(c->fd);
        finished.push_back(std::move(c));
      } else {
        open.push_back(std::move(c));
      }
    }
    conns = std::move(open);
  }
  // Printed at the end only: nobody reads our output while the test runs.
  for (const auto& c : finished) report(*c);
  for (const auto& c : conns) report(*c);
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

// ---- client -----------------------------------------------------------------

struct Client {
  int fd = -1;
  bool dead = false;     // nothing more to read or write
  bool closing = false;  // an answer said Connection: close: nothing more to write
  bool timedOut = false;  // dead for want of an answer
  std::string in;  // received, not yet taken as a response

  void drop() {
    if (fd >= 0) close(fd);
    fd = -1;
    dead = false;
    closing = false;
    timedOut = false;
    in.clear();
  }

  // Reads more into `in`; false on timeout, end or error (then dead).
  bool more() {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 500) <= 0) {
      // No answer: give the connection up (the next batch takes a new one).
      dead = timedOut = true;
      return false;
    }
    char buf[65536];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0) {
      dead = true;
      return false;
    }
    in.append(buf, static_cast<size_t>(got));
    return true;
  }

  std::string response() {
    if (fd < 0 || (dead && in.empty())) return timedOut ? "R T" : "R E";
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos)
      if (!more()) return timedOut ? "R T" : "R E";
    std::string head = in.substr(0, end + 4);
    int status = 0;
    if (head.starts_with("HTTP/1.") && head.size() > 12) status = std::atoi(head.c_str() + 9);
    auto cl = header(head, "content-length");
    bool closes = header(head, "connection") == std::optional<std::string>("close");
    size_t body;
    if (cl) {
      body = std::strtoull(cl->c_str(), nullptr, 10);
      while (in.size() < end + 4 + body)
        if (!more()) return timedOut ? "R T" : "R E";
    } else {
      // The status line alone, delimited by the connection's end: the
      // datapath's short answer. The server never ends the connection, so
      // take what came, and give the connection up.
      closes = true;
      dead = true;
      body = in.size() - end - 4;
    }
    in.erase(0, end + 4 + body);
    // Answers to requests sent before may still come (on the client side
    // the datapath's answers come first), but nothing more may be sent.
    if (closes) this->closing = true;
    return "R " + std::to_string(status) + " " + (closes ? "1" : "0") + " " + std::to_string(body) +
           (cl ? " L" : " S");
  }
};

// Connects `c` to the server (TCP_NODELAY); prints "C <local port>", or
// "C 0 <errno>".
void connectTo(Client& c, const std::string& a4, const std::string& a6, int port, bool v6) {
  c.drop();
  sockaddr_storage ss{};
  socklen_t len;
  if (!v6) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, a4.c_str(), &a->sin_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, a6.c_str(), &a->sin6_addr);
    len = sizeof *a;
  }
  c.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::printf("C 0 %d\n", errno);
    c.dead = true;
    return;
  }
  sockaddr_storage me{};
  socklen_t mlen = sizeof me;
  getsockname(c.fd, reinterpret_cast<sockaddr*>(&me), &mlen);
  unsigned p = me.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&me)->sin_port)
                                       : ntohs(reinterpret_cast<sockaddr_in6*>(&me)->sin6_port);
  std::printf("C %u\n", p);
}

int client(const std::string& a4, const std::string& a6, int port) {
  signal(SIGPIPE, SIG_IGN);
  Client c;
  int family = 4;
  bool batchStart = true;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    char cmd = line[0];
    std::string arg = line.size() > 2 ? line.substr(2) : "";
    if (cmd == 'c') {
      family = arg == "6" ? 6 : 4;
      connectTo(c, a4, a6, port, family == 6);
      batchStart = true;
    } else if (cmd == 'w') {
      auto bytes = unhex(arg);
      if (!bytes) {
        std::fprintf(stderr, "bad hex: %s\n", line.c_str());
        return 2;
      }
      // A batch's first write on a connection that an answer closed (or
      // that failed) goes on a new one, of the same family.
      if ((c.dead || c.closing) && batchStart) connectTo(c, a4, a6, port, family == 6);
      batchStart = false;
      if (c.fd < 0 || c.dead) continue;
      ssize_t sent = send(c.fd, bytes->data(), bytes->size(), MSG_NOSIGNAL);
      if (sent != static_cast<ssize_t>(bytes->size())) {
        std::printf("W %d\n", sent < 0 ? errno : 0);
        c.dead = true;
      }
    } else if (cmd == 's') {
      std::this_thread::sleep_for(std::chrono::microseconds(std::atoi(arg.c_str())));
    } else if (cmd == 'r') {
      for (int i = std::atoi(arg.c_str()); i > 0; --i) std::printf("%s\n", c.response().c_str());
      batchStart = true;
    } else if (cmd == 'x') {
      c.drop();
    } else {
      std::fprintf(stderr, "unknown command: %s\n", line.c_str());
      return 2;
    }
  }
  c.drop();
  std::printf("end\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "serve") return serve(std::atoi(args[1].c_str()));
  if (args.size() == 4 && args[0] == "client") return client(args[1], args[2], std::atoi(args[3].c_str()));
  std::fprintf(stderr, "usage: membrane_e2e_http_peer serve PORT | client ADDRESS4 ADDRESS6 PORT\n");
  return 2;
}
