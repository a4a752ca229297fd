// Waiting inside tasks nests work on the worker's stack; the depth must stay survivable.
#include <taskforge/taskforge.hpp>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

long chain(long depth) {
    if (depth == 0) return 0;
    return taskforge::spawn(chain, depth - 1).get() + 1;
}

// ThreadSanitizer keeps a fixed-size shadow call stack per thread (64 Ki entries in clang 14's runtime); a chain of
// 100,000 nested tasks needs several entries per level, so under TSan the chain is shorter. Every other build
// runs the full depth.
constexpr long chain_depth = TASKFORGE_TEST_TSAN ? 5'000 : 100'000;

}  // namespace

TEST_CASE("a 100,000-deep chain of nested spawn + get on one worker does not overflow the stack", "[recursion][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    CHECK(pool.spawn(chain, chain_depth).get() == chain_depth);
}

TEST_CASE("a 100,000-deep chain works with several workers stealing links of it", "[recursion][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 3}};
    CHECK(pool.spawn(chain, chain_depth).get() == chain_depth);
}
