// What a killed `apply` leaves, finished or undone by the next command that
// changes the node (recoverInterrupted in runtime/loader/loader.cpp;
// docs/runtime.md, "Killed commands"). A kill cannot be placed at one exact
// step in-process, so each test lays out the files and pins that a kill at
// that step leaves: after the flip (rolled forward) and before it (rolled
// back). With real kills on real traffic:
// Enforcement.AKilledCommandLeavesOneWholeVersionAndTheNextCommandFinishesIt.
#include <bpf/bpf.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loader/dispatch.h"
#include "loader/kernel.h"
#include "loader/pins.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using nlohmann::json;

class RecoveryTest : public ApplyTest {
 protected:
  TestCgroup cg;
  fs::path state() const { return fs::path(paths.stateDir); }
  void applyOrFail(const fs::path& artifactDir) {
    std::string error;
    ASSERT_TRUE(loader::apply(artifactDir.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;
  }
  std::string version() const { return json::parse(readText(state() / "state.json"))["version"]; }
  e2e::ExecResult endpointAdd() const {
    return membrane({"endpoint", "add", "--name", "late", "--namespace", "shop", "--label", "app=late", "--address",
                     "198.18.7.7"});
  }
};

TEST_F(RecoveryTest, AnApplyKilledAfterItsFlipIsCommittedByTheNextCommand) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyOrFail(artifacts);
  std::string v1State = readText(state() / "state.json"), v1Manifest = readText(state() / "manifest.json");
  json v1 = json::parse(v1State);
  fs::path out2 = dir.path() / "out2";
  compileShopTo(out2, "namespace shop\npolicy extra {\n  selects { app = api }\n  ingress { allow from host on tcp/9999 }\n}\n");
  applyOrFail(out2);
  json v2 = json::parse(readText(state() / "state.json"));
  std::string v2Manifest = readText(state() / "manifest.json");
  ASSERT_NE(v1["version"], v2["version"]);
  // A kill between the flip and the state's write: the node runs v2, the
  // state still says v1, and pending.json holds v2's state.
  writeText(state() / "state.json", v1State);
  writeText(state() / "manifest.json", v1Manifest);
  writeText(state() / "manifest.pending.json", v2Manifest);
  json pending = {{"phase", "flip"},
                  {"slot", loader::dispatch::activeSlot(paths.bpffsRoot)},
                  {"loads", v2["loads"]},
                  {"previousLoads", v1["loads"]},
                  {"version", v2["version"]},
                  {"tcInterfaces", json::array()},
                  {"state", v2}};
  writeText(state() / "pending.json", pending.dump());

  e2e::ExecResult before = membrane({"status"});
  EXPECT_EQ(before.exitCode, 3) << before.describe();
  EXPECT_TRUE(Contains(before.out, "an apply of version " + v2["version"].get<std::string>() +
                                        " was interrupted (after its flip: the node runs it); the next apply, "
                                        "endpoint add or endpoint remove finishes it"))
      << before.out;

  e2e::ExecResult added = endpointAdd();
  ASSERT_EQ(added.exitCode, 0) << added.describe();
  EXPECT_EQ(version(), v2["version"]) << "rolled forward: the state names the version the node runs";
  EXPECT_EQ(readText(state() / "manifest.json"), v2Manifest);
  EXPECT_FALSE(fs::exists(state() / "pending.json"));
  EXPECT_FALSE(fs::exists(state() / "manifest.pending.json"));
  e2e::ExecResult after = membrane({"status"});
  EXPECT_EQ(after.exitCode, 0) << after.describe();
  // The endpoint went into the trie of the version that runs.
  EXPECT_TRUE(Contains(after.out, "shop/late")) << after.out;
}

TEST_F(RecoveryTest, AnApplyKilledBeforeItsFlipIsUndoneByTheNextCommand) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyOrFail(artifacts);
  std::string v1 = version();
  uint32_t active = loader::dispatch::activeSlot(paths.bpffsRoot);
  uint32_t filling = loader::dispatch::otherSlot(active);
  // A kill after attaching: its version's directory, a program in the slot
  // packets do not follow, a link and an entry for an endpoint the state
  // does not list.
  std::string killed = "feedfacefeedface";
  ASSERT_EQ(mkdir((paths.bpffsRoot + "/versions/" + killed).c_str(), 0700), 0);
  loader::Fd classProgram(bpf_prog_get_fd_by_id(loader::dispatch::programAt(paths.bpffsRoot, "cg-in", active, 0)));
  ASSERT_GE(classProgram.fd, 0);
  std::string error;
  ASSERT_TRUE(loader::dispatch::setProgram(paths.bpffsRoot, "cg-in", filling, 0, classProgram.fd, &error)) << error;
  TestCgroup stray("-stray");
  loader::Fd dispatcher = loader::dispatch::program(paths.bpffsRoot, "cg-in");
  std::string why;
  int link = loader::attachCgroup(dispatcher.fd, stray.path.string(), true, &why);
  ASSERT_GE(link, 0) << why;
  std::string strayPin = paths.bpffsRoot + "/links/" + loader::linkPinName("shop", "stray-0", "cg-in");
  ASSERT_EQ(bpf_obj_pin(link, strayPin.c_str()), 0);
  close(link);
  loader::Fd endpoints(bpf_obj_get((paths.bpffsRoot + "/maps/mb_endpoints").c_str()));
  mb_endpoint_key strayKey{MB_ENDPOINT_BY_CGROUP, 0, loader::cgroupId(stray.path.string())};
  mb_endpoint_entry strayEntry{};
  strayEntry.slot[active] = {0, MB_LOAD_NONE};
  strayEntry.slot[filling] = {99, 0};
  ASSERT_EQ(bpf_map_update_elem(endpoints.fd, &strayKey, &strayEntry, BPF_ANY), 0);
  json pending = {{"phase", "fill"}, {"slot", filling},    {"loads", 1},
                  {"previousLoads", 0}, {"version", killed}, {"tcInterfaces", json::array()},
                  {"state", nullptr}};
  writeText(state() / "pending.json", pending.dump());

