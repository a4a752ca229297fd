// See what the pool does: metrics and a timeline trace of a small data pipeline.
//
//   example_trace [trace.json]        (default trace.json)
//
// Each batch is loaded, parsed by a continuation, cut into tiles that a task_group renders, and summed by a
// parallel_reduce; one task also forks a join-based recursion. Every task is named, so the trace shows the stages.
// Open trace.json in ui.perfetto.dev ("Open trace file") or chrome://tracing, or draw it without a browser:
//
//   scripts/trace_svg.py trace.json > trace.svg
//
// It checks its own results and that the trace holds one task event per task the metrics counted (written next to
// the trace as <trace.json>.tasks, for tests/trace/check_trace.py), and prints the per-worker metrics.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

namespace {

long fib(long n) {
    if (n < 2) return n;
    auto [a, b] = taskforge::join([n] { return fib(n - 1); }, [n] { return fib(n - 2); });
    return a + b;
}

std::vector<int> load(int batch) {
    std::vector<int> values(20'000);
    std::iota(values.begin(), values.end(), batch);
    return values;
}

// Metrics are exact once the workers are idle (metrics.hpp): wait until the totals stop moving.
taskforge::worker_metrics settled(const taskforge::scheduler& pool) {
    auto last = pool.metrics().total();
    for (int quiet = 0; quiet < 20;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const auto now = pool.metrics().total();
        quiet = now.tasks_run == last.tasks_run && now.parks == last.parks ? quiet + 1 : 0;
        last = now;
    }
    return last;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "trace.json";
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    pool.start_trace();

    long checksum = 0;
    long expected = 0;
    for (int batch = 0; batch < 8; ++batch) {
        auto parsed = pool.spawn(taskforge::named("load", load), batch)
                          .then(taskforge::named("parse", [](std::vector<int> values) {
                              for (int& value : values) value = value % 1000;
                              return values;
                          }));
        std::vector<int> values = parsed.get();
        taskforge::task_group tiles{pool};
        std::vector<long> tile_sums(16);
        const std::size_t tile = values.size() / tile_sums.size();
        for (std::size_t t = 0; t < tile_sums.size(); ++t) {
            tiles.spawn(taskforge::named("render tile", [&, t] {
                for (std::size_t i = t * tile; i < (t + 1) * tile; ++i) tile_sums[t] += values[i];
            }));
        }
        tiles.wait();
        checksum += std::accumulate(tile_sums.begin(), tile_sums.end(), 0L);
        checksum += taskforge::parallel_reduce(pool, std::size_t{0}, values.size(), 0L, std::plus<>{},
                                               [&](std::size_t i) { return static_cast<long>(values[i]); });
        for (int value : values) expected += 2L * value;
    }
    const long recursion = pool.spawn(taskforge::named("fib", [] { return fib(24); })).get();

    const auto total = settled(pool);
    std::ofstream out(path);
    pool.stop_trace(out);
    out.close();
    std::ofstream(path + ".tasks") << total.tasks_run << "\n";

    std::printf("%-9s %9s %9s %9s %9s %7s %7s %7s %6s\n", "slot", "tasks", "pops", "injected", "attempts", "steals",
                "parks", "wakes", "depth");
    for (const auto& slot : pool.metrics().workers) {
        const char* role = slot.role == taskforge::worker_role::worker  ? "worker"
                           : slot.role == taskforge::worker_role::guest ? "guest"
                                                                        : "spare";
        std::printf("%-6s %2zu %9llu %9llu %9llu %9llu %7llu %7llu %7llu %6llu\n", role, slot.index,
                    static_cast<unsigned long long>(slot.tasks_run), static_cast<unsigned long long>(slot.local_pops),
                    static_cast<unsigned long long>(slot.injected_taken),
                    static_cast<unsigned long long>(slot.steal_attempts), static_cast<unsigned long long>(slot.steals),
                    static_cast<unsigned long long>(slot.parks), static_cast<unsigned long long>(slot.wakeups),
                    static_cast<unsigned long long>(slot.max_deque_depth));
    }
    std::printf("trace written to %s (%llu tasks); draw it with scripts/trace_svg.py %s > trace.svg\n", path.c_str(),
                static_cast<unsigned long long>(total.tasks_run), path.c_str());
    const bool right = checksum == expected && recursion == 46368 && total.tasks_run > 8 * 18;
    if (!right) std::fprintf(stderr, "wrong result: %ld vs %ld, fib %ld\n", checksum, expected, recursion);
    return right ? 0 : 1;
}
