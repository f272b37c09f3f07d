// `membrane status` tells what the kernel runs, not only what was recorded:
// a hook whose link is gone is NOT-ATTACHED, one running another program
// DIFFERS, one attached although the state says nothing runs there is
// UNEXPECTED, and any of these makes it exit 3, in the table and in JSON.
// And `apply` reads every hook back after attaching, and rolls back when one
// does not run what it loaded.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loader/dispatch.h"
#include "loader/pins.h"
#include "runtime_test_support.h"

namespace membrane::testing {
namespace {

using nlohmann::json;

class StatusTest : public ApplyTest {
 protected:
  TestCgroup cg;

  std::string pin(const std::string& ns, const std::string& name, const std::string& hook) const {
    return paths.bpffsRoot + "/links/" + loader::linkPinName(ns, name, hook);
  }
  uint32_t programAt(const std::string& pinPath) const {
    int fd = bpf_obj_get(pinPath.c_str());
    if (fd < 0) return 0;
    bpf_link_info info{};
    uint32_t len = sizeof info;
    uint32_t id = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.prog_id : 0;
    close(fd);
    return id;
  }
  // The class program a dispatched hook's dispatcher hands its packets to
  // (`load`: the endpoint's, from state.json).
  uint32_t handedTo(const std::string& hook, uint32_t load) const {
    return loader::dispatch::programAt(paths.bpffsRoot, hook, loader::dispatch::activeSlot(paths.bpffsRoot), load);
  }
  uint32_t loadOf(const std::string& key) const {
    json state = json::parse(readText(fs::path(paths.stateDir) / "state.json"));
    for (const auto& e : state["endpoints"])
      if (e["key"] == key) return e["load"].get<uint32_t>();
    ADD_FAILURE() << key << " has no load";
    return 0;
  }
  // The binary's status, in JSON (and its exit code).
  json statusJson(int* exitCode) const {
    e2e::ExecResult r = membrane({"status", "-o", "json"});
    *exitCode = r.exitCode;
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.describe();
    return j;
  }
  void applyShop(const fs::path& artifactDir, const loader::NodeConfig& node) {
    std::string error;
    ASSERT_TRUE(loader::apply(artifactDir.string(), node, paths, nullptr, &error)) << error;
  }
  // Programs of the same kinds from elsewhere: the shop applied by another
  // node's state on another cgroup, with a bpffs of its own; gone with it.
  struct Elsewhere {
    TestCgroup cg{"-other"};
    testkit::ScratchDir dir{"membrane-test"};
    loader::Paths paths;
    explicit Elsewhere(const fs::path& artifacts) {
      paths.bpffsRoot = (dir.path() / "bpf").string();
      paths.stateDir = (dir.path() / "state").string();
      std::string error;
      EXPECT_TRUE(loader::apply(artifacts.string(), cgroupNode(cg.path.string()), paths, nullptr, &error)) << error;
    }
    ~Elsewhere() {
      std::string error;
      loader::detachAll(paths, &error);
      umount2(paths.bpffsRoot.c_str(), MNT_DETACH);
    }
  };
};

TEST_F(StatusTest, SaysNothingIsAttachedOnceTheBpffsIsGone) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyShop(artifacts, cgroupNode(cg.path.string()));
  e2e::ExecResult before = membrane({"status"});
  EXPECT_EQ(before.exitCode, 0) << before.describe();
  // The hook runs the node's dispatcher; status names the class program it
  // hands the endpoint's packets to.
  EXPECT_EQ(programAt(pin("shop", "api-0", "cg-in")), loader::dispatch::programId(paths.bpffsRoot, "cg-in"));
  uint32_t cgIn = handedTo("cg-in", loadOf("shop/api-0"));
  ASSERT_NE(cgIn, 0u);
  EXPECT_TRUE(Contains(before.out, "cg-in=" + std::to_string(cgIn) + " cg-out="));
  EXPECT_FALSE(Contains(before.out, "NOT AS APPLIED"));

