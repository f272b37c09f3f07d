// Small text helpers the commands share (their summaries, lint's ids), so
// that each is written once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace membrane {

// "1 file", "3 files": `n` and the word for it.
std::string plural(size_t n, std::string_view one, std::string_view many);

// `s` with ASCII letters in lower case (other bytes as they are).
std::string lowercase(std::string s);

// A duration as the summaries print it: "0.18 s".
std::string secondsText(double seconds);

}  // namespace membrane
