// taskforge/detail/runtime.hpp — the engine behind taskforge::scheduler: workers, their loop, submission, spares.
//
// Who owns what
//   * Each worker thread owns one chase_lev_deque<job*>: only it pushes and pops; every other worker may steal.
//   * Threads that are not workers of this runtime submit through the injection queue (never a deque).
//   * The idle coordinator (parking.hpp) owns the sleep/wake protocol; its header argues why no wake-up is lost.
//   * Waiting (waiting.hpp) decides what a waiting thread may run and when it blocks; while a worker is blocked
//     this runtime keeps the pool's parallelism with spare workers (below).
//
// How a worker finds work (worker_main), cheapest first
//   1. every `fairness_interval` (61) tasks, the injection queue first, so local work cannot starve outside
//      spawns; otherwise its own deque (LIFO: the most recently spawned task, still warm in cache);
//   2. take a batch from the injection queue (the first job runs, the rest go to its deque where others can steal);
//   3. become a searcher (bounded: at most half the workers) and steal from random victims (FIFO end: the oldest,
//      usually biggest, task), a few rounds with a pause in between;
//   4. park (parking.hpp) — or, once shutdown() began and nothing is left for it, exit.
//   With priorities in use (levels.hpp) steps 1 and 2 look at each level's lane and injection queue, highest
//   first but never starving a lower one [Y2], and step 3 takes each victim's highest level. A pool that never
//   sees a level other than normal takes the same path as before: one more test of an owner-local flag and of
//   an unused queue's line per task.
//
// Spare workers (compensation for blocked waits)
//   Worker slots are numbered 0 .. threads + max_spare_threads - 1; the first `threads` are the pool's own
//   workers, started by the constructor. `live_` counts started threads and `blocked_` those blocked in a wait
//   (both under `spares_mutex_`, cold path). Invariant [R1]: while live_ - blocked_ < threads, a worker that is
//   about to block first starts a spare (a thread in a free slot), so the pool never has fewer than
//   `threads` threads able to run its work — a blocked wait can never starve the pool of the work it waits for.
//   [R2] A spare parks with a timeout (spare_idle_timeout); when it expires with no work visible and the pool has
//   more standing threads than `threads`, it retires: its slot goes back on the free list. Slots are published
//   with `slot_count_` (release), and a slot's worker object lives as long as the runtime, so thieves iterate
//   0 .. slot_count_ without a lock; a retired slot's deque is empty (its worker parked with nothing left).
//   [R3] Every thread the runtime starts is joined by the runtime, never detached: a retired spare's thread is
//   joined when its slot is reused (it is past its last access by then: it freed the slot under spares_mutex_),
//   and shutdown() joins whatever is left. So when the scheduler's destructor returns, none of its threads
//   still runs, not even the thread-exit code of the C library: a program that returns from main() right after
//   cannot race a worker's exit (a detached thread still exiting during exit() crashed ThreadSanitizer's and
//   glibc's thread teardown).
//   More than max_spare_threads spares would be needed only by more than that many simultaneously blocked waits;
//   a wait that depends on a standing worker then throws std::system_error(resource_unavailable_try_again), and
//   one that does not (a wait for a task already running elsewhere) blocks uncompensated (waiting.hpp [W6]).
//
// Resizing (resize(), any thread but the pool's own workers)
//   `target_` is the number of standing threads the pool keeps: `threads` at first, then whatever resize() set.
//   [R4] It changes only under spares_mutex_, where [R1] and [R2] compare live_ - blocked_ with it. Growing
//   starts standing threads at once, in free or new slots (published by add_slot before they run, so their
//   deques are victims at once). Shrinking posts retire requests: a running thread takes one at its next task
//   boundary (so nothing of its own is on its stack), an idle one when resize() wakes it. It takes it under
//   spares_mutex_, only while live_ - blocked_ > target_ and shutdown has not begun, and hands every job of its deque
//   to the injection queue (requeue: accepted work, never refused) before it releases the lock. shutdown() marks
//   `closing_` under that lock before it closes the queue, so a retirement either ends before shutdown begins
//   (its jobs are in the queue, which the workers drain before they exit) or never happens. A retired thread's
//   slot goes back on the free list only after that, with an empty deque. A thread whose park finds the pool
//   over its target parks with a timeout and retires when it expires, as a spare does [R2].
//   [R5] Every thread the runtime started is counted in threads_alive_ until it is past its last access to the
//   runtime; shutdown() waits for the count to reach zero (a thread that starts another counts it first, under
//   spares_mutex_, and resize() starts none once `closing_` is set), then joins every one of them [R3].
//
// Shutdown
//   shutdown() closes the injection queue (outside spawns now throw scheduler_closed), stops parking, wakes every
//   sleeper, joins its own workers and waits for the spares to exit. A worker exits only when its own deque and
//   the injection queue are empty; tasks still running may spawn children into their own deques, which their
//   owners run before exiting. So every accepted task runs exactly once.
//
// fork()
//   The child of a fork() has none of the workers. A pthread_atfork handler bumps `fork_generation`; a runtime
//   created in an earlier generation refuses spawns and waits there (scheduler_closed), and its destruction in the
//   child joins nothing and frees nothing (the memory stays reachable from `abandoned_runtimes`).
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(TASKFORGE_HAS_PTHREAD) || defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#include "../deque.hpp"
#include "../errors.hpp"
#include "../metrics.hpp"
#include "frame_pool.hpp"
#include "group_state.hpp"
#include "guest_slots.hpp"
#include "injection_queue.hpp"
#include "job.hpp"
#include "parking.hpp"
#include "state_word.hpp"
#include "task_frame.hpp"
#include "task_probe.hpp"
#include "thread_launch.hpp"
#include "trace_json.hpp"
#include "worker.hpp"

namespace taskforge::detail {

// Bumped in the child of every fork() (pthread_atfork). Relaxed everywhere: the child has one thread.
inline atomic<std::uint32_t> fork_generation{0};

// True in a process that was forked from one that had a scheduler: only then may a runtime be inherited. Lets the
// waits of outside threads skip reading the runtime (which another thread may be destroying) in every other process.
inline bool forked() noexcept { return fork_generation.load(std::memory_order_relaxed) != 0; }

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
    std::size_t max_spares;
    std::size_t max_threads;   // the bound of resize() (options::max_threads)
    std::size_t guests;        // guest slots (guest_slots.hpp)
    std::size_t trace_events;  // events each slot's trace ring keeps (trace_ring.hpp), a power of two
    exception_handler on_unhandled_exception;
    void* owner;                                       // the public scheduler object, returned by scheduler::current()
    std::function<void(std::size_t)> on_worker_start;  // options::on_worker_start (may be empty)
    std::function<void(std::size_t)> on_worker_stop;   // options::on_worker_stop (may be empty)
};

class runtime {
public:
    static constexpr std::uint32_t fairness_interval = 61;  // as Tokio's global queue interval
    static constexpr std::chrono::milliseconds spare_idle_timeout{1000};
    // A searcher makes spin_rounds passes over the victims with a short pause between them, then yield_rounds
    // passes with a sched_yield between them, then parks: ~10-20 us of looking, which bridges the gaps of a
    // steady producer without costing an idle pool measurable CPU (W4).
    static constexpr int spin_rounds = 8;
    static constexpr int yield_rounds = 24;
    static constexpr int search_rounds = spin_rounds + yield_rounds;
    // [Z1] Lingering. A worker whose last parks each ended within linger_limit_us (work arrives in bursts that
    // close together: an event loop fanning out every ~100 us) keeps searching, yielding between rounds, for
    // linger_limit_us before it parks again (a length taken from its last sleep fed back on itself: a worker woken
    // just after it parked learnt to park sooner still). Parked, it would be woken for each
    // burst: a futex wake-up costs the spawner a system call and arrives 10-30 us later (on some virtual machines
    // only when the spawner's core next sleeps, since the wakee is queued behind it), after a short burst is
    // over. A pool whose work comes rarely (W4, W5) never lingers: it takes linger_bursts short sleeps in a row.
#if defined(TASKFORGE_RELACY)
    static constexpr std::uint64_t linger_limit_us = 0;  // the model checker explores every interleaving instead
#else
    static constexpr std::uint64_t linger_limit_us = 250;
#endif
    static constexpr std::uint32_t linger_bursts = 2;
    static constexpr std::size_t injection_batch = 32;
    static constexpr std::int64_t steal_batch = 16;
    static constexpr int injection_polls = 32;

