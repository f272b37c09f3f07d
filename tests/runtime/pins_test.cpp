// Pin names of endpoint hooks (runtime/loader/pins.h): one per endpoint and
// hook, never shared by two endpoints, always a name bpffs takes.
#include "loader/pins.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace membrane::testing {
namespace {

using loader::linkPinName;
using loader::parseLinkPinName;

TEST(PinNames, KubernetesNamesStayReadable) {
  EXPECT_EQ(linkPinName("shop", "api-0", "tc-from"), "shop_api-0_tc-from");
  EXPECT_EQ(linkPinName("shop", "api.v2-0", "cg-in"), "shop_api%2ev2-0_cg-in");
}

// The collisions: '.' and '%' both became '%', and a NUL ended the
// path early. Escaping the escape character too keeps them apart.
TEST(PinNames, DifferentEndpointsNeverShareAPin) {
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"x", "b.x"}, {"x", "b%x"}, {"x", "b%2ex"}, {"x", std::string("b\0x", 3)}, {"x", "b"}, {"a_b", "c"}, {"a", "b_c"},
      {"a", "b/c"}, {"a/b", "c"}, {"x", "B.X"}};
  std::map<std::string, std::pair<std::string, std::string>> seen;
  for (const auto& e : endpoints) {
    std::string pin = linkPinName(e.first, e.second, "tc-from");
    auto [it, fresh] = seen.emplace(pin, e);
    EXPECT_TRUE(fresh) << "'" << pin << "' is the pin of two endpoints";
  }
}

bool bpffsTakes(const std::string& name) {
  return !name.empty() && name.size() <= loader::kMaxPinName &&
         name.find_first_of(std::string("./\0", 3)) == std::string::npos;
}

TEST(PinNames, LongNamesAreHashedToFitAndStayDistinct) {
  std::string ns(63, 'n'), a(253, 'a'), b = std::string(252, 'a') + "b";
  std::string pa = linkPinName(ns, a, "tc-from"), pb = linkPinName(ns, b, "tc-from");
  EXPECT_EQ(pa.size(), loader::kMaxPinName);
  EXPECT_TRUE(bpffsTakes(pa)) << pa;
  EXPECT_NE(pa, pb) << "names differing past the cut differ by their hash";
  EXPECT_EQ(pa.substr(0, 70), ns + "_" + std::string(6, 'a')) << "the start stays readable";
  EXPECT_NE(linkPinName(ns, a, "tc-to"), pa);
  auto parts = parseLinkPinName(pa);
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->hashed);
  EXPECT_EQ(parts->hook, "tc-from");
}

// Random names over an alphabet of the troublesome bytes: no two distinct
// endpoints share a pin, every pin is a name bpffs takes, and the parts come
// back from an unhashed pin.
TEST(PinNames, RandomNamesNeverCollide) {
  const std::string alphabet = std::string("ab.%_/~-Z9\0\xff ", 14);
  std::mt19937 rng(12);
  std::map<std::string, std::pair<std::string, std::string>> seen;
  const char* hooks[] = {"tc-from", "tc-to", "cg-in", "cg-out"};
  for (int i = 0; i < 50000; ++i) {
    auto word = [&] {
      size_t len = rng() % 5 == 0 ? 100 + rng() % 200 : rng() % 8;
      std::string s;
      for (size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
      return s;
    };
    std::string ns = word(), name = word();
    const char* hook = hooks[rng() % 4];
    std::string pin = linkPinName(ns, name, hook);
    ASSERT_TRUE(bpffsTakes(pin)) << pin;
    auto [it, fresh] = seen.emplace(pin + "\n", std::make_pair(ns, name + "\n" + hook));
    if (!fresh) {
      ASSERT_EQ(it->second, std::make_pair(ns, name + "\n" + hook)) << "collision on '" << pin << "'";
    }
    auto parts = parseLinkPinName(pin);
    ASSERT_TRUE(parts) << pin;
    EXPECT_EQ(parts->hook, hook);
    if (!parts->hashed) {
      EXPECT_EQ(parts->ns, ns);
      EXPECT_EQ(parts->name, name);
    }
  }
}

TEST(PinNames, OtherFileNamesAreNotTakenForPins) {
  for (const char* other :
       {"shop_api-0", "shop_api-0_tc-sideways", "shop%2_x_tc-from", "a_b_c_tc-from", "shop_a%61_cg-in"})
    EXPECT_FALSE(parseLinkPinName(other)) << other;
}

}  // namespace
}  // namespace membrane::testing
