// Process rules in the datapath (docs/process.md), against decide_stub.c's
// rule 16: tcp/5432 and udp/5353 to peers with bit 0, for executable bit 0.
//   - the packet programs (BPF_PROG_TEST_RUN): a flow only that rule allows
//     (MB_VERDICT_PROCESS) passes tc only when its tuple is in
//     mb_process_flows, and is otherwise dropped and counted as
//     process-unapproved with a deny event of rule 0;
//   - the socket calls on real sockets (connect, sendto, TCP Fast Open) in a
//     cgroup and network namespace of the test's own, since the kernel has
//     no BPF_PROG_TEST_RUN for cgroup sock_addr programs (ENOTSUPP on Linux
//     6.18): the calling executable is this test binary, allowed or not by
//     what mb_process_exe holds; and the gate, which records the tuples of
//     sockets the calls let through.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fixture.h"
#include "socket_sandbox.h"

namespace mbtest {
namespace {

// ---- the packet programs ---------------------------------------------------

class ProcessVerdictTest : public FamilyHookTest {};

TEST_P(ProcessVerdictTest, AFlowOnlyProcessRulesAllowPassesOnlyFromASocketTheCallsLetThrough) {
  load(Options{.events = (1u << MB_EVENT_DENY) | (1u << MB_EVENT_ALLOW), .egress_enforced = true});
  Bytes unapproved = pkt(n().endpoint, n().frontend, kTcp, tcp(40000, 5432, kSyn));
  EXPECT_FALSE(dp().passes(out(), unapproved)) << "no socket call let it through";
  EXPECT_EQ(dp().reason(MB_REASON_PROCESS_UNAPPROVED), 1u);
  EXPECT_EQ(dp().rule(0).packets, 1u) << "counted as no rule's";
  std::vector<mb_event> ev = dp().events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MB_EVENT_DENY);
  EXPECT_EQ(ev[0].rule_id, 0u);
  EXPECT_FALSE(dp().ct(ctKey(n().endpoint, 40000, n().frontend, 5432, kTcp)).has_value());

  // What the gate writes for a socket the calls let through.
  mb_ct_key key = ctKey(n().endpoint, 40001, n().frontend, 5432, kTcp);
  uint64_t when = monotonicNs();
  ASSERT_EQ(bpf_map_update_elem(dp().mapFd("mb_process_flows"), &key, &when, BPF_ANY), 0);
  Bytes approved = pkt(n().endpoint, n().frontend, kTcp, tcp(40001, 5432, kSyn));
  // A record older than MB_PROCESS_FLOW_FRESH_NS approves nothing (a socket
  // that stopped sending long ago; another socket reusing the tuple).
  mb_ct_key staleKey = ctKey(n().endpoint, 40002, n().frontend, 5432, kTcp);
  uint64_t stale = monotonicNs() - MB_PROCESS_FLOW_FRESH_NS - 1000000;
  ASSERT_EQ(bpf_map_update_elem(dp().mapFd("mb_process_flows"), &staleKey, &stale, BPF_ANY), 0);
  EXPECT_FALSE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(40002, 5432, kSyn)))) << "a stale record";
  if (hook() == Hook::Cgroup) {
    // cgroup_skb asks the sending socket itself, and a test run has none.
    EXPECT_FALSE(dp().passes(out(), approved));
    EXPECT_EQ(dp().reason(MB_REASON_PROCESS_UNAPPROVED), 3u);
    return;
  }
  EXPECT_EQ(dp().reason(MB_REASON_PROCESS_UNAPPROVED), 2u);
  dp().events();  // the stale one's deny
  EXPECT_TRUE(dp().passes(out(), approved));
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 1u);
  EXPECT_EQ(dp().rule(16).packets, 1u);
  auto e = dp().ct(key);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rule_id, 16u);
  EXPECT_TRUE(dp().passes(in(), pkt(n().frontend, n().endpoint, kTcp, tcp(5432, 40001, kSyn | kAck))))
      << "the reply of a tracked flow";
  ev = dp().events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MB_EVENT_ALLOW);
  EXPECT_EQ(ev[0].rule_id, 16u);
}

