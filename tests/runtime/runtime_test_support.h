// What the node-loader tests share: scratch directories and cgroups removed
// whatever happens, the shop compiled into an artifact directory, NODE.json
// for a cgroup endpoint, a fixture with its own bpffs and state directory,
// and running the `membrane` binary.
#pragma once

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "loaded_object.h"
#include "loader/kernel.h"
#include "loader/loader.h"
#include "environment.h"  // testkit: ScratchDir
#include "topology.h"

namespace membrane::testing {

namespace fs = std::filesystem;

// EXPECT_TRUE(Contains(error, "...")): with both strings in the message.
inline ::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n  " << text << "\ndoes not contain\n  " << part;
}
inline ::testing::AssertionResult EndsWith(const std::string& text, const std::string& end) {
  if (text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n  " << text << "\ndoes not end with\n  " << end;
}

inline std::string readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

inline void writeText(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// policies/shop (plus `extraPolicy`, if any) compiled into `out`.
inline void compileShopTo(const fs::path& out, const std::string& extraPolicy = "") {
  std::string root = MEMBRANE_SOURCE_DIR "/policies/shop";
  pipeline::Compilation c;
  std::vector<std::string> inputs = {root};
  fs::path extra = out.parent_path() / (out.filename().string() + "-extra.policy");
  if (!extraPolicy.empty()) {
    writeText(extra, extraPolicy);
    inputs.push_back(extra.string());
  }
  pipeline::run({inputs, {root + "/inventory.json"}}, c);
  ASSERT_EQ(c.outcome(), pipeline::Outcome::Ok);
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  auto artifacts = codegen::buildArtifacts(*compiler, *c.ir, {});
  ASSERT_TRUE(codegen::writeArtifacts(out.string(), artifacts, &error)) << error;
}

inline loader::NodeConfig parseNode(const std::string& text) {
  std::string error;
  auto node = loader::NodeConfig::parse(text, &error);
  EXPECT_TRUE(node) << error;
  return node ? *node : loader::NodeConfig{};
}

// shop/api-0 in `cgroup` (and more endpoints, as NODE.json entries, if given).
inline loader::NodeConfig cgroupNode(const std::string& cgroup, const std::string& moreEndpoints = "") {
  return parseNode(
      R"({"host": {"addresses": ["198.18.255.1"]}, "endpoints": [{"name": "api-0", "namespace": "shop", "cgroup": ")" +
      cgroup + "\"}" + (moreEndpoints.empty() ? "" : ", " + moreEndpoints) + "]}");
}

// A cgroup of our own, removed at the end.
struct TestCgroup {
  fs::path path;
  explicit TestCgroup(const std::string& suffix = "") {
    fs::path root = fs::exists("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
    path = root / ("membrane-test-" + std::to_string(getpid()) + suffix);
    std::error_code ec;
    fs::create_directory(path, ec);
  }
  ~TestCgroup() { rmdir(path.c_str()); }
};

// A bpffs and a state directory of the test's own; the shop compiled.
class ApplyTest : public ::testing::Test {
 protected:
  testkit::ScratchDir dir{"membrane-test"};
  loader::Paths paths;
  fs::path artifacts;
  void SetUp() override {
    paths.bpffsRoot = (dir.path() / "bpf").string();
    paths.stateDir = (dir.path() / "state").string();
    artifacts = dir.path() / "out";
    compileShopTo(artifacts);
  }
  void TearDown() override {
    std::string error;
    loader::detachAll(paths, &error);
    umount2(paths.bpffsRoot.c_str(), MNT_DETACH);
  }
  bool nothingApplied() { return !fs::exists(fs::path(paths.stateDir) / "state.json"); }
  std::vector<std::string> globalOptions() const {
    return {MEMBRANE_BIN, "--bpffs", paths.bpffsRoot, "--state-dir", paths.stateDir};
  }
  // The membrane binary with this test's --bpffs and --state-dir.
  e2e::ExecResult membrane(const std::vector<std::string>& args, int timeoutMs = 30000) const {
    std::vector<std::string> argv = globalOptions();
    argv.insert(argv.end(), args.begin(), args.end());
    return e2e::Topology::exec("", argv, e2e::Millis(timeoutMs));
  }
};

// Runs `fn` on a thread of its own and says whether it returned within
// `limit`: readers must refuse FIFOs and devices at once, not block on them.
// (A thread that blocks is left behind; the test fails either way.)
inline bool finishesWithin(std::chrono::milliseconds limit, std::function<void()> fn) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  std::thread([fn = std::move(fn), done] {
    fn();
    done->set_value();
  }).detach();
  return future.wait_for(limit) == std::future_status::ready;
}

// The shop's manifest, compiled once per suite, for tests that edit it one
// way per case and read it back (manifest_check_test, program_kinds_test).
class ShopManifestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testkit::ScratchDir("membrane-test");
    compileShopTo(dir_->path() / "out");
    shop_ = new nlohmann::json(nlohmann::json::parse(readText(dir_->path() / "out" / "manifest.json")));
  }
  static void TearDownTestSuite() {
    delete shop_;
    shop_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  // The error the shop's manifest, edited by `edit`, is refused with ("" if accepted).
  static std::string refusal(const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json m = *shop_;
    edit(m);
    std::string error;
    return artifacts::Manifest::fromJson(m.dump(2), &error) ? "" : error;
  }

  static inline testkit::ScratchDir* dir_ = nullptr;
  static inline nlohmann::json* shop_ = nullptr;
};

}  // namespace membrane::testing
