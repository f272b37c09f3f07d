// writeArtifacts: which output directories `membranec compile -o DIR` may
// replace, and that a refused one is left exactly as it was; and what
// describeArtifacts takes from the IR alone. No kernel and no code
// generation needed: the artifacts and the IR are made up.
#include "abi/datapath.h"
#include "artifacts/programs.h"
#include "codegen/artifact_writer.h"
#include "environment.h"  // testkit: ScratchDir

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace membrane::codegen {
namespace {

namespace fs = std::filesystem;

Artifacts someArtifacts(const std::string& version, std::vector<uint32_t> classes) {
  Artifacts a;
  a.manifest.compilerVersion = version;
  for (uint32_t id : classes) {
    ClassObject obj;
    obj.classId = id;
    obj.elf = "ELF of class " + std::to_string(id);
    a.objects.push_back(std::move(obj));
  }
  return a;
}

// Every file under `dir`, relative path → content.
std::map<std::string, std::string> contents(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string rel = fs::relative(e.path(), dir).string();
    if (e.is_symlink()) {
      out[rel] = "-> " + fs::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream s;
      s << in.rdbuf();
      out[rel] = s.str();
    } else {
      out[rel] = "<dir>";
    }
  }
  return out;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The manifest's policies come from the IR (lowering copies every checked
// policy, selecting anything or not), and every class, the open one too,
// lists the skeleton's programs with their kinds' features.
TEST(ArtifactWriter, DescribesPoliciesAndProgramsFromTheIrAlone) {
  ir::Program program;
  labels::Selector api;
  api.requirements.push_back({"app", labels::Op::In, {"api"}});
  program.policies.push_back({"audit-all", "", true, true, labels::Selector{}, std::nullopt, ir::Tier::Network, 0});
  program.policies.push_back({"shop/api", "shop", false, false, api, std::nullopt, ir::Tier::Network, 0});
  artifacts::Manifest m = describeArtifacts(program);
  ASSERT_EQ(m.policies.size(), 2u);
  EXPECT_EQ(m.policies[0].key, "audit-all");
  EXPECT_TRUE(m.policies[0].clusterwide);
  EXPECT_TRUE(m.policies[0].audit);
  EXPECT_EQ(m.policies[1].key, "shop/api");
  EXPECT_EQ(m.policies[1].ns, "shop");
  EXPECT_EQ(m.policies[1].selects, api);

  ASSERT_EQ(m.classes.size(), 1u) << "the open class";
  const auto& programs = m.classes[0].programs;
  ASSERT_EQ(programs.size(), artifacts::skeletonPrograms().size());
  for (size_t i = 0; i < programs.size(); ++i) {
    EXPECT_EQ(programs[i].name, artifacts::skeletonPrograms()[i].name);
    EXPECT_EQ(programs[i].hook, artifacts::skeletonPrograms()[i].hook);
    EXPECT_EQ(programs[i].requiredFeatures, artifacts::kindFeatures(programs[i].kind));
  }
  EXPECT_EQ(programs[1].name, MB_PROG_TC_TO_ENDPOINT);
  EXPECT_EQ(programs[1].kind, artifacts::kKindTc);
  EXPECT_EQ(programs[1].direction, "ingress");
  EXPECT_EQ(m.requiredFeatures, artifacts::skeletonFeatures());
}

TEST(ArtifactWriter, ReplacesItsOwnOutputAsAWhole) {
  testkit::ScratchDir t{"membrane-writer-test"};
  fs::path out = t.path() / "out";
  std::string error;
  ASSERT_TRUE(writeArtifacts(out.string(), someArtifacts("1", {0, 7}), &error)) << error;
  write(out / "class-7.ll", "from --emit llvm");
  ASSERT_TRUE(writeArtifacts(out.string(), someArtifacts("2", {0}), &error)) << error;
  auto files = contents(out);
  EXPECT_EQ(files.size(), 2u);
  EXPECT_EQ(files["class-0.o"], "ELF of class 0");
  EXPECT_EQ(files["manifest.json"], someArtifacts("2", {0}).manifest.toJson());
  EXPECT_EQ(files.count("class-7.o") + files.count("class-7.ll"), 0u);
}

TEST(ArtifactWriter, WritesIntoAnEmptyOrNewDirectory) {
  testkit::ScratchDir t{"membrane-writer-test"};
  std::string error;
  fs::create_directory(t.path() / "empty");
  EXPECT_TRUE(writeArtifacts((t.path() / "empty").string(), someArtifacts("1", {0}), &error)) << error;
  EXPECT_TRUE(writeArtifacts((t.path() / "new" / "deeper").string(), someArtifacts("1", {}), &error)) << error;
  EXPECT_TRUE(fs::exists(t.path() / "new" / "deeper" / "manifest.json"));
}

// `compile -o DIR` replaced any folder holding a file named manifest.json:
// a web app's folder was replaced whole.
TEST(ArtifactWriter, RefusesAWebAppFolderWithAManifestJson) {
  testkit::ScratchDir t{"membrane-writer-test"};
  fs::path app = t.path() / "app";
  fs::create_directories(app / "static");
  write(app / "manifest.json", R"({"name": "My App", "start_url": "/", "display": "standalone"})");
  write(app / "index.html", "<!doctype html>");
  write(app / "static" / "app.js", "console.log(1)");
  auto before = contents(app);
  std::string error;
  EXPECT_FALSE(writeArtifacts(app.string(), someArtifacts("1", {0}), &error));
  EXPECT_EQ(error, "'" + app.string() +
                       "' is not membrane's output: it holds 'index.html' and 1 more, which membrane does not "
                       "write; refusing to replace it");
  EXPECT_EQ(contents(app), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(t.path()), fs::directory_iterator()), 1) << "no staging left";
}

TEST(ArtifactWriter, RefusesAManifestJsonThatIsNotMembranes) {
  testkit::ScratchDir t{"membrane-writer-test"};
  fs::path dir = t.path() / "out";
  fs::create_directory(dir);
  std::string error;
  for (std::string manifest : {R"({"name": "My App"})", R"({"format": "other", "formatVersion": 1})",
                               R"({"format": 1})", "[1, 2]", "not json", ""}) {
    write(dir / "manifest.json", manifest);
    write(dir / "class-0.o", "mine");
    auto before = contents(dir);
    EXPECT_FALSE(writeArtifacts(dir.string(), someArtifacts("1", {0}), &error)) << manifest;
    EXPECT_EQ(error, "'" + dir.string() +
                         "' holds a manifest.json that is not membrane's (no \"format\": \"membrane-artifacts\"); "
                         "refusing to replace it");
    EXPECT_EQ(contents(dir), before) << manifest;
  }
}

TEST(ArtifactWriter, RefusesItsOwnOutputWithSomethingElseInIt) {
  testkit::ScratchDir t{"membrane-writer-test"};
  fs::path out = t.path() / "out";
  std::string error;
  ASSERT_TRUE(writeArtifacts(out.string(), someArtifacts("1", {0}), &error)) << error;
  for (std::string extra : {"notes.txt", "class-0.o.bak", "class-.o", "class-x.o", ".keep"}) {
    write(out / extra, "keep me");
    auto before = contents(out);
    EXPECT_FALSE(writeArtifacts(out.string(), someArtifacts("2", {0}), &error)) << extra;
    EXPECT_EQ(error, "'" + out.string() + "' is not membrane's output: it holds '" + extra +
                         "', which membrane does not write; refusing to replace it");
    EXPECT_EQ(contents(out), before);
    fs::remove(out / extra);
  }
  // Named like membrane's files, but a directory or a link: not membrane's.
  fs::create_directory(out / "class-5.o");
  EXPECT_FALSE(writeArtifacts(out.string(), someArtifacts("2", {0}), &error));
  fs::remove(out / "class-5.o");
  fs::create_symlink("/etc/hostname", out / "class-5.s");
  EXPECT_FALSE(writeArtifacts(out.string(), someArtifacts("2", {0}), &error));
  EXPECT_EQ(error, "'" + out.string() +
                       "' is not membrane's output: it holds 'class-5.s', which membrane does not write; refusing "
                       "to replace it");
}

TEST(ArtifactWriter, RefusesAPathThatIsNotADirectory) {
  testkit::ScratchDir t{"membrane-writer-test"};
  write(t.path() / "file", "x");
  std::string error;
  EXPECT_FALSE(writeArtifacts((t.path() / "file").string(), someArtifacts("1", {}), &error));
  EXPECT_EQ(error, "'" + (t.path() / "file").string() + "' exists and is not a directory");
}

}  // namespace
}  // namespace membrane::codegen
