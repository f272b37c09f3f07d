// The end-to-end infrastructure itself, with no policy loaded: pods reach
// each other over TCP, UDP and ICMP on both families, refusals and drops
// look like what the policy tests will expect, the traffic tools measure
// what they claim, and teardown (normal, crashed, stale) leaves nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "topology.h"

namespace membrane::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTcpPort = "8080";
constexpr const char* kUdpPort = "5353";
constexpr const char* kClosedPort = "9";
// Upper bound for exchanges that should succeed (they return as soon as the
// reply arrives); expected-blocked probes use kBlockedTimeoutMs.
constexpr const char* kOkTimeoutMs = "2000";
constexpr const char* kBlockedTimeoutMs = "300";

class E2e : public ::testing::Test {
 protected:
  void SetUp() override { MEMBRANE_E2E_REQUIRE_PRIVILEGES(); }
};

std::vector<std::string> probeArgs(const std::string& proto, const std::string& address,
                                   const std::string& port, const std::string& timeoutMs) {
  return {proberPath(), "probe", proto, address, port, "--timeout-ms", timeoutMs};
}

// An echo server on kTcpPort/kUdpPort in `ns`, ready to answer.
Process serve(const std::string& ns) {
  Process p = Topology::spawn(ns, {proberPath(), "serve", "--tcp", kTcpPort, "--udp", kUdpPort});
  EXPECT_TRUE(p.waitForOutput("ready", 5s)) << "server in " << ns << " not ready: " << p.err();
  return p;
}

bool gone(pid_t pid) {
  // Reaped (ESRCH) or at least dead (a zombie waiting for init).
  if (::kill(pid, 0) != 0)
    return true;
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f)
    return true;
  int ignored = 0;
  char state = '?';
  const int n = std::fscanf(f, "%d %*s %c", &ignored, &state);
  std::fclose(f);
  return n == 2 && state == 'Z';
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string parentDir(const std::string& path) { return path.substr(0, path.rfind('/')); }

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::vector<std::string> withTag(const std::string& prefix, const std::string& tag) {
  std::vector<std::string> out;
  for (const auto& n : Topology::listNamespaces(prefix))
    if (n.rfind(tag + "-", 0) == 0)
      out.push_back(n);
  return out;
}

TEST_F(E2e, EveryPodReachesEveryPodOverTcpUdpIcmpBothFamilies) {
  Topology t("mbe2e");
  std::vector<Pod*> pods = {&t.addPod("x-a"), &t.addPod("x-b"), &t.addPod("y-c")};
  const auto upStart = std::chrono::steady_clock::now();
  t.up();
  RecordProperty("up_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - upStart)
                                               .count()));
  std::vector<Process> servers;
  for (Pod* p : pods)
    servers.push_back(serve(p->netns()));

  for (Pod* from : pods) {
    for (Pod* to : pods) {
      if (from == to)
        continue;
      for (const std::string& address : {to->address4(), to->address6()}) {
        for (const char* proto : {"tcp", "udp", "icmp"}) {
          const std::string port = std::string(proto) == "udp" ? kUdpPort : kTcpPort;
          const ExecResult r = from->exec(probeArgs(proto, address, port, kOkTimeoutMs));
          EXPECT_TRUE(r.succeeded())
              << from->name() << " -> " << to->name() << " " << proto << " " << address << ": "
              << r.describe();
          EXPECT_EQ(r.out.rfind("ok ", 0), 0u) << r.describe();
        }
      }
    }
  }
  // The node: reachable from every pod, and it reaches every pod.
  for (Pod* p : pods) {
    for (const char* node : {Topology::kNode4, Topology::kNode6}) {
      const ExecResult r = p->exec(probeArgs("icmp", node, "0", kOkTimeoutMs));
      EXPECT_TRUE(r.succeeded()) << p->name() << " -> node " << node << ": " << r.describe();
    }
    for (const std::string& address : {p->address4(), p->address6()}) {
      const ExecResult r =
          Topology::exec(t.hostNamespace(), probeArgs("tcp", address, kTcpPort, kOkTimeoutMs));
      EXPECT_TRUE(r.succeeded()) << "node -> " << p->name() << " " << address << ": "
                                 << r.describe();
    }
  }
  for (Process& s : servers)
    EXPECT_TRUE(s.running()) << "server died: " << s.err();
}

