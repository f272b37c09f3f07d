// `membranec verify` in the kernel: correct objects are proven equal to their
// IR (the shipped policies and a generated 1,000-rule policy), and objects
// miscompiled on purpose (one folded constant flipped, in code or in a rule
// table) are caught at the region boundary the flip moved.
#include "verify/verify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "artifacts/manifest.h"
#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "environment.h"

namespace membrane::verify {
namespace {

namespace fs = std::filesystem;

// Policies compiled into a scratch artifact directory, removed afterwards.
class Compiled {
 public:
  Compiled(const std::vector<std::pair<std::string, std::string>>& files, const inventory::Inventory& inv,
           const codegen::CompileOptions& options = {}) {
    c.inventory = inv;
    pipeline::runText(files, c);
    std::ostringstream diags;
    c.diags.print(diags, false);
    EXPECT_FALSE(c.diags.hasErrors()) << diags.str();
    std::string error;
    auto compiler = codegen::ClassCompiler::create(&error);
    EXPECT_TRUE(compiler) << error;
    auto artifacts = codegen::buildArtifacts(*compiler, *c.ir, options);
    EXPECT_TRUE(codegen::writeArtifacts(out().string(), artifacts, &error)) << error;
  }
  fs::path out() const { return dir_ / "out"; }

  Report verify() {
    Report r;
    std::string error;
    EXPECT_TRUE(verifyArtifacts(out().string(), *c.ir, {}, &r, &error)) << error;
    return r;
  }

