// bench/fan_out.cpp — W7 (issue 11): an outside thread fans out N tasks of W us into a group and waits for them,
// over and over: back to back ("hot") and with 100 us idle gaps ("warm"). Reports the median and p99 round trip
// against the ideal (the tasks' total work divided by the cores), for taskforge (the waiting thread helps as a
// guest), taskforge with guest_slots = 0 (the waiting thread only sleeps: the behaviour before issue 11) and oneTBB
// (a task_group run inside a task_arena, whose reserved slot the calling thread takes).
//
//   taskforge_fan_out [--rounds=N] [--same-total]   threads: TASKFORGE_BENCH_THREADS (default: hardware threads)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "settings.hpp"

#if defined(TASKFORGE_BENCH_HAVE_TBB)
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif

namespace {

using clock_type = std::chrono::steady_clock;

void busy_wait(std::chrono::microseconds duration) {
    const auto end = clock_type::now() + duration;
    while (clock_type::now() < end) {
    }
}

struct shape {
    int tasks;
    int micros;
    bool warm;
};

struct outcome {
    double median_us;
    double p99_us;
};

outcome summarize(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double q) {
        return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
    };
    return {at(0.5), at(0.99)};
}

// Times `rounds` round trips of `fan_out(tasks, micros)`, after a warm-up of a tenth as many.
template <class FanOut>
outcome measure(const shape& s, int rounds, FanOut fan_out) {
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(rounds));
    for (int round = -rounds / 10; round < rounds; ++round) {
        if (s.warm) std::this_thread::sleep_for(std::chrono::microseconds(100));
        const auto start = clock_type::now();
        fan_out(s.tasks, s.micros);
        const double us = std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
        if (round >= 0) samples.push_back(us);
    }
    return summarize(std::move(samples));
}

outcome run_taskforge(const shape& s, int rounds, int threads, std::size_t guest_slots) {
    taskforge::scheduler pool{
        taskforge::options{.threads = static_cast<std::size_t>(threads), .guest_slots = guest_slots}};
    return measure(s, rounds, [&pool](int tasks, int micros) {
        taskforge::task_group group{pool};
        for (int i = 0; i < tasks; ++i) group.spawn([micros] { busy_wait(std::chrono::microseconds(micros)); });
        group.wait();
    });
}

#if defined(TASKFORGE_BENCH_HAVE_TBB)
outcome run_tbb(const shape& s, int rounds, int threads) {
    tbb::task_arena arena(threads);
    return measure(s, rounds, [&arena](int tasks, int micros) {
        arena.execute([&] {
            tbb::task_group group;
            for (int i = 0; i < tasks; ++i) group.run([micros] { busy_wait(std::chrono::microseconds(micros)); });
            group.wait();
        });
    });
}
#endif

}  // namespace

int main(int argc, char** argv) {
    int rounds = 3000;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--rounds=", 9) == 0) rounds = std::max(10, std::atoi(argv[i] + 9));
    }
    const int threads = bench::bench_threads();
    // --same-total: taskforge gets threads - 1 workers, so that with the helping caller it runs as many threads as
    // oneTBB's task_arena(threads), whose concurrency counts the caller's reserved slot.
    int workers = threads;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--same-total") == 0) workers = std::max(1, threads - 1);
    }
    const unsigned hardware = std::thread::hardware_concurrency();
    const int cores = std::max(1, std::min(threads, hardware == 0 ? threads : static_cast<int>(hardware)));
    std::printf(
        "W7 fan-out/fan-in from an outside thread: %d threads (taskforge: %d workers + the caller), %d cores, "
        "%d rounds; microseconds\n",
        threads, workers, cores, rounds);
    std::printf("%-5s %4s %3s | %7s | %-22s | %-22s | %-22s | %s\n", "mode", "N", "W", "ideal", "taskforge med / p99",
                "guest_slots=0 med / p99", "oneTBB med / p99", "ours/ideal, ours/TBB (med)");
    for (const bool warm : {false, true}) {
        for (const int tasks : {4, 8, 16}) {
            for (const int micros : {1, 5}) {
                const shape s{tasks, micros, warm};
                const int n = warm ? rounds / 3 : rounds;
                const double ideal = static_cast<double>(tasks * micros) / cores;
                const outcome ours = run_taskforge(s, n, workers, 4);
                const outcome before = run_taskforge(s, n, workers, 0);
                std::printf("%-5s %4d %3d | %7.2f | %9.2f / %10.2f | %9.2f / %10.2f | ", warm ? "warm" : "hot", tasks,
                            micros, ideal, ours.median_us, ours.p99_us, before.median_us, before.p99_us);
#if defined(TASKFORGE_BENCH_HAVE_TBB)
                const outcome peer = run_tbb(s, n, threads);
                std::printf("%9.2f / %10.2f | %.2f, %.2f\n", peer.median_us, peer.p99_us, ours.median_us / ideal,
                            ours.median_us / peer.median_us);
#else
                std::printf("%22s | %.2f\n", "not installed", ours.median_us / ideal);
#endif
            }
        }
    }
    return 0;
}
