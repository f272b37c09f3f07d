// See class_cache.h: class objects kept between compiles, by content.
#include "codegen/class_cache.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include <llvm/Config/llvm-config.h>
#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "artifacts/manifest.h"
#include "io/file.h"
#include "ir_print/ir_json.h"

namespace membrane::codegen {

namespace fs = std::filesystem;

namespace {

// Bumped whenever the entry layout changes; entries of another format are
// damaged entries, rewritten on their next store.
constexpr std::string_view kFormat = "membrane-class-cache 3";  // 3: stats end with denseColumns; 2: with morePeerWords

// The GNU build id of the running executable: a hash the linker takes of
// the whole binary, so any change to the compiler's code, or to the
// skeleton and shell embedded in it, changes it.
std::string executableBuildId() {
  std::string id;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        // The first object is the executable itself.
        auto& result = *static_cast<std::string*>(out);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const char* desc = name + ((note->n_namesz + 3) & ~3u);
            if (desc + note->n_descsz > end) break;
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
              static const char* hex = "0123456789abcdef";
              for (size_t k = 0; k < note->n_descsz; ++k) {
                auto byte = static_cast<unsigned char>(desc[k]);
                result += hex[byte >> 4];
                result += hex[byte & 15];
              }
              return 1;
            }
            p = desc + ((note->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &id);
  return id;
}

// Without a build id (a linker told not to write one), the executable's
// own bytes identify it: slower, as correct.
std::string compilerFingerprint() {
  std::string id = executableBuildId();
  if (!id.empty()) return "build-id " + id;
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return "sha256 " + artifacts::sha256Hex(bytes.str());
}

std::string statsText(const DecisionStats& s) {
  std::ostringstream out;
  out << s.rules << ' ' << s.intervals << ' ' << s.leafRuleTests << ' ' << s.maxLeafRules << ' ' << s.foldedCidrs
      << ' ' << s.searchNodes << ' ' << s.tableLeaves << ' ' << s.tableEntries << ' ' << s.dataPortIntervals
      << ' ' << s.morePeerWords << ' ' << s.denseColumns;
  return out.str();
}

}  // namespace

std::unique_ptr<ClassCache> ClassCache::open(const std::string& dir, std::string* error) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "v1", ec);
  if (ec || access((fs::path(dir) / "v1").c_str(), W_OK | X_OK) != 0) {
    if (error)
      *error = "cannot use '" + dir + "' as the cache: " + (ec ? ec.message() : std::string(std::strerror(errno)));
    return nullptr;
  }
  std::string identity = std::string(kFormat) + "\n" + compilerFingerprint() + "\nLLVM " LLVM_VERSION_STRING +
                         "\nABI " + std::to_string(MB_ABI_VERSION);
  // The one environment setting that changes what the compiler emits
  // (class_compiler.cpp's optimize).
  if (const char* full = std::getenv("MEMBRANE_FULL_O2"); full && std::string_view(full) == "1")
    identity += "\nfull -O2";
  return std::unique_ptr<ClassCache>(new ClassCache(dir, std::move(identity)));
}

// The IR printer writes every field of a rule the generator reads (it is
// what `membranec ir` shows; its source locations are not printed and do
// not reach the object). These sizes are a tripwire for a field added to
// the IR: print it in ir_json.cpp if code generation reads it, then update
// the size here.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(ir::Rule) == 168, "ir::Rule changed: is the new field in ir_json's toJson (the cache key)?");
static_assert(sizeof(ir::PeerMatch) == 80, "ir::PeerMatch changed: is the new field in ir_json's toJson?");
static_assert(sizeof(ir::DirectionPolicy) == 104, "ir::DirectionPolicy changed: is the new field in the cache key?");
static_assert(sizeof(ir::EndpointClass) == 288, "ir::EndpointClass changed: is the new field in the cache key?");
static_assert(sizeof(PeerLowering) == 120, "PeerLowering changed: is the new field in the cache key?");
#endif

