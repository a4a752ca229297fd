// The anti-starvation picker on its own (detail/levels.hpp [Y2]): the highest level that has work, except that a
// level passed over 32 times in a row while it waited is taken next.
#include <map>
#include <taskforge/detail/levels.hpp>
#include <vector>

#include "../support/catch.hpp"

using taskforge::priority;
using taskforge::detail::level_bit;
using taskforge::detail::level_picker;

namespace {

// Picks `rounds` times with the levels of `waiting` always having work; returns how often each level was taken
// and the longest run of picks that skipped each level.
struct tally {
    std::map<priority, int> taken;
    std::map<priority, int> longest_gap;
};

tally run_picker(unsigned waiting, int rounds) {
    level_picker picker;
    tally result;
    std::map<priority, int> gap;
    for (int i = 0; i < rounds; ++i) {
        const priority chosen = picker.pick(waiting);
        REQUIRE((waiting & level_bit(chosen)) != 0);  // never a level without work
        picker.note(chosen, waiting);
        ++result.taken[chosen];
        for (priority level : {priority::high, priority::normal, priority::low}) {
            if ((waiting & level_bit(level)) == 0) continue;
            gap[level] = level == chosen ? 0 : gap[level] + 1;
            result.longest_gap[level] = std::max(result.longest_gap[level], gap[level]);
        }
    }
    return result;
}

}  // namespace

TEST_CASE("the picker takes the only level that has work", "[priority][picker]") {
    for (priority level : {priority::high, priority::normal, priority::low}) {
        const tally result = run_picker(level_bit(level), 100);
        REQUIRE(result.taken.at(level) == 100);
    }
}

TEST_CASE("under continuous high load, low still gets 1 in 33", "[priority][picker]") {
    const tally result = run_picker(level_bit(priority::high) | level_bit(priority::low), 33 * 100);
    REQUIRE(result.taken.at(priority::low) == 100);
    REQUIRE(result.taken.at(priority::high) == 32 * 100);
    REQUIRE(result.longest_gap.at(priority::low) == 32);
}

TEST_CASE("under continuous high load, normal still gets 1 in 33", "[priority][picker]") {
    const tally result = run_picker(level_bit(priority::high) | level_bit(priority::normal), 33 * 100);
    REQUIRE(result.taken.at(priority::normal) == 100);
    REQUIRE(result.longest_gap.at(priority::normal) == 32);
}

TEST_CASE("with all three levels loaded, neither lower level starves", "[priority][picker]") {
    const unsigned all = level_bit(priority::high) | level_bit(priority::normal) | level_bit(priority::low);
    const tally result = run_picker(all, 34 * 300);
    REQUIRE(result.longest_gap.at(priority::low) <= 32);
    REQUIRE(result.longest_gap.at(priority::normal) <= 33);  // an overdue low may go first
    REQUIRE(result.taken.at(priority::high) > 30 * 300);     // and high still gets nearly everything
}

TEST_CASE("a level that stops waiting starts its count again", "[priority][picker]") {
    level_picker picker;
    const unsigned both = level_bit(priority::high) | level_bit(priority::low);
    for (int i = 0; i < 31; ++i) picker.note(picker.pick(both), both);
    picker.note(priority::high, level_bit(priority::high));  // low had nothing for a moment
    for (int i = 0; i < 32; ++i) {
        REQUIRE(picker.pick(both) == priority::high);
        picker.note(priority::high, both);
    }
    REQUIRE(picker.pick(both) == priority::low);
}
