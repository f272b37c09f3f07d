// The class cache (codegen/class_cache.h): a compile with it writes the
// bytes a compile without it writes, recompiles only what an edit touched,
// never uses a damaged entry, and can be shared by compiles running at once.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "abi/datapath.h"
#include "codegen/artifact_writer.h"
#include "codegen/class_cache.h"
#include "environment.h"  // testkit: ScratchDir
#include "pipeline/pipeline.h"

namespace membrane::testing {
namespace {

namespace fs = std::filesystem;

// The shipped shop, copied so that a test can edit a policy.
struct Workspace {
  testkit::ScratchDir dir{"membrane-class-cache-test"};
  fs::path policies = dir / "policies";
  fs::path cache = dir / "cache";
  Workspace() { fs::copy(MEMBRANE_SOURCE_DIR "/policies/shop", policies); }

  void edit(const std::string& file, const std::string& from, const std::string& to) {
    fs::path path = policies / file;
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in " << file;
    text.replace(at, from.size(), to);
    std::ofstream(path, std::ios::trunc) << text;
  }
};

struct Compiled {
  pipeline::Compilation c;
  codegen::Artifacts artifacts;
};

std::unique_ptr<Compiled> compile(const Workspace& ws, codegen::ClassCache* cache, size_t jobs = 2) {
  auto out = std::make_unique<Compiled>();
  pipeline::run({{ws.policies.string()}, {(ws.policies / "inventory.json").string()}}, out->c);
  EXPECT_EQ(out->c.outcome(), pipeline::Outcome::Ok);
  if (out->c.outcome() != pipeline::Outcome::Ok) return nullptr;
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  EXPECT_TRUE(compiler) << error;
  if (!compiler) return nullptr;
  codegen::CompileOptions options;
  options.jobs = jobs;
  options.cache = cache;
  out->artifacts = codegen::buildArtifacts(*compiler, *out->c.ir, options);
  return out;
}

// A compile as `membranec compile` runs it: objects streamed into a staging
// directory as they come (cached ones linked or copied), then committed to
// `out`. Returns how many objects came from the cache.
size_t streamInto(const Workspace& ws, codegen::ClassCache* cache, const fs::path& out) {
  pipeline::Compilation c;
  pipeline::run({{ws.policies.string()}, {(ws.policies / "inventory.json").string()}}, c);
  EXPECT_EQ(c.outcome(), pipeline::Outcome::Ok);
  if (c.outcome() != pipeline::Outcome::Ok) return 0;
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  auto staging = codegen::ArtifactStaging::open(out.string(), &error);
  EXPECT_TRUE(compiler && staging) << error;
  if (!compiler || !staging) return 0;
  codegen::CompileOptions options;
  options.cache = cache;
  std::mutex m;
  size_t cached = 0;
  options.onObject = [&](const codegen::ClassObject& obj, std::string* why) {
    std::lock_guard<std::mutex> lock(m);
    cached += obj.cached != nullptr;
    return staging->write(obj, why);
  };
  codegen::Artifacts streamed = codegen::buildArtifacts(*compiler, *c.ir, options);
  EXPECT_TRUE(staging->commit(streamed.manifest, &error)) << error;
  return cached;
}

// Each object in `out` is the one `plain` compiled, with `links` names.
void expectObjectsIn(const fs::path& out, const Compiled& plain, uintmax_t links) {
  for (size_t i = 0; i < plain.artifacts.objects.size(); ++i) {
    fs::path object = out / codegen::objectName(plain.artifacts.manifest.classes[i].id);
    std::ifstream in(object, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(bytes == plain.artifacts.objects[i].elf) << object;
    EXPECT_EQ(fs::hard_link_count(object), links) << object;
  }
}

std::unique_ptr<codegen::ClassCache> openCache(const Workspace& ws) {
  std::string error;
  auto cache = codegen::ClassCache::open(ws.cache.string(), &error);
  EXPECT_TRUE(cache) << error;
  return cache;
}

void expectSameOutput(const Compiled& a, const Compiled& b) {
  ASSERT_EQ(a.artifacts.objects.size(), b.artifacts.objects.size());
  for (size_t i = 0; i < a.artifacts.objects.size(); ++i)
    EXPECT_TRUE(a.artifacts.objects[i].elf == b.artifacts.objects[i].elf) << "class " << i << "'s object differs";
  EXPECT_EQ(a.artifacts.manifest.toJson(), b.artifacts.manifest.toJson());
}

std::vector<fs::path> entries(const Workspace& ws) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(ws.cache))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ClassCache, ACompileWithTheCacheWritesTheSameBytesAsOneWithout) {
  Workspace ws;
  auto plain = compile(ws, nullptr);
  ASSERT_TRUE(plain);
  size_t classes = plain->artifacts.objects.size();
  ASSERT_GE(classes, 5u);

  auto cold = openCache(ws);
  auto first = compile(ws, cold.get());
  ASSERT_TRUE(first);
  expectSameOutput(*plain, *first);
  EXPECT_EQ(cold->hits(), 0u);
  EXPECT_EQ(cold->misses(), classes);
  EXPECT_EQ(cold->unwritten(), 0u);
  // An object and its line per entry; classes with the same decision share
  // one.
  auto files = entries(ws);
  size_t objects = std::count_if(files.begin(), files.end(), [](const fs::path& p) { return p.extension() == ".o"; });
  EXPECT_GE(objects, 1u);
  EXPECT_LE(objects, classes);
  EXPECT_EQ(files.size(), 2 * objects);

  auto warm = openCache(ws);
  auto second = compile(ws, warm.get());
  ASSERT_TRUE(second);
  expectSameOutput(*plain, *second);
  EXPECT_EQ(warm->hits(), classes);
  EXPECT_EQ(warm->misses(), 0u);
  EXPECT_EQ(warm->damaged(), 0u);
}

// Rule ids are hashes of the rule and its policy: a rule added to the first
// policy in key order (shop/api) renumbers nothing in the policies after it,
// so only the classes shop/api selects are compiled again.
TEST(ClassCache, AnEditRecompilesOnlyTheClassesItTouches) {
  Workspace ws;
  auto cache = openCache(ws);
  ASSERT_TRUE(compile(ws, cache.get()));
  ws.edit("api.policy", "  egress {\n", "  egress {\n    allow to host on tcp/9999\n");
  auto plain = compile(ws, nullptr);
  ASSERT_TRUE(plain);
  auto again = openCache(ws);
  auto edited = compile(ws, again.get());
  ASSERT_TRUE(edited);
  expectSameOutput(*plain, *edited);
  size_t selecting = 0;
  for (const auto& cls : plain->c.ir->classes)
    selecting += std::count(cls.policies.begin(), cls.policies.end(), "shop/api");
  ASSERT_GE(selecting, 1u);
  EXPECT_EQ(again->misses(), selecting) << "only the classes shop/api selects are compiled";
  EXPECT_EQ(again->hits(), plain->artifacts.objects.size() - selecting);
}

TEST(ClassCache, ADamagedEntryIsRecompiledNeverUsed) {
  Workspace ws;
  auto plain = compile(ws, nullptr);
  ASSERT_TRUE(plain);
  {
    auto cache = openCache(ws);
    ASSERT_TRUE(compile(ws, cache.get()));
  }
  std::vector<fs::path> objects, metas;
  for (const auto& path : entries(ws)) (path.extension() == ".o" ? objects : metas).push_back(path);
  ASSERT_GE(objects.size(), 4u);
  ASSERT_EQ(objects.size(), metas.size());
  // An object truncated, one with a bit flipped, a line that lies about
  // its object, and an object whose line is gone (a plain miss).
  fs::resize_file(objects[0], fs::file_size(objects[0]) / 2);
  {
    std::fstream f(objects[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(objects[1]) - 100));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(objects[1]) - 100));
    c = static_cast<char>(c ^ 0x10);
    f.write(&c, 1);
  }
  {
    // "membrane-class-cache 1 KEY LENGTH SHA256 COUNTS...": another hash.
    std::ifstream in(metas[2]);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    ASSERT_GE(fields.size(), 5u);
    fields[4] = std::string(64, 'a');
    std::ofstream out(metas[2], std::ios::trunc);
    for (const auto& f : fields) out << f << ' ';
    out << "\n";
  }
  fs::remove(metas[3]);

  auto cache = openCache(ws);
  auto again = compile(ws, cache.get());
  ASSERT_TRUE(again);
  expectSameOutput(*plain, *again);
  EXPECT_EQ(cache->damaged(), 3u);
  // And rewritten: the next compile reads every class.
  auto healed = openCache(ws);
  auto third = compile(ws, healed.get());
  ASSERT_TRUE(third);
  expectSameOutput(*plain, *third);
  EXPECT_EQ(healed->damaged(), 0u);
  EXPECT_EQ(healed->hits(), plain->artifacts.objects.size());
}

