// membrane_e2e_prober: the traffic end of the end-to-end tests, run inside
// pod namespaces. POSIX sockets only.
//
//   serve  [--tcp PORTS] [--udp PORTS]
//       Listens on every address (IPv4 and IPv6) on each port; TCP echoes
//       what it reads, UDP echoes each datagram from the address it was sent
//       to. Prints "ready" once every socket is bound; runs until killed.
//   probe  tcp|udp ADDRESS PORT [--timeout-ms N] [--connect-only]
//   probe  icmp ADDRESS [PORT] [--timeout-ms N]
//       One exchange: TCP connects and has a message echoed (or only
//       connects), UDP has a datagram echoed (resent every 100 ms), ICMP gets
//       an echo reply (datagram ICMP socket; raw socket if not permitted; a
//       PORT is accepted and ignored). Prints one line: "ok ..." or
//       "blocked <reason> ..." (reason: refused, timeout, unreachable,
//       denied, reset).
//   stream udp ADDRESS PORT [--pps N] [--seconds S] [--size BYTES]
//       Sends N*S datagrams, paced, carrying sequence numbers 0, 1, ...
//       Prints "sent N failed F".
//   count  udp --port P [--seconds S]
//       Counts distinct sequence numbers of `stream` datagrams received on P
//       (IPv4 and IPv6). Prints "ready", then on SIGTERM/SIGINT (or after S
//       seconds), once 50 ms pass without a datagram, the count on a line of
//       its own; details (received, duplicates, foreign, max_seq) to stderr.
//   spoof  udp|tcp SOURCE ADDRESS PORT [--count N]
//       Sends N (default 10) packets through a raw socket with SOURCE, any
//       address, as their source: UDP datagrams numbered as `stream` numbers
//       them (so `count` counts them), or TCP SYNs. Prints "sent N".
//   hold   tcp ADDRESS PORT [--seconds S] [--timeout-ms N]
//       Connects to an echo server, prints "connected", then every 100 ms
//       sends a message and waits (up to N ms, default 1000) for its echo.
//       Prints "exchanges N".
//   dns query SERVER NAME [--type A|AAAA|CNAME] [--tcp] [--count N] [--id I]
//             [--source-port P] [--timeout-ms N] [--latencies]
//       DNS lookups of NAME at SERVER:53, one after another, each from a
//       fresh socket (fresh port) and a random id unless given. One lookup
//       prints "status RCODE id I answers N [truncated] latency-us U" and a line
//       "answer NAME TYPE TTL VALUE" per answer record; N lookups print
//       "lookups N answered M noerror K refused R p50-us X p99-us Y max-us Z",
//       after "latency-us U" per answered lookup with --latencies.
//       Exit 1 when a lookup got no response in time (whatever its RCODE).
//   dns forge SERVER CLIENT PORT NAME ADDRESS [--id I] [--ttl T]
//       Sends, through a raw socket, a response from SERVER:53 to
//       CLIENT:PORT with id I saying NAME has the A (or AAAA) record ADDRESS.
//   lookup-connect NAME PORT [--rounds N] [--cycle K] [--family 4|6|any]
//                  [--timeout-ms N]
//       N rounds of getaddrinfo(NAME) with the glibc resolver, then one TCP
//       connect to the first address (no retry); "{}" in NAME becomes the
//       round number modulo K. Prints "rounds N lookup-failures L
//       connect-failures C elapsed-ms T" and up to 5 failures; exit 1 if any.
//   send-early tcp ADDRESS PORT DATA [--timeout-ms N]
//       Sends DATA ("\r" and "\n" written as such) before the connection is
//       up: on the SYN, with TCP Fast Open (sendto MSG_FASTOPEN; without a
//       cookie when net.ipv4.tcp_fastopen has 0x4). Then waits N ms (default
//       2000) for an answer. Prints "sent N answer LINE" (the answer's first
//       line) or "sent N answer none". Exit 0 when an answer came.
//
// Exit status: 0 connected / echoed / every exchange succeeded; 1 blocked,
// timed out, refused, or any exchange failed; 2 usage or local error.
//
// PORTS: comma-separated ports and ranges, e.g. 80,8000-8003.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace {

constexpr int kOk = 0;
constexpr int kBlocked = 1;
constexpr int kError = 2;

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ output

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int fail(const std::string& what) {
  std::fprintf(stderr, "membrane_e2e_prober: %s\n", what.c_str());
  return kError;
}

int failErrno(const std::string& what, int e = errno) { return fail(what + ": " + std::strerror(e)); }

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "membrane_e2e_prober: %s\n"
               "usage:\n"
               "  membrane_e2e_prober serve [--tcp PORTS] [--udp PORTS]\n"
               "  membrane_e2e_prober probe tcp|udp ADDRESS PORT [--timeout-ms N] [--connect-only]\n"
               "  membrane_e2e_prober probe icmp ADDRESS [PORT] [--timeout-ms N]\n"
               "  membrane_e2e_prober stream udp ADDRESS PORT [--pps N] [--seconds S] [--size B]\n"
               "  membrane_e2e_prober count udp --port P [--seconds S]\n"
               "  membrane_e2e_prober hold tcp ADDRESS PORT [--seconds S] [--timeout-ms N]\n"
               "  membrane_e2e_prober spoof udp|tcp SOURCE ADDRESS PORT [--count N]\n"
               "  membrane_e2e_prober dns query SERVER NAME [--type T] [--tcp] [--count N] [--id I] [--source-port P] [--timeout-ms N] [--latencies]\n"
               "  membrane_e2e_prober dns forge SERVER CLIENT PORT NAME ADDRESS [--id I] [--ttl T]\n"
               "  membrane_e2e_prober lookup-connect NAME PORT [--rounds N] [--cycle K] [--family 4|6|any] [--timeout-ms N]\n"
               "  membrane_e2e_prober send-early tcp ADDRESS PORT DATA [--timeout-ms N]\n",
               why.c_str());
  std::exit(kError);
}

// ------------------------------------------------------------------ arguments

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // --name value
  std::vector<std::string> flags;                            // --name

  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [k, v] : options)
      if (k == name)
        return v;
    return std::nullopt;
  }
  bool has(std::string_view name) const {
    for (const auto& f : flags)
      if (f == name)
        return true;
    return false;
  }
};

Args parseArgs(int argc, char** argv, int first, const std::vector<std::string_view>& valued,
               const std::vector<std::string_view>& boolean) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string_view s = argv[i];
    if (s.size() > 2 && s.substr(0, 2) == "--") {
      std::string name(s.substr(2));
      std::string value;
      bool inlineValue = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inlineValue = true;
      }
      bool isValued = false, isBool = false;
      for (auto v : valued)
        isValued |= v == name;
      for (auto b : boolean)
        isBool |= b == name;
      if (isValued) {
        if (!inlineValue) {
          if (i + 1 >= argc)
            usage("--" + name + " needs a value");
          value = argv[++i];
        }
        a.options.emplace_back(name, value);
      } else if (isBool && !inlineValue) {
        a.flags.push_back(name);
      } else {
        usage("unknown option --" + name);
      }
    } else {
      a.positional.emplace_back(s);
    }
  }
  return a;
}

long parseNumber(const std::string& s, long lo, long hi, const char* what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    usage(std::string("bad ") + what + " '" + s + "'");
  return v;
}

