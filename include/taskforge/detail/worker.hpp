// taskforge/detail/worker.hpp — the record of one worker slot: its deque, its place in the runtime, its counts.
//
// A slot is run by one thread at a time, its owner: a pool worker, a spare standing in for a blocked one, or an
// outside thread inside a guest slot while it waits (runtime.hpp, guest_slots.hpp). Everything here but the
// deque's thief end and the instruments' mirror is the owner's alone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../deque.hpp"
#include "instruments.hpp"
#include "job.hpp"
#include "levels.hpp"
#include "platform.hpp"

namespace taskforge::detail {

class runtime;

// One worker's private state. Owner: its thread (the deque's thieves touch only the deque).
struct alignas(cache_line) worker {
    worker(runtime& owner, std::size_t position, bool is_spare)
        : pool(&owner), index(position), spare(is_spare), stand_in(is_spare), random_state(position * 2 + 1) {}

    runtime* pool;
    std::size_t index;
    bool spare;             // started to stand in for a blocked worker; may retire when idle [R2]
    atomic<bool> stand_in;  // `spare`, published for metrics readers (relaxed: a snapshot; runtime.hpp role_of)
    bool guest = false;     // a guest slot: its owner is whichever waiting outside thread is inside (guest_slots.hpp)
    chase_lev_deque<job*> deque{256};     // the normal lane: every mechanism but priorities uses only this one
    chase_lev_deque<job*> high_lane{32};  // levels.hpp [Y1]
    chase_lev_deque<job*> low_lane{32};   // levels.hpp [Y1]
    bool lanes_used = false;              // the owner pushed into high_lane or low_lane since it last saw both empty
    priority level = priority::normal;    // the level of the job the loop took last [Y3]
    level_picker picker;                  // [Y2]
    std::uint64_t random_state;
    std::uintptr_t stack_floor = 0;  // below this address, a wait blocks instead of running work inline
    std::uint32_t ticks = 0;         // tasks taken since the last fairness check
    bool searching = false;
    std::uint32_t short_sleeps = 0;  // parks in a row that a wake-up ended within runtime::linger_limit_us
    std::uint64_t linger = 0;        // rough ticks that search() keeps looking past its usual rounds [Z1]
    worker_instruments instruments;  // metrics counts and trace ring (instruments.hpp)

    // The lane of `chosen` (not inherit_level) [Y1].
    chase_lev_deque<job*>& lane(priority chosen) noexcept {
        if (chosen == priority::normal) return deque;
        return chosen == priority::high ? high_lane : low_lane;
    }

    std::uint64_t next_random() noexcept {  // xorshift64: victim selection only
        random_state ^= random_state << 13;
        random_state ^= random_state >> 7;
        random_state ^= random_state << 17;
        return random_state;
    }
};

// The worker running on this thread (of any runtime), or nullptr.
inline constinit thread_local worker* current_worker = nullptr;

}  // namespace taskforge::detail
