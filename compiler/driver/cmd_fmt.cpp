#include "driver/cmd_fmt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "driver/command_support.h"
#include "format/formatter.h"
#include "pipeline/pipeline.h"
#include "io/file.h"

namespace membrane::driver {

namespace {

namespace fs = std::filesystem;

constexpr int kExitNotFormatted = kExitFinding;  // also: syntax errors

struct FmtOptions {
  std::vector<std::string> paths;
  bool check = false;
  bool write = false;
  std::string color = "auto";
};

// Writes `text` next to `path` and renames it over `path`, keeping the file's
// permissions; the original is untouched if anything fails. A symlink is
// followed, so the link stays a link.
bool replaceFile(const std::string& path, const std::string& text, std::string* error) {
  std::error_code ec;
  fs::path target = fs::is_symlink(path, ec) ? fs::canonical(path, ec) : fs::path(path);
  if (ec) {
    *error = "cannot resolve '" + path + "': " + ec.message();
    return false;
  }
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    *error = "cannot stat '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::string tmp = target.string() + ".fmt-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) {
    *error = "cannot create a temporary file next to '" + path + "': " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const std::string& what) {
    *error = what + " '" + path + "': " + std::strerror(errno);
    ::close(fd);
    ::unlink(name.data());
    return false;
  };
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, st.st_mode & 07777) != 0) return fail("cannot set the permissions of");
  if (::fsync(fd) != 0) return fail("cannot write");
  if (::close(fd) != 0) {
    *error = "cannot write '" + path + "': " + std::strerror(errno);
    ::unlink(name.data());
    return false;
  }
  if (::rename(name.data(), target.c_str()) != 0) {
    *error = "cannot replace '" + path + "': " + std::strerror(errno);
    ::unlink(name.data());
    return false;
  }
  return true;
}

// Standard input, with the same cap as a policy file: `fmt - </dev/zero`
// must end.
std::optional<std::string> readStdin(std::string* error) {
  std::string text;
  char buf[65536];
  while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
    text.append(buf, static_cast<size_t>(std::cin.gcount()));
    if (text.size() > kMaxPolicyFileBytes) {
      *error = "standard input is larger than " + io::sizeText(kMaxPolicyFileBytes) +
               "; membrane reads a policy file of at most " + io::sizeText(kMaxPolicyFileBytes);
      return std::nullopt;
    }
  }
  if (std::cin.bad()) {
    *error = "cannot read standard input";
    return std::nullopt;
  }
  return text;
}

std::string diffLabel(const std::string& side, const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : side + path;
}

int runFmt(const FmtOptions& opts) {
  const bool fromStdin = opts.paths.size() == 1 && opts.paths[0] == "-";
  if (fromStdin && opts.write) {
    std::cerr << "membranec: error: -w cannot rewrite standard input\n";
    return kExitInputErrors;
  }
  std::vector<std::string> errors;
  std::vector<std::string> files = fromStdin ? std::vector<std::string>{"-"} : pipeline::expandPolicyPaths(opts.paths, errors);
  for (const auto& e : errors) std::cerr << "membranec: error: " << e << "\n";
  if (!errors.empty()) return kExitInputErrors;
  if (!opts.check && !opts.write && files.size() != 1) {
    std::cerr << "membranec: error: fmt prints one file to standard output, but " << files.size()
              << " were given; use -w to rewrite them in place or --check to see which need it\n";
    return kExitInputErrors;
  }

  const bool color = useColor(opts.color);
  SourceManager sources;
  DiagnosticEngine diags(sources);
  int rc = kExitOk;
  auto worst = [&rc](int code) { rc = std::max(rc, code); };
  for (const auto& file : files) {
    std::optional<FileId> id;
    std::string error;
    if (file == "-") {
      if (auto text = readStdin(&error)) id = sources.add("<stdin>", std::move(*text));
    } else {
      id = sources.load(file, &error);
    }
    if (!id) {
      std::cerr << "membranec: error: " << error << "\n";
      worst(kExitInputErrors);
      continue;
    }

    size_t reported = diags.all().size();
    std::optional<std::string> formatted;
    try {
      formatted = format::formatFile(*id, sources, diags);
    } catch (const format::FormatInternalError& e) {
      std::cerr << "membranec: internal error: " << sources.path(*id) << ": " << e.what() << "\n";
      worst(kExitInputErrors);
      continue;
    }
    if (!formatted) {  // syntax errors: reported like `check` does, file left alone
      for (size_t i = reported; i < diags.all().size(); ++i) diags.print(std::cerr, diags.all()[i], color);
      worst(kExitNotFormatted);
      continue;
    }

    const std::string& original = sources.text(*id);
    if (opts.check) {
      if (*formatted != original) {
        std::cout << format::unifiedDiff(original, *formatted, diffLabel("a/", sources.path(*id)),
                                         diffLabel("b/", sources.path(*id)));
        worst(kExitNotFormatted);
      }
    } else if (opts.write) {
      if (*formatted != original) {
        if (replaceFile(file, *formatted, &error)) {
          std::cerr << "reformatted " << file << "\n";
        } else {
          std::cerr << "membranec: error: " << error << "\n";
          worst(kExitInputErrors);
        }
      }
    } else {
      std::cout << *formatted;
    }
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "membranec: error: cannot write to standard output\n";
    worst(kExitInputErrors);
  }
  return rc;
}

}  // namespace

FmtCommand addFmtCommand(CLI::App& app) {
  auto opts = std::make_shared<FmtOptions>();
  auto* cmd = app.add_subcommand("fmt", "Format policy files in the canonical layout (comments kept)");
  cmd->add_option("paths", opts->paths,
                  "Policy files, directories searched recursively for *.policy, or - for standard input")
      ->required()
      ->type_name("FILES|DIRS");
  auto* check = cmd->add_flag("--check", opts->check,
                              "Write nothing; print a diff for each file that is not formatted, exit 1 if any");
  auto* write = cmd->add_flag("-w,--write", opts->write, "Rewrite files in place (only those that change)");
  check->excludes(write);
  addColorOption(cmd, opts->color);
  cmd->footer(
      "Without -w or --check, prints the one file given, formatted, to standard output.\n"
      "Exit codes: 0 formatted (--check: nothing to do), 1 syntax errors or (--check) files to format,\n"
      "2 usage or I/O errors.\n\n"
      "Examples:\n  membranec fmt --check policies/\n  membranec fmt -w policies/shop/api.policy");
  return {cmd, [opts] { return runFmt(*opts); }};
}

}  // namespace membrane::driver