double parseSeconds(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v >= 0) || v > 86400)
    usage("bad seconds '" + s + "'");
  return v;
}

std::vector<uint16_t> parsePorts(const std::string& spec) {
  std::vector<uint16_t> ports;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    std::size_t comma = spec.find(',', pos);
    if (comma == std::string::npos)
      comma = spec.size();
    const std::string item = spec.substr(pos, comma - pos);
    const std::size_t dash = item.find('-');
    if (dash == std::string::npos) {
      ports.push_back(static_cast<uint16_t>(parseNumber(item, 1, 65535, "port")));
    } else {
      const long lo = parseNumber(item.substr(0, dash), 1, 65535, "port");
      const long hi = parseNumber(item.substr(dash + 1), 1, 65535, "port");
      if (hi < lo || hi - lo > 1024)
        usage("bad port range '" + item + "'");
      for (long p = lo; p <= hi; ++p)
        ports.push_back(static_cast<uint16_t>(p));
    }
    pos = comma + 1;
  }
  return ports;
}

// ------------------------------------------------------------------ addresses

struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
  std::string text;
};

Address parseAddress(std::string s, uint16_t port) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']')
    s = s.substr(1, s.size() - 2);
  Address a;
  a.text = s;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (::inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    a.family = AF_INET;
  } else if (::inet_pton(AF_INET6, s.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    a.family = AF_INET6;
  } else {
    usage("bad address '" + s + "' (want a numeric IPv4 or IPv6 address)");
  }
  return a;
}

// ------------------------------------------------------------------ helpers

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0)
        ::close(fd_);
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd until deadline. 1 ready, 0 timeout, -1 error.
int waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, remainingMs(deadline));
    if (r < 0 && errno == EINTR)
      continue;
    return r < 0 ? -1 : r;
  }
}

// Maps a socket error to "blocked <reason>", or empty for a local error.
const char* blockedReason(int e) {
  switch (e) {
    case ECONNREFUSED:
      return "refused";
    case ETIMEDOUT:
      return "timeout";
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ENONET:
      return "unreachable";
    case EACCES:
    case EPERM:
      return "denied";  // a cgroup program (or netfilter) said no
    case ECONNRESET:
    case EPIPE:
      return "reset";
    default:
      return nullptr;
  }
}

std::string describe(const Address& a, const char* proto, uint16_t port) {
  std::string s = std::string(proto) + " " + a.text;
  if (port)
    s += " " + std::to_string(port);
  return s;
}

int blocked(const char* reason, const std::string& what) {
  say(std::string("blocked ") + reason + " " + what);
  return kBlocked;
}

// Reports errno `e`: a blocking reason exits 1, anything else 2.
int socketFailure(int e, const std::string& what, const char* during) {
  if (const char* reason = blockedReason(e))
    return blocked(reason, what);
  return failErrno(std::string(during) + " " + what, e);
}

std::string nonce() {
  std::random_device rd;
  char buf[48];
  std::snprintf(buf, sizeof buf, "membrane-probe %08x%08x", rd(), rd());
  return buf;
}

long elapsedUs(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

Socket connectedSocket(const Address& dst, int type, int proto) {
  return Socket(::socket(dst.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
}

// Non-blocking connect bounded by deadline; returns 0 or an errno.
int connectBy(int fd, const Address& dst, Clock::time_point deadline) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst.ss), dst.len) == 0)
    return 0;
  if (errno != EINPROGRESS)
    return errno;
  const int w = waitFor(fd, POLLOUT, deadline);
  if (w == 0)
    return ETIMEDOUT;
  if (w < 0)
    return errno;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return errno;
  return err;
}

// Sends all of msg and reads exactly msg.size() bytes back; 0 if they are
// equal, an errno (ETIMEDOUT, ECONNRESET, EBADMSG for a mismatch) otherwise.
int echoOver(int fd, const std::string& msg, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < msg.size()) {
    const ssize_t n = ::send(fd, msg.data() + sent, msg.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      const int w = waitFor(fd, POLLOUT, deadline);
      if (w <= 0)
        return w == 0 ? ETIMEDOUT : errno;
      continue;
    }
    return errno;
  }
  std::string got;
  char buf[4096];
  while (got.size() < msg.size()) {
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, msg.size() - got.size()), 0);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0)
      return ECONNRESET;  // closed by the peer before echoing everything
    if (errno == EAGAIN || errno == EINTR) {
      const int w = waitFor(fd, POLLIN, deadline);
      if (w <= 0)
        return w == 0 ? ETIMEDOUT : errno;
      continue;
    }
    return errno;
  }
  return got == msg ? 0 : EBADMSG;
}

// ------------------------------------------------------------------ probe

int probeTcp(const Address& dst, uint16_t port, int timeoutMs, bool connectOnly) {
  const std::string what = describe(dst, "tcp", port);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeoutMs);
  Socket s = connectedSocket(dst, SOCK_STREAM, 0);
  if (s.get() < 0)
    return failErrno("socket");
  if (int e = connectBy(s.get(), dst, deadline))
    return socketFailure(e, what, "connect");
  if (!connectOnly) {
    if (int e = echoOver(s.get(), nonce() + "\n", deadline)) {
      if (e == EBADMSG)
        return fail("echo mismatch from " + what);
      return socketFailure(e, what, "echo");
    }
  }
  say("ok " + what + " " + std::to_string(elapsedUs(start)) + "us");
  return kOk;
}

int probeUdp(const Address& dst, uint16_t port, int timeoutMs) {
  const std::string what = describe(dst, "udp", port);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeoutMs);
  Socket s = connectedSocket(dst, SOCK_DGRAM, 0);
  if (s.get() < 0)
    return failErrno("socket");
  // Connected, so ICMP errors (port unreachable) come back as ECONNREFUSED.
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&dst.ss), dst.len) != 0)
    return socketFailure(errno, what, "connect");
  const std::string msg = nonce();
  for (;;) {
    if (::send(s.get(), msg.data(), msg.size(), 0) < 0 && errno != EAGAIN)
      return socketFailure(errno, what, "send");
    const auto resend = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
    for (;;) {
      const int w = waitFor(s.get(), POLLIN, resend);
      if (w < 0)
        return failErrno("poll");
      if (w == 0)
        break;
      char buf[2048];
      const ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          continue;
        return socketFailure(errno, what, "recv");
      }
      if (std::string_view(buf, static_cast<std::size_t>(n)) == msg) {
        say("ok " + what + " " + std::to_string(elapsedUs(start)) + "us");
        return kOk;
      }
    }
    if (Clock::now() >= deadline)
      return blocked("timeout", what);
  }
}

uint16_t inetChecksum(const uint8_t* data, std::size_t len) {
  uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2)
    sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1)
    sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

