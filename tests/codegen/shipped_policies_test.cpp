// The shipped examples (policies/) compile to objects the real verifier
// accepts, deterministically, and a few flows a reader can check by eye
// behave as the policies say.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "abi/datapath.h"
#include "codegen/artifact_writer.h"
#include "environment.h"  // testkit: ScratchDir
#include "pipeline/pipeline.h"
#include "loaded_object.h"

namespace membrane::testing {
namespace {

namespace fs = std::filesystem;

struct Shop {
  pipeline::Compilation c;
  codegen::Artifacts artifacts;
};

std::unique_ptr<Shop> compileShop(codegen::ClassCompiler& compiler, size_t jobs = 0) {
  auto shop = std::make_unique<Shop>();
  std::string root = MEMBRANE_SOURCE_DIR "/policies/shop";
  pipeline::run({{root}, {root + "/inventory.json"}}, shop->c);
  EXPECT_EQ(shop->c.outcome(), pipeline::Outcome::Ok);
  if (shop->c.outcome() != pipeline::Outcome::Ok) return nullptr;
  codegen::CompileOptions options;
  options.jobs = jobs;
  shop->artifacts = codegen::buildArtifacts(compiler, *shop->c.ir, options);
  return shop;
}

TEST(ShippedPolicies, EveryClassPassesTheVerifier) {
  MB_REQUIRE_BPF();
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  auto shop = compileShop(*compiler);
  ASSERT_TRUE(shop);
  ASSERT_FALSE(shop->artifacts.objects.empty());
  // The IR's classes, then the open class of the unrestricted endpoints.
  ASSERT_EQ(shop->artifacts.objects.size(), shop->c.ir->classes.size() + 1);
  for (size_t i = 0; i < shop->artifacts.objects.size(); ++i) {
    const auto& cls = shop->artifacts.manifest.classes[i];
    auto obj = LoadedObject::load(shop->artifacts.objects[i].elf, 1, &error);
    ASSERT_TRUE(obj) << "class " << cls.id << ": " << error;
    std::cout << "class " << cls.id << " (" << (cls.endpoints.empty() ? "-" : cls.endpoints.front())
              << (cls.endpoints.size() > 1 ? ", ..." : "") << "): verifier processed";
    for (Program p : {Program::TcFromEndpoint, Program::TcToEndpoint, Program::CgroupIngress, Program::CgroupEgress}) {
      uint32_t n = obj->verifiedInstructions(p);
      EXPECT_GT(n, 0u) << programName(p);
      std::cout << " " << programName(p) << "=" << n;
    }
    std::cout << "\n";
  }
}

TEST(ShippedPolicies, OutputIsByteIdenticalAcrossRuns) {
  std::string error;
  auto first = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(first) << error;
  auto second = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(second) << error;
  // One worker against several: classes compiled in parallel land the same.
  auto a = compileShop(*first, 1);
  auto b = compileShop(*second, 3);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->artifacts.objects.size(), b->artifacts.objects.size());
  for (size_t i = 0; i < a->artifacts.objects.size(); ++i)
    EXPECT_EQ(a->artifacts.objects[i].elf, b->artifacts.objects[i].elf) << "class " << i;
  EXPECT_EQ(a->artifacts.manifest.toJson(), b->artifacts.manifest.toJson());
}

// The class compiler starts a fresh LLVMContext every few classes, so that
// what a context accumulates stays bounded; no byte of output may depend on
// where those renewals fall.
TEST(ShippedPolicies, AFreshLlvmContextEveryFewClassesChangesNoByte) {
  std::string error;
  auto renewing = codegen::ClassCompiler::create(&error, 1);  // before every class but the first
  ASSERT_TRUE(renewing) << error;
  auto keeping = codegen::ClassCompiler::create(&error, 1u << 30);
  ASSERT_TRUE(keeping) << error;
  auto a = compileShop(*renewing, 1);
  auto b = compileShop(*keeping, 1);
  ASSERT_TRUE(a && b);
  ASSERT_GE(a->artifacts.objects.size(), 3u);
  ASSERT_EQ(a->artifacts.objects.size(), b->artifacts.objects.size());
  for (size_t i = 0; i < a->artifacts.objects.size(); ++i)
    EXPECT_EQ(a->artifacts.objects[i].elf, b->artifacts.objects[i].elf) << "class " << i;
}

// `membranec compile` writes each object as it is done (ArtifactStaging),
// so a thousand classes are not all held in memory: the directory it
// leaves is byte for byte what writing everything at the end gives, and
// nothing is held.
TEST(ShippedPolicies, ObjectsWrittenAsTheyAreCompiledGiveTheSameOutput) {
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  testkit::ScratchDir dir{"membrane-staging-test"};
  auto whole = compileShop(*compiler, 2);
  ASSERT_TRUE(whole);
  ASSERT_TRUE(codegen::writeArtifacts((dir.path() / "whole").string(), whole->artifacts, &error)) << error;

  auto staging = codegen::ArtifactStaging::open((dir.path() / "streamed").string(), &error);
  ASSERT_TRUE(staging) << error;
  codegen::CompileOptions options;
  options.jobs = 2;
  size_t written = 0;
  std::mutex m;
  options.onObject = [&](const codegen::ClassObject& obj, std::string* why) {
    std::lock_guard<std::mutex> lock(m);
    ++written;
    return staging->write(obj, why);
  };
  codegen::Artifacts streamed = codegen::buildArtifacts(*compiler, *whole->c.ir, options);
  EXPECT_EQ(written, whole->artifacts.objects.size());
  // Released, not only emptied: an emptied string keeps its buffer.
  for (const auto& obj : streamed.objects)
    EXPECT_LT(obj.elf.capacity(), 64u) << "class " << obj.classId << "'s object is still held";
  ASSERT_TRUE(staging->commit(streamed.manifest, &error)) << error;
  staging.reset();

  auto files = [](const fs::path& d) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(d)) {
      std::ifstream in(e.path(), std::ios::binary);
      out[e.path().filename().string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  };
  auto a = files(dir.path() / "whole"), b = files(dir.path() / "streamed");
  EXPECT_EQ(a.size(), whole->artifacts.objects.size() + 1);
  EXPECT_TRUE(a == b) << "the streamed output differs";
  // No staging directory is left beside them.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.exists();
  EXPECT_EQ(entries, 2u);
}

// A compile that fails half way (here: the sink refuses the third object)
// leaves the output directory as it was and no staging directory behind.
TEST(ShippedPolicies, AStreamedCompileThatFailsLeavesTheOutputAsItWas) {
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  testkit::ScratchDir dir{"membrane-staging-test"};
  auto whole = compileShop(*compiler, 1);
  ASSERT_TRUE(whole);
  fs::path out = dir.path() / "out";
  ASSERT_TRUE(codegen::writeArtifacts(out.string(), whole->artifacts, &error)) << error;
  std::ifstream before(out / "manifest.json");
  std::string manifest((std::istreambuf_iterator<char>(before)), {});
  {
    auto staging = codegen::ArtifactStaging::open(out.string(), &error);
    ASSERT_TRUE(staging) << error;
    codegen::CompileOptions options;
    options.jobs = 1;
    size_t n = 0;
    options.onObject = [&](const codegen::ClassObject& obj, std::string* why) {
      if (++n == 3) {
        *why = "disk full";
        return false;
      }
      return staging->write(obj, why);
    };
    EXPECT_THROW(codegen::buildArtifacts(*compiler, *whole->c.ir, options), std::runtime_error);
  }
  std::ifstream after(out / "manifest.json");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(after)), {}), manifest);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.exists();
  EXPECT_EQ(entries, 1u) << "a staging directory was left behind";
}