// Two nodes on a fabric, and a pod of the host namespace: every pod reaches
// every other across nodes, each pod's host-side veth is in its own node's
// namespace (where a node's loader attaches), a pod added on a node while
// up is reachable at once and unreachable once removed, and teardown
// leaves no node behind.
TEST_F(E2e, PodsOnNodesReachEachOtherAcrossTheFabric) {
  std::string tag;
  {
    Topology t("mbe2e");
    const std::string nodeA = t.addNode("node-a");
    const std::string nodeB = t.addNode("node-b");
    std::vector<Pod*> pods = {&t.addPod("x-a", "node-a"), &t.addPod("x-b", "node-b"), &t.addPod("x-c")};
    t.up();
    tag = t.tag();
    EXPECT_EQ(pods[0]->hostNetns(), nodeA);
    EXPECT_EQ(pods[1]->hostNetns(), nodeB);
    EXPECT_EQ(pods[2]->hostNetns(), t.hostNamespace());
    EXPECT_TRUE(Topology::exec(nodeA, {"ip", "link", "show", pods[0]->hostInterface()}).succeeded());
    EXPECT_FALSE(Topology::exec(nodeA, {"ip", "link", "show", pods[1]->hostInterface()}).succeeded());
    std::vector<Process> servers;
    for (Pod* p : pods)
      servers.push_back(serve(p->netns()));
    for (Pod* from : pods)
      for (Pod* to : pods)
        for (const std::string& address : {to->address4(), to->address6()}) {
          if (from == to)
            continue;
          const ExecResult r = from->exec(probeArgs("tcp", address, kTcpPort, kOkTimeoutMs));
          EXPECT_TRUE(r.succeeded()) << from->name() << " -> " << to->name() << " " << address << ": "
                                     << r.describe();
        }
    // Added while up, on a node: reachable from the other node, then gone.
    Pod& d = t.addPod("x-d", "node-b");
    Process server = serve(d.netns());
    EXPECT_TRUE(pods[0]->exec(probeArgs("udp", d.address6(), kUdpPort, kOkTimeoutMs)).succeeded());
    const std::string goneAddress = d.address4();
    t.removePod("x-d");
    EXPECT_EQ(pods[0]->exec(probeArgs("icmp", goneAddress, "0", kBlockedTimeoutMs)).exitCode, 1);
    EXPECT_EQ(withTag("mbe2e", tag).size(), 6u);  // host, 2 nodes, 3 pods
  }
  EXPECT_TRUE(withTag("mbe2e", tag).empty());
}

TEST_F(E2e, PodsHaveTheDocumentedShape) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  Pod& b = t.addPod("x-b");
  t.up();
  EXPECT_EQ(a.address4(), "198.18.0.11");
  EXPECT_EQ(a.address6(), "2001:2::11");
  EXPECT_EQ(b.address4(), "198.18.0.12");
  EXPECT_EQ(a.interface(), "eth0");
  EXPECT_EQ(a.hostInterface(), "mbh1");
  EXPECT_EQ(b.hostInterface(), "mbh2");
  EXPECT_EQ(t.hostNamespace(), t.tag() + "-host");
  EXPECT_EQ(a.netns(), t.tag() + "-x-a");

  // The host-side veths live in the host namespace (not the root one), up,
  // with the node's addresses; forwarding is on there.
  const ExecResult links = Topology::exec(t.hostNamespace(), {"ip", "-o", "addr", "show"});
  ASSERT_TRUE(links.succeeded()) << links.describe();
  for (const char* needle : {"mbh1", "mbh2", "198.19.255.254/32", "2001:2:0:ffff::1/128"})
    EXPECT_NE(links.out.find(needle), std::string::npos) << needle << " in " << links.out;
  const ExecResult fwd = Topology::exec(t.hostNamespace(), {"cat", "/proc/sys/net/ipv4/ip_forward",
                                                             "/proc/sys/net/ipv6/conf/all/forwarding"});
  EXPECT_EQ(fwd.out, "1\n1\n") << fwd.describe();
  const ExecResult root = Topology::exec("", {"ip", "-o", "link", "show", "mbh1"});
  EXPECT_FALSE(root.succeeded()) << "mbh1 must not exist in the root namespace: " << root.describe();

  // A pod: eth0 with its addresses (no tentative IPv6 address), routes via the node.
  const ExecResult addrs = a.exec({"ip", "-o", "addr", "show", "dev", "eth0"});
  EXPECT_NE(addrs.out.find("198.18.0.11/32"), std::string::npos) << addrs.out;
  EXPECT_NE(addrs.out.find("2001:2::11/128"), std::string::npos) << addrs.out;
  EXPECT_EQ(addrs.out.find("tentative"), std::string::npos) << addrs.out;
  const ExecResult routes = a.exec({"ip", "route", "show", "default"});
  EXPECT_NE(routes.out.find("via 198.19.255.254 dev eth0"), std::string::npos) << routes.out;
  const ExecResult routes6 = a.exec({"ip", "-6", "route", "show", "default"});
  EXPECT_NE(routes6.out.find("via 2001:2:0:ffff::1 dev eth0"), std::string::npos) << routes6.out;
}