int probeIcmp(const Address& dst, int timeoutMs) {
  const std::string what = describe(dst, "icmp", 0);
  const bool v6 = dst.family == AF_INET6;
  const int proto = v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeoutMs);

  // A datagram ICMP ("ping") socket: the kernel sets the identifier and the
  // checksum and hands us only replies to it. Without permission
  // (net.ipv4.ping_group_range), a raw socket, where both are ours.
  bool raw = false;
  Socket s(::socket(dst.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
  if (s.get() < 0 && (errno == EACCES || errno == EPERM || errno == EPROTONOSUPPORT)) {
    const int why = errno;
    s = Socket(::socket(dst.family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
    raw = true;
    std::fprintf(stderr, "membrane_e2e_prober: no datagram ICMP socket (%s); using a raw one\n",
                 std::strerror(why));
  }
  if (s.get() < 0)
    return failErrno(raw ? "raw ICMP socket" : "ICMP socket");
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&dst.ss), dst.len) != 0)
    return socketFailure(errno, what, "connect");

  std::random_device rd;
  const uint16_t id = static_cast<uint16_t>(rd());
  const std::string payload = nonce();
  const uint8_t requestType = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
  const uint8_t replyType = v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
  uint16_t seq = 0;
  for (;;) {
    ++seq;
    std::vector<uint8_t> pkt(8 + payload.size());
    pkt[0] = requestType;
    pkt[1] = 0;
    pkt[4] = static_cast<uint8_t>(id >> 8);
    pkt[5] = static_cast<uint8_t>(id);
    pkt[6] = static_cast<uint8_t>(seq >> 8);
    pkt[7] = static_cast<uint8_t>(seq);
    std::memcpy(pkt.data() + 8, payload.data(), payload.size());
    if (raw && !v6) {  // raw ICMPv6: the kernel computes the checksum
      const uint16_t c = inetChecksum(pkt.data(), pkt.size());
      std::memcpy(pkt.data() + 2, &c, 2);
    }
    if (::send(s.get(), pkt.data(), pkt.size(), 0) < 0 && errno != EAGAIN)
      return socketFailure(errno, what, "send");
    const auto resend = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
    for (;;) {
      const int w = waitFor(s.get(), POLLIN, resend);
      if (w < 0)
        return failErrno("poll");
      if (w == 0)
        break;
      uint8_t buf[2048];
      ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          continue;
        return socketFailure(errno, what, "recv");
      }
      const uint8_t* icmp = buf;
      if (raw && !v6) {  // raw IPv4 sockets deliver the IP header too
        const std::size_t ihl = n > 0 ? static_cast<std::size_t>(buf[0] & 0x0f) * 4 : 0;
        if (ihl < 20 || static_cast<std::size_t>(n) < ihl)
          continue;
        icmp = buf + ihl;
        n -= static_cast<ssize_t>(ihl);
      }
      if (n < 8 || icmp[0] != replyType)
        continue;
      const uint16_t gotId = static_cast<uint16_t>(icmp[4] << 8 | icmp[5]);
      const uint16_t gotSeq = static_cast<uint16_t>(icmp[6] << 8 | icmp[7]);
      if ((raw && gotId != id) || gotSeq == 0 || gotSeq > seq)
        continue;
      if (std::string_view(reinterpret_cast<const char*>(icmp + 8), static_cast<std::size_t>(n - 8)) !=
          payload)
        continue;
      say("ok " + what + " " + std::to_string(elapsedUs(start)) + "us");
      return kOk;
    }
    if (Clock::now() >= deadline)
      return blocked("timeout", what);
  }
}

int cmdProbe(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"timeout-ms"}, {"connect-only"});
  if (a.positional.size() < 2)
    usage("probe needs a protocol and an address");
  const std::string& proto = a.positional[0];
  const bool icmp = proto == "icmp";
  if (proto != "tcp" && proto != "udp" && !icmp)
    usage("unknown protocol '" + proto + "' (tcp, udp or icmp)");
  if (a.positional.size() > 3 || (!icmp && a.positional.size() != 3))
    usage(icmp ? "probe icmp takes ADDRESS [PORT]" : "probe " + proto + " takes ADDRESS PORT");
  uint16_t port = 0;
  if (a.positional.size() == 3)
    port = static_cast<uint16_t>(parseNumber(a.positional[2], icmp ? 0 : 1, 65535, "port"));
  const int timeoutMs =
      static_cast<int>(parseNumber(a.get("timeout-ms").value_or("1000"), 1, 600000, "timeout"));
  const Address dst = parseAddress(a.positional[1], port);
  if (proto == "tcp")
    return probeTcp(dst, port, timeoutMs, a.has("connect-only"));
  if (a.has("connect-only"))
    usage("--connect-only is for tcp");
  if (proto == "udp")
    return probeUdp(dst, port, timeoutMs);
  return probeIcmp(dst, timeoutMs);
}

// ------------------------------------------------------------------ signals

volatile sig_atomic_t gStop = 0;

void onStop(int) { gStop = 1; }

// Blocks SIGTERM/SIGINT (delivered only inside ppoll, so a signal between
// checking gStop and waiting is not lost) and returns the mask to wait with.
sigset_t installStopHandler() {
  struct sigaction sa {};
  sa.sa_handler = onStop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  sigdelset(&old, SIGTERM);
  sigdelset(&old, SIGINT);
  return old;
}

// Binds a socket to the wildcard address of `family` on `port`. IPv6 sockets
// are IPv6-only (the IPv4 socket takes IPv4). -1 after printing the error.
int bindWildcard(int family, int type, uint16_t port) {
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    failErrno(std::string("socket ") + (family == AF_INET6 ? "IPv6" : "IPv4"));
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    len = sizeof *a;
    if (type == SOCK_DGRAM)
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(port);
    len = sizeof *a;
    if (type == SOCK_DGRAM)
      ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    failErrno(std::string("bind ") + (type == SOCK_STREAM ? "tcp" : "udp") + " port " +
              std::to_string(port) + (family == AF_INET6 ? " (IPv6)" : " (IPv4)"));
    ::close(fd);
    return -1;
  }
  // The largest accept queue the kernel allows (net.core.somaxconn, 4096 by
  // default): one thread serves every connection, and on a busy machine a
  // burst of thousands of short connections (lookup-connect) overflowed a
  // queue of 256, dropping SYNs that the client then waited 1 s to resend.
  if (type == SOCK_STREAM && ::listen(fd, 4096) != 0) {
    failErrno("listen port " + std::to_string(port));
    ::close(fd);
    return -1;
  }
  return fd;
}

// Opens IPv4 and IPv6 sockets on `port`; false after printing the error.
// IPv6 missing altogether (no kernel support) is tolerated.
bool bindBoth(int type, uint16_t port, std::vector<int>& out) {
  const int v4 = bindWildcard(AF_INET, type, port);
  if (v4 < 0)
    return false;
  out.push_back(v4);
  const int v6 = bindWildcard(AF_INET6, type, port);
  if (v6 >= 0)
    out.push_back(v6);
  else if (errno != EAFNOSUPPORT)
    return false;
  return true;
}

// Receives one datagram with its destination address (as a cmsg ready to be
// sent back). Returns the length, or -1 with errno.
struct Datagram {
  sockaddr_storage from{};
  socklen_t fromLen = 0;
  alignas(cmsghdr) char control[128];
  std::size_t controlLen = 0;
  ssize_t len = -1;
};