    explicit runtime(const runtime_settings& settings)
        : settings_(settings),
          capacity_(std::max(settings.threads, settings.max_threads) + settings.guests + settings.max_spares),
          first_guest_(settings.threads),
          target_(settings.threads),
          slots_(std::make_unique<worker*[]>(capacity_)),
          idle_(settings.threads, capacity_),
          guests_(static_cast<std::uint32_t>(settings.guests)),
          generation_(fork_generation.load(std::memory_order_relaxed)) {
        register_fork_handler();
        owned_.reserve(capacity_);
        for (std::size_t i = 0; i < settings.threads; ++i) add_slot(false);
        for (std::size_t i = 0; i < settings.guests; ++i) add_slot(false).guest = true;
        threads_.resize(capacity_);
        thread_names_.resize(capacity_);
        live_ = settings.threads;
        std::size_t started = 0;
        threads_alive_.store(static_cast<std::uint32_t>(settings.threads), std::memory_order_relaxed);  // [R5]
        try {
            for (; started < settings.threads; ++started) {
                worker* self = slots_[started];
                threads_[started] = launch_thread(settings.stack_size, [this, self] { worker_main(*self); });
            }
        } catch (...) {
            {
                std::lock_guard lock(spares_mutex_);
                live_ = started;
                // Relaxed: the threads that did start count themselves out with release; shutdown acquires.
                threads_alive_.fetch_sub(static_cast<std::uint32_t>(settings.threads - started),
                                         std::memory_order_relaxed);
            }
            shutdown();
            throw;
        }
    }

    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    ~runtime() {  // after shutdown(), which the scheduler calls [V5]
        guest_registration::wait_for_visitors();
        wait_for_coroutines();  // shutdown() waited already; an awaiter that registered [V5] may have arrived since
        if (tracing_) schedulers_tracing.fetch_sub(1, std::memory_order_relaxed);  // destroyed while tracing
    }

    // Relaxed: a snapshot of the last resize() (or the constructor's count); it orders nothing.
    std::size_t thread_count() const noexcept { return target_.load(std::memory_order_relaxed); }
    void resize(std::size_t threads);
    exception_handler on_unhandled_exception() const noexcept { return settings_.on_unhandled_exception; }
    void* owner() const noexcept { return settings_.owner; }
    // Also true inside this runtime's placement hooks, which run on its threads (a stop hook after the thread left
    // the pool): shutdown() and resize() from there would wait for the calling thread.
    bool on_own_worker() const noexcept {
        return (current_worker != nullptr && current_worker->pool == this) || hook_of() == this;
    }
    // True in the child of a fork(): this runtime's workers do not exist here.
    bool inherited() const noexcept { return generation_ != fork_generation.load(std::memory_order_relaxed); }

    // Any thread. Hands `work` to the pool at `level` (inherit_level: the running task's on one of our workers,
    // else normal [Y3]); from one of our workers it goes to that worker's lane of the level [Y1].
    // Throws scheduler_closed (and leaves `work` untouched) when called from outside after shutdown() began.
    TASKFORGE_HOT_INLINE void submit(job* work, priority level = inherit_level) {
        worker* self = current_worker;
        if (self != nullptr && self->pool == this) {
            if (level == inherit_level) level = self->level;
            if (level != priority::normal) [[unlikely]] {
                push_to_other_lane(*self, level, work);
            } else {
                self->instruments.note_deque_depth(self->deque.push(work));
            }
            // With one slot the pusher is the only worker, awake by definition: nobody to wake, no fence to pay.
            // (A spare started later re-checks every deque when it parks, and a blocking worker re-checks [P2].)
            if (slot_count_.load(std::memory_order_relaxed) > 1) idle_.notify_after_push();
            return;
        }
        injection_queue& queue = level == inherit_level ? injection_ : injection_at(level);
        if (inherited() || !queue.push(work)) throw scheduler_closed();
        idle_.notify_after_seq_cst_publish();
    }

    // Worker `self` of this runtime only: pushes onto its lane of `level` (not inherit_level) [Y1]. The caller
    // announces it (a notify), as after any push.
    TASKFORGE_HOT_INLINE static void push_to_lane(worker& self, priority level, job* work) {
        if (level == priority::normal) [[likely]] {
            self.instruments.note_deque_depth(self.deque.push(work));
        } else {
            push_to_other_lane(self, level, work);
        }
    }

    TASKFORGE_COLD static void push_to_other_lane(worker& self, priority level, job* work) {
        self.instruments.note_deque_depth(self.lane(level).push(work));
        self.lanes_used = true;
    }

    // The injection queue of `level` (not inherit_level) [Y1].
    injection_queue& injection_at(priority level) noexcept {
        if (level == priority::normal) return injection_;
        return level == priority::high ? injection_high_ : injection_low_;
    }

    // Worker `self` of this runtime only: pushes the stack job of a join, which `self` takes back or waits for
    // (join.hpp), so the wake-up needs no fence (parking.hpp [P4]); also a continuation or coroutine that `self`
    // pops next, at `level` (the running task's: schedule_fired) [Y1].
    TASKFORGE_HOT_INLINE void push_join(worker& self, job* work, priority level = priority::normal) {
        push_to_lane(self, level, work);
        if (slot_count_.load(std::memory_order_relaxed) > 1) idle_.notify_without_fence();  // as in submit()
    }

    // A worker of this runtime only: hands on a job it took but may not run (join.hpp, leapfrogging) through the
    // injection queue, which only a worker with nothing on its stack takes from — never a deque (leapfrog.hpp
    // [L4]). Accepted work: never refused, also during shutdown.
    void pass_on(job* work, priority level = priority::normal) noexcept {
        injection_at(level).requeue(work);
        idle_.notify_after_seq_cst_publish();  // the requeue's seq_cst CAS is the publication, as in submit()
    }

    // Idempotent, thread-safe; not from one of our own workers (it would join itself). On another pool's worker
    // it blocks compensated (that pool keeps its parallelism while we join).
    void shutdown();

    // coroutine_frame.hpp [C4]: a coroutine that may still reach this runtime arrives before it can, and leaves
    // after its last access. Relaxed arrival: it happens-before the destructor through whatever orders the
    // spawn or the worker's run before the scheduler's destruction (the caller's own order, or joining workers).
    void coroutine_arrived() noexcept { coroutines_.fetch_add(1, std::memory_order_relaxed); }
    // Until none is left. Acquire pairs with coroutine_left's release: their last accesses happen-before we go on.
    void wait_for_coroutines() noexcept {
        for (std::uint32_t left = coroutines_.load(std::memory_order_acquire); left != 0;
             left = coroutines_.load(std::memory_order_acquire)) {
            futex_wait(coroutines_, left);
        }
    }
    void coroutine_left() noexcept {
        // Release: our accesses to the runtime happen-before the destructor's acquire of zero.
        if (coroutines_.fetch_sub(1, std::memory_order_release) == 1) futex_wake_all(coroutines_);
    }

