// Errors that reach users. A user-facing error names where the bad input is (file, field, index), what was
// expected and what was found, and where it helps a hint on the fix (STYLE.md, "Errors").
#pragma once

#include <stdexcept>
#include <string>

namespace coordexp {

// Bad input from a user: a file, a JSON field, a checkpoint, a generated sequence, an argument.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds "<where>: expected <expected>, found <found>[ (hint: <hint>)]".
std::string describe_input_problem(const std::string& where, const std::string& expected,
                                   const std::string& found, const std::string& hint = "");

[[noreturn]] void throw_input_error(const std::string& where, const std::string& expected,
                                    const std::string& found, const std::string& hint = "");

// Checks an argument of a library function; throws InputError naming the argument.
#define COORDEXP_CHECK_ARG(cond, name, expected, found)                                                 \
  do {                                                                                                  \
    if (!(cond)) ::coordexp::throw_input_error(std::string("argument ") + (name), (expected), (found)); \
  } while (0)

}  // namespace coordexp
