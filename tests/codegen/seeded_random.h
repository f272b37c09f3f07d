// What the differential tests (differential_test.cpp, dns_differential_test.cpp)
// share to draw reproducible random policies and packets: a seeded generator
// and numbers from the environment (seeds, packet budgets).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

namespace membrane::testing {

// `name`'s value as a number, or `fallback` when it is not set.
inline uint64_t envOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace membrane::testing