    // Any thread: a snapshot of every slot's published counts (instruments.hpp [M1][M2]).
    pool_metrics metrics() const {
        pool_metrics snapshot;
        const std::size_t count = slot_count_.load(std::memory_order_acquire);  // [R2] pairs with add_slot
        snapshot.workers.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            const worker_instruments& slot = slots_[i]->instruments;
            worker_metrics one;
            one.role = role_of(i);
            one.index = i;
            one.steals = slot.read(steals);  // first [M2]
            one.steal_attempts = slot.read(steal_attempts);
            one.tasks_run = slot.read(tasks_run);
            one.local_pops = slot.read(local_pops);
            one.injected_taken = slot.read(injected_taken);
            one.parks = slot.read(parks);
            one.wakeups = slot.read(wakeups);
            one.max_deque_depth = slot.read(max_deque_depth);
            snapshot.workers.push_back(one);
        }
        return snapshot;
    }

    // Any thread (trace.hpp). Starts recording into every slot's ring unless a trace runs already. The rings are
    // made the first time, outside spares_mutex_ (a wait that needs a spare must not stall behind zero-filling
    // them); if that throws, nothing changed. Under spares_mutex_ the slot list stands still, and a slot made
    // later joins by itself (add_slot). In a fork() child it does nothing: the parent's threads may have left the
    // locks held.
    void start_trace() {
        if constexpr (!tracing_enabled) return;
        if (inherited()) return;
        std::lock_guard trace_lock(trace_mutex_);
        std::vector<std::unique_ptr<trace_ring>> fresh(slot_count_.load(std::memory_order_acquire));  // [R2]
        for (std::size_t i = 0; i < fresh.size(); ++i) {
            // Relaxed: a slot's ring is set under trace_mutex_ (held) or, for a slot made since, by add_slot.
            if (slots_[i]->instruments.ring() == nullptr)
                fresh[i] = std::make_unique<trace_ring>(settings_.trace_events);
        }
        std::lock_guard lock(spares_mutex_);
        if (tracing_) return;
        if (trace_first_.empty()) trace_first_.resize(capacity_);
        for (std::size_t i = 0; i < fresh.size(); ++i) {
            if (fresh[i] != nullptr && slots_[i]->instruments.ring() == nullptr)
                adopt_ring_locked(*slots_[i], std::move(fresh[i]));
        }
        tracing_ = true;
        schedulers_tracing.fetch_add(1, std::memory_order_relaxed);  // task_probe.hpp: relaxed is enough there
        trace_window_.begin_time = std::chrono::steady_clock::now();
        trace_window_.begin_ticks = rough_ticks();
        const std::size_t count = slot_count_.load(std::memory_order_relaxed);  // written under this lock
        for (std::size_t i = 0; i < count; ++i) join_trace_locked(*slots_[i]);
    }

    // Any thread (trace.hpp). Stops recording and writes what the rings hold as Chrome trace-event JSON; with no
    // trace running (or in a fork() child), a trace with no events. The rings are read outside spares_mutex_ (they
    // live as long as the runtime); trace_mutex_ keeps a new trace from starting to write into them meanwhile.
    void stop_trace(std::ostream& out) {
        if (inherited()) return trace_writer(out, trace_window{}).write({});
        std::lock_guard trace_lock(trace_mutex_);
        std::vector<trace_track> tracks;
        {
            std::lock_guard lock(spares_mutex_);
            if (tracing_) {
                tracing_ = false;
                schedulers_tracing.fetch_sub(1, std::memory_order_relaxed);  // as the fetch_add in start_trace
                trace_window_.end_ticks = rough_ticks();
                trace_window_.end_time = std::chrono::steady_clock::now();
                const std::size_t count = slot_count_.load(std::memory_order_relaxed);  // written under this lock
                for (std::size_t i = 0; i < count; ++i) {
                    worker_instruments& slot = slots_[i]->instruments;
                    slot.set_tracing(false);
                    if (slot.ring() != nullptr) tracks.push_back({track_name(i), i, slot.ring(), trace_first_[i]});
                }
            }
        }
        trace_writer(out, trace_window_).write(tracks);
    }

    // Worker `self` only: may a wait run work inline here without eating the stack's reserve?
    static bool stack_has_room(const worker& self) noexcept {
        const char probe = 0;
        return reinterpret_cast<std::uintptr_t>(&probe) > self.stack_floor;
    }

    // Worker `self` only: pops the top of one of its own lanes (high, normal, low) if `wanted(job)`, else leaves
    // the lanes as they were. Spent entries of claimed frames on top (task_frame.hpp [S6]) are executed on the way:
    // they run no user code, only drop the queue's reference, so they are not work in the sense of waiting.hpp [W1].
    // `level` becomes the level of the lane it came from [Y1].
    template <class Wanted>
    job* pop_own_if(worker& self, Wanted wanted, priority& level) {
        level = priority::normal;
        if (!self.lanes_used) [[likely]]
            return pop_lane_if(self.deque, wanted);
        for (priority candidate : {priority::high, priority::normal, priority::low}) {
            level = candidate;
            if (job* found = pop_lane_if(self.lane(candidate), wanted)) return found;
        }
        return nullptr;
    }

    // Worker `self` only: `awaited`, if it is on top of one of its own lanes (spent entries above it are disposed
    // of); nullptr otherwise, leaving the live entries as they were (the waiter then claims it where it sits,
    // task_frame.hpp [S5]). `level` becomes the lane's [Y1].
    TASKFORGE_HOT_INLINE job* pop_awaited(worker& self, job* awaited, priority& level) {
        if (job* found = pop_awaited_from(self.deque, awaited)) return found;
        if (!self.lanes_used) [[likely]]
            return nullptr;
        return pop_awaited_elsewhere(self, awaited, level);
    }

    TASKFORGE_COLD static job* pop_awaited_elsewhere(worker& self, job* awaited, priority& level) {
        for (priority candidate : {priority::high, priority::low}) {
            if (job* found = pop_awaited_from(self.lane(candidate), awaited)) {
                level = candidate;
                return found;
            }
        }
        return nullptr;
    }

    // Owner of `lane` only: pop_awaited for one lane. Whether a top other than `awaited` is spent can only be asked
    // once pop() gave it to us: until then a thief may steal it, run it and free its frame at any moment (deque.hpp,
    // peek). So such a top is popped, and pushed back when it is live. A spent entry left on top would make every
    // later wait below it claim in place and leave one more (fib-like trees: 1.7x the instructions).
    TASKFORGE_HOT_INLINE static job* pop_awaited_from(chase_lev_deque<job*>& lane, job* awaited) {
        if (!lane.peek().has_value()) return nullptr;
        return pop_lane_if(lane, [awaited](const job* candidate) { return candidate == awaited; });
    }

    // Owner of `lane` only: pop_own_if for one lane.
    template <class Wanted>
    TASKFORGE_HOT_INLINE static job* pop_lane_if(chase_lev_deque<job*>& lane, Wanted wanted) {
        job* top = lane.pop().value_or(nullptr);
        while (top != nullptr && !wanted(top) && task_frame_base::spent(top)) {
            run(top);
            top = lane.pop().value_or(nullptr);
        }
        if (top == nullptr || wanted(top)) return top;
        // Back where it was, without a second announcement: it was announced when first pushed. A worker that
        // parked while it was out of the deque misses it only until we pop it ourselves, or block — and blocking
        // looks again (parking.hpp [P2]).
        lane.push(top);
        return nullptr;
    }

    // Worker `self` (a guest too), waiting: runs `work`, which it took from a lane or queue of `level`, at that
    // level [Y3], then goes back to its own.
    static void run_at(worker& self, job* work, priority level) noexcept {
        const priority outer = self.level;
        if (level == outer) [[likely]]
            return run(work);
        self.level = level;
        run(work);
        self.level = outer;
    }

    // Worker `self` of this runtime (a guest too), before it blocks in a wait [R1][P2]. `required`: the wait may
    // depend on work that only a standing worker of this pool can run (waiting.hpp [W6]); then, when no spare can
    // be started (bound reached, or the system refuses a thread), it throws and changes nothing. Otherwise it
    // blocks uncompensated. A guest is not one of the pool's standing threads: nobody stands in for it.
    void begin_blocking(worker& self, bool required) {
        deferred_finishes::flush();        // the awaited group may be waiting for our own finishes [G4]
        frame_cache::flush_this_thread();  // blocked for a while: let freed frames go home
        self.instruments.publish();        // [M1] exact while it is blocked
        if (!self.guest) {
            std::lock_guard lock(spares_mutex_);
            ++blocked_;
            if (live_ - blocked_ < target_.load(std::memory_order_relaxed)) {  // [R1][R4]
                try {
                    start_thread_locked(true);
                } catch (...) {
                    if (required) {
                        --blocked_;
                        throw;
                    }
                }
            }
            note_target_locked();
        }
        fence_seq_cst();  // [P2]: the jobs we leave in our deque get a worker, as in park()
        if (any_work_visible()) idle_.notify_one();
    }

    // Worker `self`, after a wait that began with begin_blocking() returned.
    void end_blocking(const worker& self) noexcept {
        if (self.guest) return;
        std::lock_guard lock(spares_mutex_);
        --blocked_;
        note_target_locked();  // a stand-in started for it may now be one too many [R2]
    }

    // A thread that is no worker of any runtime, registered [V5], about to wait without a deadline on work of
    // this runtime: the guest slot it entered (it is now current_worker), or nullptr (all taken, or shutdown).
    worker* enter_as_guest() noexcept {
        const std::uintptr_t floor = guest_stack_floor();
        if (floor == 0) return nullptr;  // on a stack of unknown size: it only waits
        const int index = guests_.try_enter();
        if (index < 0) return nullptr;
        worker& slot = *slots_[first_guest_ + static_cast<std::size_t>(index)];
        slot.stack_floor = floor;
        current_worker = &slot;
        return &slot;
    }

    // Worker (a guest: waiting.hpp [W4]) `self` only. The oldest job of the injection queue of `level` if `wanted`
    // says so, and behind it up to a batch of consecutive wanted jobs, queued on our lane of that level where
    // others can steal them [Y1]. Spent entries of claimed frames at the head are disposed of on the way (as in
    // pop_own_if): they would otherwise hide a wanted job from a guest, which then claims it in place and leaves
    // one more.
    template <class Wanted>
    job* take_injected_if(worker& self, Wanted wanted, priority level = priority::normal) {
        injection_queue& queue = injection_at(level);
        if (!queue.has_linked_job() || !queue.try_lock_consumer()) return nullptr;
        const auto wanted_or_spent = [&wanted](const job* work) {
            return wanted(work) || task_frame_base::spent(work);
        };
        job* first = nullptr;
        std::size_t queued = 0;
        while (job* work = queue.pop_if(wanted_or_spent)) {
            if (!wanted(work)) {
                run(work);  // spent: drops the queue's reference only
                continue;
            }
            self.instruments.count(injected_taken);
            if (first == nullptr) {
                first = work;
            } else {
                push_to_lane(self, level, work);
                if (++queued + 1 >= injection_batch) break;
            }
        }
        queue.unlock_consumer();
        if (queued > 0) idle_.notify_after_push();  // let a sleeper share the batch
        return first;
    }

    // Guest `self` only (waiting.hpp [W4]): take_injected_if over the queues of every level, highest first;
    // `level` becomes the level of the queue it came from [Y1].
    template <class Wanted>
    job* take_injected_wanted(worker& self, Wanted wanted, priority& level) {
        for (priority candidate : {priority::high, priority::normal, priority::low}) {
            level = candidate;
            if (job* found = take_injected_if(self, wanted, candidate)) return found;
        }
        return nullptr;
    }

    // Guest `self` only, waiting for a group (waiting.hpp [W4]): steals from the other slots' lanes the oldest
    // job of each and returns the first that is `wanted`; spent entries on the way are disposed of. A thief cannot
    // look at a job before it owns it (the pointer may be stale until the CAS succeeds), so it may take one it
    // must not run: that one goes back to the pool through the injection queue, as in leapfrogging [L4], and
    // `gave_up` is set so that this wait steals no more (at most one job per wait moves that way).
    // `level` becomes the level of the lane it came from [Y1].
    template <class Wanted>
    job* steal_wanted(worker& self, Wanted wanted, bool& gave_up, priority& level) {
        const std::size_t count = slot_count_.load(std::memory_order_acquire);  // [R2]
        const std::size_t start = self.next_random() % count;
        for (std::size_t i = 0; i < count && !gave_up; ++i) {
            worker& victim = *slots_[(start + i) % count];
            if (&victim == &self) continue;
            for (priority candidate : {priority::high, priority::normal, priority::low}) {
                level = candidate;
                if (job* found = steal_wanted_from(self, victim, candidate, wanted, gave_up)) return found;
                if (gave_up) break;
            }
        }
        return nullptr;
    }

    // Guest `self` only: steal_wanted for one lane of one victim.
    template <class Wanted>
    job* steal_wanted_from(worker& self, worker& victim, priority level, Wanted wanted, bool& gave_up) {
        chase_lev_deque<job*>& lane = victim.lane(level);
        for (int attempt = 0; attempt < 4 && !lane.empty(); ++attempt) {  // empty(): a hint [Y4]
            const steal_result<job*> result = lane.try_steal();
            self.instruments.count(steal_attempts);
            if (result.status == steal_status::empty) break;
            if (result.status != steal_status::success) continue;
            self.instruments.count(steals);
            self.instruments.mark(trace_kind::steal, victim.index);
            if (wanted(result.item)) return result.item;
            if (task_frame_base::spent(result.item)) {
                run(result.item);  // drops the queue's reference only
                continue;
            }
            pass_on(result.item, level);
            gave_up = true;
            break;
        }
        return nullptr;
    }

    // The guest in `slot`, when its wait is over: hands back what it could not run [V3] and leaves [V1].
    void leave_as_guest(worker& slot) noexcept {
        if (inherited()) return;     // a task run here forked, and this is the child: nothing here is ours
        deferred_finishes::flush();  // [G4]
        for (priority level : {priority::high, priority::normal, priority::low}) {
            while (job* left = slot.lane(level).pop().value_or(nullptr)) {
                if (task_frame_base::spent(left)) {
                    run(left);  // drops the queue's reference only (pop_own_if)
                } else {
                    pass_on(left, level);  // [V3] also during shutdown, which waits for us [V4]; [Y1]
                }
            }
        }
        slot.lanes_used = false;
        frame_cache::flush_this_thread();
        slot.instruments.publish();  // [M1] before the slot can change hands
        current_worker = nullptr;
        guests_.leave(static_cast<int>(slot.index - first_guest_));
    }