// `membranec compile` streams objects into a staging directory: a cached
// object is linked there, not copied, and the output is what writing gives.
TEST(ClassCache, ACachedObjectIsLinkedIntoTheOutputNotCopied) {
  Workspace ws;
  auto plain = compile(ws, nullptr);
  ASSERT_TRUE(plain);
  auto cold = openCache(ws);
  ASSERT_TRUE(compile(ws, cold.get()));

  auto warm = openCache(ws);
  EXPECT_EQ(streamInto(ws, warm.get(), ws.dir / "out"), plain->artifacts.objects.size());
  EXPECT_EQ(warm->hits(), plain->artifacts.objects.size());
  // Linked: the output's name and the cache entry's.
  expectObjectsIn(ws.dir / "out", *plain, 2);
  std::ifstream manifest(ws.dir / "out" / "manifest.json");
  std::string text((std::istreambuf_iterator<char>(manifest)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, plain->artifacts.manifest.toJson());
}

// A cache on another filesystem than the output (here /dev/shm, a tmpfs of
// its own): no hard link can cross, so the object is copied, and the
// output is the same.
TEST(ClassCache, ACacheOnAnotherFilesystemIsCopiedFrom) {
  Workspace ws;
  struct stat shm {}, tmp {};
  bool apart = ::stat("/dev/shm", &shm) == 0 && ::stat(ws.dir.path().c_str(), &tmp) == 0 && shm.st_dev != tmp.st_dev;
  if (!apart) {
    if (testkit::runningInCi()) FAIL() << "/dev/shm is not a filesystem of its own beside " << ws.dir.path();
    GTEST_SKIP() << "/dev/shm is not a filesystem of its own beside " << ws.dir.path();
  }
  std::string dir = "/dev/shm/membrane-class-cache-test-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir.data())) << std::strerror(errno);
  struct Removed {
    std::string path;
    ~Removed() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } removed{dir};
  auto plain = compile(ws, nullptr);
  ASSERT_TRUE(plain);
  std::string error;
  auto cache = codegen::ClassCache::open(dir, &error);
  ASSERT_TRUE(cache) << error;
  EXPECT_EQ(streamInto(ws, cache.get(), ws.dir / "out"), 0u);
  EXPECT_EQ(streamInto(ws, cache.get(), ws.dir / "out"), plain->artifacts.objects.size());
  EXPECT_EQ(cache->hits(), plain->artifacts.objects.size()) << "the second run read every class";
  expectObjectsIn(ws.dir / "out", *plain, 1);  // copies
}

TEST(ClassCache, CompilesSharingACacheAtOnceEachWriteTheRightBytes) {
  Workspace ws;
  auto plain = compile(ws, nullptr);
  ASSERT_TRUE(plain);
  std::vector<std::unique_ptr<codegen::ClassCache>> caches;
  for (int i = 0; i < 3; ++i) caches.push_back(openCache(ws));
  std::vector<std::unique_ptr<Compiled>> results(caches.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < caches.size(); ++i)
    threads.emplace_back([&, i] { results[i] = compile(ws, caches[i].get(), 1); });
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r);
    expectSameOutput(*plain, *r);
  }
  for (const auto& c : caches) EXPECT_EQ(c->damaged(), 0u);
  for (const auto& path : entries(ws))
    EXPECT_EQ(path.filename().string().find(".tmp."), std::string::npos) << "a temporary file was left: " << path;
  auto after = openCache(ws);
  ASSERT_TRUE(compile(ws, after.get()));
  EXPECT_EQ(after->hits(), plain->artifacts.objects.size());
}

