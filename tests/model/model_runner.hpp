// Shared by the Relacy model tests: runs one test class for a number of iterations with Relacy's random scheduler
// and prints one line per test. Include after the headers under test (they pull in Relacy via platform.hpp).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace taskforge_model {

// Iterations per test: the first command-line argument, else `fallback`.
inline rl::iteration_t iterations_from(int argc, char** argv, rl::iteration_t fallback) {
    return argc > 1 ? std::strtoull(argv[1], nullptr, 10) : fallback;
}

template <class Test>
bool check(const char* name, rl::iteration_t iterations) {
    rl::test_params params;
    params.iteration_count = iterations;
    params.search_type = rl::random_scheduler_type;
    params.output_history = false;
    const bool passed = rl::simulate<Test>(params);
    std::printf("%-40s %s (%llu iterations)\n", name, passed ? "passed" : "FAILED",
                static_cast<unsigned long long>(iterations));
    return passed;
}

}  // namespace taskforge_model
