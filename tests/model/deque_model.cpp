// Relacy model checks of chase_lev_deque: one small test per pitfall, each exploring many interleavings and
// weak-memory outcomes of the real header (compiled against Relacy's atomics through detail/platform.hpp).
//
// Items are the values 1..N; a thief or owner that ever returns 0 read a slot before its write was visible.
// Each thread records what it took in its own array; after() checks that every item was taken exactly once.
#define TASKFORGE_RELACY 1
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <taskforge/deque.hpp>

#include "model_runner.hpp"

namespace {

constexpr int max_items = 8;
constexpr int max_threads = 3;

struct takings {
    int items[max_threads][max_items + 4];
    int counts[max_threads];
    void reset() { std::memset(this, 0, sizeof(*this)); }
    void record(unsigned thread, int item) { items[thread][counts[thread]++] = item; }
    // Every item 1..pushed taken exactly once, nothing else taken.
    void check(int pushed) const {
        int seen[max_items + 1] = {};
        for (int t = 0; t < max_threads; ++t) {
            for (int i = 0; i < counts[t]; ++i) {
                const int item = items[t][i];
                RL_ASSERT(item >= 1 && item <= pushed);  // 0: a slot read before its write was published
                ++seen[item];
            }
        }
        for (int item = 1; item <= pushed; ++item) RL_ASSERT(seen[item] == 1);
    }
};

using deque_type = taskforge::chase_lev_deque<int>;

// Base: owns the deque and the record of takings, drains leftovers after the threads finish.
template <class Derived, int Threads>
struct deque_test : rl::test_suite<Derived, Threads> {
    deque_type* deque = nullptr;
    takings taken;
    void before() {
        deque = new deque_type(Derived::initial_capacity);
        taken.reset();
    }
    void steal_into(unsigned thread) {
        if (auto item = deque->steal()) taken.record(thread, *item);
    }
    void pop_into(unsigned thread) {
        if (auto item = deque->pop()) taken.record(thread, *item);
    }
    void after() {
        while (auto item = deque->steal()) taken.record(0, *item);  // leftovers: count them too
        taken.check(Derived::pushed);
        delete deque;
    }
};

// The last item: the owner's pop and a thief's steal race for it; exactly one may win (the seq_cst fences).
struct last_item_pop_versus_steal : deque_test<last_item_pop_versus_steal, 2> {
    static constexpr int initial_capacity = 2, pushed = 1;
    void thread(unsigned index) {
        if (index == 0) {
            deque->push(1);
            pop_into(0);
        } else {
            steal_into(1);
        }
    }
};

// Two pushes then two pops racing two single steals: the classic shape where a missing pop fence duplicates.
struct two_pops_versus_two_steals : deque_test<two_pops_versus_two_steals, 3> {
    static constexpr int initial_capacity = 2, pushed = 2;
    void thread(unsigned index) {
        if (index == 0) {
            deque->push(1);
            deque->push(2);
            pop_into(0);
            pop_into(0);
        } else {
            steal_into(index);
        }
    }
};

// A thief steals while the owner's push grows the buffer: the copied slots must be visible through the new
// buffer pointer (release in grow, acquire in steal).
struct push_across_growth_versus_steal : deque_test<push_across_growth_versus_steal, 2> {
    static constexpr int initial_capacity = 1, pushed = 3;
    void thread(unsigned index) {
        if (index == 0) {
            deque->push(1);
            deque->push(2);  // grows 1 -> 2
            deque->push(3);  // grows 2 -> 4
        } else {
            steal_into(1);
            steal_into(1);
        }
    }
};

// A thief that sees the new bottom must see the item stored before it (release in push).
struct steal_sees_pushed_item : deque_test<steal_sees_pushed_item, 2> {
    static constexpr int initial_capacity = 4, pushed = 2;
    void thread(unsigned index) {
        if (index == 0) {
            deque->push(1);
            deque->push(2);
        } else {
            steal_into(1);
            steal_into(1);
        }
    }
};

// Slot reuse: the owner wraps around the ring while a thief is still working on an old index.
struct wrap_around_versus_steal : deque_test<wrap_around_versus_steal, 2> {
    static constexpr int initial_capacity = 2, pushed = 4;
    void thread(unsigned index) {
        if (index == 0) {
            deque->push(1);
            pop_into(0);
            deque->push(2);
            deque->push(3);
            pop_into(0);
            deque->push(4);
        } else {
            steal_into(1);
            steal_into(1);
        }
    }
};

// Two thieves and the owner all race for one item.
struct two_steals_and_pop_versus_one_item : deque_test<two_steals_and_pop_versus_one_item, 3> {
    static constexpr int initial_capacity = 2, pushed = 1;
    void thread(unsigned index) {
        if (index == 0) {
            deque->push(1);
            pop_into(0);
        } else {
            steal_into(index);
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    // Iterations per test; the focused tests find a weakened ordering within a few thousand runs.
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 200000);
    bool all = true;
    all &= taskforge_model::check<last_item_pop_versus_steal>("last_item_pop_versus_steal", iterations);
    all &= taskforge_model::check<two_pops_versus_two_steals>("two_pops_versus_two_steals", iterations);
    all &= taskforge_model::check<push_across_growth_versus_steal>("push_across_growth_versus_steal", iterations);
    all &= taskforge_model::check<steal_sees_pushed_item>("steal_sees_pushed_item", iterations);
    all &= taskforge_model::check<wrap_around_versus_steal>("wrap_around_versus_steal", iterations);
    all &= taskforge_model::check<two_steals_and_pop_versus_one_item>("two_steals_and_pop_versus_one_item", iterations);
    return all ? 0 : 1;
}