private:
    void worker_main(worker& self);
    worker_role role_of(std::size_t slot) const noexcept {
        if (slot >= first_guest_ && slot < first_guest_ + settings_.guests) return worker_role::guest;
        // Relaxed: written under spares_mutex_ when a thread is started in the slot; a snapshot for metrics.
        return slots_[slot]->stand_in.load(std::memory_order_relaxed) ? worker_role::spare : worker_role::worker;
    }
    std::string track_name(std::size_t slot) const {
        const std::string& named = thread_names_[slot];  // a start hook's pthread name, if any
        const std::string suffix = named.empty() ? std::string() : " (" + named + ")";
        switch (role_of(slot)) {
            case worker_role::worker:
                return "worker " + std::to_string(slot) + suffix;
            case worker_role::guest:
                return "guest " + std::to_string(slot - first_guest_);
            case worker_role::spare:
                break;
        }
        return "spare " + std::to_string(slot) + suffix;
    }
    // Under spares_mutex_: `slot` keeps `ring` for the runtime's life (instruments.hpp).
    void adopt_ring_locked(worker& slot, std::unique_ptr<trace_ring> ring) {
        rings_.push_back(std::move(ring));
        slot.instruments.set_ring(rings_.back().get());
    }
    // Under spares_mutex_ while tracing_ (start_trace, or add_slot for a slot made during a trace): `slot` records
    // from now on, from what its ring holds now [T3]. A slot made during a trace whose ring cannot be allocated
    // records nothing (the wait that made it must not fail for a trace).
    void join_trace_locked(worker& slot) noexcept {
        if (slot.instruments.ring() == nullptr) {
            try {
                adopt_ring_locked(slot, std::make_unique<trace_ring>(settings_.trace_events));
            } catch (...) {
                return;
            }
        }
        trace_first_[slot.index] = slot.instruments.ring()->published();
        slot.instruments.set_tracing(true);
    }
    job* next_job(worker& self);
    job* next_by_level(worker& self, bool fairness);
    bool park(worker& self);
    static void note_wakeup(worker& self) noexcept;
    static void learn_linger(worker& self, std::uint64_t slept) noexcept;
    bool try_retire_idle(worker& self);
    bool retire_on_request(worker& self);
    void depart(worker& self, bool counted);
    // Relaxed: a hint that resize() asked for fewer threads; retire_on_request() decides under spares_mutex_.
    bool retire_requested() const noexcept { return retire_requests_.load(std::memory_order_relaxed) != 0; }
    // Under spares_mutex_, after live_, blocked_ or target_ changed: the hint park() reads [R4].
    void note_target_locked() noexcept {
        // Relaxed: a hint; the decision to retire is made under spares_mutex_ again.
        over_target_.store(live_ - blocked_ > target_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
    void started_hook(worker& self);
    // The runtime whose placement hook this thread is running, if any.
    static const runtime*& hook_of() noexcept {
        static thread_local const runtime* running = nullptr;
        return running;
    }
    void run_hook(const std::function<void(std::size_t)>& hook, std::size_t index) noexcept;
    void start_thread_locked(bool stand_in);
    worker& add_slot(bool spare);
    struct stack_bounds {
        std::uintptr_t low = 0, high = 0;
    };
    static stack_bounds this_thread_stack() noexcept;
    static std::uintptr_t stack_floor(std::size_t stack_size) noexcept;
    static std::uintptr_t guest_stack_floor() noexcept;
    static void register_fork_handler();

    // Worker only (its loop). Takes up to a batch from the injection queue of the level the picker chooses among
    // those holding jobs [Y2]: runs the first, queues the rest in its lane of that level; sets self.level [Y3].
    job* take_injected(worker& self) {
        const unsigned waiting = injected_levels();
        if (waiting != level_bit(priority::normal)) [[unlikely]]
            return take_injected_by_level(self, waiting);
        job* work = take_injected_if(self, any_job{});
        if (work != nullptr) {
            self.picker.reset();  // no other level waited [Y2]
            self.level = priority::normal;
        }
        return work;
    }

    TASKFORGE_COLD job* take_injected_by_level(worker& self, unsigned waiting) {
        if (waiting == 0) return nullptr;
        const priority level = self.picker.pick(waiting);
        job* work = take_injected_if(self, any_job{}, level);
        if (work != nullptr) took(self, level, waiting);
        return work;
    }

    // Any job is wanted (the loop's takes).
    struct any_job {
        bool operator()(const job*) const noexcept { return true; }
    };

    // Worker only (its loop): it took a job at `level` while the levels of `waiting` had work [Y2][Y3].
    static void took(worker& self, priority level, unsigned waiting) noexcept {
        self.picker.note(level, waiting);
        self.level = level;
    }

    // Any thread: the levels whose injection queue holds a linked job (a hint: has_linked_job).
    unsigned injected_levels() const noexcept {
        return (injection_high_.has_linked_job() ? level_bit(priority::high) : 0U) |
               (injection_.has_linked_job() ? level_bit(priority::normal) : 0U) |
               (injection_low_.has_linked_job() ? level_bit(priority::low) : 0U);
    }

    // Worker `self` only: the levels whose lane of its own holds a job (a hint: a thief may empty one meanwhile).
    static unsigned own_levels(const worker& self) noexcept {
        return (self.high_lane.empty() ? 0U : level_bit(priority::high)) |
               (self.deque.empty() ? 0U : level_bit(priority::normal)) |
               (self.low_lane.empty() ? 0U : level_bit(priority::low));
    }

    // Worker only. One pass over the other workers from a random start; nullptr if all looked empty.
    job* steal_round(worker& self) {
        const std::size_t count = slot_count_.load(std::memory_order_acquire);  // [R2] pairs with add_slot
        if (count < 2) return nullptr;
        const std::size_t start = self.next_random() % count;
        for (std::size_t i = 0; i < count; ++i) {
            worker& victim = *slots_[(start + i) % count];
            if (&victim == &self) continue;
            // From each victim its highest level that has work [Y1]; an unused lane costs two relaxed loads (a
            // hint: a lane looking empty wrongly is found by the look before parking [Y4]).
            if (!victim.high_lane.empty()) {
                if (job* work = steal_from(self, victim, priority::high)) return work;
            }
            if (job* work = steal_from(self, victim, priority::normal)) return work;
            if (!victim.low_lane.empty()) {
                if (job* work = steal_from(self, victim, priority::low)) return work;
            }
        }
        return nullptr;
    }

    // Worker only (its loop): a few attempts at the oldest job of `victim`'s lane of `level`; sets self.level [Y3].
    job* steal_from(worker& self, worker& victim, priority level) {
        chase_lev_deque<job*>& lane = victim.lane(level);
        for (int attempt = 0; attempt < 4; ++attempt) {
            const steal_result<job*> result = lane.try_steal();
            self.instruments.count(steal_attempts);
            if (result.status == steal_status::success) {
                self.instruments.count(steals);
                self.instruments.mark(trace_kind::steal, victim.index);
                // A join's half comes alone: its owner leapfrogs only into work that has started (join.hpp),
                // and the jobs under it are the rest of the same fork-join, better left where they are.
                if (result.item->family != &join_family) steal_more(self, lane, level);
                self.level = level;
                return result.item;
            }
            if (result.status == steal_status::empty) break;
        }
        return nullptr;
    }

    // Worker only. A steady outside producer refills the injection queue every few hundred nanoseconds; watching it
    // for ~1 us before announcing a search keeps the idle state's line (which every spawn reads) from bouncing
    // with each momentarily empty queue. Reads only the consumer end (has_linked_job). An outside thread that
    // fans out and waits moves its spawns into its guest deque: those are watched too (steal_from_guests).
    job* poll_injection_briefly(worker& self) {
        for (int poll = 0; poll < injection_polls; ++poll) {
            for (int spin = 0; spin < 8; ++spin) cpu_relax();
            if (injected_levels() != 0) {
                if (job* work = take_injected(self)) return work;
            }
            if (job* work = steal_from_guests(self)) return work;
        }
        return nullptr;
    }

    // Worker only: the oldest job of an occupied guest slot's lanes (issue 11: a waiting outside thread's fan-out
    // sits there while it helps). Guest slots are made before any worker starts and never change [R2]; an empty
    // lane costs two relaxed loads (a hint, as in steal_round).
    job* steal_from_guests(worker& self) {
        for (std::uint32_t inside = guests_.occupied_hint(); inside != 0; inside &= inside - 1) {
            worker& guest = *slots_[first_guest_ + static_cast<std::size_t>(std::countr_zero(inside))];
            for (priority level : {priority::high, priority::normal, priority::low}) {
                if (guest.lane(level).empty()) continue;
                if (job* work = steal_from(self, guest, level)) return work;
            }
        }
        return nullptr;
    }

    // Worker only. After a successful steal, takes up to half of what the victim's lane has left (at most
    // steal_batch) into its own lane of the same level [Y1]: fewer trips to the victim's line and to the idle state
    // for a stream of small tasks.
    void steal_more(worker& self, chase_lev_deque<job*>& lane, priority level) {
        const std::int64_t extra = std::min(lane.size() / 2, steal_batch - 1);
        std::int64_t taken = 0;
        for (; taken < extra; ++taken) {
            const steal_result<job*> result = lane.try_steal();
            self.instruments.count(steal_attempts);
            if (result.status != steal_status::success) break;
            self.instruments.count(steals);
            push_to_lane(self, level, result.item);
        }
        if (taken > 0) idle_.notify_after_push();
    }

    // Worker only: step 3 of the loop. nullptr when this worker may not search or found nothing.
    job* search(worker& self) {
        if (!self.searching) {
            if (!idle_.try_begin_search()) return nullptr;
            self.searching = true;
        }
        const std::uint64_t since = rough_ticks();  // [Z1]; unsigned: a counter that went back ends the linger
        for (int round = 0; round < search_rounds || rough_ticks() - since < self.linger; ++round) {
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

    // The last searcher found work: if more is visible, wake a sleeper to take it (parking.hpp, end_search).
    void wake_helper_if_work_left() {
        fence_seq_cst();  // pairs with the publishers' fences, like the sleeper's half in park()
        if (any_work_visible()) idle_.notify_one();
    }

    // Any worker, after a seq_cst fence: might any queue hold a job? Every level's [Y4].
    bool any_work_visible() const noexcept {
        if (any_injected()) return true;
        const std::size_t count = slot_count_.load(std::memory_order_acquire);  // [R2]
        for (std::size_t i = 0; i < count; ++i) {
            if (own_levels(*slots_[i]) != 0) return true;
        }
        return false;
    }

    bool any_injected() const noexcept {
        return injection_.maybe_nonempty() || injection_high_.maybe_nonempty() || injection_low_.maybe_nonempty();
    }

    bool drained(worker& self) const noexcept { return own_levels(self) == 0 && !any_injected(); }

    runtime_settings settings_;
    const std::size_t capacity_;
    const std::size_t first_guest_;               // guest slots are first_guest_ .. first_guest_ + guests - 1
    atomic<std::size_t> target_;                  // standing threads wanted [R4]; written under spares_mutex_
    std::unique_ptr<worker*[]> slots_;            // [R2] written before slot_count_ publishes it, then constant
    atomic<std::size_t> slot_count_{0};           // slots ever created
    std::vector<std::unique_ptr<worker>> owned_;  // the slots' workers; guarded by spares_mutex_
    injection_queue injection_;                   // the normal level's, which every mechanism but priorities uses
    injection_queue injection_high_;              // [Y1]
    injection_queue injection_low_;               // [Y1]
    idle_coordinator idle_;
    guest_slots guests_;
    // Slot i's current or last thread [R3]. The own workers' entries (i < threads) are written by the constructor
    // only; a spare slot's entry is written under spares_mutex_, and read by shutdown() once no spare is left.
    std::vector<launched_thread> threads_;
    std::mutex shutdown_mutex_;
    std::mutex spares_mutex_;
    std::size_t live_ = 0;                      // started threads, spares included; guarded by spares_mutex_
    std::size_t blocked_ = 0;                   // of those, blocked in a wait; guarded by spares_mutex_
    std::vector<std::size_t> free_slots_;       // retired threads' slots; guarded by spares_mutex_
    bool closing_ = false;                      // shutdown() began [R4]; guarded by spares_mutex_
    atomic<std::uint32_t> retire_requests_{0};  // [R4] written under spares_mutex_; read relaxed as a hint
    atomic<bool> over_target_{false};           // live_ - blocked_ > target_ [R4]; as above
    std::vector<std::string> thread_names_;     // per slot, the name its start hook gave its thread; spares_mutex_
    // Tracing (trace.hpp): start_trace() and stop_trace() hold trace_mutex_, and both locks to change these.
    std::mutex trace_mutex_;
    bool tracing_ = false;                            // guarded by spares_mutex_
    trace_window trace_window_;                       // guarded by trace_mutex_
    std::vector<std::uint64_t> trace_first_;          // per slot [T3]; guarded by spares_mutex_
    std::vector<std::unique_ptr<trace_ring>> rings_;  // guarded by spares_mutex_; freed with the runtime
    atomic<std::uint32_t> threads_alive_{0};          // started threads not yet past their last access [R5]
    atomic<std::uint32_t> coroutines_{0};  // coroutines that may still reach the runtime (coroutine_frame.hpp [C4])
    const std::uint32_t generation_;
};

// --- the worker loop --------------------------------------------------------------------------------------------

inline void runtime::worker_main(worker& self) {
    self.stack_floor = stack_floor(settings_.stack_size);
    current_worker = &self;
    frame_cache::prepare_worker_thread();
    if (settings_.on_worker_start) started_hook(self);
    for (;;) {
        if (retire_requested() && retire_on_request(self)) return;  // [R4] between tasks
        job* work = next_job(self);
        if (work != nullptr) {
            if (self.searching) {
                self.searching = false;
                if (idle_.end_search()) wake_helper_if_work_left();
            }
            run(work);
            if (inherited()) [[unlikely]]
                return;  // the task forked, and this is the child: what is queued stays the parent's to run
            continue;
        }
        // [V2][V3], in this order: the queue seen closed, then nobody inside a guest slot (so no guest that entered
        // is missed, and what those that left handed back is visible), then nothing queued.
        if (injection_.is_closed() && !guests_.anyone_inside() && drained(self)) break;
        if (inherited()) return;  // a task forked and returned in the child: this thread ends there
        if (retire_requested() && retire_on_request(self)) return;  // [R4] resize() asked for fewer threads
        if (!park(self)) return;  // a thread over the target that retired [R2]: it already left
    }
    depart(self, true);
}

// Worker only: steps 1-3 of the loop.
TASKFORGE_HOT_INLINE job* runtime::next_job(worker& self) {
    // Levels other than normal in play: our high or low lane may hold work, or the pool's queue of one of those
    // levels does; then every take goes through the picker [Y2]. (Other workers' lanes are not looked at here.)
    const bool levels = self.lanes_used || injection_high_.may_hold_jobs() || injection_low_.may_hold_jobs();
    if (++self.ticks >= fairness_interval) {  // outside spawns are not starved by local work
        self.ticks = 0;
        if (job* work = levels ? next_by_level(self, true) : take_injected(self)) return work;
    }
    if (levels) [[unlikely]] {
        if (job* work = next_by_level(self, false)) return work;
    } else if (auto own = self.deque.pop()) {
        self.instruments.count(local_pops);
        self.level = priority::normal;  // [Y3]
        return *own;
    }
    // Out of local work: send freed frames home before looking elsewhere, so a spawner's pool stays as small as
    // its peak of frames in flight (frame_pool.hpp, outbox).
    frame_cache::flush_this_thread();
    deferred_finishes::flush();  // group_state.hpp [G4]
    if (job* work = take_injected(self)) return work;
    if (job* work = poll_injection_briefly(self)) return work;
    return search(self);
}

// Worker only, while levels other than normal are in play (next_job): its own lanes and the injection queues, the
// level chosen by the picker among those with work [Y2]; within that level its own lane first, or the pool's queue
// first when `fairness` (the fairness tick: outside spawns are not starved by local work of the same level).
// nullptr when none held a job it could take.
TASKFORGE_COLD inline job* runtime::next_by_level(worker& self, bool fairness) {
    const unsigned own = own_levels(self);
    if ((own & ~level_bit(priority::normal)) == 0) self.lanes_used = false;  // only we push there
    const unsigned injected = injected_levels();
    const unsigned waiting = own | injected;
    if (waiting == 0) return nullptr;
    const priority level = self.picker.pick(waiting);
    const bool queue_first = (injected & level_bit(level)) != 0 && (fairness || (own & level_bit(level)) == 0);
    job* work = queue_first ? take_injected_if(self, any_job{}, level) : nullptr;
    if (work == nullptr && (own & level_bit(level)) != 0) {
        work = self.lane(level).pop().value_or(nullptr);
        if (work != nullptr) self.instruments.count(local_pops);
    }
    if (work == nullptr && !queue_first && (injected & level_bit(level)) != 0) {
        work = take_injected_if(self, any_job{}, level);
    }
    if (work != nullptr) {
        took(self, level, waiting);
        return work;
    }
    // A thief or another consumer was first: whatever else our own lanes hold, highest first.
    for (priority other : {priority::high, priority::normal, priority::low}) {
        if (auto own_job = self.lane(other).pop()) {
            self.instruments.count(local_pops);
            took(self, other, waiting);
            return *own_job;
        }
    }
    return nullptr;
}

// Worker only: steps 2-4 of the parking protocol (parking.hpp). False when a spare retired instead [R2].
inline bool runtime::park(worker& self) {
    frame_cache::return_burst_memory();  // idle now: give a burst's plain frames back to the system
    if (!idle_.begin_park(self.index, self.searching)) return true;  // closing: stay awake and drain
    self.searching = false;
    fence_seq_cst();  // the sleeper's half of the protocol's fence pair [P1]
    if (any_work_visible()) idle_.notify_one();
    self.instruments.count(parks);
    self.instruments.mark(trace_kind::park);
    self.instruments.publish();  // [M1] exact while it sleeps
    // Relaxed: a hint; a thread that parks untimed while the pool is over its target only stays asleep [R4].
    if (!self.spare && !over_target_.load(std::memory_order_relaxed)) {
        const std::uint64_t asleep_since = rough_ticks();
        idle_.park(self.index);
        note_wakeup(self);
        learn_linger(self, rough_ticks() - asleep_since);
        return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + spare_idle_timeout;
    bool woken = idle_.park(self.index, &deadline);
    if (!woken && !idle_.cancel_park(self.index)) woken = idle_.park(self.index);  // consume the racing token [P3]
    if (woken) {
        note_wakeup(self);
        return true;
    }
    // Off the list, awake and not searching. Stay if work is visible (the same look as above) or still needed.
    fence_seq_cst();
    if (any_work_visible()) return true;
    return !try_retire_idle(self);
}

// Worker only, woken after `slept` rough ticks: how long its next search lingers [Z1]. A counter that jumped
// (another core's) reads as a long sleep: no lingering, the quiet side.
inline void runtime::learn_linger(worker& self, std::uint64_t slept) noexcept {
    constexpr std::uint64_t limit = linger_limit_us * rough_ticks_per_microsecond;
    self.short_sleeps = slept < limit ? std::min(self.short_sleeps + 1, linger_bursts) : 0;
    self.linger = self.short_sleeps >= linger_bursts ? limit : 0;
}

// Worker only, unparked by a notify: it comes back counted as searching (parking.hpp).
inline void runtime::note_wakeup(worker& self) noexcept {
    self.searching = true;
    self.instruments.count(wakeups);
    self.instruments.mark(trace_kind::wakeup);
}

// Worker only, after its timed park expired with no work visible [R2]: leaves if the pool is over its target.
inline bool runtime::try_retire_idle(worker& self) {
    {
        std::lock_guard lock(spares_mutex_);
        if (live_ - blocked_ <= target_.load(std::memory_order_relaxed)) return false;  // still needed [R1]
        --live_;
        note_target_locked();
    }
    depart(self, false);
    return true;
}

// Worker only, between tasks (nothing of its own on its stack): takes one of resize()'s retire requests if the
// pool is still over its target and shutdown has not begun, and leaves [R4].
inline bool runtime::retire_on_request(worker& self) {
    {
        std::lock_guard lock(spares_mutex_);
        const std::uint32_t requests = retire_requests_.load(std::memory_order_relaxed);  // written under this lock
        if (requests == 0) return false;
        if (closing_ || live_ - blocked_ <= target_.load(std::memory_order_relaxed)) {
            retire_requests_.store(0, std::memory_order_relaxed);  // stale: made up for by blocked threads
            return false;
        }
        retire_requests_.store(requests - 1, std::memory_order_relaxed);
        --live_;
        note_target_locked();
        // [R4] Before shutdown can begin: what was queued here goes to the queue the remaining threads drain.
        for (priority level : {priority::high, priority::normal, priority::low}) {
            while (const auto top = self.lane(level).pop()) injection_at(level).requeue(*top);  // [Y1]
        }
    }
    idle_.notify_after_seq_cst_publish();  // the requeues' seq_cst CASes published the jobs, as in submit()
    depart(self, false);
    return true;
}

// Worker only, leaving the pool for good (at shutdown, or retiring): its last accesses to the runtime [R3][R5].
// `counted`: it is still counted in live_. Its slot is freed last, after the stop hook: a thread that reuses the
// slot joins this one under spares_mutex_ and must not wait for user code.
inline void runtime::depart(worker& self, bool counted) {
    self.instruments.publish();  // [M1]
    if (self.searching) {
        idle_.retire(true);
        self.searching = false;
        // A publisher that saw us searching woke nobody: look again, as a searcher that ends its search does
        // ([P1]; the fence pairs with the publisher's).
        fence_seq_cst();
        if (any_work_visible()) idle_.notify_one();
    }
    deferred_finishes::flush();
    frame_cache::flush_this_thread();
    current_worker = nullptr;
    run_hook(settings_.on_worker_stop, self.index);  // out of the pool: it takes no more work
    {
        std::lock_guard lock(spares_mutex_);
        if (counted) --live_;
        note_target_locked();
        free_slots_.push_back(self.index);  // its deque is empty: drained, or handed over [R4]
    }
    // Release: our last accesses to the runtime happen-before shutdown's acquire of zero. futex_wake reads nothing.
    threads_alive_.fetch_sub(1, std::memory_order_release);
    futex_wake_all(threads_alive_);
}

// --- placement hooks (options::on_worker_start / on_worker_stop) --------------------------------------------------

// A thread the runtime started, on itself: the start hook, before it takes any work; then the thread's name, if
// the hook set one, for its trace track.
inline void runtime::started_hook(worker& self) {
    const std::string before = this_thread_name();
    run_hook(settings_.on_worker_start, self.index);
    std::string after = this_thread_name();
    std::lock_guard lock(spares_mutex_);  // thread_names_ is read by stop_trace under it
    thread_names_[self.index] = after != before ? std::move(after) : std::string();
}

// A thread the runtime started, on itself: a hook's exception goes to on_unhandled_exception, and the thread
// carries on as if the hook had returned.
inline void runtime::run_hook(const std::function<void(std::size_t)>& hook, std::size_t index) noexcept {
    if (!hook) return;
    hook_of() = this;
    try {
        hook(index);
    } catch (...) {
        settings_.on_unhandled_exception(std::current_exception());
    }
    hook_of() = nullptr;
}

// --- spares -----------------------------------------------------------------------------------------------------

// The calling thread's stack as the system reports it ({0, 0} where it cannot): [low, high).
inline runtime::stack_bounds runtime::this_thread_stack() noexcept {
    stack_bounds found;
#if defined(__GLIBC__) || defined(__linux__)
    pthread_attr_t attributes;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
        void* address = nullptr;
        std::size_t size = 0;
        if (pthread_attr_getstack(&attributes, &address, &size) == 0 && address != nullptr) {
            found.low = reinterpret_cast<std::uintptr_t>(address);
            found.high = found.low + size;
        }
        pthread_attr_destroy(&attributes);
    }
#endif
    return found;
}

// The address below which a wait on this thread blocks instead of running work inline (waiting.hpp [W3]): the
// reserve above the stack's real lowest usable address (static thread-local storage and the guard are outside the
// reported bounds) is half the stack, at most 1 MiB — room for the task that runs there and for unwinding.
inline std::uintptr_t runtime::stack_floor(std::size_t stack_size) noexcept {
    const std::size_t reserve = std::min<std::size_t>(stack_size / 2, std::size_t{1} << 20);
    const char here = 0;
    const std::uintptr_t bound = reinterpret_cast<std::uintptr_t>(&here) - stack_size;  // an upper bound of the lowest
    return std::max(bound, this_thread_stack().low) + reserve;
}

// Any thread, for its visits as a guest: the floor of the stack it runs on now, as stack_floor(), or 0 when that
// is not the stack the thread was created with (a fiber's, a signal stack: of unknown size, so a guest runs
// nothing there) or the system does not say. The bounds are read once per thread (for the main thread,
// pthread_getattr_np reads /proc).
inline std::uintptr_t runtime::guest_stack_floor() noexcept {
    static thread_local const stack_bounds known = this_thread_stack();
    const char here = 0;
    const auto position = reinterpret_cast<std::uintptr_t>(&here);
    if (position <= known.low || position >= known.high) return 0;
    return known.low + std::min<std::size_t>((known.high - known.low) / 2, std::size_t{1} << 20);
}

// Under spares_mutex_ (or in the constructor, before any thread runs).
inline worker& runtime::add_slot(bool spare) {
    const std::size_t index = slot_count_.load(std::memory_order_relaxed);
    owned_.push_back(std::make_unique<worker>(*this, index, spare));
    slots_[index] = owned_.back().get();
    if (tracing_) join_trace_locked(*slots_[index]);
    // Release: a thief that acquires the count reads the slot and a fully built worker [R2].
    slot_count_.store(index + 1, std::memory_order_release);
    return *slots_[index];
}

// Under spares_mutex_: starts a thread in a free or new slot — a spare standing in for a blocked worker [R1], or
// a standing worker for resize() [R4]. Throws when a bound is reached or no thread can be started.
inline void runtime::start_thread_locked(bool stand_in) {
    if (stand_in && live_ >= target_.load(std::memory_order_relaxed) + settings_.max_spares) {
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                "taskforge: a wait needs a spare worker, but options::max_spare_threads workers "
                                "of this scheduler are already blocked in waits");
    }
    if (free_slots_.empty() && slot_count_.load(std::memory_order_relaxed) == capacity_) {
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                "taskforge: every worker slot is taken (threads still retiring after a resize)");
    }
    worker* slot = nullptr;
    if (!free_slots_.empty()) {
        slot = slots_[free_slots_.back()];
        free_slots_.pop_back();
    } else {
        slot = &add_slot(stand_in);
    }
    launched_thread& thread = threads_[slot->index];
    if (thread.joinable()) thread.join();  // the slot's retired thread [R3]: past its last access, exiting
    slot->spare = stand_in;                // the new thread reads these after it starts
    slot->searching = false;
    slot->ticks = 0;
    slot->level = priority::normal;
    slot->lanes_used = false;                                   // its lanes are empty: drained or handed over [R4]
    slot->stand_in.store(stand_in, std::memory_order_relaxed);  // for metrics readers: a snapshot
    // Relaxed: counted before the thread runs, by a thread that is itself counted or holds off shutdown [R5].
    threads_alive_.fetch_add(1, std::memory_order_relaxed);
    try {
        thread = launch_thread(settings_.stack_size, [this, slot] { worker_main(*slot); });
    } catch (...) {
        threads_alive_.fetch_sub(1, std::memory_order_relaxed);
        free_slots_.push_back(slot->index);
        throw;
    }
    ++live_;
    note_target_locked();
}

// Any thread but this runtime's workers, with 1 <= threads <= max_threads (scheduler::resize checks) [R4].
inline void runtime::resize(std::size_t threads) {
    // The child of a fork(): no workers here, and a parent's thread may have held spares_mutex_ at the fork.
    if (inherited()) throw scheduler_closed();
    {
        std::lock_guard lock(spares_mutex_);
        if (closing_) throw scheduler_closed();
        const std::size_t running = live_ - blocked_;
        // Requests still to be taken, but only as many as the old target still makes sense of: workers that
        // blocked since count as gone already (a spare would have stood in for them otherwise) [R1].
        const std::size_t old_target = target_.load(std::memory_order_relaxed);
        const std::size_t surplus = running > old_target ? running - old_target : 0;
        const std::size_t requested = std::min<std::size_t>(retire_requests_.load(std::memory_order_relaxed), surplus);
        const std::size_t staying = running - requested;
        target_.store(threads, std::memory_order_relaxed);  // relaxed: read under this lock, or as a snapshot
        idle_.set_target(threads);
        if (staying > threads) {
            retire_requests_.store(static_cast<std::uint32_t>(requested + (staying - threads)),
                                   std::memory_order_relaxed);
        } else {
            const std::size_t cancelled = std::min(requested, threads - staying);
            retire_requests_.store(static_cast<std::uint32_t>(requested - cancelled), std::memory_order_relaxed);
            for (std::size_t started = staying + cancelled; started < threads; ++started) {
                try {
                    start_thread_locked(false);
                } catch (...) {
                    target_.store(started, std::memory_order_relaxed);  // what it has, not what it was asked
                    idle_.set_target(started);
                    note_target_locked();
                    throw;
                }
            }
        }
        note_target_locked();
    }
    idle_.wake_all();  // sleepers over the target retire on waking; the others search and park again
}

inline void runtime::shutdown() {
    if (on_own_worker()) {
        throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                "taskforge: shutdown() called from one of the scheduler's own workers");
    }
    if (!inherited()) {
        std::lock_guard lock(spares_mutex_);
        closing_ = true;  // [R4] before the queue closes: no retirement hands jobs over after this, no resize
    }
    guests_.close();  // before the queues [V2]
    injection_high_.close();
    injection_low_.close();
    injection_.close();  // last: the workers' exit condition reads this one (worker_main)
    // The child of a fork(): nobody to wake or join, and the parent's threads may have left any lock held.
    if (inherited()) return;
    // A worker of another pool blocks compensated while we join — from before the lock: a concurrent second caller
    // waits there for the whole of the first one's shutdown, and its pool must keep its parallelism meanwhile.
    worker* const other = current_worker;
    if (other != nullptr) other->pool->begin_blocking(*other, true);
    struct unblock_on_exit {
        worker* self;
        ~unblock_on_exit() {
            if (self != nullptr) self->pool->end_blocking(*self);
        }
    } unblock{other};
    std::lock_guard lock(shutdown_mutex_);
    guests_.wait_until_empty();  // [V4] the workers still run (and park) normally meanwhile
    idle_.close();
    // [R5] Acquire pairs with each exiting thread's release decrement: their last accesses happen-before our
    // return, and with none left running, none can start another (and resize() starts none once closing_).
    for (std::uint32_t alive = threads_alive_.load(std::memory_order_acquire); alive != 0;
         alive = threads_alive_.load(std::memory_order_acquire)) {
        futex_wait(threads_alive_, alive);
    }
    {
        std::lock_guard spares_lock(spares_mutex_);
        for (std::size_t i = 0; i < capacity_; ++i) {
            if (threads_[i].joinable()) threads_[i].join();  // [R3]
        }
    }
    // Spawned coroutines still suspended (in no queue) and coroutines whose resumption is still to be queued here
    // (coroutine_frame.hpp [C4]): their tasks are accepted work, and they may still reach this runtime. Still
    // compensated on another pool's worker: what they wait for may need that pool.
    wait_for_coroutines();
}

