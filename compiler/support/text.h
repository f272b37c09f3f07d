// Small text helpers the commands' summaries share, so that every summary
// line counts things the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace membrane {

// "1 file", "3 files": `n` and the word for it.
std::string plural(size_t n, std::string_view one, std::string_view many);

// A duration as the summaries print it: "0.18 s".
std::string secondsText(double seconds);

}  // namespace membrane
