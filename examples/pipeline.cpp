// A small pipeline built from continuations: load three "files", transform each, merge them once all are done,
// then publish; the caller waits for the result under a deadline and cancels what has not started if it passes.
// No thread blocks inside the pipeline: each step is queued when the step before it finished.
#include <chrono>
#include <cstdio>
#include <future>
#include <numeric>
#include <string>
#include <taskforge/taskforge.hpp>
#include <tuple>
#include <vector>

namespace {

// Stands in for I/O: a "file" of `lines` numbered lines.
std::vector<int> load(int lines) {
    std::vector<int> values(static_cast<std::size_t>(lines));
    std::iota(values.begin(), values.end(), 1);
    return values;
}

long transform(const std::vector<int>& values) {
    long total = 0;
    for (const int value : values) total += static_cast<long>(value) * value;  // sum of squares
    return total;
}

long sum_of_squares(long n) { return n * (n + 1) * (2 * n + 1) / 6; }

}  // namespace

int main() {
    taskforge::scheduler pool;
    const int sizes[] = {1000, 2000, 3000};

    // load -> transform, three times, each a chain of two tasks.
    auto a = pool.spawn(load, sizes[0]).then([](std::vector<int> values) { return transform(values); });
    auto b = pool.spawn(load, sizes[1]).then([](std::vector<int> values) { return transform(values); });
    auto c = pool.spawn(load, sizes[2]).then([](std::vector<int> values) { return transform(values); });

    // merge once all three are done, then publish.
    auto merged = taskforge::when_all(a, b, c).then([](std::tuple<long, long, long> parts) {
        return std::get<0>(parts) + std::get<1>(parts) + std::get<2>(parts);
    });
    auto published = merged.then([](long total) { return "total = " + std::to_string(total); });

    // The caller's deadline: if it passes, cancel the last step (a continuation can be cancelled until it starts).
    if (published.wait_for(std::chrono::seconds(10)) == std::future_status::timeout) {
        published.cancel();
        std::puts("deadline passed: pipeline cancelled");
        return 1;
    }
    const std::string line = published.get();
    const long expected = sum_of_squares(sizes[0]) + sum_of_squares(sizes[1]) + sum_of_squares(sizes[2]);
    std::printf("%s (expected %ld)\n", line.c_str(), expected);
    return line == "total = " + std::to_string(expected) ? 0 : 1;
}
