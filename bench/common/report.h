// Small helpers shared by the benchmark programs: statistics and markdown.
#pragma once

#include <string>
#include <vector>

namespace membrane::bench {

double median(std::vector<double> values);
double mean(const std::vector<double>& values);

// "12.3" style, `digits` after the point.
std::string fixed(double value, int digits = 1);
// "1,234,567".
std::string thousands(unsigned long long value);

// A markdown table built row by row.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string markdown() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace membrane::bench
