// taskforge/detail/runtime.hpp — the engine behind taskforge::scheduler: workers, their loop, submission, helping.
//
// Who owns what
//   * Each worker thread owns one chase_lev_deque<job*>: only it pushes and pops; every other worker may steal.
//   * Threads that are not workers of this runtime submit through the injection queue (never a deque).
//   * The idle coordinator (parking.hpp) owns the sleep/wake protocol; its header argues why no wake-up is lost.
//
// How a worker finds work (worker_main), cheapest first
//   1. pop its own deque (LIFO: the most recently spawned task, still warm in cache);
//   2. take a batch from the injection queue (the first job runs, the rest go to its deque where others can steal);
//   3. become a searcher (bounded: at most half the workers) and steal from random victims (FIFO end: the oldest,
//      usually biggest, task), a few rounds with a pause in between;
//   4. park (parking.hpp) — or, once shutdown() began and nothing is left for it, exit.
//
// Waiting on a worker (help_until)
//   A worker that waits for a task does not block its thread: it runs other jobs until the awaited one is done,
//   so fork-join never deadlocks, even with one worker. To bound the stack (Rayon #854), a worker nested deeper
//   than `max_foreign_help_depth` waits only by running jobs from its own deque — those are the awaited task's
//   subtree, which a strict fork-join needs anyway — and otherwise naps on the awaited word. Worker stacks are
//   large (options::stack_size) so a 100,000-deep chain of nested spawn + wait fits.
//   A waiting worker that finds nothing sleeps on the awaited word with a short, growing timeout (20 us .. 1 ms)
//   so it notices new stealable work without spinning.
//
// Shutdown
//   shutdown() closes the injection queue (outside spawns now throw scheduler_closed), stops parking, wakes every
//   sleeper, and joins. A worker exits only when its own deque and the injection queue are empty; tasks still
//   running may spawn children into their own deques, which their owners run before exiting. So every accepted
//   task runs exactly once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "../deque.hpp"
#include "../errors.hpp"
#include "frame_pool.hpp"
#include "group_state.hpp"
#include "injection_queue.hpp"
#include "job.hpp"
#include "parking.hpp"
#include "state_word.hpp"
#include "task_frame.hpp"
#include "thread_launch.hpp"

namespace taskforge::detail {

class runtime;

// One worker's private state. Owner: its thread (the deque's thieves touch only the deque).
struct alignas(cache_line) worker {
    worker(runtime& owner, std::size_t position) : pool(&owner), index(position), random_state(position * 2 + 1) {}

    runtime* pool;
    std::size_t index;
    chase_lev_deque<job*> deque{256};
    std::uint64_t random_state;
    std::size_t help_depth = 0;  // nested help_until frames on this thread's stack
    bool searching = false;

    std::uint64_t next_random() noexcept {  // xorshift64: victim selection only
        random_state ^= random_state << 13;
        random_state ^= random_state >> 7;
        random_state ^= random_state << 17;
        return random_state;
    }
};

// The worker running on this thread (of any runtime), or nullptr.
inline thread_local worker* current_worker = nullptr;

inline void default_exception_report(std::exception_ptr error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& exception) {
        std::fprintf(stderr, "taskforge: unhandled exception in a detached task: %s\n", exception.what());
    } catch (...) {
        std::fprintf(stderr, "taskforge: unhandled exception in a detached task (not a std::exception)\n");
    }
}

struct runtime_settings {
    std::size_t threads;
    std::size_t stack_size;
    exception_handler on_unhandled_exception;
    void* owner;  // the public scheduler object, returned by scheduler::current()
};

class runtime {
public:
    static constexpr std::size_t max_foreign_help_depth = 128;
    // A searcher makes spin_rounds passes over the victims with a short pause between them, then yield_rounds
    // passes with a sched_yield between them, then parks: ~10-20 us of looking, which bridges the gaps of a
    // steady producer without costing an idle pool measurable CPU (W4).
    static constexpr int spin_rounds = 8;
    static constexpr int yield_rounds = 24;
    static constexpr int search_rounds = spin_rounds + yield_rounds;
    static constexpr std::size_t injection_batch = 32;
    static constexpr std::int64_t steal_batch = 16;
    static constexpr int injection_polls = 32;

    explicit runtime(const runtime_settings& settings) : settings_(settings), idle_(settings.threads) {
        workers_.reserve(settings.threads);
        for (std::size_t i = 0; i < settings.threads; ++i) workers_.push_back(std::make_unique<worker>(*this, i));
        threads_.reserve(settings.threads);
        try {
            for (auto& slot : workers_) {
                worker* self = slot.get();
                threads_.push_back(launch_thread(settings.stack_size, [this, self] { worker_main(*self); }));
            }
        } catch (...) {
            shutdown();
            throw;
        }
    }

    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    ~runtime() = default;  // the scheduler calls shutdown() first