  e2e::ExecResult before = membrane({"status"});
  EXPECT_EQ(before.exitCode, 3) << before.describe();
  EXPECT_TRUE(Contains(before.out, "an apply of version " + killed + " was interrupted (before its flip: the node runs "
                                                                     "version " + v1 + ")"))
      << before.out;

  e2e::ExecResult added = endpointAdd();
  ASSERT_EQ(added.exitCode, 0) << added.describe();
  EXPECT_EQ(version(), v1) << "rolled back: the state's version still runs";
  EXPECT_FALSE(fs::exists(state() / "pending.json"));
  EXPECT_FALSE(fs::exists(paths.bpffsRoot + "/versions/" + killed));
  EXPECT_FALSE(fs::exists(strayPin)) << "the link of an endpoint the state does not list is gone";
  EXPECT_EQ(loader::dispatch::programAt(paths.bpffsRoot, "cg-in", filling, 0), 0u) << "the filled slot is empty";
  EXPECT_NE(bpf_map_lookup_elem(endpoints.fd, &strayKey, &strayEntry), 0) << "and so is the stray entry";
  e2e::ExecResult after = membrane({"status"});
  EXPECT_EQ(after.exitCode, 0) << after.describe();
}

// An endpoint join in place (its class's load runs already) killed after
// attaching its hooks, before its state is written: a real kill of a child
// process at that step. The next command removes what it added.
TEST_F(RecoveryTest, AnEndpointJoinKilledInPlaceIsUndoneByTheNextCommand) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  // postgres-0's class has L3/L4 rules only: its load is shared.
  TestCgroup db("-db"), second("-second");
  std::string error;
  ASSERT_TRUE(loader::apply(artifacts.string(),
                            cgroupNode(cg.path.string(), R"({"name": "postgres-0", "namespace": "shop", "cgroup": ")" +
                                                             db.path.string() + "\"}"),
                            paths, nullptr, &error))
      << error;
  std::string stateBefore = readText(state() / "state.json");
  loader::NodeEndpoint e;
  e.name = "postgres-1";
  e.ns = "shop";
  e.labels = labels::LabelSet{{"app", "postgres"}, {"tier", "data"}};
  e.addresses = {*net::Address::parse("198.18.7.8")};
  e.ports = {{"postgres", 6, 5432}};
  e.cgroup = second.path.string();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    loader::Paths killedPaths = paths;
    killedPaths.afterAttachForTesting = [] { _exit(9); };
    bool joined = loader::endpointJoin(e, killedPaths, nullptr, &error);
    fprintf(stderr, "the join returned %s: %s\n", joined ? "true" : "false", error.c_str());
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 9) << "the join did not reach the step after attaching";
  std::string pin = paths.bpffsRoot + "/links/" + loader::linkPinName("shop", "postgres-1", "cg-in");
  ASSERT_TRUE(fs::exists(pin));
  ASSERT_TRUE(fs::exists(state() / "pending.json"));
  EXPECT_EQ(readText(state() / "state.json"), stateBefore);
  loader::Fd endpoints(bpf_obj_get((paths.bpffsRoot + "/maps/mb_endpoints").c_str()));
  mb_endpoint_key key{MB_ENDPOINT_BY_CGROUP, 0, loader::cgroupId(second.path.string())};
  mb_endpoint_entry entry{};
  ASSERT_EQ(bpf_map_lookup_elem(endpoints.fd, &key, &entry), 0) << "the join added no entry: not in place?";

  e2e::ExecResult before = membrane({"status"});
  EXPECT_EQ(before.exitCode, 3) << before.describe();
  EXPECT_TRUE(Contains(before.out, "an endpoint join or leave was interrupted")) << before.out;

  e2e::ExecResult left = membrane({"endpoint", "leave", "--name", "nobody", "--namespace", "shop"});
  ASSERT_EQ(left.exitCode, 0) << left.describe();
  EXPECT_FALSE(fs::exists(state() / "pending.json"));
  EXPECT_FALSE(fs::exists(pin)) << "the killed join's link is gone";
  EXPECT_NE(bpf_map_lookup_elem(endpoints.fd, &key, &entry), 0) << "and so is its entry";
  e2e::ExecResult after = membrane({"status"});
  EXPECT_EQ(after.exitCode, 0) << after.describe();
  EXPECT_FALSE(Contains(after.out, "198.18.7.8")) << after.out;
  EXPECT_EQ(readText(state() / "state.json"), stateBefore);
}

