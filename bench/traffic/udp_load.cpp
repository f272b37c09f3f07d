#include "udp_load.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <system_error>

namespace membrane::bench {
namespace {

constexpr size_t kBatch = 64;
constexpr size_t kPayload = 18;  // 20 + 8 + 18 = 46 bytes of IP: a minimum-size Ethernet frame
constexpr size_t kPacket = sizeof(iphdr) + sizeof(udphdr) + kPayload;

std::string errnoText(int e) { return std::system_category().message(e); }

in_addr_t parse4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) throw std::runtime_error("not an IPv4 address: " + text);
  return a.s_addr;
}

// The calling thread's CPU time, kept when it ends (a finished thread's clock
// can no longer be read).
uint64_t ownCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void enterNetns(const std::string& ns) {
  std::string path = ns.find('/') == std::string::npos ? "/run/netns/" + ns : ns;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + errnoText(errno));
  int rc = ::setns(fd, CLONE_NEWNET);
  int e = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("setns " + path + ": " + errnoText(e));
}

void pinToCpu(int cpu) {
  if (cpu < 0 || cpu >= static_cast<int>(std::thread::hardware_concurrency())) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

uint64_t threadCpuNanos(std::thread& t) {
  clockid_t clock;
  if (pthread_getcpuclockid(t.native_handle(), &clock) != 0) return 0;
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t softirqThreadNanos() {
  uint64_t total = 0;
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind("ksoftirqd/", 0) != 0) continue;
    // schedstat: time on CPU (ns), time waiting, timeslices.
    std::ifstream stat(std::string("/proc/") + e->d_name + "/schedstat");
    uint64_t ns = 0;
    if (stat >> ns) total += ns;
  }
  closedir(proc);
  return total;
}

namespace {

// A raw socket that sends headers we write (IPPROTO_RAW implies IP_HDRINCL;
// the kernel fills in the IPv4 checksum and id; UDP checksum 0 = none).
int openRawSocket(const std::string& netns) {
  enterNetns(netns);
  int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) throw std::runtime_error("raw socket in " + netns + ": " + errnoText(errno));
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
  return fd;
}

void writeHeaders(uint8_t* p, in_addr_t src, in_addr_t dst, uint16_t sport, uint16_t dport, uint64_t seq) {
  auto* ip = reinterpret_cast<iphdr*>(p);
  std::memset(ip, 0, sizeof(*ip));
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = htons(kPacket);
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->saddr = src;
  ip->daddr = dst;
  auto* udp = reinterpret_cast<udphdr*>(p + sizeof(iphdr));
  udp->source = htons(sport);
  udp->dest = htons(dport);
  udp->len = htons(sizeof(udphdr) + kPayload);
  udp->check = 0;
  std::memcpy(p + sizeof(iphdr) + sizeof(udphdr), &seq, sizeof(seq));
}

// Runs open() and then work(fd) on `thread`: the socket is opened inside
// the thread, which may enter a network namespace. Returns once the socket
// is open; open()'s error is rethrown here.
template <class Open, class Work>
void startSocketThread(std::thread& thread, std::atomic<uint64_t>& finalCpu, Open open, Work work) {
  std::atomic<int> ready{0};
  std::string openError;
  thread = std::thread([&ready, &openError, &finalCpu, open, work] {
    int fd = -1;
    try {
      fd = open();
    } catch (const std::exception& e) {
      openError = e.what();
      ready = -1;
      return;
    }
    ready = 1;
    work(fd);
    ::close(fd);
    finalCpu = ownCpuNanos();
  });
  while (ready.load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  if (ready.load() < 0) {
    thread.join();
    throw std::runtime_error(openError);
  }
}

}  // namespace

void UdpSender::start(const SenderOptions& options) {
  stop_ = false;
  sent_ = 0;
  errors_ = 0;
  startSocketThread(thread_, finalCpu_, [options] {
    pinToCpu(options.cpu);
    return openRawSocket(options.netns);
  }, [this, options](int fd) { run(options, fd); });
}

