// Process-aware rules on real traffic (issue #16, docs/process.md): which
// executable inside a pod may open a connection or send a datagram. The
// "api" pod runs two real Debian programs: its service, a copy of python3
// at /opt/app/server in the pod's root (NODE.json "root", a directory here),
// and a shell (bash, and the machine's own /usr/bin/python3) such as
// `kubectl exec` or an attacker would use. The "db" pod serves TCP and UDP.
//   - the service connects and sends; the shell's calls fail with EPERM, on
//     TCP connect, UDP sendto without connect and TCP Fast Open alike, and
//     every verdict equals the evaluator's for that executable;
//   - a rule without a process condition lets every executable through;
//   - a raw socket (no call the hooks see) is dropped by the packet programs
//     and counted as process-unapproved;
//   - a new file put at the service's path is refused until the next apply;
//   - `membrane events` names the refused executable, its pid and pod.
// Each test runs with the packet programs on the veth (tc, with the process
// gate on the cgroup) and on the cgroup alone (cgroup_skb).
//
// Label e2e.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cluster.h"
#include "evaluator/evaluator.h"
#include "topology.h"

namespace membrane::e2e {
namespace {

namespace fs = std::filesystem;

const char* kPolicy = R"(
namespace e2e
policy api {
  selects { app = api }
  egress {
    allow to pods { app = db } on tcp/5432, udp/5353 with process { exe "/opt/app/server" }
    allow to pods { app = db } on tcp/8080
  }
}
)";

// One call from python: prints "ok", or the errno's name ("EPERM", ...), or
// "timeout". `kind`: tcp (connect, send, read the echo), udp (sendto without
// connect, read the echo), tfo (sendto with MSG_FASTOPEN).
const char* kCall = R"(
import errno, socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
try:
    if kind == 'tcp':
        s = socket.create_connection((host, port), timeout=3)
        s.sendall(b'ping\n'); s.recv(16)
    elif kind == 'udp':
        s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(3)
        s.sendto(b'ping', (host, port)); s.recv(16)
    elif kind == 'tfo':
        s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(3)
        s.sendto(b'ping\n', socket.MSG_FASTOPEN, (host, port)); s.recv(16)
    print('ok')
except socket.timeout:
    print('timeout')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
)";

std::string realPython() {
  std::error_code ec;
  fs::path p = fs::canonical("/usr/bin/python3", ec);
  return ec ? "" : p.string();
}