TEST_P(ProcessVerdictTest, PortsNoProcessRuleCoversAreDecidedAsBefore) {
  load(Options{.egress_enforced = true});
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(40000, 443, kSyn))));
  EXPECT_FALSE(dp().passes(out(), pkt(n().endpoint, n().frontend, kTcp, tcp(40001, 25, kSyn))));
  EXPECT_EQ(dp().reason(MB_REASON_PROCESS_UNAPPROVED), 0u);
}

MB_INSTANTIATE_FAMILY_HOOK(ProcessVerdictTest);

// ---- the socket calls, on real sockets ---------------------------------------

// This process's executable as the kernel names it (lib/process.h).
mb_process_exe_key selfExecutable() {
  struct stat st{};
  stat("/proc/self/exe", &st);
  mb_process_exe_key k{};
  k.ino = st.st_ino;
  k.dev = (static_cast<uint32_t>(major(st.st_dev)) << 20) | minor(st.st_dev);
  return k;
}

class ProcessCallsTest : public ::testing::TestWithParam<int> {
 protected:
  int family() const { return GetParam(); }
  std::string server() const { return family() == 4 ? "198.18.7.1" : "2001:2:0:7::1"; }
  std::string remote() const { return family() == 4 ? "198.18.8.1" : "2001:2:0:8::1"; }

  void SetUp() override {
    MB_REQUIRE_BPF();
    dp_ = std::make_unique<Datapath>(
        Options{.events = (1u << MB_EVENT_PROCESS_DENY) | (1u << MB_EVENT_PROCESS_AUDIT), .egress_enforced = true});
    ASSERT_TRUE(dp_->loaded()) << dp_->error();
    dp_->setIdentity(family() == 4 ? "198.18.7.1" : "2001:2:0:7::1", family() == 4 ? 32 : 128, MB_PEER_ENDPOINT, {0},
                     101);

    // A network namespace of our own, for this thread: the server on
    // loopback; a remote network behind a veth, for packets that leave by a
    // device other than loopback (the gate's). And a cgroup of our own
    // holding this process, with the socket calls and the gate.
    ASSERT_EQ(sandbox_.enterNetns("ip link set lo up && ip addr add 198.18.7.1/32 dev lo && "
                          "ip addr add 2001:2:0:7::1/128 dev lo nodad && ip link add mbv0 type veth peer name mbv1 && "
                          "ip link set mbv0 up && ip link set mbv1 up && ip route add 198.18.8.0/24 dev mbv0 && "
                          "ip -6 route add 2001:2:0:8::/64 dev mbv0"),
              "");
    dp_->setIdentity(remote(), family() == 4 ? 32 : 128, MB_PEER_ENDPOINT, {0}, 102);

    ASSERT_EQ(sandbox_.enterCgroup("mb-process-test-"), "");
    for (const char* name : {MB_PROG_CONNECT4, MB_PROG_CONNECT6, MB_PROG_SENDMSG4, MB_PROG_SENDMSG6,
                             MB_PROG_PROCESS_GATE}) {
      bpf_link* link =
          bpf_program__attach_cgroup(bpf_object__find_program_by_name(dp_->object(), name), sandbox_.cgroupFd());
      ASSERT_NE(link, nullptr) << "attach " << name << ": " << std::strerror(errno);
      links_.push_back(link);
    }
  }

  void TearDown() override {
    for (bpf_link* l : links_) bpf_link__destroy(l);
    links_.clear();
    dp_.reset();
  }

  // Lets this binary's calls through: its (device, inode) in mb_process_exe, bit 0.
  void allowThisExecutable() {
    mb_process_exe_key k = selfExecutable();
    uint64_t bits = 1;
    ASSERT_EQ(bpf_map_update_elem(dp_->mapFd("mb_process_exe"), &k, &bits, BPF_ANY), 0) << std::strerror(errno);
  }

