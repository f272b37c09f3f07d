// membrane_bench_connect_loop: the program section 7 of docs/benchmarks.md
// runs inside a pod (bench/process/process_bench.cpp). It listens on
// HOST:PORT, then opens N TCP connections to it one after another (socket,
// connect, close with SO_LINGER 0, so that no TIME_WAIT uses the ephemeral
// ports up), timing each connect() alone with CLOCK_MONOTONIC; every 256
// connects it accepts and closes what is queued, untimed (one thread: no
// connect() wakes an acceptor). The first WARMUP connects are not counted.
// Prints one line: "connects N p50-ns X p99-ns Y mean-ns Z max-ns M".
//
// `--once`: a single connect, printing "ok" or the errno's name (EPERM when
// a process rule refuses this executable), exit status 0 either way.
//
// Exit status: 0 measured; 1 a call failed (the message names it); 2 usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

// The listener's queue, and how often it is drained (well before it fills:
// a full queue drops SYNs, and the client would wait a second to retry).
constexpr int kBacklog = 4096;
constexpr long kDrainEvery = 256;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "connect-loop: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: membrane_bench_connect_loop --port PORT [--host IPV4] [--count N] [--warmup N] [--once]\n");
  std::exit(2);
}

long nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// Close without TIME_WAIT: an RST instead of a FIN.
void closeHard(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

const char* errnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETUNREACH: return "ENETUNREACH";
    default: return "EOTHER";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = -1, count = 100000, warmup = 5000;
  bool once = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--port")
      port = std::strtol(value().c_str(), nullptr, 10);
    else if (a == "--host")
      host = value();
    else if (a == "--count")
      count = std::strtol(value().c_str(), nullptr, 10);
    else if (a == "--warmup")
      warmup = std::strtol(value().c_str(), nullptr, 10);
    else if (a == "--once")
      once = true;
    else
      usage();
  }
  if (port <= 0 || port > 65535 || count <= 0 || warmup < 0) usage();

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) usage();

  // The listener is drained between connects, untimed, by this thread: no
  // thread waits in accept(), so no connect() wakes one. (With an acceptor
  // thread, each connect() woke it; whether it then ran on this CPU or the
  // other moved the p50 between about 8 and 17 µs from run to run.)
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener < 0) die("socket (listener)");
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind " + host);
  if (listen(listener, kBacklog) != 0) die("listen");
  // Accepts and closes whatever is queued. The client's RST has ended these
  // connections already, so nothing is left in TIME_WAIT.
  auto drain = [&] {
    for (;;) {
      int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        close(fd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      die("accept");
    }
  };
  auto finish = [&] {
    drain();
    close(listener);
  };

  if (once) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int e = errno;
    closeHard(fd);
    finish();
    std::printf("%s\n", rc == 0 ? "ok" : errnoName(e));
    return 0;
  }

  std::vector<long> times;
  times.reserve(static_cast<size_t>(count));
  for (long i = 0; i < warmup + count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    long t0 = nowNs();
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    long t1 = nowNs();
    if (rc != 0) die("connect #" + std::to_string(i + 1) + " to " + host + ":" + std::to_string(port));
    closeHard(fd);
    if (i >= warmup) times.push_back(t1 - t0);
    if ((i + 1) % kDrainEvery == 0) drain();
  }
  finish();

  double sum = 0;
  for (long t : times) sum += static_cast<double>(t);
  std::sort(times.begin(), times.end());
  auto at = [&](double p) {
    return times[std::min(times.size() - 1, static_cast<size_t>(p * static_cast<double>(times.size())))];
  };
  std::printf("connects %zu p50-ns %ld p99-ns %ld mean-ns %.0f max-ns %ld\n", times.size(), at(0.5), at(0.99),
              sum / static_cast<double>(times.size()), times.back());
  return 0;
}