// A fired continuation its pool refused, run here as cancelled (its waiters see task_cancelled) rather than lost.
// Finishing it fires its own continuations, which the same pool refuses too: run one by one from a thread-local
// list (linked through job::next: the job is in no queue) by the outermost call, a chain of any length stays in
// constant stack [S9].
inline void run_refused(job* work) noexcept {
    static thread_local job* waiting_to_run = nullptr;
    static thread_local bool draining = false;
    static_cast<task_frame_base*>(work)->cancel();
    work->next.store(waiting_to_run, std::memory_order_relaxed);  // this thread's own list
    waiting_to_run = work;
    if (draining) return;
    draining = true;
    while (waiting_to_run != nullptr) {
        job* const next_refused = waiting_to_run;
        waiting_to_run = next_refused->next.load(std::memory_order_relaxed);
        run(next_refused);
    }
    draining = false;
}

// task_frame.hpp: a fired continuation goes to its pool; if that no longer accepts work (shut down, or this is a
// fork() child), it runs as cancelled instead (run_refused). Fired on a worker of its own pool (the common case:
// the predecessor's executor), it goes onto that worker's deque announced like a join's half, without the
// publication fence (parking.hpp [P4]): this worker pops it next when its current task returns — or, if it blocks
// in a wait first, re-checks its deque for sleepers before blocking [P2]; a guest hands it back when it leaves.
inline void schedule_fired(const void* pool, job* work) noexcept {
    auto* home = static_cast<runtime*>(const_cast<void*>(pool));
    try {
        worker* const self = current_worker;
        if (self != nullptr && self->pool == home) {
            home->push_join(*self, work, self->level);  // the completing task's level [Y3]
        } else {
            home->submit(work);
        }
    } catch (...) {
        run_refused(work);
    }
}

inline void runtime::register_fork_handler() {
#if defined(TASKFORGE_HAS_PTHREAD)
    static const int registered = pthread_atfork(nullptr, nullptr, [] {
        fork_generation.fetch_add(1, std::memory_order_relaxed);  // the child has a single thread
        // A task that called fork() continues in the child on a thread that is no longer a worker of anything:
        // its spawns and waits take the outside path, which refuses an inherited runtime.
        current_worker = nullptr;
        // Registrations of the parent's other threads [V5] do not exist here: a runtime the child creates and
        // destroys must not wait for them. Relaxed: the child has a single thread so far.
        guest_visitors.store(0, std::memory_order_relaxed);
    });
    (void)registered;
#endif
}

// Runtimes inherited by a fork() child and let go there: kept reachable (a global root), never freed.
inline std::vector<runtime*>* abandoned_runtimes = nullptr;

inline void abandon(runtime* inherited) {
    if (abandoned_runtimes == nullptr) abandoned_runtimes = new std::vector<runtime*>();
    abandoned_runtimes->push_back(inherited);
}

}  // namespace taskforge::detail
