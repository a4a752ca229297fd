// Coroutines on the pool: taskforge::task<T>, co_await on handles, on other tasks and on a task_group,
// pool.schedule(), when_all, spawning a coroutine function, and sync_wait from main.
//
//   example_coroutines
//
// A small "service": each request is a coroutine that hops onto the pool, fans out two lookups as ordinary tasks,
// awaits both without blocking a worker, then awaits a helper coroutine. A batch coroutine fills a table with a
// task_group and awaits the whole group. It checks its own results.
#include <cstddef>
#include <cstdio>
#include <string>
#include <taskforge/taskforge.hpp>
#include <vector>

namespace {

int lookup_price(int item) { return 10 * item; }
int lookup_stock(int item) { return item % 7; }

taskforge::task<std::string> describe(int item, int value) {
    co_return "item " + std::to_string(item) + ": " + std::to_string(value);
}

taskforge::task<int> handle_request(taskforge::scheduler& pool, int item) {
    co_await pool.schedule();  // from here on, on one of pool's workers
    auto [price, stock] = co_await taskforge::when_all(pool.spawn(lookup_price, item), pool.spawn(lookup_stock, item));
    const int value = price * stock;
    const std::string line = co_await describe(item, value);  // a coroutine awaited: runs it, no queue
    if (item % 250 == 0) std::printf("%s\n", line.c_str());
    co_return value;
}

// One task per entry in a group, awaited as a whole: no handle per task, and no worker blocks meanwhile.
taskforge::task<long> price_table(taskforge::scheduler& pool, int items) {
    co_await pool.schedule();
    std::vector<int> prices(static_cast<std::size_t>(items));
    taskforge::task_group group{pool};
    for (int item = 0; item < items; ++item) {
        group.spawn([&prices, item] { prices[static_cast<std::size_t>(item)] = lookup_price(item); });
    }
    co_await group;  // rethrows a task's exception, as group.wait() would
    long total = 0;
    for (const int price : prices) total += price;
    co_return total;
}

}  // namespace

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    std::vector<taskforge::task_handle<int>> requests;
    for (int item = 0; item < 1000; ++item) requests.push_back(pool.spawn(handle_request, std::ref(pool), item));
    long total = 0;
    for (auto& request : requests) total += request.get();
    // The same request, run from main and waited for here.
    const int one = taskforge::sync_wait(handle_request(pool, 999));
    long expected = 0;
    for (int item = 0; item < 1000; ++item) expected += 10L * item * (item % 7);
    const long table = pool.spawn(price_table, std::ref(pool), 1000).get();
    std::printf("total %ld (expected %ld), request 999: %d, price table %ld\n", total, expected, one, table);
    return total == expected && one == 10 * 999 * (999 % 7) && table == 10L * 999 * 1000 / 2 ? 0 : 1;
}
