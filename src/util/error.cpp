// Formatting of user-facing errors (see include/coordexp/util/error.hpp).
#include "coordexp/util/error.hpp"

namespace coordexp {

std::string describe_input_problem(const std::string& where, const std::string& expected,
                                   const std::string& found, const std::string& hint) {
  std::string msg = where + ": expected " + expected + ", found " + found;
  if (!hint.empty()) msg += " (hint: " + hint + ")";
  return msg;
}

void throw_input_error(const std::string& where, const std::string& expected, const std::string& found,
                       const std::string& hint) {
  throw InputError(describe_input_problem(where, expected, found, hint));
}

}  // namespace coordexp
