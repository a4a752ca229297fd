// Divide and conquer: sum a vector by splitting it in halves until the pieces are small.
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <span>
#include <taskforge/taskforge.hpp>
#include <vector>

std::int64_t sum(std::span<const std::int64_t> values) {
    if (values.size() <= 4096) return std::accumulate(values.begin(), values.end(), std::int64_t{0});
    const std::size_t half = values.size() / 2;
    auto left = taskforge::spawn(sum, values.first(half));
    const std::int64_t right = sum(values.subspan(half));
    return left.get() + right;
}

int main() {
    std::vector<std::int64_t> values(10'000'000);
    std::iota(values.begin(), values.end(), 1);
    taskforge::scheduler pool;
    const std::int64_t total = pool.spawn(sum, std::span<const std::int64_t>(values)).get();
    const std::int64_t expected = std::int64_t{10'000'000} * 10'000'001 / 2;
    std::printf("sum = %lld (expected %lld)\n", static_cast<long long>(total), static_cast<long long>(expected));
    return total == expected ? 0 : 1;
}
