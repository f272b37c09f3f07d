// io::readRegularFile: what every reader of inputs refuses (runtime/io/file.h).
#include "io/file.h"

#include "environment.h"  // testkit

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using membrane::io::readRegularFile;

using membrane::testkit::ScratchDir;

TEST(ReadRegularFile, ReadsAWholeFile) {
  ScratchDir dir("membrane-file-test");
  std::ofstream(dir / "a.policy") << "namespace x\n";
  std::string error;
  auto text = readRegularFile((dir / "a.policy").string(), 1024, "a policy file", &error);
  ASSERT_TRUE(text) << error;
  EXPECT_EQ(*text, "namespace x\n");
}

TEST(ReadRegularFile, RefusesAFifoWithoutWaitingForAWriter) {
  ScratchDir dir("membrane-file-test");
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
  std::string error;
  EXPECT_FALSE(readRegularFile((dir / "pipe").string(), 1024, "a policy file", &error));
  EXPECT_EQ(error, "'" + (dir / "pipe").string() + "' is not a regular file (a FIFO); a policy file must be a file");
}

TEST(ReadRegularFile, RefusesADeviceThatNeverEnds) {
  std::string error;
  EXPECT_FALSE(readRegularFile("/dev/zero", 1024, "NODE.json", &error));
  EXPECT_EQ(error, "'/dev/zero' is not a regular file (a character device); NODE.json must be a file");
}

TEST(ReadRegularFile, RefusesADirectory) {
  ScratchDir dir("membrane-file-test");
  fs::create_directory(dir / "d");
  std::string error;
  EXPECT_FALSE(readRegularFile((dir / "d").string(), 1024, "an inventory", &error));
  EXPECT_NE(error.find("is not a regular file (a directory)"), std::string::npos) << error;
}

TEST(ReadRegularFile, RefusesAFileLargerThanTheCapNamingBothSizes) {
  ScratchDir dir("membrane-file-test");
  std::ofstream(dir / "big") << std::string(3 * 1024 * 1024, ' ');
  std::string error;
  EXPECT_FALSE(readRegularFile((dir / "big").string(), 2 * membrane::io::kMiB, "policy files", &error));
  EXPECT_EQ(error, "'" + (dir / "big").string() + "' is 3 MiB; membrane reads policy files of at most 2 MiB");
}

TEST(ReadRegularFile, AcceptsAFileOfExactlyTheCap) {
  ScratchDir dir("membrane-file-test");
  std::ofstream(dir / "edge") << std::string(4096, 'x');
  std::string error;
  auto text = readRegularFile((dir / "edge").string(), 4096, "policy files", &error);
  ASSERT_TRUE(text) << error;
  EXPECT_EQ(text->size(), 4096u);
}

TEST(ReadRegularFile, NamesAMissingFileAndTheReason) {
  std::string error;
  EXPECT_FALSE(readRegularFile("/nonexistent/x.json", 1024, "an inventory", &error));
  EXPECT_EQ(error, "cannot open '/nonexistent/x.json': No such file or directory");
}

}  // namespace
