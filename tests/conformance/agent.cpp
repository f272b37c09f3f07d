// membrane_conformance_agent: the traffic tool of the conformance suite's
// real-traffic run, started inside the pods (network namespaces).
//
//   serve --tcp P[,P...] --udp P[,P...] [--sctp]
//       TCP listeners and UDP echo on [::] (dual-stack), and with --sctp a raw
//       IPPROTO_SCTP socket per family that reports every SCTP INIT arriving
//       at the pod on stdout:  sctp SRC SPORT DPORT TAG crc-ok|crc-bad
//       Prints "ready" once everything is bound. Runs until killed.
//   probe --timeout-ms N [--tag T] TARGET...
//       TARGET = PROTO,ADDR,PORT,SPORT (PROTO tcp, udp or sctp). Probes all
//       targets at once from the given source ports, and prints one line per
//       target in order: "<i> <status> <detail>", status one of
//         ok       TCP connected / UDP echoed
//         blocked  no answer before the deadline, or unreachable
//         refused  RST / ICMP port unreachable: the packet got through, but
//                  nothing listened (a harness problem, not a verdict)
//         sent     SCTP INIT sent (the receiver's report decides)
//         error    a local failure (bind, socket, ...)
//       SCTP INITs carry initiate tag T, so the harness can tell which run
//       they belong to. Exit 0 once every target has a status.
//
// The kernel has no SCTP module, so SCTP is spoken with raw IP sockets: a
// minimal INIT chunk with a valid CRC32c, counted on arrival by the
// receiver's raw socket. That checks what the datapath lets through, not an
// SCTP stack (no association is ever set up).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "membrane_conformance_agent: %s\n"
               "usage: membrane_conformance_agent serve --tcp P[,P] --udp P[,P] [--sctp]\n"
               "       membrane_conformance_agent probe --timeout-ms N [--tag T] PROTO,ADDR,PORT,SPORT...\n",
               why);
  std::exit(2);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "membrane_conformance_agent: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

