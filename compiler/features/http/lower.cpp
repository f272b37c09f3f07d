// HTTP, lowering (http.h): a checked condition is the same on every subject;
// its items sorted and without duplicates, each item's headers sorted by
// their (lowercase, unique) names, so equal conditions compare equal.
#include <algorithm>

#include "features/http/http.h"

namespace membrane::features::http {

ir::HttpCondition lower(const Checked& checked) {
  ir::HttpCondition out;
  for (const auto& r : checked.requests) {
    ir::HttpRequestMatch m = r.match;
    std::sort(m.headers.begin(), m.headers.end());
    out.requests.push_back(std::move(m));
  }
  std::sort(out.requests.begin(), out.requests.end());
  out.requests.erase(std::unique(out.requests.begin(), out.requests.end()), out.requests.end());
  return out;
}

}  // namespace membrane::features::http