void receiveDatagram(int fd, char* buf, std::size_t size, Datagram& d) {
  iovec iov{buf, size};
  msghdr m{};
  m.msg_name = &d.from;
  m.msg_namelen = sizeof d.from;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  char control[256];
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  d.len = ::recvmsg(fd, &m, 0);
  if (d.len < 0)
    return;
  d.fromLen = m.msg_namelen;
  d.controlLen = 0;
  // Turn the received IP_PKTINFO / IPV6_PKTINFO into the one to send with,
  // so the reply leaves from the address the request was sent to.
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    msghdr out{};
    out.msg_control = d.control;
    out.msg_controllen = sizeof d.control;
    cmsghdr* o = CMSG_FIRSTHDR(&out);
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo in{};
      std::memcpy(&in, CMSG_DATA(c), sizeof in);
      in_pktinfo reply{};
      reply.ipi_spec_dst = in.ipi_addr;
      o->cmsg_level = IPPROTO_IP;
      o->cmsg_type = IP_PKTINFO;
      o->cmsg_len = CMSG_LEN(sizeof reply);
      std::memcpy(CMSG_DATA(o), &reply, sizeof reply);
      d.controlLen = CMSG_SPACE(sizeof reply);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo in{};
      std::memcpy(&in, CMSG_DATA(c), sizeof in);
      o->cmsg_level = IPPROTO_IPV6;
      o->cmsg_type = IPV6_PKTINFO;
      o->cmsg_len = CMSG_LEN(sizeof in);
      std::memcpy(CMSG_DATA(o), &in, sizeof in);
      d.controlLen = CMSG_SPACE(sizeof in);
    }
  }
}

// ------------------------------------------------------------------ serve

struct Conn {
  int fd;
  std::string pending;  // read, not yet echoed back
};

int cmdServe(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"tcp", "udp"}, {});
  if (!a.positional.empty())
    usage("serve takes only --tcp and --udp");
  std::vector<uint16_t> tcpPorts, udpPorts;
  for (const auto& [k, v] : a.options)
    for (uint16_t p : parsePorts(v))
      (k == "tcp" ? tcpPorts : udpPorts).push_back(p);
  if (tcpPorts.empty() && udpPorts.empty())
    usage("serve needs --tcp and/or --udp");

  const sigset_t waitMask = installStopHandler();
  std::vector<int> listeners, udp;
  for (uint16_t p : tcpPorts)
    if (!bindBoth(SOCK_STREAM, p, listeners))
      return kError;
  for (uint16_t p : udpPorts)
    if (!bindBoth(SOCK_DGRAM, p, udp))
      return kError;
  say("ready");

  std::vector<Conn> conns;
  std::vector<char> buf(65536);
  while (!gStop) {
    std::vector<pollfd> fds;
    for (int fd : listeners)
      fds.push_back({fd, POLLIN, 0});
    for (int fd : udp)
      fds.push_back({fd, POLLIN, 0});
    for (const Conn& c : conns)
      fds.push_back({c.fd, static_cast<short>(c.pending.empty() ? POLLIN : POLLOUT), 0});
    if (::ppoll(fds.data(), fds.size(), nullptr, &waitMask) < 0) {
      if (errno == EINTR)
        continue;
      return failErrno("ppoll");
    }
    std::size_t i = 0;
    for (int fd : listeners) {
      if (fds[i++].revents) {
        for (;;) {
          const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0)
            break;
          conns.push_back({c, {}});
        }
      }
    }
    for (int fd : udp) {
      if (!fds[i++].revents)
        continue;
      for (;;) {
        Datagram d;
        receiveDatagram(fd, buf.data(), buf.size(), d);
        if (d.len < 0)
          break;
        iovec iov{buf.data(), static_cast<std::size_t>(d.len)};
        msghdr m{};
        m.msg_name = &d.from;
        m.msg_namelen = d.fromLen;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        if (d.controlLen) {
          m.msg_control = d.control;
          m.msg_controllen = d.controlLen;
        }
        ::sendmsg(fd, &m, MSG_DONTWAIT);
      }
    }
    // Connections: fds[i...] match conns[0...] as they were when polled
    // (accepted ones were appended after).
    const std::size_t polledConns = fds.size() - i;
    std::vector<bool> closed(conns.size(), false);
    for (std::size_t k = 0; k < polledConns; ++k) {
      Conn& c = conns[k];
      const short rev = fds[i + k].revents;
      if (!rev)
        continue;
      if (c.pending.empty()) {
        const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (n > 0)
          c.pending.assign(buf.data(), static_cast<std::size_t>(n));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
          closed[k] = true;
      }
      while (!closed[k] && !c.pending.empty()) {
        const ssize_t n = ::send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
        if (n > 0)
          c.pending.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && (errno == EAGAIN || errno == EINTR))
          break;
        else
          closed[k] = true;
      }
    }
    std::vector<Conn> kept;
    for (std::size_t k = 0; k < conns.size(); ++k) {
      if (closed[k])
        ::close(conns[k].fd);
      else
        kept.push_back(std::move(conns[k]));
    }
    conns = std::move(kept);
  }
  return kOk;
}

// ------------------------------------------------------------------ stream / count

constexpr char kStreamMagic[8] = {'M', 'B', 'S', 'T', 'R', 'M', '0', '1'};
constexpr std::size_t kStreamHeader = sizeof kStreamMagic + 8;

int cmdStream(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"pps", "seconds", "size"}, {});
  if (a.positional.size() != 3 || a.positional[0] != "udp")
    usage("stream takes udp ADDRESS PORT");
  const auto port = static_cast<uint16_t>(parseNumber(a.positional[2], 1, 65535, "port"));
  const Address dst = parseAddress(a.positional[1], port);
  const long pps = parseNumber(a.get("pps").value_or("100"), 1, 1000000, "pps");
  const double seconds = parseSeconds(a.get("seconds").value_or("1"));
  const auto size = static_cast<std::size_t>(
      parseNumber(a.get("size").value_or("64"), static_cast<long>(kStreamHeader), 65000, "size"));
  const auto total = static_cast<uint64_t>(static_cast<double>(pps) * seconds + 0.5);

  // Unconnected: an ICMP error for one datagram must not fail the next send.
  Socket s(::socket(dst.family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0)
    return failErrno("socket");
  std::vector<char> pkt(size, 0);
  std::memcpy(pkt.data(), kStreamMagic, sizeof kStreamMagic);
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  const long long intervalNs = 1000000000LL / pps;
  uint64_t failed = 0;
  int lastErr = 0;
  for (uint64_t seq = 0; seq < total; ++seq) {
    const long long at = static_cast<long long>(seq) * intervalNs;
    timespec t = start;
    t.tv_sec += static_cast<time_t>(at / 1000000000LL);
    t.tv_nsec += static_cast<long>(at % 1000000000LL);
    if (t.tv_nsec >= 1000000000L) {
      t.tv_sec += 1;
      t.tv_nsec -= 1000000000L;
    }
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == EINTR) {
    }
    for (int b = 0; b < 8; ++b)
      pkt[sizeof kStreamMagic + static_cast<std::size_t>(b)] = static_cast<char>(seq >> (56 - 8 * b));
    if (::sendto(s.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&dst.ss),
                 dst.len) < 0) {
      ++failed;
      lastErr = errno;
    }
  }
  say("sent " + std::to_string(total - failed) + " failed " + std::to_string(failed));
  if (failed) {
    std::fprintf(stderr, "membrane_e2e_prober: %llu sends failed, last: %s\n",
                 static_cast<unsigned long long>(failed), std::strerror(lastErr));
    return kBlocked;
  }
  return kOk;
}