std::vector<uint16_t> parsePorts(const std::string& list) {
  std::vector<uint16_t> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    long v = std::strtol(item.c_str(), nullptr, 10);
    if (v <= 0 || v > 65535) usage(("bad port '" + item + "'").c_str());
    out.push_back(static_cast<uint16_t>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// CRC32c (Castagnoli), as SCTP uses it: reflected polynomial 0x82F63B78.
uint32_t crc32c(const uint8_t* data, size_t len) {
  static uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[i] = c;
    }
    ready = true;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// The CRC goes on the wire least significant byte first (RFC 9260, app. A).
void putChecksum(uint8_t* sctp, size_t len) {
  std::memset(sctp + 8, 0, 4);
  uint32_t crc = crc32c(sctp, len);
  for (int i = 0; i < 4; ++i) sctp[8 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

bool checksumOk(const uint8_t* sctp, size_t len) {
  if (len < 12) return false;
  std::vector<uint8_t> copy(sctp, sctp + len);
  putChecksum(copy.data(), len);
  return std::memcmp(copy.data() + 8, sctp + 8, 4) == 0;
}

// Common header + INIT chunk (RFC 9260 3.1, 3.3.2): 12 + 20 bytes.
std::vector<uint8_t> sctpInit(uint16_t sport, uint16_t dport, uint32_t tag) {
  std::vector<uint8_t> p(32, 0);
  auto put16 = [&](size_t at, uint16_t v) {
    p[at] = static_cast<uint8_t>(v >> 8);
    p[at + 1] = static_cast<uint8_t>(v);
  };
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  put16(0, sport);
  put16(2, dport);
  put32(4, 0);       // verification tag: 0 in a packet carrying INIT
  p[12] = 1;         // chunk type INIT
  p[13] = 0;         // flags
  put16(14, 20);     // chunk length
  put32(16, tag);    // initiate tag
  put32(20, 65535);  // advertised receiver window
  put16(24, 1);      // outbound streams
  put16(26, 1);      // inbound streams
  put32(28, 1);      // initial TSN
  putChecksum(p.data(), p.size());
  return p;
}

void reportSctp(const char* src, const uint8_t* sctp, size_t len) {
  if (len < 32 || sctp[12] != 1) return;  // only INIT chunks are ours
  uint16_t sport = static_cast<uint16_t>(sctp[0] << 8 | sctp[1]);
  uint16_t dport = static_cast<uint16_t>(sctp[2] << 8 | sctp[3]);
  uint32_t tag = static_cast<uint32_t>(sctp[16]) << 24 | static_cast<uint32_t>(sctp[17]) << 16 |
                 static_cast<uint32_t>(sctp[18]) << 8 | sctp[19];
  std::printf("sctp %s %u %u %u %s\n", src, sport, dport, tag, checksumOk(sctp, len) ? "crc-ok" : "crc-bad");
  std::fflush(stdout);
}

int serve(int argc, char** argv) {
  std::vector<uint16_t> tcp, udp;
  bool sctp = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tcp" && i + 1 < argc) tcp = parsePorts(argv[++i]);
    else if (a == "--udp" && i + 1 < argc) udp = parsePorts(argv[++i]);
    else if (a == "--sctp") sctp = true;
    else usage(("unknown argument " + a).c_str());
  }
  enum Kind { Listen, Udp, Raw4, Raw6 };
  std::vector<pollfd> fds;
  std::vector<Kind> kinds;
  auto bound = [&](int type, uint16_t port) {
    int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int zero = 0, one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_any;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) die("bind " + std::to_string(port));
    return fd;
  };
  for (uint16_t p : tcp) {
    int fd = bound(SOCK_STREAM, p);
    if (listen(fd, 4096) < 0) die("listen");
    fds.push_back({fd, POLLIN, 0});
    kinds.push_back(Listen);
  }
  for (uint16_t p : udp) {
    fds.push_back({bound(SOCK_DGRAM, p), POLLIN, 0});
    kinds.push_back(Udp);
  }
  if (sctp) {
    int r4 = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
    int r6 = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
    if (r4 < 0 || r6 < 0) die("raw SCTP socket");
    fds.push_back({r4, POLLIN, 0});
    kinds.push_back(Raw4);
    fds.push_back({r6, POLLIN, 0});
    kinds.push_back(Raw6);
  }
  std::printf("ready\n");
  std::fflush(stdout);

  uint8_t buf[65536];
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (kinds[i] == Listen) {
        // The handshake is what the probe waits for; the connection itself
        // carries nothing.
        for (int c; (c = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) close(c);
      } else if (kinds[i] == Udp) {
        for (;;) {
          sockaddr_storage from{};
          socklen_t fl = sizeof from;
          ssize_t n = recvfrom(fds[i].fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
          if (n < 0) break;
          sendto(fds[i].fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
      } else {
        for (;;) {
          sockaddr_storage from{};
          socklen_t fl = sizeof from;
          ssize_t n = recvfrom(fds[i].fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
          if (n < 0) break;
          char src[INET6_ADDRSTRLEN] = "?";
          if (kinds[i] == Raw4) {
            // IPv4 raw sockets see the IP header; IPv6 ones do not.
            if (n < 20) continue;
            size_t ihl = static_cast<size_t>(buf[0] & 0x0F) * 4;
            if (static_cast<size_t>(n) < ihl) continue;
            inet_ntop(AF_INET, buf + 12, src, sizeof src);
            reportSctp(src, buf + ihl, static_cast<size_t>(n) - ihl);
          } else {
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr, src, sizeof src);
            reportSctp(src, buf, static_cast<size_t>(n));
          }
        }
      }
    }
  }
}

struct Target {
  std::string proto, addr;
  uint16_t port = 0, sport = 0;
  int fd = -1;
  std::string status, detail;
  std::string payload;
};

bool toSockaddr(const std::string& addr, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
    return true;
  }
  return false;
}

void finish(Target& t, const char* status, const std::string& detail) {
  t.status = status;
  t.detail = detail;
  if (t.fd >= 0) {
    linger l{1, 0};  // RST, no TIME_WAIT: the port is not reused anyway
    setsockopt(t.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(t.fd);
    t.fd = -1;
  }
}

// Starts one probe; a target that is done at once (sent, error) gets its status.
void start(Target& t, size_t index, uint32_t tag) {
  sockaddr_storage dst;
  socklen_t dlen;
  if (!toSockaddr(t.addr, t.port, dst, dlen)) return finish(t, "error", "bad address " + t.addr);
  int family = dst.ss_family;
  if (t.proto == "sctp") {
    t.fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_SCTP);
    if (t.fd < 0) return finish(t, "error", std::string("raw socket: ") + std::strerror(errno));
    auto pkt = sctpInit(t.sport, t.port, tag);
    sockaddr_storage rawDst = dst;  // raw sockets take no port
    reinterpret_cast<sockaddr_in*>(&rawDst)->sin_port = 0;
    if (sendto(t.fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&rawDst), dlen) < 0)
      return finish(t, "error", std::string("send: ") + std::strerror(errno));
    return finish(t, "sent", "tag " + std::to_string(tag));
  }
  bool tcp = t.proto == "tcp";
  t.fd = socket(family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t.fd < 0) return finish(t, "error", std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(t.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage src{};
  src.ss_family = static_cast<sa_family_t>(family);
  reinterpret_cast<sockaddr_in*>(&src)->sin_port = htons(t.sport);  // same offset in sockaddr_in6
  if (bind(t.fd, reinterpret_cast<sockaddr*>(&src), dlen) < 0)
    return finish(t, "error", "bind " + std::to_string(t.sport) + ": " + std::strerror(errno));
  if (connect(t.fd, reinterpret_cast<sockaddr*>(&dst), dlen) < 0 && errno != EINPROGRESS)
    return finish(t, errno == ENETUNREACH || errno == EHOSTUNREACH ? "blocked" : "error",
                  std::string("connect: ") + std::strerror(errno));
  if (!tcp) {
    t.payload = "membrane conformance " + std::to_string(index) + " " + std::to_string(tag);
    if (send(t.fd, t.payload.data(), t.payload.size(), 0) < 0)
      return finish(t, "error", std::string("send: ") + std::strerror(errno));
  }
}

void settle(Target& t) {
  if (t.proto == "tcp") {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(t.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return finish(t, "ok", "connected");
    if (err == ECONNREFUSED) return finish(t, "refused", "connection refused");
    if (err == EHOSTUNREACH || err == ENETUNREACH || err == ETIMEDOUT)
      return finish(t, "blocked", std::strerror(err));
    return finish(t, "error", std::strerror(err));
  }
  char buf[512];
  ssize_t n = recv(t.fd, buf, sizeof buf, 0);
  if (n >= 0 && std::string(buf, static_cast<size_t>(n)) == t.payload) return finish(t, "ok", "echoed");
  if (n >= 0) return finish(t, "error", "unexpected reply");
  if (errno == EAGAIN) return;
  if (errno == ECONNREFUSED) return finish(t, "refused", "port unreachable");
  if (errno == EHOSTUNREACH || errno == ENETUNREACH) return finish(t, "blocked", std::strerror(errno));
  finish(t, "error", std::string("recv: ") + std::strerror(errno));
}

int probe(int argc, char** argv) {
  long timeoutMs = 400;
  uint32_t tag = 1;
  std::vector<Target> targets;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--timeout-ms" && i + 1 < argc) {
      timeoutMs = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--tag" && i + 1 < argc) {
      tag = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
      if (tag == 0) usage("the SCTP initiate tag must not be 0");
    } else {
      Target t;
      std::vector<std::string> parts;
      size_t s = 0;
      for (size_t c; (c = a.find(',', s)) != std::string::npos; s = c + 1) parts.push_back(a.substr(s, c - s));
      parts.push_back(a.substr(s));
      if (parts.size() != 4 || (parts[0] != "tcp" && parts[0] != "udp" && parts[0] != "sctp"))
        usage(("bad target '" + a + "'").c_str());
      t.proto = parts[0];
      t.addr = parts[1];
      long port = std::strtol(parts[2].c_str(), nullptr, 10), sport = std::strtol(parts[3].c_str(), nullptr, 10);
      if (port <= 0 || port > 65535 || sport <= 0 || sport > 65535) usage(("bad port in '" + a + "'").c_str());
      t.port = static_cast<uint16_t>(port);
      t.sport = static_cast<uint16_t>(sport);
      targets.push_back(t);
    }
  }
  if (targets.empty()) usage("no targets");
  for (size_t i = 0; i < targets.size(); ++i) start(targets[i], i, tag);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Target*> owners;
    for (auto& t : targets) {
      if (!t.status.empty()) continue;
      fds.push_back({t.fd, static_cast<short>(t.proto == "tcp" ? POLLOUT : POLLIN), 0});
      owners.push_back(&t);
    }
    if (fds.empty()) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      for (Target* t : owners) finish(*t, "blocked", "no answer in " + std::to_string(timeoutMs) + " ms");
      break;
    }
    int r = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) die("poll");
    for (size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents) settle(*owners[i]);
  }
  for (size_t i = 0; i < targets.size(); ++i)
    std::printf("%zu %s %s\n", i, targets[i].status.c_str(), targets[i].detail.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("no command");
  std::string cmd = argv[1];
  if (cmd == "serve") return serve(argc, argv);
  if (cmd == "probe") return probe(argc, argv);
  if (cmd == "--help" || cmd == "-h") {
    std::printf("membrane_conformance_agent serve|probe: traffic for the conformance suite (see agent.cpp)\n");
    return 0;
  }
  usage(("unknown command " + cmd).c_str());
}
