// bench/main.cpp — runs the Google Benchmark suites and the extra figures, then prints the target verdict.
//
//   taskforge_bench [--check] [--figures_out=FILE] [Google Benchmark flags, e.g. --benchmark_out=FILE]
//
// --check: exit non-zero when a target (not a goal) FAILs. Targets are the promises made to users; goals are the
// higher bar the project holds itself to, reported but not enforced.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "figures.hpp"
#include "settings.hpp"

namespace {

// Keeps the median of every aggregate run, keyed by "name|field", while printing as usual.
class capturing_reporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            if (run.aggregate_name != "median") continue;
            // "W1_external_spawn/taskforge" or "W2_fib30/taskforge/2": the name without repetition suffixes.
            const std::string name =
                run.run_name.function_name + (run.run_name.args.empty() ? "" : "/" + run.run_name.args);
            medians_[name + "|real_ms"] = run.GetAdjustedRealTime();
            for (const auto& [counter, value] : run.counters) medians_[name + "|" + counter] = value.value;
        }
        ConsoleReporter::ReportRuns(runs);
    }
    std::optional<double> get(const std::string& name, const std::string& field) const {
        const auto found = medians_.find(name + "|" + field);
        if (found == medians_.end()) return std::nullopt;
        return found->second;
    }

private:
    std::map<std::string, double> medians_;
};

struct verdict_printer {
    const capturing_reporter& results;
    std::vector<bench::figure> figures;
    bool all_targets_pass = true;

    std::optional<double> figure_value(const std::string& workload, const std::string& contender,
                                       const std::string& metric) const {
        for (const auto& f : figures) {
            if (f.workload == workload && f.contender == contender && f.metric == metric) return f.value;
        }
        return std::nullopt;
    }

    // Best peer on a Google Benchmark field; `lower_is_better` picks min or max. `suffix`: e.g. "/2" (threads).
    std::string peer_ratio(const std::string& workload, const std::string& field, double ours, bool lower_is_better,
                           const std::string& suffix = "") const {
        std::optional<double> best;
        std::string best_name;
        for (const char* peer : {"oneTBB", "OpenMP"}) {
            const auto value = results.get(workload + "/" + peer + suffix, field);
            if (!value) continue;
            if (!best || (lower_is_better ? *value < *best : *value > *best)) {
                best = value;
                best_name = peer;
            }
        }
        if (!best || ours <= 0) return "no peer installed";
        const double ratio = lower_is_better ? *best / ours : ours / *best;
        char text[96];
        std::snprintf(text, sizeof text, "%.2fx %s best peer (%s)", ratio >= 1 ? ratio : 1 / ratio,
                      ratio >= 1 ? "better than" : "worse than", best_name.c_str());
        return text;
    }

    void line(const char* kind, const char* what, std::optional<double> measured, const char* unit, bool pass,
              const std::string& comparison) {
        if (!measured) {
            std::printf("  %-6s %-46s %14s  %-8s %s\n", kind, what, "not measured", "FAIL", "");
            if (std::strcmp(kind, "target") == 0) all_targets_pass = false;
            return;
        }
        const char* result = std::strcmp(kind, "target") == 0 ? (pass ? "PASS" : "FAIL") : (pass ? "met" : "MISSED");
        if (std::strcmp(kind, "target") == 0 && !pass) all_targets_pass = false;
        std::printf("  %-6s %-46s %10.2f %-4s %-8s %s\n", kind, what, *measured, unit, result, comparison.c_str());
    }

