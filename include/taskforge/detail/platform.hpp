// taskforge/detail/platform.hpp — the one place for platform, sanitizer and model-checker switches.
//
// Every lock-free header in taskforge spells its atomics as `detail::atomic<T>` and its fences as
// `detail::fence_*()`. This header decides what those mean:
//
//   * normal builds      — std::atomic<T>; a seq_cst fence is a locked RMW on x86-64 (see fence_seq_cst);
//   * ThreadSanitizer    — std::atomic<T>; TSan does not model standalone fences, so the lock-free headers
//                          ask `sanitizer_replaces_fences` and use equivalent release/acquire/seq_cst
//                          operations instead (no false reports in users' TSan builds);
//   * Relacy model tests — rl::atomic<T> and rl fences (TASKFORGE_RELACY defined before including), so the
//                          model checker runs the very source users compile (Tokio's `loom` shim is the model).
//
// The Relacy build may also weaken single orderings (TASKFORGE_MODEL_WEAKEN_*) to prove that the model tests
// catch the bug each ordering prevents. Those switches are refused outside the model build.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>

#if defined(__linux__) && !defined(TASKFORGE_RELACY)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>
#endif

#if defined(TASKFORGE_RELACY)
#include <relacy/relacy.hpp>
// relacy.hpp turns std names into macros (memory_order_*, new, delete, malloc, free) for code written against
// its own std emulation. We write std::memory_order and let the shim below translate, so those macros go.
#undef memory_order_relaxed
#undef memory_order_consume
#undef memory_order_acquire
#undef memory_order_release
#undef memory_order_acq_rel
#undef memory_order_seq_cst
#undef new
#undef delete
#undef malloc
#undef calloc
#undef realloc
#undef free
// Relacy records pointer values as `void*` in its history, which does not compile for pointers to const
// (task_frame.hpp's `runner`); record those as `const void*` instead.
namespace rl {
template <class T>
struct atomic_add_type<const T*> {
    typedef ptrdiff_t type;
    typedef const void* output_type;
};
}  // namespace rl
#endif

#if defined(__SANITIZE_THREAD__)
#define TASKFORGE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TASKFORGE_TSAN 1
#endif
#endif
#ifndef TASKFORGE_TSAN
#define TASKFORGE_TSAN 0
#endif

#if !defined(TASKFORGE_RELACY) &&                                                                 \
    (defined(TASKFORGE_MODEL_WEAKEN_POP_FENCE) || defined(TASKFORGE_MODEL_WEAKEN_PUSH_RELEASE) || \
     defined(TASKFORGE_MODEL_WEAKEN_GROW_RELEASE) || defined(TASKFORGE_MODEL_WEAKEN_STEAL_FENCE))
#error "TASKFORGE_MODEL_WEAKEN_* deliberately breaks the deque; it is only accepted in the Relacy model build"
#endif
#if !defined(TASKFORGE_RELACY) &&                                                                                     \
    (defined(TASKFORGE_MODEL_MUTANT_GROUP_CLEARS_AFTER_WAKE) ||                                                       \
     defined(TASKFORGE_MODEL_MUTANT_GROUP_RELAXED_FINISH) ||                                                          \
     defined(TASKFORGE_MODEL_MUTANT_RELEASE_IGNORES_CLAIMED) || defined(TASKFORGE_MODEL_MUTANT_PUSH_WITHOUT_FENCE) || \
     defined(TASKFORGE_MODEL_MUTANT_LEAPFROG_BELOW_BASE) || defined(TASKFORGE_MODEL_MUTANT_LEAPFROG_NO_RECHECK) ||    \
     defined(TASKFORGE_MODEL_MUTANT_TRACE_LATE_CLAIM) || defined(TASKFORGE_MODEL_MUTANT_CONTINUED_READ_EARLY) ||      \
     defined(TASKFORGE_MODEL_MUTANT_CLAIM_DEFERRED) || defined(TASKFORGE_MODEL_MUTANT_GUEST_RELAXED_LEAVE) ||         \
     defined(TASKFORGE_MODEL_MUTANT_GROUP_DRAIN_AFTER_ZERO) || defined(TASKFORGE_MODEL_MUTANT_FIRE_RELAXED))
