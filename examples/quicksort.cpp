// Divide and conquer with join: quicksort 10,000,000 integers, checked against std::sort, speedup printed.
// Each level partitions its range here, then sorts the two sides with taskforge::join: the left side on this
// thread, the right side on this thread's stack where an idle worker may steal it. Nothing is allocated per join.
//
//   example_quicksort [count]      (CTest runs it with a smaller count, to keep the sanitizer builds short)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <taskforge/taskforge.hpp>
#include <vector>

namespace {

using iterator = std::vector<int>::iterator;

// Below this many elements a side is sorted serially: a join costs far less, but std::sort is faster still.
constexpr std::ptrdiff_t serial_below = 2048;

int median_of_three(int a, int b, int c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

void parallel_quicksort(iterator first, iterator last) {
    if (last - first < serial_below) {
        std::sort(first, last);
        return;
    }
    const int pivot = median_of_three(*first, *(first + (last - first) / 2), *(last - 1));
    // Three parts: < pivot, == pivot, > pivot, so runs of equal keys cannot make the recursion degenerate.
    const iterator less_end = std::partition(first, last, [pivot](int value) { return value < pivot; });
    const iterator equal_end = std::partition(less_end, last, [pivot](int value) { return value == pivot; });
    taskforge::join([=] { parallel_quicksort(first, less_end); }, [=] { parallel_quicksort(equal_end, last); });
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const long count = argc > 1 ? std::atol(argv[1]) : 10'000'000;
    if (count < 1) {
        std::fprintf(stderr, "usage: example_quicksort [count >= 1]\n");
        return 2;
    }
    std::vector<int> input(static_cast<std::size_t>(count));
    std::mt19937 random(42);
    for (int& value : input) value = static_cast<int>(random());

    std::vector<int> expected = input;
    auto start = std::chrono::steady_clock::now();
    std::sort(expected.begin(), expected.end());
    const double serial = seconds_since(start);

    taskforge::scheduler pool;  // hardware_concurrency() workers
    std::vector<int> sorted = input;
    start = std::chrono::steady_clock::now();
    pool.join([&] { parallel_quicksort(sorted.begin(), sorted.end()); }, [] {});  // from main: runs in the pool
    const double parallel = seconds_since(start);

    const bool correct = sorted == expected;
    std::printf("sorted %ld integers: std::sort %.1f ms, join quicksort %.1f ms on %zu workers, speedup %.2fx: %s\n",
                count, serial * 1e3, parallel * 1e3, pool.thread_count(), serial / parallel,
                correct ? "same result" : "WRONG RESULT");
    return correct ? 0 : 1;
}
