// The dependency rules of docs/architecture.md ("Dependency rules"), checked
// on the source tree: every quoted #include is resolved to a file, files are
// grouped into folders (compiler/<stage>, runtime/<part>, tests/<kind>,
// bench, testkit, bpf-templates), and the folder graph must have no cycle
// and none of the forbidden edges. A new include that crosses a boundary
// fails here, naming the file and line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace membrane {
namespace {

namespace fs = std::filesystem;

// One include edge between folders, with where it was seen first.
struct Edge {
  std::string from, to;
  std::string where;  // "compiler/lint/check.h:8"
};

using Graph = std::map<std::string, std::map<std::string, std::string>>;  // from → to → where

// The folder a repository-relative path belongs to.
std::string folderOf(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string p; std::getline(in, p, '/');) parts.push_back(p);
  if (parts.size() >= 3 && (parts[0] == "compiler" || parts[0] == "runtime" || parts[0] == "tests"))
    return parts[0] + "/" + parts[1];
  return parts[0];
}

// Where a quoted include of `file` (repository-relative) resolves: its own
// folder first, then the include roots the build uses. "" when it is not a
// file of the repository (a generated header, a system header).
std::string resolve(const fs::path& root, const std::string& file, const std::string& include) {
  std::vector<fs::path> bases = {fs::path(file).parent_path(),
                                 "compiler",
                                 "runtime",
                                 "testkit",
                                 "bench",
                                 "bpf-templates",
                                 "",
                                 "tests/bpf",
                                 "tests/codegen",
                                 "tests/e2e",
                                 "tests/unit",
                                 "tests/runtime"};
  for (const auto& b : bases) {
    fs::path candidate = (b / include).lexically_normal();
    std::error_code ec;
    if (fs::is_regular_file(root / candidate, ec)) return candidate.generic_string();
  }
  return "";
}