int cmdCount(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"port", "seconds"}, {});
  if (a.positional.size() != 1 || a.positional[0] != "udp" || !a.get("port"))
    usage("count takes udp --port P");
  const auto port = static_cast<uint16_t>(parseNumber(*a.get("port"), 1, 65535, "port"));
  std::optional<Clock::time_point> deadline;
  if (auto s = a.get("seconds"))
    deadline = Clock::now() + std::chrono::microseconds(static_cast<long long>(parseSeconds(*s) * 1e6));

  const sigset_t waitMask = installStopHandler();
  std::vector<int> socks;
  if (!bindBoth(SOCK_DGRAM, port, socks))
    return kError;
  // A bigger receive buffer: counting must not be what loses packets.
  for (int fd : socks) {
    const int bytes = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  say("ready");

  std::unordered_set<uint64_t> seen;
  uint64_t total = 0, foreign = 0, maxSeq = 0;
  char buf[65536];
  auto receiveAll = [&] {
    bool any = false;
    for (int fd : socks) {
      for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
          break;
        any = true;
        ++total;
        if (static_cast<std::size_t>(n) < kStreamHeader ||
            std::memcmp(buf, kStreamMagic, sizeof kStreamMagic) != 0) {
          ++foreign;
          continue;
        }
        uint64_t seq = 0;
        for (std::size_t b = 0; b < 8; ++b)
          seq = seq << 8 | static_cast<uint8_t>(buf[sizeof kStreamMagic + b]);
        seen.insert(seq);
        maxSeq = std::max(maxSeq, seq);
      }
    }
    return any;
  };
  std::vector<pollfd> fds;
  for (int fd : socks)
    fds.push_back({fd, POLLIN, 0});
  while (!gStop) {
    timespec ts{};
    timespec* timeout = nullptr;
    if (deadline) {
      const auto left = *deadline - Clock::now();
      if (left <= Clock::duration::zero())
        break;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1000000000LL);
      ts.tv_nsec = static_cast<long>(ns % 1000000000LL);
      timeout = &ts;
    }
    if (::ppoll(fds.data(), fds.size(), timeout, &waitMask) < 0) {
      if (errno == EINTR)
        continue;
      return failErrno("ppoll");
    }
    receiveAll();
  }
  // Datagrams already sent may still be on their way through the stack
  // (softirq backlog) when the stop comes: keep counting until 50 ms pass
  // without any (at most 1 s). Further signals are ignored meanwhile.
  const auto lingerEnd = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < lingerEnd) {
    const int ready = ::poll(fds.data(), fds.size(), 50);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0 || !receiveAll())
      break;
  }
  std::fprintf(stderr, "received=%llu distinct=%zu duplicates=%llu foreign=%llu max_seq=%llu\n",
               static_cast<unsigned long long>(total), seen.size(),
               static_cast<unsigned long long>(total - foreign - seen.size()),
               static_cast<unsigned long long>(foreign), static_cast<unsigned long long>(maxSeq));
  say(std::to_string(seen.size()));
  return kOk;
}

// ------------------------------------------------------------------ spoof

// The Internet checksum over a pseudo-header and a segment (RFC 1071).
uint16_t checksum(const std::vector<uint8_t>& pseudo, const std::vector<uint8_t>& segment) {
  uint32_t sum = 0;
  for (const auto* part : {&pseudo, &segment})
    for (std::size_t i = 0; i < part->size(); i += 2)
      sum += static_cast<uint32_t>((*part)[i] << 8 | (i + 1 < part->size() ? (*part)[i + 1] : 0));
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  const auto folded = static_cast<uint16_t>(~sum);
  return folded ? folded : 0xffff;
}

void put16(std::vector<uint8_t>& b, std::size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// An IP packet from src to dst carrying the L4 segment `l4`, whose checksum
// (at `checksumAt` in the segment) is filled in over the pseudo-header: what
// an IPPROTO_RAW socket sends as is, source address included.
std::vector<uint8_t> rawIpPacket(const Address& src, const Address& dst, uint8_t proto, std::vector<uint8_t> l4,
                                 std::size_t checksumAt) {
  const bool v6 = dst.family == AF_INET6;
  const std::size_t alen = v6 ? 16 : 4;
  const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&src.ss);
  const auto* d6 = reinterpret_cast<const sockaddr_in6*>(&dst.ss);
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(&src.ss);
  const auto* d4 = reinterpret_cast<const sockaddr_in*>(&dst.ss);
  const auto* sbytes = v6 ? reinterpret_cast<const uint8_t*>(&s6->sin6_addr) : reinterpret_cast<const uint8_t*>(&s4->sin_addr);
  const auto* dbytes = v6 ? reinterpret_cast<const uint8_t*>(&d6->sin6_addr) : reinterpret_cast<const uint8_t*>(&d4->sin_addr);
  // Pseudo-header: both addresses, then (IPv6) a 32-bit length and the
  // next header, or (IPv4) a zero byte, the protocol and a 16-bit length.
  std::vector<uint8_t> pseudo(sbytes, sbytes + alen);
  pseudo.insert(pseudo.end(), dbytes, dbytes + alen);
  const auto hi = static_cast<uint8_t>(l4.size() >> 8), lo = static_cast<uint8_t>(l4.size());
  if (v6)
    pseudo.insert(pseudo.end(), {0, 0, hi, lo, 0, 0, 0, proto});
  else
    pseudo.insert(pseudo.end(), {0, proto, hi, lo});
  put16(l4, checksumAt, checksum(pseudo, l4));

  std::vector<uint8_t> pkt;
  if (v6) {
    pkt.assign(40, 0);
    pkt[0] = 0x60;
    put16(pkt, 4, static_cast<uint16_t>(l4.size()));
    pkt[6] = proto;
    pkt[7] = 64;
    std::memcpy(pkt.data() + 8, sbytes, 16);
    std::memcpy(pkt.data() + 24, dbytes, 16);
  } else {
    pkt.assign(20, 0);
    pkt[0] = 0x45;
    put16(pkt, 2, static_cast<uint16_t>(20 + l4.size()));
    pkt[8] = 64;
    pkt[9] = proto;
    std::memcpy(pkt.data() + 12, sbytes, 4);
    std::memcpy(pkt.data() + 16, dbytes, 4);  // the kernel fills the checksum
  }
  pkt.insert(pkt.end(), l4.begin(), l4.end());
  return pkt;
}

// A UDP datagram from src:sport to dst:dport, sent through a raw socket.
std::vector<uint8_t> udpSegment(uint16_t sport, uint16_t dport, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> l4(8, 0);
  put16(l4, 0, sport);
  put16(l4, 2, dport);
  put16(l4, 4, static_cast<uint16_t>(8 + payload.size()));
  l4.insert(l4.end(), payload.begin(), payload.end());
  return l4;
}

