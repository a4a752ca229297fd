// bench/figures.cpp — the figures that do not fit Google Benchmark's loop: idle CPU (W4), wake-up latency (W5)
// with the bare futex floor beside it, and uneven-load speedup with steals per task (W6).
#include "figures.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "contenders.hpp"
#include "settings.hpp"

namespace bench {
namespace {

double process_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::int64_t now_ticks() { return clock_type::now().time_since_epoch().count(); }

double ticks_to_us(std::int64_t ticks) {
    return std::chrono::duration<double, std::micro>(clock_type::duration(ticks)).count();
}

struct latency {
    double median_us;
    double p99_us;
};

latency summarize(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double q) {
        return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
    };
    return {at(0.5), at(0.99)};
}

constexpr int wake_samples = 200;
constexpr auto idle_before_wake = std::chrono::milliseconds(5);

// W4: CPU the whole process uses while the pool sits idle for 2 s after one tiny task.
template <class Contender>
void idle_cpu(std::vector<figure>& out) {
    Contender contender(bench_threads());
    contender.one_task_then_idle();
    const double before = process_cpu_seconds();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    out.push_back({"W4_idle_cpu", Contender::name, "cpu_ms_per_2s", (process_cpu_seconds() - before) * 1e3});
}

// W5: time from spawn() on an outside thread to the task starting, after the pool idled 5 ms.
template <class Contender>
void wake_latency(std::vector<figure>& out) {
    Contender contender(bench_threads());
    std::vector<double> samples;
    for (int i = 0; i < wake_samples; ++i) {
        std::atomic<std::int64_t> started{0};
        std::this_thread::sleep_for(idle_before_wake);
        const std::int64_t spawned = now_ticks();
        contender.start_one(started);
        while (started.load() == 0) std::this_thread::yield();
        samples.push_back(ticks_to_us(started.load() - spawned));
    }
    const latency result = summarize(samples);
    out.push_back({"W5_wake_latency", Contender::name, "median_us", result.median_us});
    out.push_back({"W5_wake_latency", Contender::name, "p99_us", result.p99_us});
}

// The floor for W5: a thread blocked in atomic::wait, woken by notify_one after 5 ms.
void futex_floor(std::vector<figure>& out) {
    std::vector<double> samples;
    for (int i = 0; i < wake_samples; ++i) {
        std::atomic<std::uint32_t> word{0};
        std::atomic<std::int64_t> woke{0};
        std::thread sleeper([&] {
            word.wait(0);
            woke.store(now_ticks());
        });
        std::this_thread::sleep_for(idle_before_wake);
        const std::int64_t notified = now_ticks();
        word.store(1);
        word.notify_one();
        sleeper.join();
        samples.push_back(ticks_to_us(woke.load() - notified));
    }
    const latency result = summarize(samples);
    out.push_back({"W5_wake_latency", "futex floor", "median_us", result.median_us});
    out.push_back({"W5_wake_latency", "futex floor", "p99_us", result.p99_us});
}

// W6: one task spawns 10,000 tasks of 1-100 us busy work; speedup of N workers over 1, and steals per task.
template <class Contender>
void uneven_load(std::vector<figure>& out) {
    std::mt19937 random(42);
    std::uniform_int_distribution<int> micros(1, 100);
    std::vector<int> work(10'000);
    for (int& w : work) w = micros(random);
    const auto timed = [&](int threads, std::atomic<long>& elsewhere) {
        Contender contender(threads);
        const auto start = clock_type::now();
        contender.uneven(work, elsewhere);
        return std::chrono::duration<double>(clock_type::now() - start).count();
    };
    std::atomic<long> ignored{0};
    std::atomic<long> stolen{0};
    const double one = timed(1, ignored);
    const double many = timed(bench_threads(), stolen);
    out.push_back({"W6_uneven", Contender::name, "speedup", one / many});
    out.push_back({"W6_uneven", Contender::name, "steals_per_task",
                   static_cast<double>(stolen.load()) / static_cast<double>(work.size())});
}

}  // namespace

std::vector<figure> measure_figures() {
    std::vector<figure> out;
    idle_cpu<taskforge_contender>(out);
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    idle_cpu<tbb_contender>(out);
#endif
#if defined(_OPENMP)
    idle_cpu<openmp_contender>(out);
#endif
    futex_floor(out);
    wake_latency<taskforge_contender>(out);
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    wake_latency<tbb_contender>(out);
#endif
    uneven_load<taskforge_contender>(out);
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    uneven_load<tbb_contender>(out);
#endif
#if defined(_OPENMP)
    uneven_load<openmp_contender>(out);
#endif
    return out;
}

}  // namespace bench