std::string ClassCache::key(const ir::EndpointClass& cls, const PeerLowering& lowering) const {
  nlohmann::json k;
  k["ingress"] = ir::toJson(cls.ingress);
  k["egress"] = ir::toJson(cls.egress);
  k["ingressNamedPorts"] = cls.ingressNamedPorts;
  k["mode"] = static_cast<int>(lowering.mode);
  k["codedPortSearchLimit"] = lowering.codedPortSearchLimit;
  // The bit of each CIDR the class tests (none: folded into code).
  nlohmann::json cidrs = nlohmann::json::array();
  for (const auto* dp : {&cls.ingress, &cls.egress})
    dp->forEachRule([&](const ir::Rule& r) {
      for (const auto& c : r.peer.cidrs) {
        auto it = lowering.cidrBits.find(c);
        cidrs.push_back(it == lowering.cidrBits.end() ? -1 : static_cast<int64_t>(it->second));
      }
    });
  k["cidrBits"] = std::move(cidrs);
  // A table-driven class's verdicts by peer set are built for the peer sets
  // of the whole program (PeerLowering::peerSets).
  if (lowering.usesTable(cls.ingress) || lowering.usesTable(cls.egress)) k["peerSets"] = lowering.peerSetsDigest;
  return artifacts::sha256Hex(identity_ + "\n" + k.dump());
}

std::string ClassCache::pathOf(const std::string& key, const char* suffix) const {
  return (fs::path(dir_) / "v1" / key.substr(0, 2) / (key.substr(2) + suffix)).string();
}

CachedObjectFile::~CachedObjectFile() {
  if (fd >= 0) ::close(fd);
}

bool CachedObjectFile::read(std::string& out, std::string* error) const {
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n <= 0) {
      if (error) *error = std::string("cannot read a cached object: ") + (n < 0 ? std::strerror(errno) : "it shrank");
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

std::optional<ClassCache::Entry> ClassCache::load(const std::string& key) {
  std::string why;
  std::optional<std::string> read = io::readRegularFile(pathOf(key, ".meta"), 4096, "a cache entry", &why);
  if (!read) {
    ++misses_;
    return std::nullopt;
  }
  const std::string& meta = *read;
  auto damaged = [&]() -> std::optional<Entry> {
    ++damaged_;
    ++misses_;
    return std::nullopt;
  };
  std::istringstream line(meta);
  std::string format, version, entryKey, rest;
  size_t length = 0;
  Entry e;
  DecisionStats& s = e.stats;
  line >> format >> version >> entryKey >> length >> e.sha256 >> s.rules >> s.intervals >> s.leafRuleTests >>
      s.maxLeafRules >> s.foldedCidrs >> s.searchNodes >> s.tableLeaves >> s.tableEntries >> s.dataPortIntervals >>
      s.morePeerWords >> s.denseColumns;
  if (!line || (line >> rest) || format + " " + version != kFormat || entryKey != key) return damaged();

  int fd = ::open(pathOf(key, ".o").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return damaged();
  auto object = std::make_shared<CachedObjectFile>(fd, length);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != length || length == 0)
    return damaged();
  void* bytes = mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, 0);
  if (bytes == MAP_FAILED) return damaged();
  bool intact = artifacts::sha256Hex(std::string_view(static_cast<const char*>(bytes), length)) == e.sha256;
  munmap(bytes, length);
  if (!intact) return damaged();
  // Used now, both files: `find DIR -mtime +N -delete` keeps what compiles
  // still use.
  ::futimens(fd, nullptr);
  ::utimensat(AT_FDCWD, pathOf(key, ".meta").c_str(), nullptr, 0);
  e.object = std::move(object);
  ++hits_;
  return e;
}

void ClassCache::store(const std::string& key, const ClassObject& object, const std::string& sha256) {
  std::error_code ec;
  fs::create_directories(fs::path(pathOf(key, ".o")).parent_path(), ec);
  std::string meta = std::string(kFormat) + " " + key + " " + std::to_string(object.elf.size()) + " " + sha256 + " " +
                     statsText(object.stats) + "\n";
  // The object first: a reader that finds the new line with the old
  // object (or none) sees a damaged entry, never a wrong one.
  // Not synced: after a crash a torn entry fails its length or hash check.
  if (ec || !io::writeFileAtomically(pathOf(key, ".o"), object.elf, nullptr, false) ||
      !io::writeFileAtomically(pathOf(key, ".meta"), meta, nullptr, false))
    ++unwritten_;
}

}  // namespace membrane::codegen
