// The one exception type of the demo: a message for the user, already worded
// as "what was wrong with which input, what was expected, how to fix it".
#pragma once

#include <stdexcept>

namespace sentiment {

class DemoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sentiment
