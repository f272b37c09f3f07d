// What a class object carries: classes without process rules are linked with
// the skeleton that leaves the socket-call programs out
// (bpf-templates/endpoint_without_process.c). Those programs read kernel
// structures through CO-RE, and libbpf parses the kernel's BTF (about 45 ms)
// at every load of an object with any CO-RE relocation: a node loading a
// class without process rules should not pay for them. And no class object
// carries line info (codegen/line_info.h).
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include "abi/datapath.h"
#include "codegen/class_compiler.h"
#include "codegen/decision_codegen.h"
#include "codegen/line_info.h"
#include "codegen/object_linker.h"
#include "inventory/inventory.h"
#include "pipeline/pipeline.h"

namespace membrane {
namespace {

constexpr const char* kInventory = R"({"namespaces": [{"name": "h", "labels": {}}],
  "endpoints": [
    {"name": "web", "namespace": "h", "labels": {"app": "web"}, "addresses": ["198.18.0.10"]},
    {"name": "db", "namespace": "h", "labels": {"app": "db"}, "addresses": ["198.18.0.11"]}]})";

constexpr const char* kPolicy = R"(namespace h
policy web {
  selects { app = web }
  egress { allow to pods { app = db } on tcp/5432 with process { exe "/usr/bin/psql" } }
}
policy db {
  selects { app = db }
  ingress { allow from pods { app = web } on tcp/5432 }
}
)";

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

TEST(ClassCompiler, OnlyClassesWithProcessRulesCarryTheSocketCallPrograms) {
  pipeline::Compilation c;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("inventory.json", kInventory, c.inventory, &error)) << error;
  pipeline::runText({{"p.policy", kPolicy}}, c);
  std::ostringstream diagnostics;
  c.diags.print(diagnostics, false);
  ASSERT_FALSE(c.diags.hasErrors()) << diagnostics.str();
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  codegen::PeerLowering lowering = codegen::PeerLowering::choose(*c.ir);
  size_t withProcess = 0, without = 0;
  for (const auto& cls : c.ir->classes) {
    codegen::ClassObject object = compiler->compile(*c.ir, cls, lowering, {});
    std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_mem(object.elf.data(), object.elf.size(), nullptr));
    ASSERT_TRUE(obj) << "class " << cls.id;
    bool process = !codegen::classExecutables(cls).empty();
    (process ? withProcess : without)++;
    for (const char* name : {MB_PROG_CONNECT4, MB_PROG_CONNECT6, MB_PROG_SENDMSG4, MB_PROG_SENDMSG6, MB_PROG_PROCESS_GATE})
      EXPECT_EQ(bpf_object__find_program_by_name(obj.get(), name) != nullptr, process)
          << "class " << cls.id << (process ? " (process rules)" : " (no process rules)") << ": " << name;
    for (const char* name : {MB_PROG_TC_FROM_ENDPOINT, MB_PROG_TC_TO_ENDPOINT, MB_PROG_CGROUP_INGRESS,
                             MB_PROG_CGROUP_EGRESS, MB_PROG_L7_SKB_VERDICT, MB_PROG_L7_MSG_VERDICT})
      EXPECT_NE(bpf_object__find_program_by_name(obj.get(), name), nullptr) << "class " << cls.id << ": " << name;
  }
  EXPECT_EQ(withProcess, 1u) << "h/web's class";
  EXPECT_GE(without, 1u) << "h/db's class";
}

// Line info is 37% of an object that has it; the kernel never needs it.
// Every class object leaves it out and still loads (func_info intact).
TEST(ClassCompiler, ClassObjectsCarryNoLineInfoAndStillLoad) {
  pipeline::Compilation c;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("inventory.json", kInventory, c.inventory, &error)) << error;
  pipeline::runText({{"p.policy", kPolicy}}, c);
  ASSERT_FALSE(c.diags.hasErrors());
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  codegen::PeerLowering lowering = codegen::PeerLowering::choose(*c.ir);
  for (const auto& cls : c.ir->classes) {
    codegen::ClassObject object = compiler->compile(*c.ir, cls, lowering, {});
    EXPECT_EQ(codegen::lineInfoLength(object.elf), std::optional<uint32_t>(0)) << "class " << cls.id;
    std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_mem(object.elf.data(), object.elf.size(), nullptr));
    ASSERT_TRUE(obj) << "class " << cls.id;
    if (geteuid() != 0) continue;  // loading is the bpf tests' (CI runs as root)
    bpf_map* map;
    bpf_object__for_each_map(map, obj.get()) bpf_map__set_pin_path(map, nullptr);
    EXPECT_EQ(bpf_object__load(obj.get()), 0) << "class " << cls.id;
  }
}

// On an object clang compiled with -g (the request decision's test
// wrapper): the header's length goes to 0, and libbpf's linker, reading it,
// writes an object without line info (and smaller); what is not an ELF
// object with BTF.ext is left alone.
TEST(LineInfo, DroppingItZeroesTheLengthAndLeavesOtherInputsAlone) {
  std::ifstream in(MEMBRANE_HTTP_WRAPPER_OBJ, std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(original.empty());
  ASSERT_GT(codegen::lineInfoLength(original).value_or(0), 0u);
  std::string elf = original;
  EXPECT_TRUE(codegen::dropLineInfo(elf));
  EXPECT_EQ(codegen::lineInfoLength(elf), std::optional<uint32_t>(0));
  EXPECT_FALSE(codegen::dropLineInfo(elf)) << "nothing left to drop";
  std::string linkedWith = codegen::linkBpfObjects({original});
  std::string linkedWithout = codegen::linkBpfObjects({elf});
  EXPECT_GT(codegen::lineInfoLength(linkedWith).value_or(0), 0u);
  EXPECT_EQ(codegen::lineInfoLength(linkedWithout).value_or(0), 0u);
  EXPECT_LT(linkedWithout.size(), linkedWith.size());

  for (std::string hostile : {std::string(), std::string("\x7f" "ELF"), elf.substr(0, 100), std::string(64, '\0')}) {
    std::string before = hostile;
    EXPECT_FALSE(codegen::dropLineInfo(hostile));
    EXPECT_EQ(hostile, before);
    EXPECT_FALSE(codegen::lineInfoLength(hostile));
  }
}

}  // namespace
}  // namespace membrane