Graph folderGraph(const fs::path& root) {
  Graph g;
  static const std::regex includeLine(R"(^\s*#\s*include\s+"([^"]+)\")");
  for (const char* top : {"compiler", "runtime", "bpf-templates", "bench", "testkit", "tests"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp" && ext != ".c") continue;
      std::string file = fs::relative(entry.path(), root).generic_string();
      if (file.rfind("tests/fuzz/corpus", 0) == 0) continue;
      std::ifstream in(entry.path());
      size_t lineNo = 0;
      for (std::string line; std::getline(in, line);) {
        ++lineNo;
        std::smatch m;
        if (!std::regex_search(line, m, includeLine)) continue;
        std::string target = resolve(root, file, m[1]);
        if (target.empty()) continue;
        std::string from = folderOf(file), to = folderOf(target);
        if (from != to) g[from].emplace(to, file + ":" + std::to_string(lineNo));
      }
    }
  }
  return g;
}

bool under(const std::string& folder, const std::string& prefix) {
  return folder == prefix || folder.rfind(prefix + "/", 0) == 0;
}

// Every broken rule, one line each.
std::vector<std::string> problems(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& [from, tos] : g)
    for (const auto& [to, where] : tos) {
      auto forbid = [&](bool broken, const std::string& rule) {
        if (broken) out.push_back(where + ": " + from + " includes " + to + ": " + rule);
      };
      forbid(under(from, "runtime") && under(to, "compiler"), "the node side never includes the compiler");
      forbid(from == "compiler/codegen" && to == "runtime/loader", "codegen uses no loader code");
      forbid(from == "compiler/codegen" && (to == "compiler/sema" || to == "compiler/frontend"),
             "codegen reads the IR, not the checker's output");
      forbid(from == "bench" && under(to, "tests"), "bench uses testkit/, not test sources");
      forbid(from == "testkit" && (under(to, "tests") || under(to, "bench") || under(to, "compiler")),
             "testkit depends on nothing it serves");
      forbid(from == "bpf-templates" && to != "runtime/abi", "the datapath includes only itself and the ABI");
      forbid(from == "compiler/ir" && !(to == "compiler/support" || under(to, "runtime")),
             "the IR is a data model: support/ and runtime/ only");
      forbid(under(from, "compiler") && under(to, "tests"), "no production code includes tests");
      // membrane_analysis (analysis/, lint/) sits on membrane_compiler; only
      // the driver and verify link it.
      const bool usesAnalysisLibrary = under(from, "compiler/analysis") || under(from, "compiler/lint") ||
                                       under(from, "compiler/driver") || under(from, "compiler/verify");
      forbid(under(from, "compiler") && !usesAnalysisLibrary &&
                 (under(to, "compiler/analysis") || under(to, "compiler/lint")),
             "the compiler library and codegen do not use the review tools (membrane_analysis)");
      // A rule kind is one folder, compiler/features/<kind>/: it may use the
      // shared program kinds (compiler/features) but no other kind and not
      // the registry that lists them all; and no kind reaches into the
      // stages that call it.
      const bool fromKind = under(from, "compiler/features") && from != "compiler/features" &&
                            from != "compiler/features/registry";
      forbid(fromKind && under(to, "compiler/features") && to != "compiler/features" && to != from,
             "a rule kind depends on no other kind and not on the registry");
      forbid(under(from, "compiler/features") &&
                 (under(to, "compiler/sema") || under(to, "compiler/lower") || under(to, "compiler/pipeline") ||
                  under(to, "compiler/codegen") || under(to, "compiler/evaluator") || under(to, "compiler/lint") ||
                  under(to, "compiler/analysis") || under(to, "compiler/driver")),
             "rule kinds are called by the stages, never the reverse");
    }
  // Cycles: a folder that reaches itself, reported once per cycle by its
  // smallest member, with the path.
  std::set<std::string> reported;
  for (const auto& [start, unused] : g) {
    std::map<std::string, std::string> parent;
    std::vector<std::string> queue = {start};
    for (size_t i = 0; i < queue.size(); ++i) {
      auto it = g.find(queue[i]);
      if (it == g.end()) continue;
      for (const auto& [next, where] : it->second) {
        if (next == start) {
          std::vector<std::string> cycle = {start};
          for (std::string at = queue[i]; at != start; at = parent[at]) cycle.insert(cycle.begin() + 1, at);
          std::string smallest = *std::min_element(cycle.begin(), cycle.end());
          if (smallest != start || !reported.insert(start).second) break;
          std::string text = "cycle:";
          for (const auto& c : cycle) text += " " + c + " ->";
          out.push_back(text + " " + start + " (closed at " + where + ")");
          break;
        }
        if (!parent.count(next) && next != start) {
          parent[next] = queue[i];
          queue.push_back(next);
        }
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += "  " + l + "\n";
  return s;
}

TEST(Layering, TheSourceTreeFollowsTheDependencyRules) {
  Graph g = folderGraph(MEMBRANE_SOURCE_DIR);
  ASSERT_TRUE(g.count("compiler/driver")) << "no includes found: is MEMBRANE_SOURCE_DIR the repository?";
  auto found = problems(g);
  EXPECT_TRUE(found.empty()) << "docs/architecture.md, \"Dependency rules\", is broken:\n" << joined(found);
}

TEST(Layering, CodegenAndBenchLinkOnlyWhatTheRulesAllow) {
  auto text = [](const std::string& path) {
    std::ifstream in(fs::path(MEMBRANE_SOURCE_DIR) / path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  std::smatch m;
  std::string compiler = text("compiler/CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(compiler, m, std::regex(R"(target_link_libraries\(membrane_codegen ([^)]*)\))")));
  EXPECT_EQ(m[1].str().find("membrane_loader"), std::string::npos) << m[0];
  size_t benchFiles = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(MEMBRANE_SOURCE_DIR) / "bench")) {
    if (entry.path().filename() != "CMakeLists.txt") continue;
    ++benchFiles;
    std::string file = fs::relative(entry.path(), MEMBRANE_SOURCE_DIR).generic_string();
    EXPECT_EQ(text(file).find("/tests"), std::string::npos) << file << " reaches into tests/";
  }
  EXPECT_GE(benchFiles, 1u);
}

// The checker itself: a cycle and a forbidden edge in a made-up graph.
TEST(Layering, ReportsCyclesAndForbiddenEdgesWithTheirPlace) {
  Graph g;
  g["compiler/lint"]["compiler/driver"] = "compiler/lint/check.h:8";
  g["compiler/driver"]["compiler/lint"] = "compiler/driver/cmd_lint.cpp:3";
  g["runtime/loader"]["compiler/codegen"] = "runtime/loader/loader.cpp:12";
  g["compiler/codegen"]["runtime/abi"] = "compiler/codegen/decision_codegen.cpp:5";
  g["compiler/codegen"]["compiler/sema"] = "compiler/codegen/artifact_writer.h:12";
  g["compiler/features/http"]["compiler/features/l4"] = "compiler/features/http/check.cpp:4";
  g["compiler/features/http"]["compiler/features"] = "compiler/features/http/http.h:9";
  g["compiler/pipeline"]["compiler/lint"] = "compiler/pipeline/pipeline.cpp:7";
  auto found = problems(g);
  EXPECT_EQ(found, (std::vector<std::string>{
                       "compiler/codegen/artifact_writer.h:12: compiler/codegen includes compiler/sema: codegen reads "
                       "the IR, not the checker's output",
                       "compiler/features/http/check.cpp:4: compiler/features/http includes compiler/features/l4: "
                       "a rule kind depends on no other kind and not on the registry",
                       "compiler/pipeline/pipeline.cpp:7: compiler/pipeline includes compiler/lint: the compiler "
                       "library and codegen do not use the review tools (membrane_analysis)",
                       "runtime/loader/loader.cpp:12: runtime/loader includes compiler/codegen: the node side never "
                       "includes the compiler",
                       "cycle: compiler/driver -> compiler/lint -> compiler/driver (closed at "
                       "compiler/lint/check.h:8)",
                   }))
      << joined(found);
}

}  // namespace
}  // namespace membrane