  // Every pin goes with the mount, and with them the links: traffic is open.
  ASSERT_EQ(umount2(paths.bpffsRoot.c_str(), MNT_DETACH), 0);
  e2e::ExecResult after = membrane({"status"});
  EXPECT_EQ(after.exitCode, 3) << after.describe();
  EXPECT_TRUE(Contains(after.out, "shop/api-0                       1      " + cg.path.string() +
                                      " cg-in=NOT-ATTACHED cg-out=NOT-ATTACHED connect4=NOT-ATTACHED"));
  EXPECT_TRUE(Contains(after.out, "NOT AS APPLIED: the kernel does not run what version "));
  EXPECT_TRUE(
      Contains(after.out, "  shop/api-0 cg-in: not attached: no link pinned at " + pin("shop", "api-0", "cg-in")));
  EXPECT_TRUE(Contains(after.out, ": its identity map is not pinned at "));
  // The six hooks' links (cg-in, cg-out and the api's four socket calls), and the trie.
  EXPECT_TRUE(Contains(after.err, "membrane: status: the kernel does not run what was applied (7 differences)"));

  int rc = 0;
  json j = statusJson(&rc);
  EXPECT_EQ(rc, 3);
  EXPECT_EQ(j["asApplied"], false);
  EXPECT_EQ(j["problems"].size(), 7u);
  EXPECT_EQ(j["endpoints"][0]["programs"]["cg-in"], 0);
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-in"]["state"], "not attached");
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-in"]["applied"], cgIn);
}

TEST_F(StatusTest, SaysALinkUnpinnedBehindItsBackIsNotAttached) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyShop(artifacts, cgroupNode(cg.path.string()));
  uint32_t cgOut = handedTo("cg-out", loadOf("shop/api-0"));
  ASSERT_EQ(unlink(pin("shop", "api-0", "cg-in").c_str()), 0);
  e2e::ExecResult r = membrane({"status"});
  EXPECT_EQ(r.exitCode, 3) << r.describe();
  EXPECT_TRUE(Contains(r.out, " cg-in=NOT-ATTACHED cg-out=" + std::to_string(cgOut) + " connect4="));
  int rc = 0;
  json j = statusJson(&rc);
  EXPECT_EQ(rc, 3);
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-out"]["state"], "ok");
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-in"]["state"], "not attached");
  EXPECT_EQ(j["problems"].size(), 1u) << j["problems"];
}

TEST_F(StatusTest, SaysWhenAProgramWasSwappedBehindItsBack) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyShop(artifacts, cgroupNode(cg.path.string()));
  Elsewhere other(artifacts);
  uint32_t dispatcher = programAt(pin("shop", "api-0", "cg-in"));
  uint32_t applied = handedTo("cg-in", loadOf("shop/api-0"));
  // The other node's dispatcher: the same code, another program.
  uint32_t foreign = programAt(other.paths.bpffsRoot + "/links/" + loader::linkPinName("shop", "api-0", "cg-in"));
  ASSERT_NE(foreign, 0u);
  int link = bpf_obj_get(pin("shop", "api-0", "cg-in").c_str());
  int prog = bpf_prog_get_fd_by_id(foreign);
  ASSERT_GE(link, 0);
  ASSERT_GE(prog, 0);
  ASSERT_EQ(bpf_link_update(link, prog, nullptr), 0) << std::strerror(errno);
  close(link);
  close(prog);

  e2e::ExecResult r = membrane({"status"});
  EXPECT_EQ(r.exitCode, 3) << r.describe();
  EXPECT_TRUE(Contains(r.out, " cg-in=" + std::to_string(foreign) + "(DIFFERS) cg-out="));
  EXPECT_TRUE(Contains(r.out, "  shop/api-0 cg-in: differs: runs program " + std::to_string(foreign) +
                                  ", not the node's dispatcher (program " + std::to_string(dispatcher) + ")\n"));
  int rc = 0;
  json j = statusJson(&rc);
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-in"]["state"], "differs");
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-in"]["program"], foreign);
  EXPECT_EQ(j["endpoints"][0]["hooks"]["cg-in"]["applied"], applied);
}

