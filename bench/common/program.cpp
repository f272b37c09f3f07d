#include "common/program.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace membrane::bench {

namespace {

std::string progressName = "bench";
volatile sig_atomic_t interruptedBy = 0;

void installInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = [](int sig) { interruptedBy = sig; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

BenchProgram::BenchProgram(std::string name, const std::string& description, const std::string& footer)
    : app_(description, name) {
  progressName = std::move(name);
  app_.footer(footer);
  app_.add_flag("--quick", quick, "CI-sized runs: minutes, not tens of minutes; figures indicative only");
}

std::optional<int> BenchProgram::parse(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    app_.exit(e);
    return 2;
  }
  return std::nullopt;
}

void BenchProgram::needsRoot(std::string sectionHeading, std::string why) {
  rootSection_ = std::move(sectionHeading);
  rootWhy_ = std::move(why);
}

int BenchProgram::run(const std::function<int()>& body) {
  if (!rootWhy_.empty() && geteuid() != 0) {
    progress("needs root (" + rootWhy_ + ")");
    if (runningInCi()) return 1;
    std::cout << rootSection_ << "\n\nNot measured: the benchmark needs root (" << rootWhy_ << ").\n";
    return 0;
  }
  installInterruptHandler();
  try {
    return body();
  } catch (const std::exception& e) {
    progress(std::string("error: ") + e.what());
    return 1;
  }
}

void throwIfInterrupted() {
  if (interruptedBy) throw std::runtime_error(std::string("interrupted by ") + strsignal(interruptedBy));
}

void progress(const std::string& line) { std::cerr << progressName << ": " << line << std::endl; }

}  // namespace membrane::bench