int cmdSpoof(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"count"}, {});
  if (a.positional.size() != 4 || (a.positional[0] != "udp" && a.positional[0] != "tcp"))
    usage("spoof takes udp|tcp SOURCE ADDRESS PORT");
  const bool udp = a.positional[0] == "udp";
  const auto port = static_cast<uint16_t>(parseNumber(a.positional[3], 1, 65535, "port"));
  const Address src = parseAddress(a.positional[1], 0);
  Address dst = parseAddress(a.positional[2], 0);  // raw sockets take no port
  if (src.family != dst.family)
    usage("spoof: SOURCE and ADDRESS must be of one family");
  const long count = parseNumber(a.get("count").value_or("10"), 1, 1000000, "count");
  const uint8_t proto = udp ? IPPROTO_UDP : IPPROTO_TCP;

  // IPPROTO_RAW: we write the IP header ourselves, source included.
  Socket s(::socket(dst.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (s.get() < 0)
    return failErrno("raw socket");
  const uint16_t sport = 40000;
  long sent = 0;
  for (long seq = 0; seq < count; ++seq) {
    std::vector<uint8_t> l4;
    if (udp) {
      std::vector<uint8_t> payload(kStreamHeader, 0);
      std::memcpy(payload.data(), kStreamMagic, sizeof kStreamMagic);
      for (int b = 0; b < 8; ++b)
        payload[sizeof kStreamMagic + static_cast<std::size_t>(b)] = static_cast<uint8_t>(static_cast<uint64_t>(seq) >> (56 - 8 * b));
      l4 = udpSegment(sport, port, payload);
    } else {
      l4.assign(20, 0);
      put16(l4, 0, static_cast<uint16_t>(sport + seq % 1000));
      put16(l4, 2, port);
      l4[7] = static_cast<uint8_t>(seq);  // sequence number
      l4[12] = 5 << 4;                    // data offset
      l4[13] = 0x02;                      // SYN
      put16(l4, 14, 65535);               // window
    }
    const std::vector<uint8_t> pkt = rawIpPacket(src, dst, proto, std::move(l4), udp ? 6 : 16);
    if (::sendto(s.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&dst.ss), dst.len) < 0)
      return failErrno("sendto");
    ++sent;
  }
  say("sent " + std::to_string(sent));
  return kOk;
}

// ------------------------------------------------------------------ dns

// DNS messages (RFC 1035), as much as the tests need: a query, a forged
// one-answer response, and a reader of responses that follows compression
// pointers (bounded, so a hostile message cannot loop it).
constexpr uint16_t kTypeA = 1, kTypeCname = 5, kTypeAaaa = 28, kClassIn = 1;

const char* rcodeName(int rcode) {
  static const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  return rcode >= 0 && rcode <= 5 ? names[rcode] : "RCODE?";
}

uint16_t parseType(const std::string& t) {
  if (t == "A")
    return kTypeA;
  if (t == "AAAA")
    return kTypeAaaa;
  if (t == "CNAME")
    return kTypeCname;
  usage("bad record type '" + t + "' (A, AAAA or CNAME)");
}

std::string typeName(uint16_t t) {
  return t == kTypeA ? "A" : t == kTypeAaaa ? "AAAA" : t == kTypeCname ? "CNAME" : "TYPE" + std::to_string(t);
}

void appendName(std::vector<uint8_t>& b, const std::string& name) {
  std::size_t pos = 0;
  while (pos < name.size()) {
    std::size_t dot = name.find('.', pos);
    if (dot == std::string::npos)
      dot = name.size();
    const std::size_t len = dot - pos;
    if (len == 0 || len > 63)
      usage("bad DNS name '" + name + "'");
    b.push_back(static_cast<uint8_t>(len));
    b.insert(b.end(), name.begin() + static_cast<long>(pos), name.begin() + static_cast<long>(dot));
    pos = dot + 1;
  }
  b.push_back(0);
}

void append16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// Header (RD set for a query, QR+RD+RA for a response) and one question.
std::vector<uint8_t> dnsMessage(uint16_t id, bool response, uint16_t answers, const std::string& name, uint16_t type) {
  std::vector<uint8_t> b;
  append16(b, id);
  append16(b, response ? 0x8180 : 0x0100);
  append16(b, 1);
  append16(b, answers);
  append16(b, 0);
  append16(b, 0);
  appendName(b, name);
  append16(b, type);
  append16(b, kClassIn);
  return b;
}

struct DnsAnswer {
  std::string name;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string value;  // address or CNAME target
};

struct DnsResponse {
  uint16_t id = 0;
  int rcode = -1;
  bool truncated = false;  // TC: the rest only over TCP
  std::vector<DnsAnswer> answers;
};

// Reads the name at `pos`; advances `pos` past it (not past pointer targets).
bool readName(const std::vector<uint8_t>& m, std::size_t& pos, std::string& out) {
  std::size_t at = pos;
  bool jumped = false;
  out.clear();
  for (int hops = 0;;) {
    if (at >= m.size())
      return false;
    const uint8_t len = m[at];
    if ((len & 0xc0) == 0xc0) {
      if (at + 1 >= m.size() || ++hops > 16)
        return false;
      if (!jumped)
        pos = at + 2;
      jumped = true;
      at = static_cast<std::size_t>((len & 0x3f) << 8 | m[at + 1]);
      continue;
    }
    if (len == 0) {
      if (!jumped)
        pos = at + 1;
      return true;
    }
    if (len > 63 || at + 1 + len > m.size() || out.size() > 255)
      return false;
    if (!out.empty())
      out += '.';
    out.append(reinterpret_cast<const char*>(m.data() + at + 1), len);
    at += 1 + len;
  }
}

std::optional<DnsResponse> parseResponse(const std::vector<uint8_t>& m) {
  if (m.size() < 12 || !(m[2] & 0x80))
    return std::nullopt;
  DnsResponse r;
  r.id = static_cast<uint16_t>(m[0] << 8 | m[1]);
  r.rcode = m[3] & 0x0f;
  r.truncated = m[2] & 0x02;
  const int qd = m[4] << 8 | m[5], an = m[6] << 8 | m[7];
  std::size_t pos = 12;
  std::string name;
  for (int i = 0; i < qd; ++i) {
    if (!readName(m, pos, name) || pos + 4 > m.size())
      return std::nullopt;
    pos += 4;
  }
  for (int i = 0; i < an; ++i) {
    DnsAnswer a;
    if (!readName(m, pos, a.name) || pos + 10 > m.size())
      return std::nullopt;
    a.type = static_cast<uint16_t>(m[pos] << 8 | m[pos + 1]);
    a.ttl = static_cast<uint32_t>(m[pos + 4]) << 24 | static_cast<uint32_t>(m[pos + 5]) << 16 |
            static_cast<uint32_t>(m[pos + 6]) << 8 | m[pos + 7];
    const std::size_t rdlen = static_cast<std::size_t>(m[pos + 8] << 8 | m[pos + 9]);
    pos += 10;
    if (pos + rdlen > m.size())
      return std::nullopt;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.type == kTypeA && rdlen == 4) {
      ::inet_ntop(AF_INET, m.data() + pos, text, sizeof text);
      a.value = text;
    } else if (a.type == kTypeAaaa && rdlen == 16) {
      ::inet_ntop(AF_INET6, m.data() + pos, text, sizeof text);
      a.value = text;
    } else if (a.type == kTypeCname) {
      std::size_t at = pos;
      if (!readName(m, at, a.value))
        return std::nullopt;
    }
    pos += rdlen;
    r.answers.push_back(std::move(a));
  }
  return r;
}

