// kiln::Error: the exception for every failure a user can cause.
#pragma once

#include <stdexcept>

namespace kiln {

/// Thrown for anything a user can cause (a bad file, a wrong shape, a missing
/// device). The message says what was wrong and what to do about it.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace kiln
