// Single-thread semantics of chase_lev_deque<T>: what the owner and a thief see when nobody races.
#include <cstdint>
#include <memory>
#include <taskforge/deque.hpp>
#include <type_traits>

#include "../support/catch.hpp"

using taskforge::chase_lev_deque;

namespace {
template <class T>
concept pushable = requires(chase_lev_deque<std::intptr_t>& d, T value) {
    d.push(value);
};
}  // namespace

TEST_CASE("a fresh deque is empty for pop, steal and size", "[deque][unit]") {
    chase_lev_deque<int> deque;
    CHECK(deque.empty());
    CHECK(deque.size() == 0);
    CHECK_FALSE(deque.pop().has_value());
    CHECK_FALSE(deque.steal().has_value());
    CHECK(deque.try_steal().status == taskforge::steal_status::empty);
    CHECK_FALSE(deque.pop().has_value());  // a second pop on empty must not corrupt the indices
    deque.push(7);
    CHECK(deque.size() == 1);
    CHECK(deque.pop() == 7);
}

TEST_CASE("pop returns items in LIFO order", "[deque][unit]") {
    chase_lev_deque<int> deque;
    for (int i = 0; i < 10; ++i) deque.push(i);
    for (int i = 9; i >= 0; --i) CHECK(deque.pop() == i);
    CHECK_FALSE(deque.pop().has_value());
}

TEST_CASE("steal returns items in FIFO order", "[deque][unit]") {
    chase_lev_deque<int> deque;
    for (int i = 0; i < 10; ++i) deque.push(i);
    for (int i = 0; i < 10; ++i) CHECK(deque.steal() == i);
    CHECK_FALSE(deque.steal().has_value());
}

TEST_CASE("pop and steal meet in the middle without losing or repeating an item", "[deque][unit]") {
    chase_lev_deque<int> deque(2);
    for (int i = 0; i < 5; ++i) deque.push(i);
    CHECK(deque.steal() == 0);
    CHECK(deque.pop() == 4);
    CHECK(deque.steal() == 1);
    CHECK(deque.pop() == 3);
    CHECK(deque.pop() == 2);
    CHECK_FALSE(deque.pop().has_value());
    CHECK_FALSE(deque.steal().has_value());
}

TEST_CASE("the deque grows from capacity 2 to more than a million items and keeps every item", "[deque][unit]") {
    chase_lev_deque<std::int64_t> deque(2);
    CHECK(deque.capacity() == 2);
    constexpr std::int64_t count = 1 << 20;
    for (std::int64_t i = 0; i < count; ++i) deque.push(i);
    CHECK(deque.capacity() >= count);
    CHECK(deque.size() == count);
    for (std::int64_t i = 0; i < count / 2; ++i) REQUIRE(deque.steal() == i);
    for (std::int64_t i = count - 1; i >= count / 2; --i) REQUIRE(deque.pop() == i);
    CHECK(deque.empty());
}

TEST_CASE("growth after the indices wrapped around the ring keeps the order", "[deque][unit]") {
    chase_lev_deque<int> deque(4);
    for (int round = 0; round < 3; ++round) {  // move top and bottom past the ring size
        for (int i = 0; i < 3; ++i) deque.push(i);
        for (int i = 0; i < 3; ++i) REQUIRE(deque.steal() == i);
    }
    for (int i = 0; i < 9; ++i) deque.push(i);  // grows twice from a wrapped position
    for (int i = 0; i < 9; ++i) REQUIRE(deque.steal() == i);
}

TEST_CASE("the capacity must be a power of two", "[deque][unit]") {
    CHECK_THROWS_AS(chase_lev_deque<int>(0), std::invalid_argument);
    CHECK_THROWS_AS(chase_lev_deque<int>(3), std::invalid_argument);
    CHECK_NOTHROW(chase_lev_deque<int>(1));
}

TEST_CASE("pointer items round-trip unchanged", "[deque][unit]") {
    int values[3] = {1, 2, 3};
    chase_lev_deque<int*> deque;
    for (int& v : values) deque.push(&v);
    CHECK(deque.steal() == &values[0]);
    CHECK(deque.pop() == &values[2]);
    CHECK(deque.pop() == &values[1]);
}

// Move-only and non-trivially-copyable element types are rejected at compile time (static_assert in the class);
// the push signature itself takes T by value, which this concept checks without instantiating a bad deque.
static_assert(pushable<std::intptr_t>);
static_assert(!pushable<std::unique_ptr<int>>);
static_assert(!std::is_copy_constructible_v<chase_lev_deque<int>>);