  static uint64_t cookie(int s) {
    uint64_t c = 0;
    socklen_t len = sizeof c;
    EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_COOKIE, &c, &len), 0) << std::strerror(errno);
    return c;
  }

  sockaddr_storage address(const std::string& addr, uint16_t port, socklen_t* len) const {
    sockaddr_storage ss{};
    if (family() == 4) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
      *len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr);
      *len = sizeof *a;
    }
    return ss;
  }

  int listener(int type, uint16_t port) {
    int s = socket(family() == 4 ? AF_INET : AF_INET6, type, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len;
    sockaddr_storage a = address(server(), port, &len);
    EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), len), 0) << std::strerror(errno);
    if (type == SOCK_STREAM) {
      EXPECT_EQ(listen(s, 16), 0);
    }
    fds_.push_back(s);
    return s;
  }

  // connect() to the server's `port`: 0, or the errno.
  int connectTo(uint16_t port, int* out = nullptr) {
    int s = socket(family() == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    fds_.push_back(s);
    if (out) *out = s;
    socklen_t len;
    sockaddr_storage a = address(server(), port, &len);
    return connect(s, reinterpret_cast<sockaddr*>(&a), len) == 0 ? 0 : errno;
  }

  // sendto() without connect (or with MSG_FASTOPEN on TCP): 0, or the errno.
  int sendTo(int type, uint16_t port, int flags = 0) {
    int s = socket(family() == 4 ? AF_INET : AF_INET6, type, 0);
    fds_.push_back(s);
    socklen_t len;
    sockaddr_storage a = address(server(), port, &len);
    return sendto(s, "ping", 4, flags, reinterpret_cast<sockaddr*>(&a), len) == 4 ? 0 : errno;
  }

  std::unique_ptr<Datapath> dp_;
  SocketSandbox sandbox_;  // left after the sockets (fds_) close: declared first
  std::vector<bpf_link*> links_;
  struct Fds {
    std::vector<int> fds;
    void push_back(int fd) { fds.push_back(fd); }
    ~Fds() {
      for (int fd : fds) close(fd);
    }
  } fds_;
};

TEST_P(ProcessCallsTest, AConnectByAnExecutableTheRuleNamesGoesOnAndMarksItsSocket) {
  allowThisExecutable();
  listener(SOCK_STREAM, 5432);
  int s = -1;
  ASSERT_EQ(connectTo(5432, &s), 0);
  mb_process_sock mark{};
  uint64_t c = cookie(s);
  ASSERT_EQ(bpf_map_lookup_elem(dp_->mapFd("mb_process_socks"), &c, &mark), 0) << "the socket is marked";
  EXPECT_EQ(mark.endpoint, 7u);
  EXPECT_TRUE(dp_->events().empty());
}

TEST_P(ProcessCallsTest, AConnectByAnyOtherExecutableFailsWithEpermAndIsReported) {
  listener(SOCK_STREAM, 5432);
  int s = -1;
  EXPECT_EQ(connectTo(5432, &s), EPERM);
  mb_process_sock mark{};
  uint64_t c = cookie(s);
  EXPECT_NE(bpf_map_lookup_elem(dp_->mapFd("mb_process_socks"), &c, &mark), 0) << "a refused call marks nothing";
  EXPECT_EQ(dp_->rule(0).packets, 1u) << "counted under its rule (default deny)";
  std::vector<std::string> records = dp_->records();
  ASSERT_EQ(records.size(), 1u);
  ASSERT_GE(records[0].size(), sizeof(mb_process_event));
  mb_process_event ev;
  std::memcpy(&ev, records[0].data(), sizeof ev);
  EXPECT_EQ(ev.flow.kind, MB_EVENT_PROCESS_DENY);
  EXPECT_EQ(ev.flow.endpoint, 7u);
  EXPECT_EQ(ev.flow.proto, kTcp);
  EXPECT_EQ(ev.flow.dport, 5432);
  EXPECT_EQ(ev.flow.family, family() == 4 ? MB_FAMILY_V4 : MB_FAMILY_V6);
  EXPECT_EQ(ev.pid, uint32_t(getpid()));
  mb_process_exe_key self = selfExecutable();
  EXPECT_EQ(ev.exe_ino, self.ino);
  EXPECT_EQ(ev.exe_dev, self.dev);
  EXPECT_EQ(ev.exe_bits, 0u);
  char comm[16] = {};
  std::ifstream("/proc/thread-self/comm").getline(comm, sizeof comm);
  EXPECT_STREQ(ev.comm, comm);
}

TEST_P(ProcessCallsTest, UnconnectedUdpIsDecidedAtEverySendto) {
  listener(SOCK_DGRAM, 5353);
  EXPECT_EQ(sendTo(SOCK_DGRAM, 5353), EPERM);
  allowThisExecutable();
  EXPECT_EQ(sendTo(SOCK_DGRAM, 5353), 0);
}

