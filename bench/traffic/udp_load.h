// Load generation and measurement shared by the traffic and loader
// benchmarks: a raw-socket UDP sender and a recvmmsg receiver, each a thread
// that joins a network namespace by itself (setns is per thread), plus CPU
// accounting and the markdown/CLI plumbing both programs need.
//
// The sender writes IPv4/UDP headers itself (IPPROTO_RAW) so it can give
// every packet a new 5-tuple: source address from 198.18.64.0/20 and source
// port from 256 values, a cycle of 1,048,576 flows, four times what
// membrane's conntrack (LRU, 262,144 entries) holds, so in that mode no
// packet ever finds its flow tracked. Each packet carries a sequence number.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/program.h"
#include "common/report.h"

namespace membrane::bench {

// Source addresses of the "new flow per packet" mode: 198.18.64.0/20.
constexpr const char* kManyFlowsSourcePrefix = "198.18.64.0/20";

// Joins network namespace `ns` (a name under /run/netns or a path) with the
// calling thread only. Throws std::runtime_error.
void enterNetns(const std::string& ns);
// Pins the calling thread to `cpu` (ignored when < 0 or not online).
void pinToCpu(int cpu);
// CPU time a thread has used so far (scheduler time, which on this kernel
// includes the softirq work run on top of it).
uint64_t threadCpuNanos(std::thread& t);
// CPU time of every ksoftirqd thread so far: softirq work deferred out of
// the context that raised it.
uint64_t softirqThreadNanos();

struct SenderOptions {
  std::string netns;           // where to send from
  int cpu = -1;                // pin to this CPU
  std::string source;          // IPv4 source in one-flow mode
  std::string destination;     // IPv4
  uint16_t sourcePort = 40000;  // one-flow mode
  uint16_t destinationPort = 5201;
  bool newFlowEachPacket = false;
  uint64_t packetsPerSecond = 0;  // 0: as fast as the sender's core allows
  uint64_t maxPackets = 0;        // 0: until stop()
  // The first packet's sequence number, which also picks its flow in the
  // new-flow mode: continue where the last sender stopped, or the flows of
  // the last run would still be in conntrack.
  uint64_t firstSequence = 0;
};

class UdpSender {
 public:
  ~UdpSender() { stop(); }
  // Starts the sending thread; throws if its socket cannot be opened.
  void start(const SenderOptions& options);
  // Stops sending and joins the thread. Idempotent.
  void stop();
  // Waits until the thread ends (maxPackets sent, or after stop()).
  void join();
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t sendErrors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t cpuNanos();

 private:
  void run(SenderOptions options, int fd);
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0}, errors_{0};
  std::atomic<uint64_t> finalCpu_{0};
};

struct ReceiverOptions {
  std::string netns;
  int cpu = -1;
  uint16_t port = 5201;
  // Track distinct sequence numbers below this (0: only count).
  uint64_t trackSequencesBelow = 0;
};

class UdpReceiver {
 public:
  ~UdpReceiver() { stop(); }
  // Binds 0.0.0.0:port in the namespace (64 MiB receive buffer) and starts
  // counting. Throws if the socket cannot be bound.
  void start(const ReceiverOptions& options);
  void stop();
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  // Distinct tracked sequence numbers; read after stop().
  uint64_t distinct() const { return distinct_; }
  uint64_t cpuNanos();

 private:
  void run(ReceiverOptions options, int fd);
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::vector<uint64_t> seen_;
  uint64_t distinct_ = 0;
  std::atomic<uint64_t> finalCpu_{0};
};

// Sends `count` packets synchronously from `netns` (one flow) and returns
// how many the kernel accepted.
uint64_t sendBurst(const std::string& netns, const std::string& source, const std::string& destination,
                   uint16_t destinationPort, uint64_t count);

}  // namespace membrane::bench
