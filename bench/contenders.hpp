// bench/contenders.hpp — the same workloads (docs/design.md, "How we measure") written for each contender.
//
// Every contender offers, with `threads` participants:
//   external_spawn(n, counter)  W1: the calling (non-worker) thread spawns n tasks that each increment `counter`
//                               (relaxed), then waits for all; returns the seconds spent in the spawn loop alone
//   fib(n)                      W2: every call with n >= 2 spawns fib(n-1), computes fib(n-2) inline, then waits
//   tree(depth)                 W3: a binary tree of tasks; each node spawns two children and waits; returns nodes
//   uneven(work, ran_elsewhere) W6: one task spawns one task per entry of `work` (busy microseconds) and waits;
//                               counts the tasks that ran on another thread than the spawner's (stolen)
//   one_task_then_idle()        W4: runs one tiny task, then leaves the pool idle
//   start_one(flag)             W5: spawns one task from outside that records when it starts
// Peers use their own idioms: oneTBB task_group inside a task_arena, OpenMP tasks inside one parallel region.
// In both the calling thread is one of the `threads` participants (that is their model), while taskforge's caller
// is outside its `threads` workers. libgomp runs tasks inline once more than 64 x threads are queued, which
// flatters its W1 and W3.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <ostream>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#if defined(TASKFORGE_BENCH_HAVE_TBB)
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace bench {

using clock_type = std::chrono::steady_clock;

inline void busy_wait(std::chrono::microseconds duration) {
    const auto end = clock_type::now() + duration;
    while (clock_type::now() < end) {
    }
}

inline long serial_fib(long n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

// ---------------------------------------------------------------------------------------------------------------
class taskforge_contender {
public:
    static constexpr const char* name = "taskforge";
    explicit taskforge_contender(int threads)
        : pool_(taskforge::options{.threads = static_cast<std::size_t>(threads)}) {}

    double external_spawn(std::size_t n, std::atomic<long>& counter) {
        taskforge::task_group group{pool_};
        const auto start = clock_type::now();
        for (std::size_t i = 0; i < n; ++i)
            group.spawn([&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
        const auto spawned = clock_type::now();
        group.wait();
        return std::chrono::duration<double>(spawned - start).count();
    }

    long fib(long n) { return pool_.spawn(&fib_task, n).get(); }
    long tree(int depth) { return pool_.spawn(&tree_task, depth).get(); }

    void uneven(const std::vector<int>& work, std::atomic<long>& ran_elsewhere) {
        pool_
            .spawn([&] {
                const auto spawner = std::this_thread::get_id();
                taskforge::task_group group{pool_};
                for (const int microseconds : work) {
                    group.spawn([&, microseconds, spawner] {
                        busy_wait(std::chrono::microseconds(microseconds));
                        if (std::this_thread::get_id() != spawner)
                            ran_elsewhere.fetch_add(1, std::memory_order_relaxed);
                    });
                }
                group.wait();
            })
            .get();
    }

    void one_task_then_idle() {
        pool_.spawn([] {}).get();
    }

    void start_one(std::atomic<std::int64_t>& started_at) {
        (void)pool_.spawn([&started_at] { started_at.store(clock_type::now().time_since_epoch().count()); });
    }

    // Spawn from a worker: n tasks into a group from inside a task; returns seconds in the spawn loop.
    double worker_spawn(std::size_t n, std::atomic<long>& counter) {
        return pool_
            .spawn([&] {
                taskforge::task_group group{pool_};
                const auto start = clock_type::now();
                for (std::size_t i = 0; i < n; ++i) {
                    group.spawn([&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
                }
                const auto spawned = clock_type::now();
                group.wait();
                return std::chrono::duration<double>(spawned - start).count();
            })
            .get();
    }

private:
    static long fib_task(long n) {
        if (n < 2) return n;
        auto left = taskforge::spawn(&fib_task, n - 1);
        const long right = fib_task(n - 2);
        return left.get() + right;
    }
    static long tree_task(int depth) {
        if (depth == 0) return 1;
        auto left = taskforge::spawn(&tree_task, depth - 1);
        auto right = taskforge::spawn(&tree_task, depth - 1);
        return left.get() + right.get() + 1;
    }

protected:
    taskforge::scheduler& pool() noexcept { return pool_; }

private:
    taskforge::scheduler pool_;
};

// The same, recording a trace the whole time (issue 14, "tracing on"): the rings wrap, keeping the latest events.
class taskforge_traced_contender : public taskforge_contender {
public:
    static constexpr const char* name = "taskforge_traced";
    explicit taskforge_traced_contender(int threads) : taskforge_contender(threads) { pool().start_trace(); }
    taskforge_traced_contender(const taskforge_traced_contender&) = delete;
    taskforge_traced_contender& operator=(const taskforge_traced_contender&) = delete;
    ~taskforge_traced_contender() {
        std::ostream discard(nullptr);  // writes nothing: formatting a full trace is not what is measured
        pool().stop_trace(discard);
    }
};

#if defined(TASKFORGE_BENCH_HAVE_TBB)
// ---------------------------------------------------------------------------------------------------------------
class tbb_contender {
public:
    static constexpr const char* name = "oneTBB";
    explicit tbb_contender(int threads) : arena_(threads) {}

    double external_spawn(std::size_t n, std::atomic<long>& counter) {
        double seconds = 0;
        arena_.execute([&] {
            tbb::task_group group;
            const auto start = clock_type::now();
            for (std::size_t i = 0; i < n; ++i)
                group.run([&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
            const auto spawned = clock_type::now();
            group.wait();
            seconds = std::chrono::duration<double>(spawned - start).count();
        });
        return seconds;
    }

    long fib(long n) {
        long result = 0;
        arena_.execute([&] { result = fib_task(n); });
        return result;
    }
    long tree(int depth) {
        long result = 0;
        arena_.execute([&] { result = tree_task(depth); });
        return result;
    }

    void uneven(const std::vector<int>& work, std::atomic<long>& ran_elsewhere) {
        arena_.execute([&] {
            const auto spawner = std::this_thread::get_id();
            tbb::task_group group;
            for (const int microseconds : work) {
                group.run([&, microseconds, spawner] {
                    busy_wait(std::chrono::microseconds(microseconds));
                    if (std::this_thread::get_id() != spawner) ran_elsewhere.fetch_add(1, std::memory_order_relaxed);
                });
            }
            group.wait();
        });
    }

    void one_task_then_idle() {
        arena_.execute([] {
            tbb::task_group group;
            group.run([] {});
            group.wait();
        });
    }

    void start_one(std::atomic<std::int64_t>& started_at) {
        arena_.enqueue([&started_at] { started_at.store(clock_type::now().time_since_epoch().count()); });
    }

private:
    static long fib_task(long n) {
        if (n < 2) return n;
        long left = 0;
        tbb::task_group group;
        group.run([&] { left = fib_task(n - 1); });
        const long right = fib_task(n - 2);
        group.wait();
        return left + right;
    }
    static long tree_task(int depth) {
        if (depth == 0) return 1;
        long left = 0;
        long right = 0;
        tbb::task_group group;
        group.run([&] { left = tree_task(depth - 1); });
        group.run([&] { right = tree_task(depth - 1); });
        group.wait();
        return left + right + 1;
    }

    tbb::task_arena arena_;
};
#endif

#if defined(_OPENMP)
// ---------------------------------------------------------------------------------------------------------------
class openmp_contender {
public:
    static constexpr const char* name = "OpenMP";
    explicit openmp_contender(int threads) : threads_(threads) {}

    double external_spawn(std::size_t n, std::atomic<long>& counter) {
        double seconds = 0;
#pragma omp parallel num_threads(threads_)
#pragma omp single
        {
            const auto start = clock_type::now();
            for (std::size_t i = 0; i < n; ++i) {
#pragma omp task shared(counter)
                counter.fetch_add(1, std::memory_order_relaxed);
            }
            const auto spawned = clock_type::now();
#pragma omp taskwait
            seconds = std::chrono::duration<double>(spawned - start).count();
        }
        return seconds;
    }

    long fib(long n) {
        long result = 0;
#pragma omp parallel num_threads(threads_)
#pragma omp single
        result = fib_task(n);
        return result;
    }
    long tree(int depth) {
        long result = 0;
#pragma omp parallel num_threads(threads_)
#pragma omp single
        result = tree_task(depth);
        return result;
    }

    void uneven(const std::vector<int>& work, std::atomic<long>& ran_elsewhere) {
#pragma omp parallel num_threads(threads_)
#pragma omp single
        {
            const auto spawner = std::this_thread::get_id();
            for (const int microseconds : work) {
#pragma omp task shared(ran_elsewhere) firstprivate(microseconds, spawner)
                {
                    busy_wait(std::chrono::microseconds(microseconds));
                    if (std::this_thread::get_id() != spawner) ran_elsewhere.fetch_add(1, std::memory_order_relaxed);
                }
            }
#pragma omp taskwait
        }
    }

    void one_task_then_idle() {
#pragma omp parallel num_threads(threads_)
#pragma omp single
        {
#pragma omp task
            {}
#pragma omp taskwait
        }
    }

private:
    static long fib_task(long n) {
        if (n < 2) return n;
        long left = 0;
#pragma omp task shared(left) firstprivate(n)
        left = fib_task(n - 1);
        const long right = fib_task(n - 2);
#pragma omp taskwait
        return left + right;
    }
    static long tree_task(int depth) {
        if (depth == 0) return 1;
        long left = 0;
        long right = 0;
#pragma omp task shared(left) firstprivate(depth)
        left = tree_task(depth - 1);
#pragma omp task shared(right) firstprivate(depth)
        right = tree_task(depth - 1);
#pragma omp taskwait
        return left + right + 1;
    }

    int threads_;
};
#endif

// ---------------------------------------------------------------------------------------------------------------
// The floor: one thread per task (std::async with launch::async). W1 only, with fewer tasks.
class async_contender {
public:
    static constexpr const char* name = "std::async";
    explicit async_contender(int) {}

    double external_spawn(std::size_t n, std::atomic<long>& counter) {
        std::vector<std::future<void>> futures;
        futures.reserve(n);
        const auto start = clock_type::now();
        for (std::size_t i = 0; i < n; ++i) {
            futures.push_back(
                std::async(std::launch::async, [&counter] { counter.fetch_add(1, std::memory_order_relaxed); }));
        }
        const auto spawned = clock_type::now();
        for (auto& future : futures) future.get();
        return std::chrono::duration<double>(spawned - start).count();
    }
};

}  // namespace bench
