// taskforge/detail/state_word.hpp — blocking on a 32-bit word until a condition holds, without lost wake-ups.
//
// Protocol shared by task frames and task groups:
//   * a waiter that decides to sleep first sets the word's `waiting` bit with a CAS, then sleeps while the word
//     still holds exactly the value it saw (futex semantics: a change in between makes the sleep return at once);
//   * the party that makes the condition true does it with an RMW; if the value it replaced had `waiting` set,
//     it wakes all sleepers. The RMW and the CAS are ordered on the same word, so either the waiter's CAS sees the
//     new value (and does not sleep) or the publisher's RMW sees `waiting` (and wakes it);
//   * `waiting` must stay set on every value a sleeper may sleep on until the RMW that makes the condition true
//     replaces it (group_state.hpp [G5]; a task's word never leaves a final status, task_frame.hpp).
#pragma once

#include <chrono>
#include <cstdint>

#include "platform.hpp"

namespace taskforge::detail {

// Spins that a waiter spends before sleeping: short tasks finish without a system call on either side. (The model
// checker explores every interleaving instead.)
#if defined(TASKFORGE_RELACY)
inline constexpr int spins_before_sleep = 1;
#else
inline constexpr int spins_before_sleep = 256;
#endif

// Waits until `done(word)`; returns false if `deadline` (when given) passed first. Acquire on every read pairs
// with the publisher's release RMW, so what it wrote before making `done` true is visible to the caller.
template <class Done>
bool block_until(atomic<std::uint32_t>& word, std::uint32_t waiting, Done done,
                 const std::chrono::steady_clock::time_point* deadline = nullptr) {
    std::uint32_t value = word.load(std::memory_order_acquire);
    for (int spin = 0; spin < spins_before_sleep && !done(value); ++spin) {
        cpu_relax();
        value = word.load(std::memory_order_acquire);
    }
    while (!done(value)) {
        if (deadline != nullptr && std::chrono::steady_clock::now() >= *deadline) return false;
        if ((value & waiting) == 0) {
            // Acquire on both outcomes: we go on to read the word's meaning either way.
            if (!word.compare_exchange_weak(value, value | waiting, std::memory_order_acquire,
                                            std::memory_order_acquire)) {
                continue;  // the word changed: look again before sleeping
            }
            value |= waiting;
        }
        futex_wait(word, value, deadline);
        value = word.load(std::memory_order_acquire);
    }
    return true;
}

}  // namespace taskforge::detail