// Behind the dispatcher: the class program in its prog array replaced by
// another one is what status reports for the hook.
TEST_F(StatusTest, SaysWhenTheProgramADispatcherHandsPacketsToWasSwapped) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  applyShop(artifacts, cgroupNode(cg.path.string()));
  uint32_t load = loadOf("shop/api-0");
  uint32_t applied = handedTo("cg-in", load);
  // Another class program of the same kind (the endpoint's own cg-out one
  // will not do: another attach type): the same object's, loaded elsewhere.
  uint32_t active = loader::dispatch::activeSlot(paths.bpffsRoot);
  loader::Fd progs(bpf_obj_get((paths.bpffsRoot + "/maps/" MB_MAP_DISPATCH_CG_IN).c_str()));
  ASSERT_GE(progs.fd, 0);
  Elsewhere other(artifacts);
  uint32_t foreign = loader::dispatch::programAt(other.paths.bpffsRoot, "cg-in",
                                                 loader::dispatch::activeSlot(other.paths.bpffsRoot), load);
  ASSERT_NE(foreign, 0u);
  loader::Fd prog(bpf_prog_get_fd_by_id(foreign));
  uint32_t key = active * MB_LOADS_MAX + load;
  ASSERT_EQ(bpf_map_update_elem(progs.fd, &key, &prog.fd, BPF_ANY), 0) << std::strerror(errno);

  e2e::ExecResult r = membrane({"status"});
  EXPECT_EQ(r.exitCode, 3) << r.describe();
  EXPECT_TRUE(Contains(r.out, " cg-in=" + std::to_string(foreign) + "(DIFFERS) cg-out="));
  EXPECT_TRUE(Contains(r.out, "  shop/api-0 cg-in: differs: runs program " + std::to_string(foreign) +
                                  ", not program " + std::to_string(applied) + " that apply attached\n"));
}

// An apply killed after attaching and before writing its state leaves the
// previous version's state over the new version's programs. Restoring the
// previous state files stands in for that kill.
TEST_F(StatusTest, SaysWhenAnotherVersionRunsThanTheStateRecords) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  std::string prometheus =
      R"({"name": "prometheus-0", "namespace": "monitoring", "cgroup": ")" + cg.path.string() + "/prom\"}";
  fs::create_directory(cg.path / "prom");
  struct RemoveDir {
    fs::path p;
    ~RemoveDir() { rmdir(p.c_str()); }
  } removeProm{cg.path / "prom"};
  loader::NodeConfig node = cgroupNode(cg.path.string(), prometheus);
  applyShop(artifacts, node);
  fs::path state = fs::path(paths.stateDir);
  std::string v1State = readText(state / "state.json"), v1Manifest = readText(state / "manifest.json");

  // Version 2 also selects prometheus-0, which runs the open class in version 1.
  fs::path v2 = dir.path() / "out2";
  compileShopTo(
      v2, "namespace monitoring\npolicy scraped {\n  selects { app = prometheus }\n  ingress { allow from all }\n}\n");
  loader::ApplyReport report;
  std::string error;
  ASSERT_TRUE(loader::apply(v2.string(), node, paths, &report, &error)) << error;
  writeText(state / "state.json", v1State);
  writeText(state / "manifest.json", v1Manifest);

  e2e::ExecResult r = membrane({"status"});
  EXPECT_EQ(r.exitCode, 3) << r.describe();
  uint32_t running = programAt(pin("shop", "api-0", "cg-in"));
  EXPECT_TRUE(Contains(r.out, " cg-in=" + std::to_string(running) + "(DIFFERS) "));
  EXPECT_TRUE(Contains(r.out, "shop/api-0 cg-in: differs: runs program " + std::to_string(running) + " (of version " +
                                  report.version + "), not program "));
  uint32_t scraped = programAt(pin("monitoring", "prometheus-0", "cg-in"));
  ASSERT_NE(scraped, 0u);
  EXPECT_TRUE(Contains(r.out, "/prom cg-in=" + std::to_string(scraped) + "(DIFFERS) cg-out="))
      << "the endpoint shows what the kernel runs, not the open class of the state";
  EXPECT_FALSE(Contains(r.out, "(unrestricted)"));
  EXPECT_TRUE(Contains(r.out, "monitoring/prometheus-0 cg-in: differs: runs program " + std::to_string(scraped) +
                                  " (of version " + report.version + "), not program "));
}