#error "TASKFORGE_MODEL_MUTANT_* reintroduces a protocol bug; it is only accepted in the Relacy model build"
#endif

// A rarely taken path kept out of line, so that the hot path calling it stays small enough to be inlined
// (g++ and clang; both are the supported compilers).
#define TASKFORGE_COLD [[gnu::noinline, gnu::cold]]

// A tiny hot operation inlined into every caller whatever the caller's size: the deque's owner-end push and pop,
// which g++ stops inlining into the worker loop once that loop has grown (measured with callgrind: +8 %
// instructions on a spawn/join mix when they became calls).
// Only in optimised builds: at -O0 every inlined body keeps its own stack slots, and the deep join recursions that
// the tests run on 8 MiB stacks overflowed once push and pop were forced into join's frame.
#if defined(__OPTIMIZE__)
#define TASKFORGE_HOT_INLINE [[gnu::always_inline]] inline
#else
#define TASKFORGE_HOT_INLINE inline
#endif

namespace taskforge::detail {

// Metrics (scheduler::metrics(), metrics.hpp) are compiled in with -DTASKFORGE_METRICS=1 (CMake: the option
// TASKFORGE_METRICS=ON); tracing (start_trace(), trace.hpp) is compiled in unless -DTASKFORGE_TRACING=0. Either
// must be the same in every translation unit of a program (the inline functions that count differ). Metrics
// are off by default because their cost on the smallest tasks was not shown to stay within 2% (issue 14: fib's
// tasks run ~18 more instructions each, +3.6% under callgrind). The Relacy model build has neither.
#ifndef TASKFORGE_METRICS
#define TASKFORGE_METRICS 0
#endif
#ifndef TASKFORGE_TRACING
#define TASKFORGE_TRACING 1
#endif
#if defined(TASKFORGE_RELACY)
inline constexpr bool metrics_enabled = false;
inline constexpr bool tracing_enabled = false;
#else
inline constexpr bool metrics_enabled = TASKFORGE_METRICS != 0;
inline constexpr bool tracing_enabled = TASKFORGE_TRACING != 0;
#endif

// Cache line size used to keep independently written atomics apart (false sharing). 64 bytes on x86-64 and
// most AArch64 parts; std::hardware_destructive_interference_size is not used because g++ warns that its
// value may differ between translation units (-Winterference-size).
inline constexpr std::size_t cache_line = 64;

// True when standalone fences must be replaced by orderings on the operations themselves (see above).
// The Relacy build can force this path (TASKFORGE_MODEL_SANITIZER_ORDERINGS) so that it is model-checked too.
#if TASKFORGE_TSAN || defined(TASKFORGE_MODEL_SANITIZER_ORDERINGS)
inline constexpr bool sanitizer_replaces_fences = true;
#else
inline constexpr bool sanitizer_replaces_fences = false;
#endif

#if defined(TASKFORGE_RELACY)

// --- Relacy: forward every operation to rl::atomic with the caller's std::memory_order. ---------------
inline rl::memory_order to_model(std::memory_order order) noexcept {
    // std::memory_order and rl::memory_order enumerate relaxed..seq_cst in the same order.
    return static_cast<rl::memory_order>(static_cast<int>(order));
}

template <class T>
class atomic {
public:
    atomic() noexcept = default;
    explicit atomic(T value) noexcept : cell_(value) {}
    T load(std::memory_order order) const { return cell_($).load(to_model(order)); }
    void store(T value, std::memory_order order) { cell_($).store(value, to_model(order)); }
    T exchange(T value, std::memory_order order) { return cell_($).exchange(value, to_model(order)); }
    T fetch_add(T value, std::memory_order order) { return cell_($).fetch_add(value, to_model(order)); }
    T fetch_sub(T value, std::memory_order order) { return cell_($).fetch_sub(value, to_model(order)); }
    T fetch_or(T value, std::memory_order order) { return cell_($).fetch_or(value, to_model(order)); }
    T fetch_and(T value, std::memory_order order) { return cell_($).fetch_and(value, to_model(order)); }
    bool compare_exchange_strong(T& expected, T desired, std::memory_order success, std::memory_order failure) {
        return cell_($).compare_exchange_strong(expected, desired, to_model(success), to_model(failure));
    }
    bool compare_exchange_weak(T& expected, T desired, std::memory_order success, std::memory_order failure) {
        return cell_($).compare_exchange_weak(expected, desired, to_model(success), to_model(failure));
    }

private:
    rl::atomic<T> cell_;
};

inline void fence_seq_cst() { rl::atomic_thread_fence(rl::mo_seq_cst, $); }
inline void fence_release() { rl::atomic_thread_fence(rl::mo_release, $); }
inline void fence_acquire() { rl::atomic_thread_fence(rl::mo_acquire, $); }

// A mutex the model checker sees (parking.hpp's sleeper list).
class mutex {
public:
    void lock() { cell_.lock($); }
    void unlock() { cell_.unlock($); }

private:
    rl::mutex cell_;
};

// --- Relacy: the futex, modelled faithfully. The kernel compares the word and queues the waiter under one bucket
// lock, and the waker takes that lock after its store; a mutex plus condition variable is exactly that. A model
// test creates one `model_futex` per iteration (model_futex::current) before any thread waits. A lost wake-up
// leaves a thread blocked in `wait` forever, which Relacy reports as a deadlock.
struct model_futex {
    rl::mutex lock;
    rl::condition_variable sleepers;
    static model_futex*& current() {
        static model_futex* instance = nullptr;
        return instance;
    }
};

template <class Word>
void futex_wait(Word& word, std::uint32_t expected, const std::chrono::steady_clock::time_point* deadline = nullptr) {
    model_futex& futex = *model_futex::current();
    futex.lock.lock($);
    if (word.load(std::memory_order_relaxed) == expected) {  // ordered by the lock, as in the kernel
        if (deadline == nullptr) {
            futex.sleepers.wait(futex.lock, $);
        } else {
            futex.sleepers.wait_until(futex.lock, *deadline, $);  // Relacy explores both outcomes
        }
    }
    futex.lock.unlock($);
}

template <class Word>
void futex_wake_all(Word&) {
    model_futex& futex = *model_futex::current();
    futex.lock.lock($);
    futex.sleepers.notify_all($);
    futex.lock.unlock($);
}

template <class Word>
void futex_wake_one(Word& word) {
    futex_wake_all(word);  // a superset of wake-one: every sleeper re-checks its condition
}

#else

template <class T>
using atomic = std::atomic<T>;

#if TASKFORGE_TSAN
// ThreadSanitizer does not model fences, and g++ rejects them under it (-Wtsan, an error with -Werror in users'
// builds). Under TSan every fence is a read-modify-write of one shared word instead: the RMWs are totally
// ordered and each synchronizes with the one before it, so of two fencing threads the later one sees everything
// the earlier one did before its fence — at least what a pair of seq_cst fences guarantees (the Dekker pairs of
// parking.hpp and runtime.hpp), in a form TSan sees. The deque takes its own sanitizer form
// (sanitizer_replaces_fences) and never calls fence_release() under TSan.
inline std::atomic<std::uint32_t> sanitizer_fence_word{0};
inline void fence_seq_cst() noexcept { sanitizer_fence_word.fetch_add(0, std::memory_order_seq_cst); }
inline void fence_release() noexcept { sanitizer_fence_word.fetch_add(0, std::memory_order_seq_cst); }
inline void fence_acquire() noexcept { sanitizer_fence_word.fetch_add(0, std::memory_order_seq_cst); }
#else
// A sequentially consistent fence. g++ emits `lock or` for it, clang 14 emits `mfence`, which costs ~9x more
// on the machines we measured (~22 ns vs ~2.5 ns). On x86-64 every locked instruction is a full barrier in
// the single total order of locked operations (Intel SDM vol. 3 §8.2.2), so a locked no-op on the stack is
// the same fence; it is what Linux uses for smp_mb().
inline void fence_seq_cst() noexcept {
#if defined(__x86_64__)
    asm volatile("lock orl $0, -8(%%rsp)" ::: "memory", "cc");
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

inline void fence_release() noexcept { std::atomic_thread_fence(std::memory_order_release); }
inline void fence_acquire() noexcept { std::atomic_thread_fence(std::memory_order_acquire); }
#endif

using mutex = std::mutex;

#endif

// A cheap, rough clock for short budgets (the parallel loops' serial start, loop.hpp): on x86-64 the time-stamp
// counter, read without serialising the pipeline (a steady_clock read costs ~30 ns and, measured in a loop's
// middle, ~250 ns of lost work here); its rate is the nominal clock, 1-4 GHz on current parts, so budgets in ticks
// are only right within that factor. A thread moved to a core whose counter is behind sees a huge difference: the
// budget counts as spent, which is the safe side. Elsewhere steady_clock's nanoseconds.
inline std::uint64_t rough_ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
#if defined(__x86_64__) || defined(__i386__)
inline constexpr std::uint64_t rough_ticks_per_microsecond = 2500;  // a 2.5 GHz nominal clock
#else
inline constexpr std::uint64_t rough_ticks_per_microsecond = 1000;  // steady_clock's nanoseconds (libstdc++)
#endif

// Tells the CPU we are in a spin-wait loop (lower power, no memory-order mis-speculation on exit).
inline void cpu_relax() noexcept {
#if defined(TASKFORGE_RELACY)
    rl::yield(1, $);
#elif defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Gives the core away in a spin-wait whose holder may have been preempted.
inline void yield_thread() noexcept {
#if defined(TASKFORGE_RELACY)
    rl::yield(1, $);
#else
    std::this_thread::yield();
#endif
}

#if !defined(TASKFORGE_RELACY)

// --- Sleeping on a 32-bit word (futex on Linux) ---------------------------------------------------------------
// C++20 atomic::wait has no timeout, and libstdc++'s notify skips the system call unless its own waiter table saw
// the waiter, so mixing it with a timed futex would lose wake-ups. These three functions are the only sleeping
// primitive in taskforge; elsewhere they fall back to atomic::wait/notify (timed waits poll).
//
// futex_wake never reads the word's memory, so waking a word whose owner was just destroyed is harmless (a
// spurious wake-up for whoever reuses the address; every waiter here re-checks its condition).

// Sleeps while `word == expected`, at most until `deadline` when one is given. May return spuriously.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const std::chrono::steady_clock::time_point* deadline = nullptr) noexcept {
#if defined(__linux__)
    timespec relative{};
    timespec* timeout = nullptr;
    if (deadline != nullptr) {
        const auto left = *deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) return;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        relative.tv_sec = ns / 1'000'000'000;  // both are `long` on Linux
        relative.tv_nsec = ns % 1'000'000'000;
        timeout = &relative;
    }
    // FUTEX_WAIT measures the relative timeout on CLOCK_MONOTONIC, the clock behind steady_clock.
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, timeout, nullptr, 0);
#else
    if (deadline == nullptr) {
        word.wait(expected, std::memory_order_relaxed);
    } else if (word.load(std::memory_order_relaxed) == expected) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
#endif
}

inline void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
#else
    word.notify_one();
#endif
}

inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
    word.notify_all();
#endif
}

#endif  // !TASKFORGE_RELACY

}  // namespace taskforge::detail