  // Rewrites an object and puts its new hash into the manifest, as someone
  // who could write the artifacts would.
  void replaceObject(const std::string& name, const std::string& elf) {
    std::ofstream(out() / name, std::ios::binary | std::ios::trunc) << elf;
    std::ifstream in(out() / "manifest.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::string error;
    auto m = artifacts::Manifest::fromJson(text, &error);
    ASSERT_TRUE(m) << error;
    for (auto& cls : m->classes)
      if (cls.object == name) cls.sha256 = artifacts::sha256Hex(elf);
    std::ofstream(out() / "manifest.json", std::ios::trunc) << m->toJson();
  }
  std::string object(const std::string& name) const {
    std::ifstream in(out() / name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  pipeline::Compilation c;

 private:
  testkit::ScratchDir dir_{"membrane-verify-test"};
};

inventory::Endpoint endpoint(const std::string& ns, const std::string& name, labels::LabelSet labels,
                             std::vector<std::string> addresses) {
  inventory::Endpoint e;
  e.ns = ns;
  e.name = e.workload = name;
  e.labels = std::move(labels);
  for (const auto& a : addresses) e.addresses.push_back(*net::Address::parse(a));
  return e;
}

// ---- a tiny ELF64 patcher: flips immediates of BPF instructions ----------------

template <typename T>
T read(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// Sections of the object: (name, offset, size, executable).
struct Section {
  std::string name;
  uint64_t offset, size;
  bool exec;
};
std::vector<Section> sections(const std::string& elf) {
  uint64_t shoff = read<uint64_t>(elf, 0x28);
  uint16_t shentsize = read<uint16_t>(elf, 0x3a), shnum = read<uint16_t>(elf, 0x3c), shstrndx = read<uint16_t>(elf, 0x3e);
  auto header = [&](size_t i) { return shoff + i * shentsize; };
  uint64_t strOff = read<uint64_t>(elf, header(shstrndx) + 0x18);
  std::vector<Section> out;
  for (size_t i = 0; i < shnum; ++i) {
    uint32_t name = read<uint32_t>(elf, header(i));
    uint32_t type = read<uint32_t>(elf, header(i) + 4);
    uint64_t flags = read<uint64_t>(elf, header(i) + 8);
    if (type != 1) continue;  // PROGBITS
    out.push_back({std::string(elf.c_str() + strOff + name), read<uint64_t>(elf, header(i) + 0x18),
                   read<uint64_t>(elf, header(i) + 0x20), (flags & 4) != 0});
  }
  return out;
}

// The file offset of a symbol's data (a relocatable object: its value is an
// offset into its section), or 0.
uint64_t symbolOffset(const std::string& elf, const std::string& wanted) {
  uint64_t shoff = read<uint64_t>(elf, 0x28);
  uint16_t shentsize = read<uint16_t>(elf, 0x3a), shnum = read<uint16_t>(elf, 0x3c);
  auto header = [&](size_t i) { return shoff + i * shentsize; };
  for (size_t i = 0; i < shnum; ++i) {
    if (read<uint32_t>(elf, header(i) + 4) != 2) continue;  // SHT_SYMTAB
    uint64_t off = read<uint64_t>(elf, header(i) + 0x18), size = read<uint64_t>(elf, header(i) + 0x20);
    uint64_t strOff = read<uint64_t>(elf, header(read<uint32_t>(elf, header(i) + 0x28)) + 0x18);
    for (uint64_t at = off; at + 24 <= off + size; at += 24) {
      std::string name(elf.c_str() + strOff + read<uint32_t>(elf, at));
      uint16_t shndx = read<uint16_t>(elf, at + 6);
      if (name == wanted && shndx && shndx < shnum) return read<uint64_t>(elf, header(shndx) + 0x18) + read<uint64_t>(elf, at + 8);
    }
  }
  return 0;
}

// Replaces the immediate `from` of the first conditional jump comparing
// with a constant (BPF_JMP or BPF_JMP32, BPF_K) in the decision's code.
bool flipJumpImmediate(std::string& elf, int32_t from, int32_t to) {
  for (const auto& s : sections(elf)) {
    if (!s.exec) continue;
    for (uint64_t at = s.offset; at + 8 <= s.offset + s.size; at += 8) {
      uint8_t code = static_cast<uint8_t>(elf[at]);
      bool jump = (code & 0x07) == 0x05 || (code & 0x07) == 0x06;
      if (jump && (code & 0x08) == 0 && (code & 0xf0) != 0x80 && (code & 0xf0) != 0x90 &&
          read<int32_t>(elf, at + 4) == from) {
        std::memcpy(elf.data() + at + 4, &to, 4);
        return true;
      }
    }
  }
  return false;
}

bool anyMismatchAt(const Report& r, const std::string& traffic, const std::string& address = "") {
  for (const auto& m : r.mismatches)
    if (m.traffic == traffic && (address.empty() || m.address == address)) return true;
  return false;
}

const char* kSmallPolicy = R"(namespace x
policy a-in {
  selects { app = a }
  ingress {
    allow from cidr 198.19.7.0/24 on tcp/443
    allow from pods { app = b } on tcp/8080
    deny from pods { app = b } on tcp/8081
  }
  egress {
    allow to pods { app = b } on udp/53, icmp/echo-request
  }
}
)";

inventory::Inventory smallInventory() {
  inventory::Inventory inv;
  inv.endpoints = {endpoint("x", "a-0", {{"app", "a"}}, {"198.18.0.10", "2001:2::10"}),
                   endpoint("x", "b-0", {{"app", "b"}}, {"198.18.0.11", "2001:2::11"}),
                   endpoint("x", "c-0", {{"app", "c"}}, {"198.18.0.12"})};
  return inv;
}

TEST(Verify, CorrectObjectsAreProvenEqualOnEveryRegion) {
  MB_REQUIRE_BPF();
  Compiled c({{"a.policy", kSmallPolicy}}, smallInventory());
  Report r = c.verify();
  EXPECT_TRUE(r.equal()) << r.mismatchCount << " mismatches; first: "
                         << (r.mismatches.empty() ? "" : r.mismatches[0].object + " / " + r.mismatches[0].evaluator);
  ASSERT_EQ(r.classes.size(), 2u);  // a's class and the open class
  EXPECT_FALSE(r.classes[0].open);
  EXPECT_TRUE(r.classes[1].open);
  // Peer kinds: a and c (no selector bits: one kind), b (bit 0), the host,
  // the world: 4. a's ingress: the /24 cuts IPv4 into 3 ranges, IPv6 is 1;
  // TCP is cut at 443, 444, 8080, 8081, 8082 into 6 intervals; UDP, SCTP,
  // ICMP, ICMPv6 and "other" are 1 each: 11 per family. 4 x (3 x 11 + 11) =
  // 176. Egress cuts UDP at 53, 54 (3 intervals) and ICMP types at 8, 9 (3,
  // in IPv4; ICMP has no types in IPv6): 10 for IPv4, 8 for IPv6, one
  // address range each: 4 x (10 + 8) = 72.
  EXPECT_EQ(r.classes[0].regions, 248u);
  EXPECT_GT(r.classes[0].probes, r.classes[0].regions);
}

TEST(Verify, AFlippedFoldedPortIsCaughtAtTheBoundaryItMoved) {
  MB_REQUIRE_BPF();
  Compiled c({{"a.policy", kSmallPolicy}}, smallInventory());
  std::string elf = c.object("class-0.o");
  // b may use tcp/8080 and is denied tcp/8081: the port search separates
  // them with a comparison against 8080 or 8081 (`port > 8080`, say). Moved
  // by one, a port changes sides: the object then decides 8080, 8081 or
  // 8082 with the wrong verdict or the wrong rule.
  bool flipped = flipJumpImmediate(elf, 8080, 8081) || flipJumpImmediate(elf, 8081, 8082);
  ASSERT_TRUE(flipped) << "no folded 8080 or 8081 in the object";
  c.replaceObject("class-0.o", elf);
  Report r = c.verify();
  EXPECT_FALSE(r.equal());
  ASSERT_GT(r.mismatchCount, 0u);
  EXPECT_TRUE(anyMismatchAt(r, "tcp/8080") || anyMismatchAt(r, "tcp/8081") || anyMismatchAt(r, "tcp/8082"))
      << r.mismatches[0].traffic;
}

TEST(Verify, AFlippedFoldedCidrIsCaught) {
  MB_REQUIRE_BPF();
  Compiled c({{"a.policy", kSmallPolicy}}, smallInventory());
  std::string elf = c.object("class-0.o");
  // 198.19.7.0/24, compared as the address's first word in host order
  // (0x000713c6), now 198.19.8.0/24.
  ASSERT_TRUE(flipJumpImmediate(elf, 0x000713c6, 0x000813c6)) << "no folded 198.19.7.0/24 in the object";
  c.replaceObject("class-0.o", elf);
  Report r = c.verify();
  EXPECT_FALSE(r.equal());
  EXPECT_TRUE(anyMismatchAt(r, "tcp/443", "198.19.7.0") || anyMismatchAt(r, "tcp/443", "198.19.8.0"));
}

// A port per rule: past a limit a table-driven class searches its ports as
// data (decision.c's mb_port_leaf) rather than code. Here the limit is set
// low so a small policy takes that path, which every region then checks,
// edges of the data search (the first interval, the last, default deny)
// included.
// 302 rules for pods b and c on ports all over the range: table-driven.
std::string manyPortsPolicy() {
  std::ostringstream p;
  p << "namespace x\npolicy a-in {\n  selects { app = a }\n  ingress {\n";
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i)
    p << "    allow from pods { app = " << (i % 3 ? "b" : "c") << " } on tcp/" << 1024 + rng() % 60000 << "\n";
  p << "    deny from pods { app = c } on tcp/30000-40000\n    allow from all on udp/53\n  }\n}\n";
  return p.str();
}

TEST(Verify, PeerSetsListedInAnotherOrderThanTheTablesWereBuiltForAreCaught) {
  MB_REQUIRE_BPF();
  codegen::CompileOptions options;
  options.decisionMode = codegen::DecisionMode::Table;
  Compiled c({{"ports.policy", manyPortsPolicy()}}, smallInventory(), options);
  ASSERT_TRUE(c.verify().equal());
  std::ifstream in(c.out() / "manifest.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::string error;
  auto m = artifacts::Manifest::fromJson(text, &error);
  ASSERT_TRUE(m) << error;
  ASSERT_GE(m->peerSets.size(), 2u);
  std::reverse(m->peerSets.begin(), m->peerSets.end());
  std::ofstream(c.out() / "manifest.json", std::ios::trunc) << m->toJson();
  Report r = c.verify();
  EXPECT_TRUE(r.manifestDifferences.empty()) << r.manifestDifferences.at(0);
  EXPECT_GT(r.mismatchCount, 0u) << "peers decided by another set's column";
}

TEST(Verify, APortSearchKeptAsDataIsProvenEqual) {
  MB_REQUIRE_BPF();
  codegen::CompileOptions options;
  options.decisionMode = codegen::DecisionMode::Table;
  options.codedPortSearchLimit = 16;
  Compiled c({{"ports.policy", manyPortsPolicy()}}, smallInventory(), options);
  Report r = c.verify();
  EXPECT_TRUE(r.equal()) << r.mismatchCount << " mismatches; first: "
                         << (r.mismatches.empty() ? "" : r.mismatches[0].traffic + ": " + r.mismatches[0].object +
                                                                 " / " + r.mismatches[0].evaluator);
  EXPECT_GT(r.classes.at(0).regions, 2000u);

  // The search really is data: move the second interval's start up by one,
  // and its first port lands in the interval before it.
  std::string elf = c.object("class-0.o");
  uint64_t at = symbolOffset(elf, "mb_port_intervals");
  ASSERT_NE(at, 0u) << "no mb_port_intervals in the object";
  uint32_t second = read<uint32_t>(elf, at + 8);
  uint32_t moved = second + 1;
  std::memcpy(elf.data() + at + 8, &moved, 4);
  c.replaceObject("class-0.o", elf);
  Report flipped = c.verify();
  EXPECT_FALSE(flipped.equal());
  EXPECT_TRUE(anyMismatchAt(flipped, "tcp/" + std::to_string(second))) << flipped.mismatches.at(0).traffic;
}

TEST(Verify, AManifestThatDoesNotDescribeThePoliciesIsReported) {
  MB_REQUIRE_BPF();
  Compiled c({{"a.policy", kSmallPolicy}}, smallInventory());
  std::ifstream in(c.out() / "manifest.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::string error;
  auto m = artifacts::Manifest::fromJson(text, &error);
  ASSERT_TRUE(m) << error;
  m->rules[0].text = "allow from all";
  std::ofstream(c.out() / "manifest.json", std::ios::trunc) << m->toJson();
  Report r = c.verify();
  EXPECT_FALSE(r.equal());
  ASSERT_EQ(r.manifestDifferences.size(), 1u);
  EXPECT_EQ(r.manifestDifferences[0].rfind("manifest.rules[0].text: \"allow from all\"", 0), 0u)
      << r.manifestDifferences[0];
}

TEST(Verify, RefusesATamperedObjectInsteadOfProbingIt) {
  MB_REQUIRE_BPF();
  Compiled c({{"a.policy", kSmallPolicy}}, smallInventory());
  std::string elf = c.object("class-0.o");
  elf[elf.size() / 2] ^= 1;
  std::ofstream(c.out() / "class-0.o", std::ios::binary | std::ios::trunc) << elf;
  Report r;
  std::string error;
  EXPECT_FALSE(verifyArtifacts(c.out().string(), *c.c.ir, {}, &r, &error));
  EXPECT_EQ(error, "class-0.o does not match its SHA-256 in the manifest (tampered or corrupt)");
}

// 1,000 rules, most of them in one class's ingress (table mode: past 256
// rules a direction's rules live in .rodata tables), CIDRs beyond the fold
// limit (lowered into the identity trie), port ranges, denies, egress too.
std::string generatedPolicy(size_t rules) {
  std::ostringstream p;
  p << "namespace big\npolicy large {\n  selects { app = target }\n  ingress {\n";
  std::mt19937 rng(11);
  for (size_t i = 0; i < rules * 4 / 5; ++i) {
    unsigned svc = rng() % 20, port = 1000 + rng() % 400;
    switch (i % 8) {
      case 0: p << "    allow from cidr 198.19." << (i / 8) % 60 << ".0/24 on tcp/" << port << "\n"; break;
      case 1: p << "    deny from pods { app = svc-" << svc << ", tier = canary } on tcp/" << port << "\n"; break;
      case 2: p << "    allow from pods { app = svc-" << svc << " } on tcp/" << port << "-" << port + rng() % 30 << "\n"; break;
      case 3: p << "    allow from pods { app = svc-" << svc << " } on udp/" << port << "\n"; break;
      default: p << "    allow from pods { app = svc-" << svc << " } on tcp/" << port << "\n"; break;
    }
  }
  p << "  }\n  egress {\n";
  for (size_t i = 0; i < rules / 5; ++i) {
    unsigned svc = rng() % 20, port = 2000 + rng() % 200;
    if (i % 4 == 0)
      p << "    allow to cidr 2001:2:0:" << std::hex << (i % 32) << std::dec << "::/64 on tcp/" << port << "\n";
    else
      p << "    allow to pods { app = svc-" << svc << " } on tcp/" << port << "\n";
  }
  p << "  }\n}\n";
  return p.str();
}

TEST(Verify, AGenerated1000RulePolicyIsProvenEqual) {
  MB_REQUIRE_BPF();
  inventory::Inventory inv;
  inv.endpoints.push_back(endpoint("big", "target-0", {{"app", "target"}}, {"198.18.0.1", "2001:2::1"}));
  for (unsigned i = 0; i < 20; ++i) {
    labels::LabelSet l = {{"app", "svc-" + std::to_string(i)}};
    if (i % 5 == 0) l["tier"] = "canary";
    inv.endpoints.push_back(endpoint("big", "svc-" + std::to_string(i), l,
                                     {"198.18.1." + std::to_string(i + 1), "2001:2::1:" + std::to_string(i + 1)}));
  }
  Compiled c({{"large.policy", generatedPolicy(1000)}}, inv);
  Report r = c.verify();
  EXPECT_TRUE(r.equal()) << r.mismatchCount << " mismatches; first: "
                         << (r.mismatches.empty() ? "" : r.mismatches[0].traffic + ": " + r.mismatches[0].object +
                                                                 " / " + r.mismatches[0].evaluator);
  std::cout << "1,000 rules: " << r.regions << " regions, " << r.probes << " probes, " << r.seconds << " s\n";
}

}  // namespace
}  // namespace membrane::verify
