// SourceManager: loading policy files (what is refused and why) and locating
// offsets.
#include "support/source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace membrane {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "membrane-source-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

TEST(SourceManager, LoadsAPolicyFile) {
  ScratchDir dir;
  std::ofstream(dir / "a.policy") << "namespace x\npolicy p {}\n";
  SourceManager sources;
  std::string error;
  auto id = sources.load(dir / "a.policy", &error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(sources.text(*id), "namespace x\npolicy p {}\n");
  EXPECT_EQ(sources.lineText(*id, 2), "policy p {}");
}

// `membranec check /dev/zero` read until memory ran out; a FIFO without a
// writer blocked forever.
TEST(SourceManager, RefusesDevicesAndFifosWithoutReading) {
  ScratchDir dir;
  SourceManager sources;
  std::string error;
  EXPECT_FALSE(sources.load("/dev/zero", &error));
  EXPECT_EQ(error, "'/dev/zero' is not a regular file (a character device); a policy file must be a file");
  ASSERT_EQ(::mkfifo((dir / "p.policy").c_str(), 0600), 0);
  EXPECT_FALSE(sources.load(dir / "p.policy", &error));
  EXPECT_EQ(error, "'" + (dir / "p.policy") + "' is not a regular file (a FIFO); a policy file must be a file");
  EXPECT_EQ(sources.fileCount(), 0u);
}

TEST(SourceManager, RefusesPolicyFilesPastTheCap) {
  ScratchDir dir;
  std::ofstream{dir / "big.policy"};
  ASSERT_EQ(::truncate((dir / "big.policy").c_str(), static_cast<off_t>(kMaxPolicyFileBytes + (size_t{1} << 20))), 0);
  SourceManager sources;
  std::string error;
  EXPECT_FALSE(sources.load(dir / "big.policy", &error));
  EXPECT_EQ(error, "'" + (dir / "big.policy") + "' is 9 MiB; membrane reads a policy file of at most 8 MiB");
  // Other kinds of input name themselves and have caps of their own.
  auto id = sources.load(dir / "big.policy", &error, kMaxManifestFileBytes, "a Kubernetes manifest");
  EXPECT_TRUE(id) << error;
}

}  // namespace
}  // namespace membrane