// A detach killed after its first step: pending.json says a detach runs,
// and the dispatchers pass everything (MB_SLOT_DETACHED). The next command
// finishes the detach before its own work.
TEST_F(RecoveryTest, ADetachKilledMidwayIsFinishedByTheNextCommand) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyOrFail(artifacts);
  std::string error;
  ASSERT_TRUE(loader::dispatch::activate(paths.bpffsRoot, MB_SLOT_DETACHED, &error)) << error;
  writeText(state() / "pending.json", json({{"phase", "detach"}, {"slot", 0}, {"loads", 0}, {"previousLoads", 0},
                                            {"version", ""}, {"tcInterfaces", json::array()}, {"state", nullptr}})
                                          .dump());
  e2e::ExecResult before = membrane({"status"});
  EXPECT_EQ(before.exitCode, 3) << before.describe();
  EXPECT_TRUE(Contains(before.out, "a detach was interrupted")) << before.out;
  e2e::ExecResult added = endpointAdd();
  EXPECT_EQ(added.exitCode, 1) << "the detach is finished first, and then nothing is applied: " << added.describe();
  EXPECT_TRUE(nothingApplied());
  EXPECT_FALSE(fs::exists(state() / "pending.json"));
  EXPECT_TRUE(fs::is_empty(paths.bpffsRoot) || !fs::exists(paths.bpffsRoot + "/links")) << "links are gone";
  applyOrFail(artifacts);  // and the node can be enforced again
  e2e::ExecResult after = membrane({"status"});
  EXPECT_EQ(after.exitCode, 0) << after.describe();
}

// pending.json is read as strictly as state.json: one that cannot be read
// stops every command that changes the node, saying what to do.
TEST_F(RecoveryTest, APendingFileThatCannotBeReadStopsTheNextCommand) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyOrFail(artifacts);
  writeText(state() / "pending.json", R"({"phase": "flip", "phase": "fill"})");
  e2e::ExecResult added = endpointAdd();
  EXPECT_EQ(added.exitCode, 1) << added.describe();
  EXPECT_TRUE(Contains(added.err, "unreadable " + (state() / "pending.json").string() + ": ")) << added.err;
  EXPECT_TRUE(Contains(added.err, "; remove it, or run membrane detach")) << added.err;
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error));
  EXPECT_TRUE(Contains(error, "pending.json")) << error;
}

}  // namespace
}  // namespace membrane::testing