// Pruning by age (`find DIR -type f -mtime +7 -delete`, docs/cli.md) keeps
// what compiles still use only if a hit makes both of its files new.
TEST(ClassCache, AHitMakesBothFilesOfItsEntryNew) {
  Workspace ws;
  {
    auto cache = openCache(ws);
    ASSERT_TRUE(compile(ws, cache.get()));
  }
  auto files = entries(ws);
  ASSERT_FALSE(files.empty());
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(24 * 30);
  for (const auto& f : files) fs::last_write_time(f, old);
  auto cache = openCache(ws);
  ASSERT_TRUE(compile(ws, cache.get()));
  EXPECT_EQ(cache->misses(), 0u);
  for (const auto& f : files)
    EXPECT_GT(fs::last_write_time(f), old + std::chrono::hours(24)) << f << " was read but kept its old time";
}

TEST(ClassCache, TheKeyFollowsTheDecisionNotTheClassNumberOrItsEndpoints) {
  Workspace ws;
  auto shop = compile(ws, nullptr);
  ASSERT_TRUE(shop);
  auto cache = openCache(ws);
  const ir::Program& p = *shop->c.ir;
  ASSERT_GE(p.classes.size(), 2u);
  codegen::PeerLowering lowering = codegen::PeerLowering::choose(p);
  ir::EndpointClass cls = p.classes[0];
  std::string key = cache->key(cls, lowering);
  EXPECT_EQ(key.size(), 64u);

  ir::EndpointClass renamed = cls;
  renamed.id = 77;
  renamed.endpoints = {"elsewhere/other"};
  EXPECT_EQ(cache->key(renamed, lowering), key) << "neither reaches the object";

  ir::EndpointClass otherPort = cls;
  ir::DirectionPolicy& d = otherPort.ingress.rules.empty() ? otherPort.egress : otherPort.ingress;
  ASSERT_FALSE(d.rules.empty());
  d.rules[0].id += 1;
  EXPECT_NE(cache->key(otherPort, lowering), key) << "a rule id is in the code";

  ir::EndpointClass opened = cls;
  opened.ingress.enforced = !opened.ingress.enforced;
  EXPECT_NE(cache->key(opened, lowering), key);

  codegen::PeerLowering tables = lowering;
  tables.mode = codegen::DecisionMode::Table;
  EXPECT_NE(cache->key(cls, tables), key);
}

TEST(ClassCache, TheCompilerIsPartOfEveryKey) {
  Workspace ws;
  auto cache = openCache(ws);
  const std::string& id = cache->compilerIdentity();
  EXPECT_NE(id.find("build-id "), std::string::npos) << "membrane is linked with a build id: " << id;
  EXPECT_NE(id.find("ABI " + std::to_string(MB_ABI_VERSION)), std::string::npos) << id;
}

TEST(ClassCache, ACacheThatCannotBeMadeIsAnError) {
  Workspace ws;
  std::ofstream(ws.dir / "file") << "not a directory";
  std::string error;
  EXPECT_FALSE(codegen::ClassCache::open((ws.dir / "file").string(), &error));
  EXPECT_NE(error.find("cannot use '"), std::string::npos) << error;
}

}  // namespace
}  // namespace membrane::testing