TEST_F(E2e, UnservedPortIsRefusedQuickly) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  Pod& b = t.addPod("x-b");
  t.up();
  for (const std::string& address : {b.address4(), b.address6()}) {
    for (const char* proto : {"tcp", "udp"}) {
      // A long timeout: only a RST (TCP) or port unreachable (UDP) makes it quick.
      const ExecResult r = a.exec(probeArgs(proto, address, kClosedPort, "5000"));
      EXPECT_EQ(r.exitCode, 1) << proto << " " << address << ": " << r.describe();
      EXPECT_EQ(r.out.rfind("blocked refused", 0), 0u) << r.describe();
      EXPECT_LT(r.elapsed, 1000ms) << r.describe();  // typically a few ms
    }
  }
}

TEST_F(E2e, DroppedTrafficTimesOutWithinTheProbeTimeout) {
  // The host silently discards (blackhole routes): what a dropping policy
  // looks like to a probe.
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  t.up();
  const std::string lost4 = "198.19.0.1", lost6 = "2001:2:0:dead::1";
  for (const std::string& route : {lost4 + "/32", lost6 + "/128"}) {
    const ExecResult r = Topology::exec(t.hostNamespace(), {"ip", "route", "add", "blackhole", route});
    ASSERT_TRUE(r.succeeded()) << r.describe();
  }
  std::vector<std::pair<std::string, Process>> probes;
  for (const std::string& address : {lost4, lost6})
    for (const char* proto : {"tcp", "udp", "icmp"})
      probes.emplace_back(std::string(proto) + " " + address,
                          a.spawn(probeArgs(proto, address, kTcpPort, kBlockedTimeoutMs)));
  for (auto& [what, p] : probes) {
    const ExecResult r = p.wait(5s);
    EXPECT_EQ(r.exitCode, 1) << what << ": " << r.describe();
    EXPECT_EQ(r.out.rfind("blocked timeout", 0), 0u) << what << ": " << r.describe();
    EXPECT_GE(r.elapsed, 290ms) << what << ": " << r.describe();
    EXPECT_LT(r.elapsed, 1500ms) << what << ": " << r.describe();
  }
}

TEST_F(E2e, IcmpProbeFallsBackToARawSocketWithoutPingPermission) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  Pod& b = t.addPod("x-b");
  t.up();
  // Nobody may open datagram ICMP sockets in a (this writes a's own sysctl).
  const ExecResult off =
      a.exec({"sh", "-c", "echo '1 0' > /proc/sys/net/ipv4/ping_group_range"});
  ASSERT_TRUE(off.succeeded()) << off.describe();
  for (const std::string& address : {b.address4(), b.address6()}) {
    const ExecResult r = a.exec(probeArgs("icmp", address, "0", kOkTimeoutMs));
    EXPECT_TRUE(r.succeeded()) << address << ": " << r.describe();
    EXPECT_NE(r.err.find("using a raw one"), std::string::npos) << r.describe();
  }
  const ExecResult lost = a.exec(probeArgs("icmp", "198.19.0.1", "0", kBlockedTimeoutMs));
  EXPECT_EQ(lost.exitCode, 1) << lost.describe();
}