    std::size_t thread_count() const noexcept { return workers_.size(); }
    exception_handler on_unhandled_exception() const noexcept { return settings_.on_unhandled_exception; }
    void* owner() const noexcept { return settings_.owner; }
    bool on_own_worker() const noexcept { return current_worker != nullptr && current_worker->pool == this; }

    // Any thread. Hands `work` to the pool; from one of our workers it goes to that worker's deque.
    // Throws scheduler_closed (and leaves `work` untouched) when called from outside after shutdown() began.
    void submit(job* work) {
        worker* self = current_worker;
        if (self != nullptr && self->pool == this) {
            self->deque.push(work);
            // With one worker the pusher is that worker, awake by definition: nobody to wake, no fence to pay.
            if (workers_.size() > 1) idle_.notify_after_push();
            return;
        }
        if (!injection_.push(work)) throw scheduler_closed();
        idle_.notify_after_seq_cst_publish();
    }

    // Idempotent, thread-safe; not from one of our own workers (it would join itself).
    void shutdown() {
        if (on_own_worker()) {
            throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                    "taskforge: shutdown() called from one of the scheduler's own workers");
        }
        std::lock_guard lock(shutdown_mutex_);
        injection_.close();
        idle_.close();
        for (auto& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }

    // Worker `self` waits until done(word): runs other jobs meanwhile. False if `deadline` passed first.
    template <class Done>
    bool help_until(worker& self, std::atomic<std::uint32_t>& word, std::uint32_t waiting, Done done,
                    const std::chrono::steady_clock::time_point* deadline) {
        struct depth_guard {
            worker& owner;
            explicit depth_guard(worker& w) : owner(w) { ++owner.help_depth; }
            ~depth_guard() { --owner.help_depth; }
        } guard(self);
        auto nap = std::chrono::microseconds(20);
        int idle_rounds = 0;
        for (;;) {
            deferred_finishes::flush();  // the awaited group may be waiting for our own finishes [G4]
            if (done(word.load(std::memory_order_acquire))) return true;  // pairs with the publisher's release
            if (deadline != nullptr && std::chrono::steady_clock::now() >= *deadline) return false;
            if (job* work = find_work_while_waiting(self)) {
                run(work);
                idle_rounds = 0;
                nap = std::chrono::microseconds(20);
                continue;
            }
            frame_cache::flush_this_thread();  // nothing to run: let freed frames go home
            if (++idle_rounds < search_rounds) {
                cpu_relax();
                continue;
            }
            auto until = std::chrono::steady_clock::now() + nap;
            if (deadline != nullptr && *deadline < until) until = *deadline;
            block_until(word, waiting, done, &until);
            if (nap < std::chrono::milliseconds(1)) nap *= 2;
        }
    }

private:
    void worker_main(worker& self) {
        current_worker = &self;
        frame_cache::prepare_worker_thread();
        for (;;) {
            job* work = self.deque.pop().value_or(nullptr);
            if (work == nullptr) {
                // Out of local work: send freed frames home before looking elsewhere, so a spawner's pool stays
                // as small as its peak of frames in flight (frame_pool.hpp, outbox).
                frame_cache::flush_this_thread();
                deferred_finishes::flush();  // group_state.hpp [G4]
                work = take_injected(self);
            }
            if (work == nullptr) work = poll_injection_briefly(self);
            if (work == nullptr) work = search(self);
            if (work != nullptr) {
                if (self.searching) {
                    self.searching = false;
                    if (idle_.end_search()) wake_helper_if_work_left();
                }
                run(work);
                continue;
            }
            if (injection_.is_closed() && drained(self)) break;
            park(self);
        }
        idle_.retire(self.searching);
        deferred_finishes::flush();
        frame_cache::flush_this_thread();
        current_worker = nullptr;
    }

    job* find_work_while_waiting(worker& self) {
        if (auto own = self.deque.pop()) return *own;
        if (self.help_depth > max_foreign_help_depth) return nullptr;  // bound the stack: own subtree only
        if (job* work = take_injected(self)) return work;
        return steal_round(self);
    }

    // Worker only. Takes up to a batch from the injection queue: runs the first, queues the rest locally.
    job* take_injected(worker& self) {
        if (!injection_.has_linked_job() || !injection_.try_lock_consumer()) return nullptr;
        job* first = injection_.pop();
        std::size_t queued = 0;
        if (first != nullptr) {
            for (; queued + 1 < injection_batch; ++queued) {
                job* more = injection_.pop();
                if (more == nullptr) break;
                self.deque.push(more);
            }
        }
        injection_.unlock_consumer();
        if (queued > 0) idle_.notify_after_push();  // let a sleeper share the batch
        return first;
    }