TEST(ShippedPolicies, FlowsBehaveAsWritten) {
  MB_REQUIRE_BPF();
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  auto shop = compileShop(*compiler);
  ASSERT_TRUE(shop);
  const ir::Program& program = *shop->c.ir;
  // As a node loads it: a class with HTTP rules with the socket layer's
  // promise (MB_CONFIG_SOCKETS), unless `withoutSockets`.
  auto load = [&](const std::string& ns, const std::string& name, bool withoutSockets = false) {
    const ir::Endpoint* ep = program.findEndpoint(ns, name);
    EXPECT_TRUE(ep && ep->classIndex);
    const bool l7 = !shop->artifacts.manifest.classes.at(*ep->classIndex).l7.empty();
    auto obj = LoadedObject::load(shop->artifacts.objects.at(*ep->classIndex).elf, 1, &error,
                                  l7 && !withoutSockets ? MB_CONFIG_SOCKETS : 0u);
    EXPECT_TRUE(obj) << error;
    obj->fillIdentities(shop->artifacts.manifest, {*net::Address::parse("198.18.255.1")});
    obj->ownAddresses(ep->addresses);
    return obj;
  };
  using mbtest::Addr;
  auto tcpTo = [](const char* src, const char* dst, uint16_t port) {
    return mbtest::frame(mbtest::ip(Addr::parse(src), Addr::parse(dst), mbtest::kTcp, mbtest::tcp(40000, port)));
  };
  const char* frontend = "198.18.1.10";
  const char* api = "198.18.1.20";
  const char* postgres = "198.18.1.30";
  const char* backup = "198.18.4.10";
  const char* ciRunner = "198.18.4.20";

  auto apiObj = load("shop", "api-0");
  // api.policy: the frontend may call the API's http port (8080), where
  // the socket layer decides each request (held to the evaluator by the
  // HTTP differential test; on real traffic by the demo)...
  EXPECT_TRUE(apiObj->passes(Program::TcToEndpoint, tcpTo(frontend, api, 8080)));
  // ...and nothing else; the database may not call the API at all.
  EXPECT_FALSE(apiObj->passes(Program::TcToEndpoint, tcpTo(frontend, api, 22)));
  EXPECT_FALSE(apiObj->passes(Program::TcToEndpoint, tcpTo(postgres, api, 8080)));
  // Every egress flow of the API is its own program's only (the policy's
  // `processes` clause, docs/process.md): a packet of a flow no socket call
  // let through is dropped; one whose tuple the gate recorded passes. So it
  // reaches the database and the payment provider on 443, never on 80.
  auto approve = [&](const char* dst, uint16_t port) {
    mb_ct_key approved{};
    std::memcpy(approved.saddr, Addr::parse(api).bytes.data(), 4);
    std::memcpy(approved.daddr, Addr::parse(dst).bytes.data(), 4);
    approved.sport = htons(40000);
    approved.dport = htons(port);
    approved.proto = mbtest::kTcp;
    approved.family = MB_FAMILY_V4;
    approved.endpoint = 1;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);  // bpf_ktime_get_ns's clock: a fresh record
    uint64_t when = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
    return bpf_map_update_elem(apiObj->mapFd("mb_process_flows"), &approved, &when, BPF_ANY) == 0;
  };
  for (auto [dst, port] : {std::pair{postgres, uint16_t(5432)}, std::pair{"198.19.200.7", uint16_t(443)}}) {
    SCOPED_TRACE(std::string(dst) + ":" + std::to_string(port));
    EXPECT_FALSE(apiObj->passes(Program::TcFromEndpoint, tcpTo(api, dst, port)));
    ASSERT_TRUE(approve(dst, port));
    EXPECT_TRUE(apiObj->passes(Program::TcFromEndpoint, tcpTo(api, dst, port)));
  }
  ASSERT_TRUE(approve("198.19.200.7", 80));
  EXPECT_FALSE(apiObj->passes(Program::TcFromEndpoint, tcpTo(api, "198.19.200.7", 80)));
  // IPv6 too.
  EXPECT_TRUE(apiObj->passes(Program::TcToEndpoint, mbtest::frame(mbtest::ip(Addr::parse("2001:2::1:10"), Addr::parse("2001:2::1:20"), mbtest::kTcp, mbtest::tcp(40001, 8080)))));

  // Without the socket layer attached, nothing would read those requests:
  // the connection is dropped (fail closed).
  EXPECT_FALSE(load("shop", "api-0", true)->passes(Program::TcToEndpoint, tcpTo(frontend, api, 8080)));

  auto dbObj = load("shop", "postgres-0");
  // database.policy: backups from ops may connect, the untrusted runner may not (deny wins).
  EXPECT_TRUE(dbObj->passes(Program::TcToEndpoint, tcpTo(backup, postgres, 5432)));
  EXPECT_FALSE(dbObj->passes(Program::TcToEndpoint, tcpTo(ciRunner, postgres, 5432)));
}

}  // namespace
}  // namespace membrane::testing
