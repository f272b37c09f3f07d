// The IR as JSON (`membranec ir`): for inspection, tests and tools.
#pragma once

#include <nlohmann/json.hpp>

#include "ir/ir.h"

namespace membrane::ir {

nlohmann::json toJson(const Program& program);
nlohmann::json toJson(const Rule& rule);
nlohmann::json toJson(const DirectionPolicy& direction);

}  // namespace membrane::ir

namespace membrane::ir {
// A readable listing of the IR: selectors, then per class its endpoints,
// policies and rules (with the text as written).
std::string toText(const Program& program);
}  // namespace membrane::ir