class ProcessEnforcement : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    MB_REQUIRE_ROOT();
    python_ = realPython();
    ASSERT_FALSE(python_.empty()) << "python3 is missing: run scripts/setup.sh";
    cluster_ = std::make_unique<Cluster>(std::vector<std::tuple<std::string, std::string, labels::LabelSet>>{
        {"e2e", "api", {{"app", "api"}}}, {"e2e", "db", {{"app", "db"}}}});
    if (!cluster_->topology().cgroupUnavailable().empty()) {
      if (runningInCi()) FAIL() << "no cgroup v2: " << cluster_->topology().cgroupUnavailable();
      GTEST_SKIP() << "no cgroup v2: " << cluster_->topology().cgroupUnavailable();
    }
    cluster_->cgroupsOnly = GetParam();
    api_ = cluster_->members()[0].pod;
    db_ = cluster_->members()[1].pod;
    // The api pod's root, with its service: a real python3 at its own path.
    root_ = cluster_->workDir() / "api-root";
    fs::create_directories(root_ / "opt/app");
    installService(python_);
    cluster_->setRoot("e2e", "api", root_.string());
    server_ = db_->spawn({proberPath(), "serve", "--tcp", "5432,8080", "--udp", "5353"});
    ASSERT_TRUE(server_.waitForOutput("ready", Millis(3000))) << server_.err();
    artifacts_ = cluster_->compile(kPolicy, "process");
    ASSERT_FALSE(artifacts_.empty());
    ExecResult applied = cluster_->apply(artifacts_);
    ASSERT_TRUE(applied.succeeded()) << applied.describe();
  }

  // Puts a copy of `source` at the service's path as a package update would:
  // written beside it, then renamed over it (a new inode).
  void installService(const std::string& source) {
    fs::path tmp = root_ / "opt/app/.server.new";
    fs::copy_file(source, tmp, fs::copy_options::overwrite_existing);
    fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    fs::rename(tmp, root_ / "opt/app/server");
  }

  std::string service() const { return (root_ / "opt/app/server").string(); }

  // A python call by `interpreter` in the api pod: its outcome line.
  std::string call(const std::string& interpreter, const std::string& kind, const std::string& host, int port) {
    ExecResult r = api_->exec({interpreter, "-c", kCall, kind, host, std::to_string(port)}, Millis(15000));
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out.empty() ? "no output: " + r.describe() : out;
  }

  // What the evaluator says of a call by `executable` (as the policy names
  // it, i.e. in the pod's root) to the db pod.
  bool evaluatorAllows(const std::string& executable, uint8_t protocol, uint16_t port) {
    const auto& program = cluster_->program();
    ir::Traffic t(protocol, port);
    t.executable = executable;
    ir::FlowEnd src(program.findEndpoint("e2e", "api"), *net::Address::parse(api_->address4()));
    ir::FlowEnd dst(program.findEndpoint("e2e", "db"), *net::Address::parse(db_->address4()));
    return ir::evaluateFlow(program, src, dst, t).allowed();
  }

  uint64_t reason(const std::string& name) {
    ExecResult r = cluster_->run({"status", "-o", "json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("reasons") || !j["reasons"].contains(name)) return 0;
    return j["reasons"][name].get<uint64_t>();
  }

  std::unique_ptr<Cluster> cluster_;
  Pod* api_ = nullptr;
  Pod* db_ = nullptr;
  fs::path root_, artifacts_;
  std::string python_;
  Process server_;
};

TEST_P(ProcessEnforcement, TheServiceConnectsAndTheShellGetsEperm) {
  const std::string db = db_->address4();
  struct Case {
    std::string who, executable, kind;
    int port;
    std::string want;
  };
  const std::vector<Case> cases = {
      {service(), "/opt/app/server", "tcp", 5432, "ok"},
      {python_, python_, "tcp", 5432, "EPERM"},
      {service(), "/opt/app/server", "udp", 5353, "ok"},
      {python_, python_, "udp", 5353, "EPERM"},
      {python_, python_, "tfo", 5432, "EPERM"},
      // A rule without a process condition: any executable.
      {python_, python_, "tcp", 8080, "ok"},
      {service(), "/opt/app/server", "tcp", 8080, "ok"},
  };
  for (const auto& c : cases) {
    uint8_t protocol = c.kind == "udp" ? ir::kUDP : ir::kTCP;
    EXPECT_EQ(call(c.who, c.kind, db, c.port), c.want) << c.executable << " " << c.kind << "/" << c.port;
    EXPECT_EQ(evaluatorAllows(c.executable, protocol, static_cast<uint16_t>(c.port)), c.want == "ok")
        << "the evaluator disagrees on " << c.executable << " " << c.kind << "/" << c.port;
  }
  // IPv6 takes the same path.
  EXPECT_EQ(call(service(), "tcp", db_->address6(), 5432), "ok");
  EXPECT_EQ(call(python_, "tcp", db_->address6(), 5432), "EPERM");
  // bash, with its /dev/tcp: connect() fails at once.
  ExecResult bash = api_->exec({"bash", "-c", "exec 3<>/dev/tcp/" + db + "/5432 && echo connected"});
  EXPECT_FALSE(bash.succeeded()) << bash.describe();
  EXPECT_NE(bash.err.find("Operation not permitted"), std::string::npos) << bash.describe();
}

TEST_P(ProcessEnforcement, ARawSocketCannotStandInForTheService) {
  uint64_t before = reason("process-unapproved");
  // TCP SYNs to the process-only port from a raw socket, from the pod's own
  // address: the socket calls never see them.
  ExecResult spoof = api_->exec({proberPath(), "spoof", "tcp", api_->address4(), db_->address4(), "5432", "--count", "5"});
  if (GetParam()) {
    // On the cgroup the drop happens inside the sending call: the raw
    // socket's first sendto fails, and the prober stops there.
    EXPECT_NE(spoof.err.find("Operation not permitted"), std::string::npos) << spoof.describe();
    EXPECT_GE(reason("process-unapproved") - before, 1u) << "the SYN is dropped as process-unapproved";
  } else {
    ASSERT_TRUE(spoof.succeeded()) << spoof.describe();
    EXPECT_GE(reason("process-unapproved") - before, 5u) << "every SYN is dropped as process-unapproved";
  }
  // The port itself works for the service.
  EXPECT_EQ(call(service(), "tcp", db_->address4(), 5432), "ok");
}

TEST_P(ProcessEnforcement, ANewFileAtTheServicesPathIsRefusedUntilTheNextApply) {
  ASSERT_EQ(call(service(), "tcp", db_->address4(), 5432), "ok");
  // The same program, but a new file: (device, inode) changed.
  installService(python_);
  EXPECT_EQ(call(service(), "tcp", db_->address4(), 5432), "EPERM");
  ExecResult applied = cluster_->apply(artifacts_);
  ASSERT_TRUE(applied.succeeded()) << applied.describe();
  EXPECT_EQ(call(service(), "tcp", db_->address4(), 5432), "ok");
}

TEST_P(ProcessEnforcement, EventsNameTheRefusedExecutableItsPidAndPod) {
  Process events = Topology::spawn("", {MEMBRANE_BIN, "--netns", cluster_->topology().hostNamespace(), "--bpffs",
                                        (cluster_->workDir() / "bpf").string(), "--state-dir",
                                        (cluster_->workDir() / "state").string(), "events", "-o", "json",
                                        "--timeout", "3", "--backlog"});
  // A shell that stays alive while the event is read: its /proc/PID/exe
  // names the executable. (--backlog: the reader may start after the call;
  // this node's ring holds nothing else.)
  // (`true`, not `exec`: a failed redirection of `exec` ends the shell; and
  // not `sleep` last, which bash would exec in its own place.)
  Process shell = api_->spawn({"bash", "-c", "true 3<>/dev/tcp/" + db_->address4() + "/5432; sleep 10; true"});
  ExecResult got = events.wait(Millis(15000));
  shell.stop();
  ASSERT_TRUE(got.succeeded()) << got.describe();
  // The ring also holds the pods' own start-up traffic (IPv6 multicast
  // listener reports, denied): the first process event is the shell's.
  nlohmann::json j;
  std::istringstream lines(got.out);
  for (std::string line; std::getline(lines, line);) {
    auto e = nlohmann::json::parse(line, nullptr, false);
    if (!e.is_discarded() && e.value("kind", "").rfind("process-", 0) == 0) {
      j = e;
      break;
    }
  }
  ASSERT_FALSE(j.is_null()) << got.out;
  EXPECT_EQ(j["kind"], "process-deny");
  EXPECT_EQ(j["endpoint"], "e2e/api");
  EXPECT_EQ(j["dst"]["address"], db_->address4());
  EXPECT_EQ(j["dst"]["port"], 5432);
  EXPECT_EQ(j["process"]["pid"].get<int>(), shell.pid());
  std::error_code ec;
  EXPECT_EQ(j["process"]["executable"], fs::canonical("/usr/bin/bash", ec).string());
  EXPECT_EQ(j["process"]["command"], "bash");
}

// An endpoint on its veth whose NODE.json entry gains a cgroup (to take
// process rules) keeps its tc links: they are swapped in place, never
// detached and attached again (which would leave the veth without a program
// for a moment).
TEST(ProcessNode, AnInterfaceEndpointThatGainsACgroupSwapsItsTcLinksInPlace) {
  MB_REQUIRE_ROOT();
  Cluster cluster({{"e2e", "api", {{"app", "api"}}}, {"e2e", "db", {{"app", "db"}}}});
  if (!cluster.topology().cgroupUnavailable().empty()) {
    if (runningInCi()) FAIL() << "no cgroup v2: " << cluster.topology().cgroupUnavailable();
    GTEST_SKIP() << "no cgroup v2: " << cluster.topology().cgroupUnavailable();
  }
  auto plain = cluster.compile(
      "namespace e2e\npolicy api {\n  selects { app = api }\n  egress {\n    allow to pods { app = db } on tcp/5432\n  }\n}\n",
      "plain");
  ASSERT_FALSE(plain.empty());
  cluster.withoutCgroups = true;
  ExecResult first = cluster.apply(plain);
  ASSERT_TRUE(first.succeeded()) << first.describe();
  EXPECT_NE(first.err.find("4 links attached, 0 swapped"), std::string::npos) << first.err;

  auto process = cluster.compile(kPolicy, "process");
  ASSERT_FALSE(process.empty());
  cluster.withoutCgroups = false;
  ExecResult second = cluster.apply(process);
  ASSERT_TRUE(second.succeeded()) << second.describe();
  // The api's four socket calls and its gate are new; both pods' tc-from and
  // tc-to are swapped.
  EXPECT_NE(second.err.find("5 links attached, 4 swapped"), std::string::npos) << second.err;
}

INSTANTIATE_TEST_SUITE_P(PacketPrograms, ProcessEnforcement, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "OnTheCgroup" : "OnTheVeth"; });

}  // namespace
}  // namespace membrane::e2e