// apply's own check: after attaching it reads every hook back through its
// pin, and rolls everything back when one runs anything but what it loaded
// for that endpoint (here another endpoint's program, as two endpoints sharing
// one pin would have it).
TEST_F(StatusTest, ApplyRollsBackWhenAHookDoesNotRunWhatItLoaded) {
  MB_REQUIRE_BPF();
  ASSERT_TRUE(fs::exists(cg.path));
  TestCgroup second("-second");
  loader::NodeConfig node = cgroupNode(
      cg.path.string(), R"({"name": "api-1", "namespace": "shop", "cgroup": ")" + second.path.string() + "\"}");
  uint32_t swappedIn = 0;
  paths.afterAttachForTesting = [&] {
    // api-1's class program (its own load, 1, in the slot being filled, 1)
    // straight on api-0's link, in place of the dispatcher.
    int link = bpf_obj_get(pin("shop", "api-0", "cg-in").c_str());
    swappedIn = loader::dispatch::programAt(paths.bpffsRoot, "cg-in", 1, 1);
    int prog = bpf_prog_get_fd_by_id(swappedIn);
    EXPECT_EQ(bpf_link_update(link, prog, nullptr), 0);
    close(link);
    close(prog);
  };
  std::string error;
  EXPECT_FALSE(loader::apply(artifacts.string(), node, paths, nullptr, &error));
  EXPECT_TRUE(Contains(
      error, "after attaching, shop/api-0 cg-in runs program " + std::to_string(swappedIn) + ", not the node's dispatcher"));
  EXPECT_TRUE(EndsWith(error, " (rolled back)"));
  EXPECT_TRUE(nothingApplied());
  EXPECT_TRUE(fs::is_empty(paths.bpffsRoot + "/links")) << "the new links are gone again";
  EXPECT_TRUE(fs::is_empty(paths.bpffsRoot + "/versions")) << "and so is the new version's trie";
}

// state.json is read with io::readRegularFile and the strict JSON reader.
TEST_F(StatusTest, RefusesAStateThatIsAFifoOrHasARepeatedKey) {
  fs::create_directories(paths.stateDir);
  fs::path state = fs::path(paths.stateDir) / "state.json";
  ASSERT_EQ(mkfifo(state.c_str(), 0600), 0);
  auto error = std::make_shared<std::string>();
  loader::Paths p = paths;
  ASSERT_TRUE(finishesWithin(std::chrono::seconds(5), [p, error] { loader::status(p, error.get()); }));
  EXPECT_TRUE(Contains(*error, "unreadable state: '" + state.string() + "' is not a regular file (a FIFO)"));
  fs::remove(state);
  writeText(state, R"({"version": "a", "version": "b"})");
  std::string why;
  EXPECT_FALSE(loader::status(paths, &why));
  EXPECT_EQ(why, "unreadable state: " + state.string() + ":1:18: duplicate key \"version\" (first at 1:2)");
  EXPECT_FALSE(loader::apply(artifacts.string(), cgroupNode("/nonexistent"), paths, nullptr, &why));
  EXPECT_TRUE(Contains(why, "duplicate key \"version\" (first at 1:2); remove it, or run membrane detach"));
  // A number that is no 32-bit id (found by manifest_fuzzer in the manifest
  // reader; the state's reader converted the same way).
  writeText(state, R"({"version": "a", "artifactDir": "/x", "learned": [], "host": [],
      "endpoints": [{"key": "a/b", "id": 1e75, "class": null, "interface": "", "cgroup": "/c", "hooks": []}]})");
  EXPECT_FALSE(loader::status(paths, &why));
  EXPECT_EQ(why, "unreadable state: " + state.string() + ": 1e+75 is not a 32-bit id");
}

}  // namespace
}  // namespace membrane::testing
