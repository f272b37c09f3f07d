// A real DNS server as a pod of the end-to-end topology: Debian's dnsmasq,
// started as a plain process (no systemd, no daemonizing) in the pod's
// network namespace, serving a zone the test writes, on udp/53 and tcp/53 of
// the pod's two addresses, and answering nothing else (no forwarding, no
// /etc/hosts). Clients in other pods resolve through it with the glibc
// resolver (DnsServer::serve: a resolv.conf overlay) or with dig @server.
//
//   DnsZone zone;
//   zone.address("api.test", outside.address4(), 2);      // A, TTL 2 s
//   zone.address("api.test", outside.address6(), 2);      // AAAA
//   zone.alias("cdn.test", "edge.test", 2);               // CNAME
//   DnsServer dns(t.pod("resolver"), zone);              // throws if it cannot start
//   dns.serve(t.pod("client"));                          // getent hosts api.test
//   ...
//   dns.stop();                                          // or the destructor
//
// Cleanup: stop() or the destructor ends dnsmasq (SIGTERM, then SIGKILL) and
// removes its files; the Topology kills it too if this process dies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "environment.h"
#include "topology.h"

namespace membrane::e2e {

// The records the server answers from. Names are absolute without the
// trailing dot ("api.test"); TTLs in seconds.
class DnsZone {
 public:
  // An A or AAAA record (by the address's family).
  DnsZone& address(const std::string& name, const std::string& address, int ttl);
  // A CNAME record: `name` is an alias of `target`, whose addresses the
  // zone must hold too (dnsmasq answers local CNAMEs only for local targets).
  DnsZone& alias(const std::string& name, const std::string& target, int ttl);

  struct Record {
    std::string name, type, value;  // type: A, AAAA or CNAME
    int ttl = 0;
  };
  const std::vector<Record>& records() const { return records_; }

 private:
  std::vector<Record> records_;
};

class DnsServer {
 public:
  // Starts dnsmasq in `pod` serving `zone` (and the zone's names under
  // `domain` only: other names in it are NXDOMAIN, names elsewhere REFUSED);
  // returns once it answers a query. Throws std::runtime_error with
  // dnsmasq's messages if it cannot start.
  DnsServer(const Pod& pod, const DnsZone& zone, const std::string& domain = "test");
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  const std::string& address4() const { return address4_; }
  const std::string& address6() const { return address6_; }
  // Has processes `client` starts resolve through this server: a
  // resolv.conf naming it (one try, 1 s timeout, so a lost answer shows as a
  // failure, not a 5 s wait) and an nsswitch.conf of "files dns", overlaid
  // on /etc (Pod::overlayFile). The files live as long as this server.
  void serve(Pod& client) const;
  // Ends dnsmasq (SIGTERM, SIGKILL after 2 s); idempotent. Returns what it
  // printed, for messages.
  std::string stop();
  // Starts it again with the same zone (after stop()).
  void restart();
  bool running() { return process_.valid() && process_.running(); }

  // Why no server can run here (dnsmasq not installed), or nullopt.
  static std::optional<std::string> unavailable();

 private:
  void start();

  const Pod& pod_;
  std::string address4_, address6_;
  testkit::ScratchDir dir_;
  Process process_;
};

}  // namespace membrane::e2e

// In a test (gtest): without dnsmasq (or dig, which the tests also use)
// FAIL under CI=true, skip with the reason otherwise.
#define MEMBRANE_E2E_REQUIRE_DNS_SERVER()                                                    \
  do {                                                                                       \
    if (const auto mb_why = ::membrane::e2e::DnsServer::unavailable()) {                     \
      if (::membrane::e2e::runningInCi())                                                    \
        FAIL() << "DNS e2e tests cannot run under CI: " << *mb_why;                          \
      GTEST_SKIP() << *mb_why << " (scripts/setup.sh installs it). Set CI=true to make this " \
                               "a failure.";                                                 \
    }                                                                                        \
  } while (0)