TEST_F(E2e, ExecCollectsOutputExitStatusAndEnforcesTimeouts) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  t.up();
  const ExecResult r = a.exec({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_FALSE(r.timedOut);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");

  // It runs inside the pod's namespace.
  const ExecResult dev = a.exec({"cat", "/proc/self/net/dev"});
  EXPECT_NE(dev.out.find("eth0:"), std::string::npos) << dev.out;
  EXPECT_EQ(dev.out.find("mbh"), std::string::npos) << dev.out;

  const ExecResult slow = a.exec({"sleep", "10"}, 200ms);
  EXPECT_TRUE(slow.timedOut);
  EXPECT_FALSE(slow.succeeded());
  EXPECT_LT(slow.elapsed, 2s) << slow.describe();

  EXPECT_THROW(a.exec({"/nonexistent/binary"}), std::runtime_error);
  EXPECT_THROW(Topology::exec("mbe2e-no-such-netns", {"true"}), std::runtime_error);
}

TEST_F(E2e, StreamAndCountAccountForEveryDatagram) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  Pod& b = t.addPod("x-b");
  t.up();
  Process count4 = b.spawn({proberPath(), "count", "udp", "--port", "7001"});
  Process count6 = b.spawn({proberPath(), "count", "udp", "--port", "7002"});
  ASSERT_TRUE(count4.waitForOutput("ready", 5s)) << count4.err();
  ASSERT_TRUE(count6.waitForOutput("ready", 5s)) << count6.err();
  Process stream4 = a.spawn(
      {proberPath(), "stream", "udp", b.address4(), "7001", "--pps", "400", "--seconds", "0.75"});
  Process stream6 = a.spawn(
      {proberPath(), "stream", "udp", b.address6(), "7002", "--pps", "400", "--seconds", "0.75"});
  for (Process* s : {&stream4, &stream6}) {
    const ExecResult r = s->wait(10s);
    EXPECT_TRUE(r.succeeded()) << r.describe();
    EXPECT_EQ(r.out, "sent 300 failed 0\n") << r.describe();
  }
  for (Process* c : {&count4, &count6}) {
    const ExecResult r = c->stop();
    EXPECT_TRUE(r.succeeded()) << r.describe();
    EXPECT_EQ(r.out, "ready\n300\n") << r.describe();
  }
}

TEST_F(E2e, HoldKeepsAConnectionAndNoticesWhenItBreaks) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  Pod& b = t.addPod("x-b");
  t.up();
  Process server = serve(b.netns());
  const ExecResult ok =
      a.exec({proberPath(), "hold", "tcp", b.address6(), kTcpPort, "--seconds", "1"});
  EXPECT_TRUE(ok.succeeded()) << ok.describe();
  EXPECT_NE(ok.out.find("exchanges 10\n"), std::string::npos) << ok.describe();

  Process hold = a.spawn({proberPath(), "hold", "tcp", b.address4(), kTcpPort, "--seconds", "5",
                          "--timeout-ms", "300"});
  ASSERT_TRUE(hold.waitForOutput("connected", 3s)) << hold.err();
  std::this_thread::sleep_for(250ms);
  server.stop();
  const ExecResult broken = hold.wait(5s);
  EXPECT_EQ(broken.exitCode, 1) << broken.describe();
  EXPECT_NE(broken.out.find("failed exchange"), std::string::npos) << broken.describe();
  EXPECT_LT(broken.elapsed, 2s) << broken.describe();
}

TEST_F(E2e, TeardownLeavesNoNamespacesOrProcesses) {
  std::string tag, cgroup;
  std::vector<std::string> created;
  pid_t orphan = 0;
  {
    Topology t("mbe2e");
    Pod& a = t.addPod("x-a");
    t.addPod("x-b");
    t.up();
    tag = t.tag();
    created = withTag("mbe2e", tag);
    EXPECT_EQ(created.size(), 3u);
    cgroup = a.cgroup();
    if (!cgroup.empty()) {
      EXPECT_TRUE(exists(cgroup));
    }
    // A process nobody owns (reparented to init) inside a pod.
    const ExecResult r = a.exec({"sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $!"});
    ASSERT_TRUE(r.succeeded()) << r.describe();
    orphan = static_cast<pid_t>(std::stol(r.out));
    EXPECT_FALSE(gone(orphan));
    // A spawned one still running when the topology goes.
    Process server = serve(a.netns());
    t.down();
    EXPECT_FALSE(server.running()) << "down() must kill (and wait for) processes in the namespaces";
    EXPECT_TRUE(t.namespaces().empty());
  }
  EXPECT_TRUE(withTag("mbe2e", tag).empty());
  EXPECT_TRUE(eventually([&] { return gone(orphan); }, 2s)) << "pid " << orphan << " survived";
  EXPECT_FALSE(created.empty());
  if (!cgroup.empty()) {
    EXPECT_FALSE(exists(cgroup));
    EXPECT_FALSE(exists(parentDir(cgroup)));
  }
}

