// Flow events: what the datapath writes to the mb_events ring buffer (a deny,
// an audit finding, or with events enabled an allowed new flow), decoded and
// named from the applied version: which endpoint, which rule, who the peer
// is. `membrane events` prints them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "loader/loader.h"
#include "net/address.h"

namespace membrane::loader {

struct FlowEnd {
  net::Address address;
  uint16_t port = 0;  // host order; ICMP: the echo id (source) or the type (destination)
  std::string name;   // "namespace/name" of a known endpoint, "host", or empty
};

struct FlowEvent {
  uint64_t wallTimeNs = 0;  // the event's time, CLOCK_REALTIME nanoseconds
  std::string kind;         // eventKindName: "deny", "audit", "allow", "spoofed", "dns-refused"
  std::string direction;    // "ingress" or "egress", as seen by the endpoint
  uint32_t endpointId = 0;
  std::string endpoint;     // "namespace/name", or empty if the id is unknown
  uint8_t protocol = 0;
  FlowEnd src, dst;
  uint32_t ruleId = 0;      // 0: no rule matched (default deny)
  std::string ruleText;     // "default deny" for 0; the rule as written
  std::string ruleLocation; // "file:line:col", empty for 0
  // HTTP events (kind "http-*"): the request as the socket layer read it,
  // bytes outside printable ASCII escaped (\xNN), the path cut at
  // MB_HTTP_EVENT_PATH_BYTES; and why a request was refused ("rule", or what
  // made it unreadable: "malformed", "too-long", "tls", "http2",
  // "after-error", "path").
  std::string method, path, why;
  // Process events (kind "process-*", docs/process.md): the call and who
  // made it. `executable` is /proc/<pid>/exe while that process still runs
  // the same file, else "device:inode" (major:minor:inode).
  struct Process {
    uint32_t pid = 0;
    std::string executable;
    std::string command;  // the thread's name (comm), escaped like paths
  };
  std::optional<Process> process;
};

struct EventOptions {
  size_t count = 0;         // stop after this many events; 0 = until stopped
  int timeoutMs = -1;       // stop after this long; -1 = until stopped
  bool backlog = false;     // also events written before we started
  const std::atomic<bool>* stop = nullptr;  // set (by a signal handler) to stop
};

// Reads events until `count`, the timeout or `stop`, calling `onEvent` for
// each. False with `error` set when nothing is applied on this node or the
// ring buffer cannot be read. Only one reader should run at a time: the ring
// buffer's read position is shared.
bool readEvents(const Paths& paths, const EventOptions& options, const std::function<void(const FlowEvent&)>& onEvent,
                std::string* error);

std::string protocolText(uint8_t protocol);

}  // namespace membrane::loader