// One query over UDP (a fresh socket, so a fresh source port, as the glibc
// resolver does, unless `sourcePort` is set) or TCP; the response with the
// query's id, or an errno (ETIMEDOUT, ECONNREFUSED, ...).
int dnsExchange(const Address& server, bool tcp, uint16_t sourcePort, const std::vector<uint8_t>& query,
                Clock::time_point deadline, DnsResponse& out) {
  Socket s = connectedSocket(server, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (s.get() < 0)
    return errno;
  if (sourcePort) {
    const int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    Address local = parseAddress(server.family == AF_INET6 ? "::" : "0.0.0.0", sourcePort);
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&local.ss), local.len) != 0)
      return errno;
  }
  if (int e = connectBy(s.get(), server, deadline))
    return e;
  std::vector<uint8_t> wire;
  if (tcp)
    append16(wire, static_cast<uint16_t>(query.size()));
  wire.insert(wire.end(), query.begin(), query.end());
  if (::send(s.get(), wire.data(), wire.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(wire.size()))
    return errno ? errno : EIO;
  const uint16_t id = static_cast<uint16_t>(query[0] << 8 | query[1]);
  std::vector<uint8_t> got;
  for (;;) {
    const int w = waitFor(s.get(), POLLIN, deadline);
    if (w <= 0)
      return w == 0 ? ETIMEDOUT : errno;
    uint8_t buf[65536];
    const ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return errno;
    }
    if (n == 0)
      return ECONNRESET;
    got.insert(got.end(), buf, buf + n);
    std::vector<uint8_t> msg;
    if (tcp) {
      if (got.size() < 2 || got.size() < 2u + (got[0] << 8 | got[1]))
        continue;  // more of the message to come
      msg.assign(got.begin() + 2, got.begin() + 2 + (got[0] << 8 | got[1]));
    } else {
      msg = got;
      got.clear();
    }
    auto r = parseResponse(msg);
    if (r && r->id == id) {
      out = std::move(*r);
      return 0;
    }
    if (tcp)
      return EBADMSG;
  }
}

//   dns query SERVER NAME [--type T] [--tcp] [--count N] [--id I] [--source-port P] [--timeout-ms N]
//   dns forge SERVER CLIENT PORT NAME ADDRESS [--id I] [--ttl T]
int cmdDns(int argc, char** argv) {
  if (argc < 3)
    usage("dns takes query or forge");
  const std::string sub = argv[2];
  if (sub == "query") {
    const Args a = parseArgs(argc, argv, 3, {"type", "count", "id", "source-port", "timeout-ms"}, {"tcp", "latencies"});
    if (a.positional.size() != 2)
      usage("dns query takes SERVER NAME");
    const Address server = parseAddress(a.positional[0], 53);
    const std::string& name = a.positional[1];
    const uint16_t type = parseType(a.get("type").value_or("A"));
    const bool tcp = a.has("tcp");
    const long count = parseNumber(a.get("count").value_or("1"), 1, 10000000, "count");
    const auto fixedId = a.get("id");
    const auto sourcePort = static_cast<uint16_t>(parseNumber(a.get("source-port").value_or("0"), 0, 65535, "port"));
    const int timeoutMs = static_cast<int>(parseNumber(a.get("timeout-ms").value_or("1000"), 1, 600000, "timeout"));
    std::mt19937 rng(std::random_device{}());
    std::vector<long> latencies;
    latencies.reserve(static_cast<std::size_t>(count));
    long failed = 0;
    long rcodes[16] = {};
    std::string firstFailure;
    DnsResponse last;
    for (long i = 0; i < count; ++i) {
      const auto id = static_cast<uint16_t>(fixedId ? parseNumber(*fixedId, 0, 65535, "id") : rng() & 0xffff);
      const std::vector<uint8_t> q = dnsMessage(id, false, 0, name, type);
      const auto start = Clock::now();
      DnsResponse r;
      const int e = dnsExchange(server, tcp, sourcePort, q, start + std::chrono::milliseconds(timeoutMs), r);
      const long us = elapsedUs(start);
      if (e) {
        ++failed;
        if (firstFailure.empty()) {
          const char* reason = blockedReason(e);
          firstFailure = std::string(reason ? reason : std::strerror(e)) + " after " + std::to_string(us) + "us";
        }
        continue;
      }
      latencies.push_back(us);
      ++rcodes[r.rcode & 15];
      last = std::move(r);
    }
    if (count == 1) {
      if (failed)
        return blocked(firstFailure.c_str(), "dns " + name + " @" + server.text);
      say("status " + std::string(rcodeName(last.rcode)) + " id " + std::to_string(last.id) + " answers " +
          std::to_string(last.answers.size()) + (last.truncated ? " truncated" : "") + " latency-us " +
          std::to_string(latencies[0]));
      for (const auto& ans : last.answers)
        say("answer " + ans.name + " " + typeName(ans.type) + " " + std::to_string(ans.ttl) + " " + ans.value);
      return kOk;
    }
    if (a.has("latencies"))
      for (long us : latencies)
        say("latency-us " + std::to_string(us));
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      if (latencies.empty())
        return 0L;
      return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
    };
    say("lookups " + std::to_string(count) + " answered " + std::to_string(latencies.size()) + " noerror " +
        std::to_string(rcodes[0]) + " refused " + std::to_string(rcodes[5]) + " p50-us " + std::to_string(pct(0.5)) +
        " p99-us " + std::to_string(pct(0.99)) + " max-us " + std::to_string(latencies.empty() ? 0 : latencies.back()));
    if (failed)
      say("failed " + std::to_string(failed) + " first: " + firstFailure);
    return failed ? kBlocked : kOk;
  }
  if (sub == "forge") {
    const Args a = parseArgs(argc, argv, 3, {"id", "ttl"}, {});
    if (a.positional.size() != 5)
      usage("dns forge takes SERVER CLIENT PORT NAME ADDRESS");
    const Address server = parseAddress(a.positional[0], 0);
    const Address client = parseAddress(a.positional[1], 0);
    const auto port = static_cast<uint16_t>(parseNumber(a.positional[2], 1, 65535, "port"));
    const std::string& name = a.positional[3];
    const Address answer = parseAddress(a.positional[4], 0);
    if (server.family != client.family)
      usage("dns forge: SERVER and CLIENT must be of one family");
    const auto id = static_cast<uint16_t>(parseNumber(a.get("id").value_or("0"), 0, 65535, "id"));
    const auto ttl = static_cast<uint32_t>(parseNumber(a.get("ttl").value_or("60"), 0, 86400, "ttl"));
    const bool v6 = answer.family == AF_INET6;
    const uint16_t type = v6 ? kTypeAaaa : kTypeA;
    std::vector<uint8_t> msg = dnsMessage(id, true, 1, name, type);
    append16(msg, 0xc00c);  // the question's name
    append16(msg, type);
    append16(msg, kClassIn);
    append16(msg, static_cast<uint16_t>(ttl >> 16));
    append16(msg, static_cast<uint16_t>(ttl));
    append16(msg, v6 ? 16 : 4);
    const auto* bytes = v6 ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&answer.ss)->sin6_addr)
                           : reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&answer.ss)->sin_addr);
    msg.insert(msg.end(), bytes, bytes + (v6 ? 16 : 4));
    Socket s(::socket(client.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (s.get() < 0)
      return failErrno("raw socket");
    const std::vector<uint8_t> pkt = rawIpPacket(server, client, IPPROTO_UDP, udpSegment(53, port, msg), 6);
    if (::sendto(s.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&client.ss), client.len) < 0)
      return failErrno("sendto");
    say("sent response id " + std::to_string(id) + " " + name + " " + typeName(type) + " " + answer.text + " to " +
        client.text + " " + std::to_string(port));
    return kOk;
  }
  usage("dns takes query or forge");
}

// ------------------------------------------------------------------ lookup-connect