TEST_F(E2e, PodProcessesRunInThePodsCgroup) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  Pod& b = t.addPod("x-b");
  t.up();
  if (!t.cgroupUnavailable().empty()) {
    if (runningInCi())
      FAIL() << "no cgroup v2 under CI: " << t.cgroupUnavailable();
    GTEST_SKIP() << "no cgroup v2 for pod cgroups: " << t.cgroupUnavailable();
  }
  ASSERT_NE(a.cgroup(), b.cgroup());
  EXPECT_EQ(a.cgroup(), parentDir(a.cgroup()) + "/x-a");
  const ExecResult self = a.exec({"cat", "/proc/self/cgroup"});
  EXPECT_NE(self.out.find("0::/" + t.tag() + "/x-a\n"), std::string::npos) << self.describe();

  Process server = b.spawn({proberPath(), "serve", "--tcp", kTcpPort});
  ASSERT_TRUE(server.waitForOutput("ready", 5s)) << server.err();
  const ExecResult procs = Topology::exec("", {"cat", b.cgroup() + "/cgroup.procs"});
  EXPECT_NE(procs.out.find(std::to_string(server.pid()) + "\n"), std::string::npos)
      << procs.describe();
  // Traffic is unaffected by the cgroups (nothing is attached to them).
  const ExecResult r = a.exec(probeArgs("tcp", b.address4(), kTcpPort, kOkTimeoutMs));
  EXPECT_TRUE(r.succeeded()) << r.describe();

  const std::string dir = parentDir(a.cgroup());
  t.down();
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(exists(dir)) << dir;
}

TEST_F(E2e, TwoTopologiesInOneProcessDoNotCollide) {
  auto t1 = std::make_unique<Topology>("mbe2e");
  Topology t2("mbe2e");
  for (Topology* t : {t1.get(), &t2}) {
    t->addPod("x-a");
    t->addPod("x-b");
    t->up();
  }
  EXPECT_NE(t1->hostNamespace(), t2.hostNamespace());
  EXPECT_NE(t1->pod("x-a").netns(), t2.pod("x-a").netns());
  EXPECT_EQ(t1->pod("x-b").address4(), t2.pod("x-b").address4());  // isolated, so the same

  Process s1 = serve(t1->pod("x-b").netns());
  Process s2 = serve(t2.pod("x-b").netns());
  for (Topology* t : {t1.get(), &t2}) {
    const ExecResult r =
        t->pod("x-a").exec(probeArgs("tcp", t->pod("x-b").address4(), kTcpPort, kOkTimeoutMs));
    EXPECT_TRUE(r.succeeded()) << r.describe();
  }
  // Stopping t2's server is seen in t2 only.
  s2.stop();
  const ExecResult refused =
      t2.pod("x-a").exec(probeArgs("tcp", t2.pod("x-b").address4(), kTcpPort, kOkTimeoutMs));
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  const ExecResult stillOk =
      t1->pod("x-a").exec(probeArgs("tcp", t1->pod("x-b").address4(), kTcpPort, kOkTimeoutMs));
  EXPECT_TRUE(stillOk.succeeded()) << stillOk.describe();

  // Tearing one down leaves the other intact.
  const std::string tag1 = t1->tag();
  s1 = Process();
  t1.reset();
  EXPECT_TRUE(withTag("mbe2e", tag1).empty());
  EXPECT_EQ(withTag("mbe2e", t2.tag()).size(), 3u);
  const ExecResult icmp =
      t2.pod("x-a").exec(probeArgs("icmp", t2.pod("x-b").address6(), "0", kOkTimeoutMs));
  EXPECT_TRUE(icmp.succeeded()) << icmp.describe();
}

