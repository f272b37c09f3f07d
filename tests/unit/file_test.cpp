// io::readRegularFile: what every reader of inputs refuses; and
// io::writeFileAtomically: whole contents only (runtime/io/file.h).
#include "io/file.h"

#include "environment.h"  // testkit

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using membrane::io::readRegularFile;
using membrane::io::writeFileAtomically;

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

std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(WriteFileAtomically, WritersOfOnePathAtOnceEachLeaveTheirWholeContent) {
  ScratchDir dir("membrane-file-test");
  const fs::path path = dir / "state.json";
  // Large enough that a write takes several system calls.
  std::vector<std::string> contents;
  for (char c : {'a', 'b', 'c'}) contents.push_back(std::string(1 << 20, c));
  ASSERT_TRUE(writeFileAtomically(path.string(), contents[0], nullptr));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, torn{0};
  std::thread reader([&] {
    while (!stop) {
      std::string seen = readAll(path);
      bool whole = false;
      for (const auto& c : contents) whole |= seen == c;
      torn += !whole;
    }
  });
  std::vector<std::thread> writers;
  for (const auto& c : contents)
    writers.emplace_back([&, c] {
      for (int i = 0; i < 30; ++i) {
        std::string error;
        if (!writeFileAtomically(path.string(), c, &error)) ++failures;
      }
    });
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(torn, 0);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "temporary files left behind";
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

TEST(WriteFileAtomically, AFailedWriteLeavesTheOldContentAndNoTemporaryFile) {
  ScratchDir dir("membrane-file-test");
  fs::create_directory(dir / "taken");  // renaming a file over a directory fails
  std::string error;
  EXPECT_FALSE(writeFileAtomically((dir / "taken").string(), "x", &error));
  EXPECT_NE(error.find("cannot write '" + (dir / "taken").string() + "'"), std::string::npos) << error;
  EXPECT_TRUE(fs::is_directory(dir / "taken"));
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += !e.is_directory();
  EXPECT_EQ(entries, 0u) << "a temporary file was left behind";
  EXPECT_FALSE(writeFileAtomically((dir / "missing" / "x").string(), "x", &error));
  EXPECT_EQ(error, "cannot write '" + (dir / "missing" / "x").string() + "': No such file or directory");
}

}  // namespace