void UdpSender::run(SenderOptions o, int fd) {
  const in_addr_t dst = parse4(o.destination);
  const in_addr_t oneSource = o.newFlowEachPacket ? 0 : parse4(o.source);
  const uint32_t manyBase = ntohl(parse4("198.18.64.0"));
  std::vector<std::array<uint8_t, kPacket>> packets(kBatch);
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = dst;
  for (size_t i = 0; i < kBatch; ++i) {
    iov[i] = {packets[i].data(), kPacket};
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof(to);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  uint64_t seq = o.firstSequence;
  const uint64_t end = o.maxPackets ? o.firstSequence + o.maxPackets : 0;
  size_t batch = o.packetsPerSecond ? 16 : kBatch;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (end && seq >= end) break;
    size_t n = batch;
    if (end) n = std::min<uint64_t>(n, end - seq);
    if (o.packetsPerSecond) {
      auto due = started + std::chrono::nanoseconds((seq - o.firstSequence) * 1000000000ull / o.packetsPerSecond);
      if (due > Clock::now()) std::this_thread::sleep_until(due);
    }
    for (size_t i = 0; i < n; ++i) {
      uint64_t s = seq + i;
      if (o.newFlowEachPacket) {
        // 4096 addresses x 256 ports: consecutive packets never share a flow.
        in_addr_t src = htonl(manyBase + static_cast<uint32_t>(s % 4096));
        auto sport = static_cast<uint16_t>(1024 + (s / 4096) % 256);
        writeHeaders(packets[i].data(), src, dst, sport, o.destinationPort, s);
      } else {
        writeHeaders(packets[i].data(), oneSource, dst, o.sourcePort, o.destinationPort, s);
      }
    }
    int done = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (done < 0) {
      // ENOBUFS and the like: the packets are gone; count and go on.
      errors_.fetch_add(n, std::memory_order_relaxed);
      seq += n;
      continue;
    }
    seq += n;
    sent_.fetch_add(static_cast<uint64_t>(done), std::memory_order_relaxed);
    if (static_cast<size_t>(done) < n) errors_.fetch_add(n - done, std::memory_order_relaxed);
  }
}

void UdpSender::join() {
  if (thread_.joinable()) thread_.join();
}

void UdpSender::stop() {
  stop_ = true;
  join();
}

uint64_t UdpSender::cpuNanos() {
  uint64_t now = thread_.joinable() ? threadCpuNanos(thread_) : 0;
  return now ? now : finalCpu_.load();
}

void UdpReceiver::start(const ReceiverOptions& options) {
  stop_ = false;
  received_ = 0;
  distinct_ = 0;
  seen_.assign((options.trackSequencesBelow + 63) / 64, 0);
  startSocketThread(thread_, finalCpu_, [options] {
    int fd = -1;
    try {
      pinToCpu(options.cpu);
      enterNetns(options.netns);
      fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::runtime_error("udp socket: " + errnoText(errno));
      int buf = 64 << 20;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
      timeval tv{0, 50000};  // wake up to see stop()
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(options.port);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
        throw std::runtime_error("bind udp/" + std::to_string(options.port) + " in " + options.netns + ": " +
                                 errnoText(errno));
    } catch (...) {
      if (fd >= 0) ::close(fd);
      throw;
    }
    return fd;
  }, [this, options](int fd) { run(options, fd); });
}

void UdpReceiver::run(ReceiverOptions o, int fd) {
  std::vector<std::array<uint8_t, 64>> buffers(kBatch);
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  while (!stop_.load(std::memory_order_relaxed)) {
    for (size_t i = 0; i < kBatch; ++i) {
      iov[i] = {buffers[i].data(), buffers[i].size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    received_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    if (seen_.empty()) continue;
    for (int i = 0; i < n; ++i) {
      if (msgs[i].msg_len < sizeof(uint64_t)) continue;
      uint64_t seq;
      std::memcpy(&seq, buffers[i].data(), sizeof(seq));
      if (seq / 64 >= seen_.size()) continue;
      uint64_t bit = 1ull << (seq % 64);
      if (!(seen_[seq / 64] & bit)) {
        seen_[seq / 64] |= bit;
        ++distinct_;
      }
    }
  }
}

void UdpReceiver::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

uint64_t UdpReceiver::cpuNanos() {
  uint64_t now = thread_.joinable() ? threadCpuNanos(thread_) : 0;
  return now ? now : finalCpu_.load();
}

uint64_t sendBurst(const std::string& netns, const std::string& source, const std::string& destination,
                   uint16_t destinationPort, uint64_t count) {
  UdpSender s;
  SenderOptions o;
  o.netns = netns;
  o.source = source;
  o.destination = destination;
  o.destinationPort = destinationPort;
  o.maxPackets = count;
  o.packetsPerSecond = 100000;
  s.start(o);
  s.join();
  return s.sent();
}

}  // namespace membrane::bench
