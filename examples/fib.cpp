// Fork-join: every fib(n) with n >= 2 spawns fib(n-1), computes fib(n-2) itself, then joins.
// get() on a worker runs the awaited task itself when nobody has started it, else waits while the pool stands in
// for it (README, "waiting rules"), so this works with any number of workers, even one. For fork-join without a
// handle per task, taskforge::join is several times faster (examples/quicksort.cpp).
#include <cstdio>
#include <cstdlib>
#include <taskforge/taskforge.hpp>

long fib(long n) {
    if (n < 2) return n;
    auto left = taskforge::spawn(fib, n - 1);  // on a worker: pushed onto its own deque
    const long right = fib(n - 2);
    return left.get() + right;
}

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 27;
    taskforge::scheduler pool;  // hardware_concurrency() workers
    const long result = pool.spawn(fib, n).get();
    std::printf("fib(%ld) = %ld on %zu workers\n", n, result, pool.thread_count());
    return result == 196418 || n != 27 ? 0 : 1;
}
