// DnsServer: dnsmasq as a topology pod (see dns_server.h). dnsmasq serves
// `host-record` and `cname` lines from its configuration, each with its own
// TTL, which is all a zone of A, AAAA and CNAME records needs; `local=/test/`
// keeps it from ever forwarding, and `no-resolv`/`no-hosts` from reading the
// machine's files.
#include "dns_server.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

namespace membrane::e2e {
namespace {

// The zone's names become dnsmasq configuration lines: no character but
// those of a host name may get there.
void checkName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") !=
                                               std::string::npos)
    throw std::invalid_argument("DnsZone: bad name '" + name + "' (lower-case host names only)");
}

}  // namespace

DnsZone& DnsZone::address(const std::string& name, const std::string& address, int ttl) {
  checkName(name);
  if (address.empty() || address.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos)
    throw std::invalid_argument("DnsZone: bad address '" + address + "'");
  records_.push_back({name, address.find(':') == std::string::npos ? "A" : "AAAA", address, ttl});
  return *this;
}

DnsZone& DnsZone::alias(const std::string& name, const std::string& target, int ttl) {
  checkName(name);
  checkName(target);
  records_.push_back({name, "CNAME", target, ttl});
  return *this;
}

std::optional<std::string> DnsServer::unavailable() {
  if (testkit::findSystemProgram("dnsmasq").empty())
    return "dnsmasq is not installed (Debian package dnsmasq-base)";
  if (testkit::findSystemProgram("dig").empty())
    return "dig is not installed (Debian package bind9-dnsutils)";
  return std::nullopt;
}

DnsServer::DnsServer(const Pod& pod, const DnsZone& zone, const std::string& domain)
    : pod_(pod), address4_(pod.address4()), address6_(pod.address6()), dir_("membrane-dns") {
  checkName(domain);
  std::ofstream conf(dir_ / "dnsmasq.conf");
  conf << "# Written by testkit/dns_server.cpp for pod " << pod.name() << "\n"
       << "no-resolv\nno-hosts\nno-poll\nno-negcache\n"
       << "local=/" << domain << "/\n"
       << "listen-address=" << address4_ << "," << address6_ << "\n"
       << "bind-interfaces\n"
       << "port=53\n"
       << "pid-file=\n"
       << "log-facility=-\n"
       // Answers as large as the 32-address names need, over UDP with EDNS0
       // and over TCP otherwise.
       << "edns-packet-max=4096\n";
  // One host-record per address (dnsmasq merges a name's lines into one
  // answer), one cname line per alias.
  for (const auto& r : zone.records()) {
    if (r.type == "CNAME")
      conf << "cname=" << r.name << "," << r.value << "," << r.ttl << "\n";
    else
      conf << "host-record=" << r.name << "," << r.value << "," << r.ttl << "\n";
  }
  conf.close();
  if (!conf)
    throw std::runtime_error("DnsServer: cannot write " + (dir_ / "dnsmasq.conf").string());
  std::ofstream(dir_ / "resolv.conf") << "nameserver " << address4_ << "\noptions timeout:1 attempts:1\n";
  std::ofstream(dir_ / "nsswitch.conf") << "hosts: files dns\n";
  start();
}

DnsServer::~DnsServer() { stop(); }

void DnsServer::start() {
  const std::string dnsmasq = testkit::findSystemProgram("dnsmasq");
  if (dnsmasq.empty())
    throw std::runtime_error("DnsServer: " + *unavailable());
  // -k: stay in the foreground (our child, killed with its process group);
  // --conf-file: ours only, never /etc/dnsmasq.conf.
  process_ = pod_.spawn({dnsmasq, "-k", "--conf-file=" + (dir_ / "dnsmasq.conf").string()});
  // Ready once it answers: a query over UDP for the domain's apex (NXDOMAIN
  // or NOERROR, either proves it serves).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) {
      ExecResult r = process_.wait(Millis(100));
      throw std::runtime_error("DnsServer: dnsmasq exited in pod " + pod_.name() + ": " + r.describe());
    }
    ExecResult q = pod_.exec({proberPath(), "dns", "query", address4_, "ready.check", "--timeout-ms", "100"},
                             Millis(2000));
    if (q.succeeded())
      return;
    last = q.describe();
    std::this_thread::sleep_for(Millis(20));
  }
  ExecResult r = process_.stop();
  throw std::runtime_error("DnsServer: dnsmasq in pod " + pod_.name() + " did not answer within 5 s (last query: " +
                           last + "); dnsmasq: " + r.describe());
}

void DnsServer::serve(Pod& client) const {
  client.overlayFile("/etc/resolv.conf", (dir_ / "resolv.conf").string());
  client.overlayFile("/etc/nsswitch.conf", (dir_ / "nsswitch.conf").string());
}

std::string DnsServer::stop() {
  if (!process_.valid() || !process_.running())
    return {};
  return process_.stop().describe();
}

void DnsServer::restart() {
  stop();
  start();
}

}  // namespace membrane::e2e
