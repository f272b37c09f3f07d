// The node lock (runtime/loader/lock.h): commands that change the node never
// interleave; a second one waits, saying for whom, or gives up naming the
// holder; read-only commands do not wait. (The concurrent applies on real
// endpoints are in tests/e2e/enforcement_e2e.cpp.)
#include "loader/lock.h"

#include <gtest/gtest.h>

#include <csignal>

#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using namespace std::chrono_literals;
using loader::NodeLock;

TEST(NodeLock, ASecondHolderWaitsThenGivesUpNamingTheFirst) {
  testkit::ScratchDir dir{"membrane-test"};
  std::string error;
  auto first = NodeLock::acquire(dir.path().string(), "membrane apply /a --node n.json", 0ms, nullptr, &error);
  ASSERT_TRUE(first) << error;
  std::vector<std::string> told;
  auto start = std::chrono::steady_clock::now();
  auto second = NodeLock::acquire(
      dir.path().string(), "membrane detach", 300ms, [&](const std::string& m) { told.push_back(m); }, &error);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(second);
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 2s);
  std::string holder = "pid " + std::to_string(getpid()) + " (membrane apply /a --node n.json, since ";
  EXPECT_TRUE(Contains(error, "another membrane is changing this node: " + holder));
  EXPECT_TRUE(EndsWith(error, "); gave up after 0.3 s (--lock-timeout)"));
  ASSERT_EQ(told.size(), 1u) << "told once that it waits";
  EXPECT_TRUE(Contains(told[0], "waiting for " + holder));
  EXPECT_TRUE(EndsWith(told[0], ") to finish (up to 0.3 s)"));

  first.reset();
  EXPECT_EQ(NodeLock::holder(dir.path().string()), "") << "a released lock names nobody";
  EXPECT_TRUE(NodeLock::acquire(dir.path().string(), "membrane detach", 0ms, nullptr, &error)) << error;
}

// flock(2) locks go with their holder: a holder killed with SIGKILL leaves
// the node unlocked. (The holder here is util-linux `flock`, which writes
// no note: the waiter names the lock file instead.)
TEST(NodeLock, GoesWithAHolderThatIsKilled) {
  testkit::ScratchDir dir{"membrane-test"};
  std::string lockFile = NodeLock::lockPath(dir.path().string());
  e2e::Process holder = e2e::Topology::spawn("", {"flock", lockFile, "sh", "-c", "echo held; exec sleep 60"});
  ASSERT_TRUE(holder.waitForOutput("held", 5s));
  std::string error;
  EXPECT_FALSE(NodeLock::acquire(dir.path().string(), "membrane apply", 0ms, nullptr, &error));
  EXPECT_EQ(error, "another membrane is changing this node: a process holding " + lockFile +
                       "; gave up after 0 s (--lock-timeout)");
  holder.signal(SIGKILL);
  holder.wait(5s);
  EXPECT_TRUE(NodeLock::acquire(dir.path().string(), "membrane apply", 1s, nullptr, &error)) << error;
}

TEST(NodeLock, RefusesALockFileThatIsNotAFile) {
  testkit::ScratchDir dir{"membrane-test"};
  std::string lockFile = NodeLock::lockPath(dir.path().string());
  ASSERT_EQ(mkfifo(lockFile.c_str(), 0600), 0);
  std::string error;
  EXPECT_FALSE(NodeLock::acquire(dir.path().string(), "membrane apply", 0ms, nullptr, &error));
  EXPECT_EQ(error, "the lock '" + lockFile + "' is not a regular file");
  fs::remove(lockFile);
  fs::create_symlink(dir.path() / "elsewhere", lockFile);
  EXPECT_FALSE(NodeLock::acquire(dir.path().string(), "membrane apply", 0ms, nullptr, &error));
  EXPECT_TRUE(Contains(error, "cannot open the lock '" + lockFile + "': ")) << "a symlink is not followed";
}