// Rounds of what an application does: resolve with the glibc resolver
// (getaddrinfo, /etc/resolv.conf and nsswitch.conf as the process sees
// them), then one TCP connect to the first address, no retry. "{}" in the
// name is replaced by the round number modulo --cycle.
int cmdLookupConnect(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"rounds", "cycle", "timeout-ms", "family"}, {});
  if (a.positional.size() != 2)
    usage("lookup-connect takes NAME PORT");
  const std::string pattern = a.positional[0];
  const std::string port = std::to_string(parseNumber(a.positional[1], 1, 65535, "port"));
  const long rounds = parseNumber(a.get("rounds").value_or("1"), 1, 100000000, "rounds");
  const long cycle = parseNumber(a.get("cycle").value_or("1"), 1, 100000000, "cycle");
  const int timeoutMs = static_cast<int>(parseNumber(a.get("timeout-ms").value_or("1000"), 1, 600000, "timeout"));
  const std::string family = a.get("family").value_or("any");
  if (family != "4" && family != "6" && family != "any")
    usage("--family takes 4, 6 or any");
  long lookupFailures = 0, connectFailures = 0;
  std::vector<std::string> examples;
  const auto start = Clock::now();
  for (long i = 0; i < rounds; ++i) {
    std::string name = pattern;
    if (auto at = name.find("{}"); at != std::string::npos)
      name.replace(at, 2, std::to_string(i % cycle));
    addrinfo hints{};
    hints.ai_family = family == "4" ? AF_INET : family == "6" ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = ::getaddrinfo(name.c_str(), port.c_str(), &hints, &res); rc != 0 || !res) {
      ++lookupFailures;
      if (examples.size() < 5)
        examples.push_back("round " + std::to_string(i) + ": lookup " + name + ": " + ::gai_strerror(rc));
      continue;
    }
    Address dst;
    std::memcpy(&dst.ss, res->ai_addr, res->ai_addrlen);
    dst.len = res->ai_addrlen;
    dst.family = res->ai_family;
    char text[INET6_ADDRSTRLEN] = {};
    ::getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
    dst.text = text;
    ::freeaddrinfo(res);
    Socket s = connectedSocket(dst, SOCK_STREAM, 0);
    if (s.get() < 0)
      return failErrno("socket");
    if (const int e = connectBy(s.get(), dst, Clock::now() + std::chrono::milliseconds(timeoutMs))) {
      ++connectFailures;
      if (examples.size() < 5) {
        const char* reason = blockedReason(e);
        examples.push_back("round " + std::to_string(i) + ": connect " + name + " " + dst.text + ": " +
                           (reason ? reason : std::strerror(e)));
      }
    }
  }
  say("rounds " + std::to_string(rounds) + " lookup-failures " + std::to_string(lookupFailures) +
      " connect-failures " + std::to_string(connectFailures) + " elapsed-ms " + std::to_string(elapsedUs(start) / 1000));
  for (const auto& e : examples)
    say(e);
  return lookupFailures || connectFailures ? kBlocked : kOk;
}

// ------------------------------------------------------------------ hold

int cmdHold(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"seconds", "timeout-ms"}, {});
  if (a.positional.size() != 3 || a.positional[0] != "tcp")
    usage("hold takes tcp ADDRESS PORT");
  const auto port = static_cast<uint16_t>(parseNumber(a.positional[2], 1, 65535, "port"));
  const Address dst = parseAddress(a.positional[1], port);
  const double seconds = parseSeconds(a.get("seconds").value_or("1"));
  const int timeoutMs =
      static_cast<int>(parseNumber(a.get("timeout-ms").value_or("1000"), 1, 600000, "timeout"));
  const std::string what = describe(dst, "tcp", port);
  ::signal(SIGPIPE, SIG_IGN);

  Socket s = connectedSocket(dst, SOCK_STREAM, 0);
  if (s.get() < 0)
    return failErrno("socket");
  if (int e = connectBy(s.get(), dst, Clock::now() + std::chrono::milliseconds(timeoutMs)))
    return socketFailure(e, what, "connect");
  const int one = 1;
  ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  say("connected " + what);

  const auto start = Clock::now();
  const long exchanges = std::max(1L, static_cast<long>(seconds * 10 + 0.5));
  const std::string tag = nonce();
  for (long i = 0; i < exchanges; ++i) {
    const auto due = start + std::chrono::milliseconds(100 * i);
    if (const auto wait = due - Clock::now(); wait > Clock::duration::zero()) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      timespec ts{static_cast<time_t>(ns / 1000000000LL), static_cast<long>(ns % 1000000000LL)};
      while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    const std::string msg = tag + " " + std::to_string(i) + "\n";
    const int e = echoOver(s.get(), msg, Clock::now() + std::chrono::milliseconds(timeoutMs));
    if (e) {
      const char* reason = e == EBADMSG ? "mismatch" : blockedReason(e);
      say("failed exchange " + std::to_string(i) + " of " + std::to_string(exchanges) + ": " +
          (reason ? reason : std::strerror(e)) + " " + what);
      return reason || e == EBADMSG ? kBlocked : kError;
    }
  }
  say("exchanges " + std::to_string(exchanges));
  return kOk;
}

int cmdSendEarly(int argc, char** argv) {
  const Args a = parseArgs(argc, argv, 2, {"timeout-ms"}, {});
  if (a.positional.size() != 4 || a.positional[0] != "tcp")
    usage("send-early takes tcp ADDRESS PORT DATA");
  const auto port = static_cast<uint16_t>(parseNumber(a.positional[2], 1, 65535, "port"));
  const Address dst = parseAddress(a.positional[1], port);
  const int timeoutMs =
      static_cast<int>(parseNumber(a.get("timeout-ms").value_or("2000"), 1, 600000, "timeout"));
  std::string data;
  const std::string& raw = a.positional[3];
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == 'r' || raw[i + 1] == 'n')) {
      data += raw[++i] == 'r' ? '\r' : '\n';
    } else {
      data += raw[i];
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  Socket s(::socket(dst.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0)
    return failErrno("socket");
  const ssize_t sent = ::sendto(s.get(), data.data(), data.size(), MSG_FASTOPEN,
                                reinterpret_cast<const sockaddr*>(&dst.ss), dst.len);
  if (sent < 0)
    return failErrno("send");
  std::string answer;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  char buf[512];
  while (answer.find('\n') == std::string::npos && waitFor(s.get(), POLLIN, deadline) > 0) {
    const ssize_t n = ::recv(s.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0)
      break;
    answer.append(buf, static_cast<size_t>(n));
  }
  const size_t eol = answer.find_first_of("\r\n");
  say("sent " + std::to_string(sent) + " answer " + (answer.empty() ? "none" : answer.substr(0, eol)));
  return answer.empty() ? kBlocked : kOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    usage("missing command");
  const std::string cmd = argv[1];
  if (cmd == "serve")
    return cmdServe(argc, argv);
  if (cmd == "probe")
    return cmdProbe(argc, argv);
  if (cmd == "stream")
    return cmdStream(argc, argv);
  if (cmd == "count")
    return cmdCount(argc, argv);
  if (cmd == "hold")
    return cmdHold(argc, argv);
  if (cmd == "spoof")
    return cmdSpoof(argc, argv);
  if (cmd == "dns")
    return cmdDns(argc, argv);
  if (cmd == "lookup-connect")
    return cmdLookupConnect(argc, argv);
  if (cmd == "send-early")
    return cmdSendEarly(argc, argv);
  if (cmd == "-h" || cmd == "--help") {
    std::printf("see the comment at the top of testkit/prober.cpp; run without arguments for usage\n");
    return kOk;
  }
  usage("unknown command '" + cmd + "'");
}