TEST_F(E2e, PodsCanBeAddedAndRemovedWhileUp) {
  Topology t("mbe2e");
  Pod& a = t.addPod("x-a");
  t.addPod("x-b");
  t.up();
  Pod& c = t.addPod("x-c");
  EXPECT_EQ(c.hostInterface(), "mbh3");
  Process server = serve(c.netns());
  const ExecResult r = a.exec(probeArgs("udp", c.address6(), kUdpPort, kOkTimeoutMs));
  EXPECT_TRUE(r.succeeded()) << r.describe();

  const std::string gonePod = t.pod("x-b").netns();
  const std::string goneAddress = t.pod("x-b").address4();
  t.removePod("x-b");
  EXPECT_TRUE(withTag("mbe2e", t.tag()).size() == 3u);
  const ExecResult lost = a.exec(probeArgs("icmp", goneAddress, "0", kBlockedTimeoutMs));
  EXPECT_EQ(lost.exitCode, 1) << lost.describe();
}

// Dies by SIGKILL with a topology up: the guardian must remove it.
TEST_F(E2e, GuardianCleansUpAfterAKilledProcess) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(p[0]);
    try {
      Topology t("mbe2e");
      Pod& a = t.addPod("x-a");
      t.up();
      Process server = a.spawn({proberPath(), "serve", "--tcp", kTcpPort});
      server.waitForOutput("ready", 5s);
      const std::string msg = t.tag() + " " + std::to_string(server.pid()) + " " +
                              (a.cgroup().empty() ? "-" : parentDir(a.cgroup())) + "\n";
      [[maybe_unused]] ssize_t n = ::write(p[1], msg.data(), msg.size());
      ::raise(SIGKILL);
    } catch (...) {
    }
    ::_exit(3);
  }
  ::close(p[1]);
  std::string msg;
  char buf[256];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0)
    msg.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "child did not get as far as SIGKILL";
  std::istringstream fields(msg);
  std::string tag, cgroupDir;
  pid_t server = 0;
  fields >> tag >> server >> cgroupDir;
  ASSERT_FALSE(tag.empty());
  ASSERT_GT(server, 0);
  EXPECT_TRUE(eventually([&] { return withTag("mbe2e", tag).empty(); }, 5s))
      << "namespaces of " << tag << " left behind";
  EXPECT_TRUE(eventually([&] { return gone(server); }, 5s)) << "server " << server << " survived";
  if (cgroupDir != "-") {
    EXPECT_TRUE(eventually([&] { return !exists(cgroupDir); }, 5s)) << cgroupDir << " left behind";
  }
}

TEST_F(E2e, StaleNamespacesOfDeadProcessesAreRemoved) {
  // A prefix of our own, so that parallel runs of this test do not see each
  // other's fakes; whatever happens, nothing with it outlives the test.
  const std::string prefix = "mbstale" + std::to_string(::getpid());
  struct Sweep {
    std::string prefix;
    ~Sweep() {
      for (const auto& n : Topology::listNamespaces(prefix))
        Topology::exec("", {"ip", "netns", "delete", n});
    }
  } sweep{prefix};
  // A pid that surely is dead: a child we reaped.
  const pid_t dead = ::fork();
  ASSERT_GE(dead, 0);
  if (dead == 0)
    ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  // Left by a dead process, by an earlier process with our pid (another
  // token), and by a live one (pid 1): only the last must stay.
  const std::string alive = prefix + "-1-xxxx-1-host";
  for (const std::string& name : {prefix + "-" + std::to_string(dead) + "-xxxx-1-host",
                                  prefix + "-" + std::to_string(::getpid()) + "-xxxx-1-x-a",
                                  alive}) {
    const ExecResult add = Topology::exec("", {"ip", "netns", "add", name});
    ASSERT_TRUE(add.succeeded()) << add.describe();
  }
  ASSERT_EQ(Topology::listNamespaces(prefix).size(), 3u);
  {
    Topology t(prefix);
    EXPECT_EQ(Topology::listNamespaces(prefix), std::vector<std::string>{alive});
  }
  EXPECT_EQ(Topology::removeStale(prefix), 0u);
  EXPECT_EQ(Topology::listNamespaces(prefix), std::vector<std::string>{alive});
}

}  // namespace
}  // namespace membrane::e2e