// What the issue saw: two applies at once, both exit 0, and the node is left
// half one version, half the other. The second now waits for the first, or
// gives up, naming it.
TEST_F(ApplyTest, ASecondApplyGivesUpNamingTheHolder) {
  std::string error;
  auto held = NodeLock::acquire(paths.stateDir, "membrane apply /elsewhere --node other.json", 0ms, nullptr, &error);
  ASSERT_TRUE(held) << error;
  fs::path node = dir.path() / "node.json";
  writeText(node, R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": "/nonexistent"}]})");
  e2e::ExecResult r = membrane({"--lock-timeout", "0.3", "apply", artifacts.string(), "--node", node.string()});
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  std::string holder = "pid " + std::to_string(getpid()) + " (membrane apply /elsewhere --node other.json, since ";
  EXPECT_TRUE(Contains(r.err, "membrane: waiting for " + holder));
  EXPECT_TRUE(Contains(r.err, "membrane: error: another membrane is changing this node: " + holder));
  EXPECT_TRUE(Contains(r.err, "; gave up after 0.3 s (--lock-timeout)\n"));
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(fs::exists(paths.bpffsRoot)) << "gave up before touching anything";
}

TEST_F(ApplyTest, ASecondApplyWaitsForTheHolderThenApplies) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path));
  std::string error;
  auto held = NodeLock::acquire(paths.stateDir, "membrane endpoint add --name x", 0ms, nullptr, &error);
  ASSERT_TRUE(held) << error;
  fs::path node = dir.path() / "node.json";
  writeText(node, R"({"endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" + cg.path.string() + "\"}]}");
  std::vector<std::string> argv = globalOptions();
  argv.insert(argv.end(), {"--lock-timeout", "30", "apply", artifacts.string(), "--node", node.string()});
  e2e::Process second = e2e::Topology::spawn("", argv);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (second.running() && second.err().find("waiting for") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(Contains(second.err(), "membrane: waiting for pid " + std::to_string(getpid()) +
                                         " (membrane endpoint add --name x, since "));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(second.running()) << "it waits while the lock is held";
  EXPECT_TRUE(nothingApplied());
  held.reset();
  e2e::ExecResult r = second.wait(60s);
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_TRUE(Contains(r.err, "applied version "));
  EXPECT_FALSE(nothingApplied());
}

// apply, detach and endpoint add/remove hold the lock; status and events
// only read, and do not wait.
TEST_F(ApplyTest, EveryCommandThatChangesTheNodeTakesTheLockAndStatusDoesNot) {
  MB_REQUIRE_BPF();
  TestCgroup cg;
  ASSERT_TRUE(fs::exists(cg.path));
  std::string error;
  ASSERT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;
  auto held = NodeLock::acquire(paths.stateDir, "test", 0ms, nullptr, &error);
  ASSERT_TRUE(held) << error;
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"detach"},
        {"endpoint", "add", "--name", "late", "--namespace", "shop", "--label", "app=api", "--address", "198.18.9.9"},
        {"endpoint", "remove", "--name", "late", "--namespace", "shop"}}) {
    std::vector<std::string> args = {"--lock-timeout", "0"};
    args.insert(args.end(), command.begin(), command.end());
    e2e::ExecResult r = membrane(args);
    EXPECT_EQ(r.exitCode, 1) << command[0] << ": " << r.describe();
    EXPECT_TRUE(
        Contains(r.err, "another membrane is changing this node: pid " + std::to_string(getpid()) + " (test, since "))
        << command[0];
  }
  e2e::ExecResult status = membrane({"--lock-timeout", "0", "status"});
  EXPECT_EQ(status.exitCode, 0) << status.describe();
  e2e::ExecResult events = membrane({"--lock-timeout", "0", "events", "--timeout", "0.1"});
  EXPECT_EQ(events.exitCode, 0) << events.describe();
  EXPECT_FALSE(nothingApplied()) << "the refused detach changed nothing";
  held.reset();
  e2e::ExecResult detach = membrane({"--lock-timeout", "0", "detach"});
  EXPECT_EQ(detach.exitCode, 0) << detach.describe();
  EXPECT_TRUE(nothingApplied());
}

}  // namespace
}  // namespace membrane::testing