TEST_P(ProcessCallsTest, TcpFastOpenGoesThroughTheConnectCall) {
  listener(SOCK_STREAM, 5432);
  EXPECT_EQ(sendTo(SOCK_STREAM, 5432, MSG_FASTOPEN), EPERM);
}

TEST_P(ProcessCallsTest, CallsThePacketDecisionDecidesAloneGoOn) {
  // Rule 11 (tcp/443) allows any executable; tcp/25 is denied by rule 10,
  // which the packet programs enforce and count (none run here).
  listener(SOCK_STREAM, 443);
  listener(SOCK_STREAM, 25);
  int s = -1;
  EXPECT_EQ(connectTo(443, &s), 0);
  EXPECT_EQ(connectTo(25), 0);
  EXPECT_TRUE(dp_->records().empty());
  uint64_t c = cookie(s);
  mb_process_sock mark{};
  EXPECT_NE(bpf_map_lookup_elem(dp_->mapFd("mb_process_socks"), &c, &mark), 0)
      << "the packet programs never ask about it: not marked";
}

TEST_P(ProcessCallsTest, TheGateRecordsTheFlowsOfSocketsTheCallsLetThrough) {
  allowThisExecutable();
  // A SYN that leaves by the veth (nobody answers: non-blocking).
  int s = socket(family() == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  fds_.push_back(s);
  socklen_t len;
  sockaddr_storage to = address(remote(), 5432, &len);
  ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&to), len) == 0 ? 0 : errno, EINPROGRESS);
  sockaddr_storage local{};
  len = sizeof local;
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&local), &len), 0);
  char source[INET6_ADDRSTRLEN] = {};
  uint16_t sport = 0;
  if (family() == 4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&local);
    inet_ntop(AF_INET, &a->sin_addr, source, sizeof source);
    sport = ntohs(a->sin_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&local);
    inet_ntop(AF_INET6, &a->sin6_addr, source, sizeof source);
    sport = ntohs(a->sin6_port);
  }
  mb_ct_key key = ctKey(source, sport, remote(), 5432, kTcp);
  uint64_t when = 0;
  EXPECT_EQ(bpf_map_lookup_elem(dp_->mapFd("mb_process_flows"), &key, &when), 0) << "the SYN's tuple is recorded";

  // Loopback never reaches tc: not recorded. Nor is a socket no process rule
  // decided, nor the server's side, which made no call.
  listener(SOCK_STREAM, 5432);
  listener(SOCK_STREAM, 443);
  ASSERT_EQ(connectTo(5432), 0);
  ASSERT_EQ(connectTo(443), 0);
  size_t recorded = 0;
  mb_ct_key k{}, next{};
  for (void* prev = nullptr; bpf_map_get_next_key(dp_->mapFd("mb_process_flows"), prev, &next) == 0; prev = &k) {
    k = next;
    ++recorded;
  }
  EXPECT_EQ(recorded, 1u) << "the SYN to the remote network alone";
}

// An IPv4 address in an IPv6 socket: run with the IPv4 setup alone.
class ProcessDualStackTest : public ProcessCallsTest {};

TEST_P(ProcessDualStackTest, ADualStackSocketCallingAnIpv4AddressIsDecidedAsIpv4) {
  listener(SOCK_STREAM, 5432);
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  fds_.push_back(s);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(5432);
  inet_pton(AF_INET6, "::ffff:198.18.7.1", &a.sin6_addr);
  EXPECT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno, EPERM);
  allowThisExecutable();
  int s2 = socket(AF_INET6, SOCK_STREAM, 0);
  fds_.push_back(s2);
  EXPECT_EQ(connect(s2, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno, 0);
}

INSTANTIATE_TEST_SUITE_P(IPv4, ProcessDualStackTest, ::testing::Values(4));
INSTANTIATE_TEST_SUITE_P(Families, ProcessCallsTest, ::testing::Values(4, 6),
                         [](const ::testing::TestParamInfo<int>& p) { return p.param == 4 ? "IPv4" : "IPv6"; });

}  // namespace
}  // namespace mbtest
