// Turning a run-time flag into a compile-time one, so that a kernel is
// instantiated once per combination of its switches and each instantiation
// holds only the code its configuration runs.
#pragma once

#include <type_traits>

namespace spikeops::cpu {

// f(std::bool_constant<b>{}).
template <class F>
inline void bool_switch(bool b, F&& f) {
  if (b)
    f(std::true_type{});
  else
    f(std::false_type{});
}

}  // namespace spikeops::cpu