    void print() {
        const std::string w1 = "W1_external_spawn/taskforge";
        const std::string w3 = "W3_tree20/taskforge/" + std::to_string(bench::bench_threads());
        const std::string w2 = "W2_fib30/taskforge/" + std::to_string(bench::bench_threads());
        const auto spawn_ns = results.get(w1, "ns_per_spawn");
        const auto w1_rate = results.get(w1, "items_per_second");
        const auto w3_rate = results.get(w3, "items_per_second");
        const auto w2_ms = results.get(w2, "real_ms");
        const auto serial_ms = results.get("W2_fib30/serial", "real_ms");
        const auto fib_one_ms = results.get("W2_fib30/taskforge/1", "real_ms");
        const auto m = [](std::optional<double> v, double scale) { return v ? std::optional<double>(*v * scale) : v; };

        std::printf("\n== taskforge verdict (%d threads, medians of %d repetitions) ==\n", bench::bench_threads(),
                    bench::repetitions());
        line("target", "W1 spawn from a non-worker thread < 100 ns", spawn_ns, "ns", spawn_ns && *spawn_ns < 100,
             spawn_ns ? peer_ratio("W1_external_spawn", "ns_per_spawn", *spawn_ns, true) : "");
        line("target", "W1 end to end >= 10M tasks/s", m(w1_rate, 1e-6), "M/s", w1_rate && *w1_rate >= 10e6,
             w1_rate ? peer_ratio("W1_external_spawn", "items_per_second", *w1_rate, false) : "");
        const std::string threads_suffix = "/" + std::to_string(bench::bench_threads());
        line("target", "W3 task tree >= 10M tasks/s", m(w3_rate, 1e-6), "M/s", w3_rate && *w3_rate >= 10e6,
             w3_rate ? peer_ratio("W3_tree20", "items_per_second", *w3_rate, false, threads_suffix) : "");

        std::printf("\n  goals (reported, not enforced):\n");
        line("goal", "W1 spawn <= 20 ns", spawn_ns, "ns", spawn_ns && *spawn_ns <= 20, "");
        line("goal", "W1 end to end >= 50M tasks/s", m(w1_rate, 1e-6), "M/s", w1_rate && *w1_rate >= 50e6, "");
        line("goal", "W3 >= 100M tasks/s", m(w3_rate, 1e-6), "M/s", w3_rate && *w3_rate >= 100e6, "");
        std::optional<double> best_peer_fib;
        for (const char* peer : {"oneTBB", "OpenMP"}) {
            const auto v =
                results.get(std::string("W2_fib30/") + peer + "/" + std::to_string(bench::bench_threads()), "real_ms");
            if (v && (!best_peer_fib || *v < *best_peer_fib)) best_peer_fib = v;
        }
        line("goal", "W2 fib(30) faster than every peer", w2_ms, "ms",
             w2_ms && (!best_peer_fib || *w2_ms < *best_peer_fib),
             best_peer_fib ? "best peer " + std::to_string(*best_peer_fib) + " ms" : "no peer installed");
        const auto fib_ratio =
            (fib_one_ms && serial_ms) ? std::optional<double>(*fib_one_ms / *serial_ms) : std::nullopt;
        line("goal", "W2 fib(30) on 1 worker within 8x of serial", fib_ratio, "x", fib_ratio && *fib_ratio <= 8, "");
        const auto idle = figure_value("W4_idle_cpu", "taskforge", "cpu_ms_per_2s");
        line("goal", "W4 idle CPU < 0.2 ms per 2 s", idle, "ms", idle && *idle < 0.2, "");
        const auto wake = figure_value("W5_wake_latency", "taskforge", "median_us");
        const auto floor = figure_value("W5_wake_latency", "futex floor", "median_us");
        const auto wake_ratio = (wake && floor) ? std::optional<double>(*wake / *floor) : std::nullopt;
        line("goal", "W5 wake median within 1.2x of the futex floor", wake_ratio, "x", wake_ratio && *wake_ratio <= 1.2,
             floor ? "floor " + std::to_string(*floor) + " us" : "");
        const auto p99 = figure_value("W5_wake_latency", "taskforge", "p99_us");
        line("goal", "W5 wake p99 <= 60 us", p99, "us", p99 && *p99 <= 60, "");
        const auto speedup = figure_value("W6_uneven", "taskforge", "speedup");
        line("goal", "W6 uneven-load speedup >= 1.9x", speedup, "x", speedup && *speedup >= 1.9, "");

        std::printf("\n  figures outside Google Benchmark:\n");
        for (const auto& f : figures) {
            std::printf("  %-18s %-12s %-16s %10.3f\n", f.workload.c_str(), f.contender.c_str(), f.metric.c_str(),
                        f.value);
        }
        std::printf("\n%s\n", all_targets_pass ? "All targets PASS." : "Some targets FAIL.");
    }
};

void write_figures(const std::string& path, const std::vector<bench::figure>& figures) {
    std::ofstream out(path);
    out << "[\n";
    for (std::size_t i = 0; i < figures.size(); ++i) {
        const auto& f = figures[i];
        out << "  {\"workload\": \"" << f.workload << "\", \"contender\": \"" << f.contender << "\", \"metric\": \""
            << f.metric << "\", \"value\": " << f.value << "}" << (i + 1 < figures.size() ? "," : "") << "\n";
    }
    out << "]\n";
}

}  // namespace

int main(int argc, char** argv) {
    bool check = false;
    std::string figures_out;
    std::vector<char*> passed;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (std::strncmp(argv[i], "--figures_out=", 14) == 0) {
            figures_out = argv[i] + 14;
        } else {
            passed.push_back(argv[i]);
        }
    }
    int count = static_cast<int>(passed.size());
    benchmark::Initialize(&count, passed.data());
    if (benchmark::ReportUnrecognizedArguments(count, passed.data())) return 2;

    // The figures first: W4 reads the whole process's CPU time, which the peers' thread pools (they live on after
    // their benchmarks) would otherwise add to.
    std::vector<bench::figure> figures = bench::measure_figures();

    bench::register_deque_benchmarks();
    bench::register_workloads();
    bench::register_join_benchmarks();
    bench::register_loop_benchmarks();
    bench::register_compose_benchmarks();
    bench::register_coroutine_benchmarks();
    bench::register_priority_benchmarks();
    bench::register_waiting_benchmarks();
    capturing_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();

    verdict_printer verdict{reporter, std::move(figures)};
    if (!figures_out.empty()) write_figures(figures_out, verdict.figures);
    verdict.print();
    return check && !verdict.all_targets_pass ? 1 : 0;
}
