// Waiting inside tasks nests work on the worker's stack; the depth must stay survivable.
#include <taskforge/taskforge.hpp>

#include "../support/catch.hpp"

namespace {

long chain(long depth) {
    if (depth == 0) return 0;
    return taskforge::spawn(chain, depth - 1).get() + 1;
}

}  // namespace

TEST_CASE("a 100,000-deep chain of nested spawn + get on one worker does not overflow the stack", "[recursion][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    CHECK(pool.spawn(chain, 100'000).get() == 100'000);
}

TEST_CASE("a 100,000-deep chain works with several workers stealing links of it", "[recursion][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 3}};
    CHECK(pool.spawn(chain, 100'000).get() == 100'000);
}
