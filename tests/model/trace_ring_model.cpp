// Relacy model checks of a worker's trace ring (detail/trace_ring.hpp, invariants [T1]..[T3]): the real ring, its
// owner writing events while stop_trace's reader copies it. Every event the reader reports must be whole (its
// fields all from one write: the writer stamps each field with the event's number) and in order, and the events
// it reports plus those it says were lost must add up to what was written since `first`.
//
// Mutant (built as a WILL_FAIL test by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_TRACE_LATE_CLAIM  the writer announces the event it overwrites only after writing it:
//                                            the reader reports a torn event [T1][T2].
#define TASKFORGE_RELACY 1
#include <cstdint>
#include <cstdlib>
#include <taskforge/detail/trace_ring.hpp>

#include "model_runner.hpp"

namespace {

using taskforge::detail::trace_event;
using taskforge::detail::trace_kind;
using taskforge::detail::trace_ring;

constexpr std::uint64_t events_written = 5;  // through a ring of 2: the reader races overwrites

struct ring_test_base {
    trace_ring* ring = nullptr;
    void start() { ring = new trace_ring(2); }
    void finish() { delete ring; }
    void write_all() {
        for (std::uint64_t number = 1; number <= events_written; ++number) {
            ring->write(trace_kind::task, nullptr, number, number, number);
        }
    }
    // Reads from event `first`: every reported event is whole, consecutive, and none is counted twice [T2][T3].
    void read_checked(std::uint64_t first) {
        std::uint64_t reported = 0;
        std::uint64_t previous = 0;
        const std::uint64_t lost = ring->read(first, [&](const trace_event& event) {
            RL_ASSERT(event.start == event.end && event.end == event.detail);  // whole [T2]
            RL_ASSERT(event.start > first);                                    // numbered from `first` [T3]
            RL_ASSERT(previous == 0 || event.start == previous + 1);           // oldest first, none skipped
            previous = event.start;
            ++reported;
        });
        RL_ASSERT(reported <= 2);
        // What was published when the read began is at least what it accounts for; nothing beyond the writes.
        RL_ASSERT(first + lost + reported <= events_written);
        if (reported > 0) RL_ASSERT(previous == first + lost + reported);
    }
};

// The owner writes while a reader copies the ring from the first event.
struct reader_sees_whole_events : rl::test_suite<reader_sees_whole_events, 2>, ring_test_base {
    void before() { start(); }
    void after() { finish(); }
    void thread(unsigned index) {
        if (index == 0) {
            write_all();
        } else {
            read_checked(0);
        }
    }
};

// A trace that starts after two events: they are never reported again [T3].
struct later_trace_skips_earlier_events : rl::test_suite<later_trace_skips_earlier_events, 2>, ring_test_base {
    void before() {
        start();
        ring->write(trace_kind::park, nullptr, 1, 1, 1);
        ring->write(trace_kind::park, nullptr, 2, 2, 2);
    }
    void after() { finish(); }
    void thread(unsigned index) {
        if (index == 0) {
            for (std::uint64_t number = 3; number <= events_written; ++number) {
                ring->write(trace_kind::task, nullptr, number, number, number);
            }
        } else {
            read_checked(2);
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 200000);
    bool passed = true;
    passed &= taskforge_model::check<reader_sees_whole_events>("reader_sees_whole_events", iterations);
    passed &= taskforge_model::check<later_trace_skips_earlier_events>("later_trace_skips_earlier_events", iterations);
    return passed ? EXIT_SUCCESS : EXIT_FAILURE;
}
