// Small recursive workloads shared by the tests.
#pragma once

#include <taskforge/taskforge.hpp>

namespace taskforge_test {

// Fork-join fibonacci: spawns fib(n-1), computes fib(n-2) itself, then joins.
inline long fib(long n) {
    if (n < 2) return n;
    auto left = taskforge::spawn(fib, n - 1);
    const long right = fib(n - 2);
    return left.get() + right;
}

inline long serial_fib(long n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

}  // namespace taskforge_test
