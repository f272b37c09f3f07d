#include "loader/events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "abi/datapath.h"
#include "loader/kernel.h"
#include "loader/reasons.h"

namespace membrane::loader {

namespace {

static_assert(sizeof(mb_event) == 56, "struct mb_event is ABI: the datapath writes it, this reads it");

// What the applied version says about ids and addresses. Reloaded when an
// event names an endpoint it does not know (a new version was applied).
struct Names {
  std::map<uint32_t, std::string> endpoints;
  std::map<uint32_t, std::pair<std::string, std::string>> rules;  // id → text, location
  std::map<net::Address, std::string> addresses;
  std::chrono::steady_clock::time_point loadedAt;

  bool load(const Paths& paths, std::string* error) {
    auto manifest = appliedManifest(paths, error);
    if (!manifest) return false;
    auto st = status(paths, error);
    if (!st) return false;
    endpoints.clear();
    rules.clear();
    addresses.clear();
    for (const auto& e : st->endpoints) endpoints[e.endpointId] = e.key;
    for (const auto& r : manifest->rules) rules[r.id] = {r.text, r.location};
    for (const auto& e : manifest->endpoints)
      for (const auto& a : e.addresses) addresses[a] = e.ns + "/" + e.name;
    loadedAt = std::chrono::steady_clock::now();
    return true;
  }
};

net::Address addressOf(uint8_t family, const uint8_t bytes[16]) {
  net::Address a;
  a.bytes.fill(0);
  size_t n = family == MB_FAMILY_V4 ? 4 : 16;
  a.family = family == MB_FAMILY_V4 ? net::Family::V4 : net::Family::V6;
  std::memcpy(a.bytes.data(), bytes, n);
  return a;
}

// Bytes from the network, for a terminal or a log: printable ASCII kept,
// the rest (and the backslash) as \xNN.
std::string printable(const char* bytes, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

std::string httpWhyName(uint8_t why) {
  switch (why) {
    case MB_HTTP_WHY_RULE: return "rule";
    case MB_HTTP_WHY_MALFORMED: return "malformed";
    case MB_HTTP_WHY_TOO_LONG: return "too-long";
    case MB_HTTP_WHY_TLS: return "tls";
    case MB_HTTP_WHY_HTTP2: return "http2";
    case MB_HTTP_WHY_AFTER_ERROR: return "after-error";
    case MB_HTTP_WHY_PATH: return "path";
  }
  return std::to_string(why);
}

// The executable of a process event: /proc/<pid>/exe while the process
// still runs the file the event names, else the file's kernel identity.
std::string executableOf(uint32_t pid, uint32_t dev, uint64_t ino) {
  std::string proc = "/proc/" + std::to_string(pid) + "/exe";
  struct stat st{};
  if (stat(proc.c_str(), &st) == 0 && st.st_ino == ino &&
      ((static_cast<uint32_t>(major(st.st_dev)) << 20) | minor(st.st_dev)) == dev) {
    char buf[4096];
    ssize_t n = readlink(proc.c_str(), buf, sizeof buf);
    if (n > 0) return printable(buf, static_cast<size_t>(n));
  }
  return std::to_string(dev >> 20) + ":" + std::to_string(dev & 0xfffff) + ":" + std::to_string(ino);
}

struct Reader {
  const Paths& paths;
  const EventOptions& options;
  const std::function<void(const FlowEvent&)>& onEvent;
  Names names;
  uint64_t startMonotonic = 0;
  size_t delivered = 0;

  int handle(const void* data, size_t size) {
    if (size < sizeof(mb_event)) return 0;  // not ours; skip
    mb_event raw;
    std::memcpy(&raw, data, sizeof raw);
    if (!options.backlog && raw.timestamp_ns < startMonotonic) return 0;
    if (!names.endpoints.count(raw.endpoint) &&
        std::chrono::steady_clock::now() - names.loadedAt > std::chrono::seconds(1))
      names.load(paths, nullptr);  // best effort: keep the old names if it fails

    FlowEvent ev;
    uint64_t now = clockNs(CLOCK_MONOTONIC);
    uint64_t age = now > raw.timestamp_ns ? now - raw.timestamp_ns : 0;
    ev.wallTimeNs = clockNs(CLOCK_REALTIME) - age;
    ev.kind = eventKindName(raw.kind);
    ev.direction = raw.direction == MB_DIR_EGRESS ? "egress" : "ingress";
    ev.endpointId = raw.endpoint;
    if (auto it = names.endpoints.find(raw.endpoint); it != names.endpoints.end()) ev.endpoint = it->second;
    ev.protocol = raw.proto;
    ev.src = {addressOf(raw.family, raw.saddr), raw.sport, ""};
    ev.dst = {addressOf(raw.family, raw.daddr), raw.dport, ""};
    for (FlowEnd* end : {&ev.src, &ev.dst})
      if (auto it = names.addresses.find(end->address); it != names.addresses.end()) end->name = it->second;
    ev.ruleId = raw.rule_id;
    if (raw.kind == MB_EVENT_SPOOFED) {
      ev.ruleText = "source address not the endpoint's";  // no rule decides: lib/source.h
    } else if (raw.rule_id == 0 && raw.kind == MB_EVENT_DNS_REFUSED) {
      ev.ruleText = "no rule lets the endpoint look up this name";  // answered REFUSED, docs/dns.md
    } else if (raw.rule_id == 0) {
      ev.ruleText = "default deny";
    } else if (auto it = names.rules.find(raw.rule_id); it != names.rules.end()) {
      std::tie(ev.ruleText, ev.ruleLocation) = it->second;
    }
    if ((raw.kind == MB_EVENT_HTTP_ALLOW || raw.kind == MB_EVENT_HTTP_DENY || raw.kind == MB_EVENT_HTTP_AUDIT) &&
        size >= sizeof(mb_http_event)) {
      mb_http_event http;
      std::memcpy(&http, data, sizeof http);
      ev.method = printable(http.method, std::min<size_t>(http.method_len, sizeof http.method));
      ev.path = printable(http.path, std::min<size_t>(http.path_len, sizeof http.path));
      ev.why = httpWhyName(http.why);
      if (raw.kind == MB_EVENT_HTTP_DENY && http.why != MB_HTTP_WHY_RULE) {
        ev.ruleText = "not a readable request (" + ev.why + ")";
        ev.ruleLocation.clear();
      }
    }
    if ((raw.kind == MB_EVENT_PROCESS_DENY || raw.kind == MB_EVENT_PROCESS_AUDIT) &&
        size >= sizeof(mb_process_event)) {
      mb_process_event process;
      std::memcpy(&process, data, sizeof process);
      ev.src = {};  // a call: nothing was sent yet, from no address
      FlowEvent::Process p;
      p.pid = process.pid;
      p.executable = executableOf(process.pid, process.exe_dev, process.exe_ino);
      p.command = printable(process.comm, strnlen(process.comm, sizeof process.comm));
      ev.process = p;
      if (raw.kind == MB_EVENT_PROCESS_AUDIT) {
        // The audit rule that would refuse the call, as audit flow events say.
        ev.ruleId = process.audit_rule_id;
        ev.ruleText = "default deny";
        ev.ruleLocation.clear();
        if (auto it = names.rules.find(ev.ruleId); it != names.rules.end())
          std::tie(ev.ruleText, ev.ruleLocation) = it->second;
      }
    }
    onEvent(ev);
    ++delivered;
    // A negative return stops libbpf's consumer right after this record.
    return options.count && delivered >= options.count ? -ECANCELED : 0;
  }

  static int callback(void* ctx, void* data, size_t size) { return static_cast<Reader*>(ctx)->handle(data, size); }
};

}  // namespace

std::string protocolText(uint8_t protocol) {
  switch (protocol) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "icmpv6";
    case 132: return "sctp";
  }
  return std::to_string(protocol);
}

bool readEvents(const Paths& paths, const EventOptions& options, const std::function<void(const FlowEvent&)>& onEvent,
                std::string* error) {
  Reader reader{paths, options, onEvent, {}, clockNs(CLOCK_MONOTONIC), 0};
  if (!reader.names.load(paths, error)) return false;
  std::string pin = paths.bpffsRoot + "/maps/mb_events";
  int fd = bpf_obj_get(pin.c_str());
  if (fd < 0) {
    if (error) *error = "cannot open " + pin + ": " + std::strerror(errno);
    return false;
  }
  ring_buffer* rb = ring_buffer__new(fd, &Reader::callback, &reader, nullptr);
  if (!rb) {
    int saved = errno;
    close(fd);
    if (error) *error = "cannot read the ring buffer " + pin + ": " + std::strerror(saved);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.timeoutMs);
  bool ok = true;
  while (!(options.stop && options.stop->load())) {
    int wait = 100;
    if (options.timeoutMs >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      wait = static_cast<int>(std::min<long long>(wait, left.count()));
    }
    int n = ring_buffer__poll(rb, wait);
    if (n == -ECANCELED) break;  // the count was reached
    if (n == -EINTR) continue;   // a signal; the loop condition decides
    if (n < 0) {
      if (error) *error = std::string("reading events: ") + std::strerror(-n);
      ok = false;
      break;
    }
  }
  ring_buffer__free(rb);
  close(fd);
  return ok;
}

}  // namespace membrane::loader