    // Worker only. One pass over the other workers from a random start; nullptr if all looked empty.
    job* steal_round(worker& self) {
        const std::size_t count = workers_.size();
        if (count < 2) return nullptr;
        const std::size_t start = self.next_random() % count;
        for (std::size_t i = 0; i < count; ++i) {
            worker& victim = *workers_[(start + i) % count];
            if (&victim == &self) continue;
            for (int attempt = 0; attempt < 4; ++attempt) {
                const steal_result<job*> result = victim.deque.try_steal();
                if (result.status == steal_status::success) {
                    steal_more(self, victim);
                    return result.item;
                }
                if (result.status == steal_status::empty) break;
            }
        }
        return nullptr;
    }

    // Worker only. A steady outside producer refills the injection queue every few hundred nanoseconds; watching it
    // for ~1 us before announcing a search keeps the idle state's line (which every spawn reads) from bouncing
    // with each momentarily empty queue. Reads only the consumer end (has_linked_job).
    job* poll_injection_briefly(worker& self) {
        for (int poll = 0; poll < injection_polls; ++poll) {
            for (int spin = 0; spin < 8; ++spin) cpu_relax();
            if (injection_.has_linked_job()) {
                if (job* work = take_injected(self)) return work;
            }
        }
        return nullptr;
    }

    // Worker only. After a successful steal, takes up to half of what the victim has left (at most steal_batch)
    // into its own deque: fewer trips to the victim's line and to the idle state for a stream of small tasks.
    void steal_more(worker& self, worker& victim) {
        const std::int64_t extra = std::min(victim.deque.size() / 2, steal_batch - 1);
        std::int64_t taken = 0;
        for (; taken < extra; ++taken) {
            const steal_result<job*> result = victim.deque.try_steal();
            if (result.status != steal_status::success) break;
            self.deque.push(result.item);
        }
        if (taken > 0) idle_.notify_after_push();
    }

    // Worker only: step 3 of the loop. nullptr when this worker may not search or found nothing.
    job* search(worker& self) {
        if (!self.searching) {
            if (!idle_.try_begin_search()) return nullptr;
            self.searching = true;
        }
        for (int round = 0; round < search_rounds; ++round) {
            if (job* work = steal_round(self)) return work;
            if (job* work = take_injected(self)) return work;
            if (round < spin_rounds) {
                for (int spin = 0; spin < 32; ++spin) cpu_relax();
            } else {
                std::this_thread::yield();
            }
        }
        return nullptr;
    }

    // Worker only: steps 2-4 of the parking protocol (parking.hpp).
    void park(worker& self) {
        if (!idle_.begin_park(self.index, self.searching)) return;  // closing: stay awake and drain
        self.searching = false;
        fence_seq_cst();  // the sleeper's half of the protocol's fence pair
        if (any_work_visible()) idle_.notify_one();
        idle_.park(self.index);
        self.searching = true;  // an unparked worker is counted as searching
    }

    // The last searcher found work: if more is visible, wake a sleeper to take it (parking.hpp, end_search).
    void wake_helper_if_work_left() {
        fence_seq_cst();  // pairs with the publishers' fences, like the sleeper's half in park()
        if (any_work_visible()) idle_.notify_one();
    }

    // Any worker, after the fence in park(): might any queue hold a job?
    bool any_work_visible() const noexcept {
        if (injection_.maybe_nonempty()) return true;
        for (const auto& other : workers_) {
            if (!other->deque.empty()) return true;
        }
        return false;
    }

    bool drained(worker& self) const noexcept { return self.deque.empty() && !injection_.maybe_nonempty(); }

    runtime_settings settings_;
    std::vector<std::unique_ptr<worker>> workers_;
    injection_queue injection_;
    idle_coordinator idle_;
    std::vector<launched_thread> threads_;
    std::mutex shutdown_mutex_;
};

// Any thread: waits until done(word). On a worker it helps (runs other jobs); elsewhere it spins briefly, then
// sleeps on the word. False if `deadline` passed first.
template <class Done>
bool wait_on_word(std::atomic<std::uint32_t>& word, std::uint32_t waiting, Done done,
                  const std::chrono::steady_clock::time_point* deadline = nullptr) {
    if (worker* self = current_worker) return self->pool->help_until(*self, word, waiting, done, deadline);
    return block_until(word, waiting, done, deadline);
}

}  // namespace taskforge::detail
