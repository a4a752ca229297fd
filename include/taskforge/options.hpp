/// @file
/// taskforge/options.hpp — how a scheduler is configured: an aggregate, so designated initializers read well.
///
/// @code
///   taskforge::scheduler pool{taskforge::options{.threads = 4}};
/// @endcode
#pragma once

#include <cstddef>
#include <exception>
#include <functional>

namespace taskforge {

/// How a scheduler is configured: pass one to scheduler's constructor. An aggregate: set the fields you need with
/// designated initializers, the others keep their defaults. The scheduler's constructor checks the values.
struct options {
    /// Worker threads. 0 = std::thread::hardware_concurrency() (at least 1). At most max_threads, else the
    /// scheduler's constructor throws std::invalid_argument.
    std::size_t threads = 0;

    /// Stack size of each worker, in bytes; 0 = default_stack_size; below the platform's minimum
    /// (PTHREAD_STACK_MIN) the constructor throws std::invalid_argument. Address space is reserved, pages are committed
    /// only when used. A worker that waits may run the awaited task on top of its stack, so deep chains of nested
    /// spawn + wait need depth (a 100,000-deep chain fits the default).
    std::size_t stack_size = 0;

    /// Receives the exception of a task whose result nobody retrieved: a detached task (its handle dropped) that
    /// threw, or a handle destroyed without get() after its task threw. Called on whichever thread releases the
    /// task last; must not throw. nullptr = print the exception's what() to stderr. Never std::terminate.
    void (*on_unhandled_exception)(std::exception_ptr) noexcept = nullptr;

    /// Guest slots: how many threads that are not workers may help at once while they wait on this scheduler's
    /// work (README, "waiting rules"). A waiting outside thread takes a free slot and, until its wait is over, runs
    /// the awaited task, its group's tasks and what they spawn, instead of sleeping; with every slot taken it
    /// sleeps as before. Tasks a guest runs use the caller's stack, not stack_size: for tasks that need more than
    /// the calling threads have, set 0. 0 = outside threads never run tasks. At most max_guest_slots, else the
    /// constructor throws std::invalid_argument.
    std::size_t guest_slots = 4;

    /// Events each worker slot's trace ring keeps (scheduler::start_trace(), trace.hpp): rounded up to a power of
    /// two, from 1 to max_trace_events_per_thread, else the constructor throws std::invalid_argument. A ring takes 40
    /// bytes per event (2.5 MiB at the default) and is allocated by the first start_trace(), never before.
    std::size_t trace_events_per_thread = std::size_t{1} << 16;

    /// Placement hook: runs on each thread the scheduler starts, on that thread, before it takes any work — its
    /// workers (`index` 0 .. threads - 1) and the spare threads that stand in for workers blocked in waits (higher
    /// indices; a retired spare's index is reused by a later spare). Pin the thread, name it, set its priority:
    /// a name set here also labels the thread's track in a trace. An exception it throws goes to
    /// on_unhandled_exception, and the thread runs as if the hook had returned. Empty = nothing runs.
    std::function<void(std::size_t index)> on_worker_start = {};

    /// Runs on each thread the scheduler started, on that thread, after it took its last task and just before it
    /// exits (at shutdown, or when a spare retires), with the index on_worker_start had. scheduler::current() is
    /// then null: a task spawned here goes through the pool's outside queue (scheduler_closed once shut down).
    /// Exceptions as for on_worker_start. Empty = nothing runs.
    std::function<void(std::size_t index)> on_worker_stop = {};

    /// The most worker threads a scheduler may have (the bound of `threads`).
    static constexpr std::size_t max_threads = 1024;
    /// The bound of `trace_events_per_thread`.
    static constexpr std::size_t max_trace_events_per_thread = std::size_t{1} << 24;
    /// The bound of `guest_slots`.
    static constexpr std::size_t max_guest_slots = 30;
    /// Spare workers a scheduler may start to stand in for workers blocked in waits (README, "waiting rules");
    /// spares retire after a second idle. Past the bound, a wait for a task already running elsewhere blocks
    /// without a stand-in, and any other blocking wait on a worker throws
    /// std::system_error(resource_unavailable_try_again).
    static constexpr std::size_t max_spare_threads = 1024;
    /// The stack size of each worker when `stack_size` is 0.
    ///
    /// 256 MiB of address space. A waiter runs only work it waits for (README, "waiting rules"), so the stack grows
    /// with the program's own nesting, never with unrelated work. The deepest nesting the tests promise, a
    /// 100,000-deep chain of spawn + get, measured 19 MB in a release build, 96 MB in a debug build and 138 MB under
    /// AddressSanitizer (g++ 12 / clang 14, x86-64); a 10,000-deep join recursion takes 2.7 MB (release). 256 MiB
    /// keeps 1.9x over the heaviest of those; pages are committed only when touched.
    static constexpr std::size_t default_stack_size = std::size_t{256} << 20;
};

}  // namespace taskforge
