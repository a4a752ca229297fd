// bench/settings.hpp — knobs shared by the benchmark files.
#pragma once

#include <cstdlib>
#include <thread>

namespace bench {

// Threads every contender gets: TASKFORGE_BENCH_THREADS, else the hardware threads.
inline int bench_threads() {
    if (const char* text = std::getenv("TASKFORGE_BENCH_THREADS")) {
        const int threads = std::atoi(text);
        if (threads > 0) return threads;
    }
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware == 0 ? 1 : static_cast<int>(hardware);
}

// Repetitions per benchmark (the median is reported): TASKFORGE_BENCH_REPETITIONS, else 5.
inline int repetitions() {
    if (const char* text = std::getenv("TASKFORGE_BENCH_REPETITIONS")) {
        const int count = std::atoi(text);
        if (count > 0) return count;
    }
    return 5;
}

void register_workloads();
void register_deque_benchmarks();
void register_waiting_benchmarks();
void register_join_benchmarks();
void register_loop_benchmarks();
void register_compose_benchmarks();
void register_coroutine_benchmarks();
void register_priority_benchmarks();

}  // namespace bench
