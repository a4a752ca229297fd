// taskforge/detail/frame_pool.hpp — per-thread recycling of task frames: one allocation per task, reused.
//
// Design (mimalloc's "free list per thread, remote frees go home"):
//   * Each thread that spawns owns a `frame_cache` with one free list per size class (64 B .. 1 KiB); a frame is
//     taken from the spawning thread's cache and remembers that cache (its home) in a hidden header.
//   * A frame freed on its home thread goes back on the local list: no atomic operation at all.
//   * A frame freed on another thread (a worker finishing a task an outside thread spawned) goes into that
//     thread's outbox when its home is an outside thread (a worker's frames go straight home: a worker's pool
//     must not depend on when another worker next runs dry); a full outbox (32 frames of one home), a frame of another
//     home, the thread going to sleep (flush_this_thread) or exiting sends the whole chain home with one CAS onto the
//     home's lock-free `remote` stack. The home takes the whole stack with one exchange when its local list runs dry,
//     so steady-state spawning from any thread calls no global operator new, and the home's line moves once per 32
//     frames.
//   * Frames over 1 KiB, or over-aligned ones, bypass the cache (plain aligned new/delete).
//   * Bounded retention: a cache grows as far as a burst needs (refills of 32 blocks, so spawning stays
//     allocation-free in the steady state), but keeps at most `kept_bytes_per_class` (2 MiB) of *free* blocks per
//     size class, and its remote stack holds at most `remote_bound` blocks: a block freed beyond those bounds goes
//     back to the allocator at once ([F4]). Every `trim_interval` blocks given back, the freeing thread asks the C
//     library to return free heap memory to the system (glibc keeps small freed chunks in "fast bins" otherwise),
//     so the memory of a burst of millions of tasks is returned when the burst is over.
//   * A thread whose cache is already gone (spawning from a thread_local destructor) gets plain blocks too.
//
// Invariants:
//   [F1] Only the home thread touches its local lists and `owned_`; other threads touch only `remote_` and, after
//        the home is gone, `orphans_`.
//   [F2] A remote free links the block in before its release CAS; the home's acquire exchange reads the links.
//   [F3] When the home thread exits it swaps `remote_` to `closed`: later remote frees see it and delete the block
//        instead. The home cache object is deleted by whoever makes `orphans_` (blocks still out, counted down by
//        those late frees) reach zero — the exiting thread if nothing is out. Memory is never leaked or reused
//        after free, and LeakSanitizer sees nothing left at exit.
//   [F4] A block deleted by a remote freer because the home's remote stack is full is counted exactly like a
//        late free after exit: it subtracts from `orphans_`, which the home's abandon() later raises by the blocks
//        it did not get back. Before abandon() the count is <= 0, so only the sum after it can reach zero.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "platform.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace taskforge::detail {

class frame_cache {
public:
    // Payload alignment served by the cache; stricter frames bypass it.
    static constexpr std::size_t alignment = 16;

    // Allocates `size` bytes aligned to `align` for a frame, from the calling thread's cache when possible. Hot:
    // a block on this thread's free list of the class [F1]; everything else is allocate_slowly's.
    TASKFORGE_HOT_INLINE static void* allocate(std::size_t size, std::size_t align) {
        const std::uint32_t size_class = class_of(size + sizeof(header));
        frame_cache* const self = current_;
        if (size_class != big && align <= alignment && self != nullptr) [[likely]] {
            if (header* const block = self->free_[size_class]; block != nullptr) [[likely]] {
                self->free_[size_class] = next_of(block);
                --self->kept_[size_class];
                return reinterpret_cast<std::byte*>(block) + sizeof(header);
            }
        }
        return allocate_slowly(size, align, size_class);
    }

    // Returns a frame's memory; any thread. Hot: a cached block of this thread's own, under the bound [F1][F4];
    // everything else is deallocate_slowly's.
    TASKFORGE_HOT_INLINE static void deallocate(void* payload) noexcept {
        header* const block = header_of(payload);
        frame_cache* const self = current_;
        if (block->home == self && self != nullptr) [[likely]] {  // a big block's home is nullptr
            const std::uint32_t size_class = block->size_class;
            if (self->worker_home_ || self->kept_[size_class] < kept_blocks(size_class)) [[likely]] {
                ++self->kept_[size_class];
                next_of(block) = self->free_[size_class];
                self->free_[size_class] = block;
                return;
            }
        }
        deallocate_slowly(block);
    }

    // Workers, at start: creates the calling thread's cache now and marks it a worker's (its frames are sent home
    // one by one, never held in another thread's outbox).
    static void prepare_worker_thread() { local().worker_home_ = true; }

    // A thread about to idle: if it gave blocks back to the allocator since its last trim, asks the C library to
    // return free heap memory to the system now (glibc keeps freed small chunks mapped otherwise).
    static void return_burst_memory() noexcept {
        if (current_ != nullptr) current_->trim_free_lists();
        if (blocks_given_back_ == 0) return;
        blocks_given_back_ = 0;
        trim_heap();
    }

    // Sends the calling thread's outbox home now (a worker about to sleep must not sit on other threads' frames).
    static void flush_this_thread() noexcept {
        if (current_ != nullptr) current_->flush_outbox();
    }

    frame_cache(const frame_cache&) = delete;
    frame_cache& operator=(const frame_cache&) = delete;

private:
    struct alignas(alignment) header {
        frame_cache* home;
        std::uint32_t size_class;
        std::uint32_t big_alignment;
    };
    // While a block is free its payload is unused; the free-list link lives there.
    static header*& next_of(header* block) noexcept {
        return *reinterpret_cast<header**>(reinterpret_cast<std::byte*>(block) + sizeof(header));
    }
    static constexpr std::uint32_t classes = 5;  // 64, 128, 256, 512, 1024 bytes including the header
    static constexpr std::uint32_t big = classes;
    static constexpr std::uintptr_t closed = 1;  // remote_ value once the home thread has exited [F3]
    static constexpr std::int64_t refill_blocks = 32;
    static constexpr std::size_t kept_bytes_per_class = std::size_t{2} << 20;
    static constexpr std::int64_t remote_bound = 16 * 1024;
    static constexpr std::size_t trim_interval = 256 * 1024;
    static constexpr int outbox_limit = 32;

    // Releases the cache when its thread exits (a trivially destructible pointer stays the fast path).
    struct thread_exit_hook {
        ~thread_exit_hook() {
            if (current_ == nullptr) return;
            exited_ = true;
            frame_cache* self = std::exchange(current_, nullptr);  // frees from here on go straight home
            self->flush_outbox();
            self->abandon();
        }
    };

    frame_cache() = default;
    ~frame_cache() = default;

    // 1..64 bytes: class 0; 65..128: 1; ... 513..1024: 4; more: big. Branch-free: the size of a coroutine frame
    // is only known at run time.
    static std::uint32_t class_of(std::size_t bytes) noexcept {
        const auto size_class = static_cast<std::uint32_t>(std::bit_width((bytes - 1) >> 6));
        return size_class < big ? size_class : big;
    }
    static std::size_t class_bytes(std::uint32_t size_class) noexcept { return std::size_t{64} << size_class; }
    // The most free blocks of a class an outside thread's cache keeps [F4].
    static std::int64_t kept_blocks(std::uint32_t size_class) noexcept {
        return static_cast<std::int64_t>(kept_bytes_per_class >> 6 >> size_class);
    }
    static header* header_of(void* payload) noexcept {
        return reinterpret_cast<header*>(static_cast<std::byte*>(payload) - sizeof(header));
    }

    TASKFORGE_COLD static void* allocate_slowly(std::size_t size, std::size_t align, std::uint32_t size_class) {
        if (size_class == big || align > alignment || (current_ == nullptr && exited_)) {
            return allocate_big(size, align);
        }
        return local().take(size_class);
    }

    TASKFORGE_COLD static void deallocate_slowly(header* block) noexcept {
        void* const payload = reinterpret_cast<std::byte*>(block) + sizeof(header);
        if (block->size_class == big) {
            const std::size_t align = block->big_alignment;
            ::operator delete (static_cast<std::byte*>(payload) - align, std::align_val_t{align});
            return;
        }
        if (current_ == nullptr && exited_) {
            return block->home->remote_free(block, block, 1);  // freed during this thread's exit
        }
        frame_cache& self = local();
        if (block->home == &self) {
            self.give_back(block);  // [F1] our own frame
        } else {
            self.send_home(block);
        }
    }

    static frame_cache& local() {
        if (current_ != nullptr) return *current_;
        return install();
    }

    static frame_cache& install() {
        thread_local thread_exit_hook hook;  // constructed once per thread: registers abandon() at thread exit
        current_ = new frame_cache();
        return *current_;
    }

    static void* allocate_big(std::size_t size, std::size_t align) {
        align = align < alignment ? alignment : align;
        const std::size_t prefix = align < sizeof(header) ? sizeof(header) : align;
        auto* start = static_cast<std::byte*>(::operator new (prefix + size, std::align_val_t{prefix}));
        void* payload = start + prefix;
        header* block = header_of(payload);
        block->home = nullptr;
        block->size_class = big;
        block->big_alignment = static_cast<std::uint32_t>(prefix);
        return payload;
    }

    // Home thread only [F1]. An empty list is refilled with 32 blocks at once (a fork-join stack 32 spawns deep,
    // 4 KiB for 128-byte frames), so the pool reaches its peak of frames in flight early and keeps what the
    // bound allows ([F4]).
    void* take(std::uint32_t size_class) {
        if (free_[size_class] == nullptr) collect_remote();
        if (free_[size_class] == nullptr) refill(size_class);
        header* block = free_[size_class];
        free_[size_class] = next_of(block);
        --kept_[size_class];
        return reinterpret_cast<std::byte*>(block) + sizeof(header);
    }

    void refill(std::uint32_t size_class) {
        for (std::int64_t i = 0; i < refill_blocks; ++i) {
            auto* block = static_cast<header*>(::operator new(class_bytes(size_class)));
            block->home = this;
            block->size_class = size_class;
            block->big_alignment = 0;
            ++owned_;
            give_back(block);
        }
    }

    // Home thread only [F1].
    void give_back(header* block) noexcept {
        const std::uint32_t size_class = block->size_class;
        // Over the bound: delete it. A worker keeps its burst's blocks until it idles (trim_free_lists), so a burst
        // of tasks spawned from inside a task reuses them instead of paying the allocator twice per task.
        if (!worker_home_ && kept_[size_class] >= kept_blocks(size_class)) {
            --owned_;
            ::operator delete(block);
            return note_given_back(1);
        }
        ++kept_[size_class];
        next_of(block) = free_[block->size_class];
        free_[block->size_class] = block;
    }

    // Home thread only, idle: collects what came home and deletes free blocks beyond the bound [F4].
    void trim_free_lists() noexcept {
        collect_remote();
        for (std::uint32_t size_class = 0; size_class < classes; ++size_class) {
            while (kept_[size_class] > kept_blocks(size_class)) {
                header* block = free_[size_class];
                free_[size_class] = next_of(block);
                --kept_[size_class];
                --owned_;
                ::operator delete(block);
                ++blocks_given_back_;
            }
        }
    }

    // Home thread only: moves every remotely freed block onto the local lists.
    void collect_remote() noexcept {
        if (remote_.load(std::memory_order_relaxed) == 0) return;  // cheap look before the exchange
        // Acquire pairs with the release CAS in remote_free [F2]: the `next` links written there are visible.
        auto* block = reinterpret_cast<header*>(remote_.exchange(0, std::memory_order_acquire));
        std::int64_t collected = 0;
        while (block != nullptr) {
            header* next = next_of(block);
            give_back(block);
            ++collected;
            block = next;
        }
        // Relaxed: an estimate that only decides when remote freers delete instead of pushing [F4].
        if (!worker_home_) remote_count_.fetch_sub(collected, std::memory_order_relaxed);
    }

    // Freeing thread only: collects a frame of another home in the outbox (or sends a worker's frame at once).
    void send_home(header* block) noexcept {
        // `worker_home_` was written before its home created any frame; the chain that handed us this frame
        // (queue release/acquire) orders that write before this read.
        if (block->home->worker_home_) return block->home->remote_free(block, block, 1);
        if (outbox_home_ != block->home) flush_outbox();
        outbox_home_ = block->home;
        if (outbox_first_ == nullptr) outbox_last_ = block;
        next_of(block) = outbox_first_;
        outbox_first_ = block;
        if (++outbox_count_ >= outbox_limit) flush_outbox();
    }

    void flush_outbox() noexcept {
        if (outbox_first_ == nullptr) return;
        outbox_home_->remote_free(outbox_first_, outbox_last_, outbox_count_);
        outbox_first_ = outbox_last_ = nullptr;
        outbox_home_ = nullptr;
        outbox_count_ = 0;
    }

    // Any thread but the home: pushes the chain first..last (count blocks) onto the remote stack.
    void remote_free(header* first, header* last, std::int64_t count) noexcept {
        // Everything that reads this cache happens before the CAS that hands the blocks over: until then the blocks
        // we hold keep it alive; after it, its home may exit and delete it ([F3]).
        const bool counted = !worker_home_;
        // A home that is not a worker may never allocate again (an outside thread done spawning): past the bound,
        // delete instead of piling up [F4]. Relaxed: an estimate. (Workers collect at least whenever they idle.)
        if (counted && remote_count_.load(std::memory_order_relaxed) >= remote_bound) {
            note_given_back(static_cast<std::size_t>(count));
            return orphan_free(first, count);
        }
        if (counted) remote_count_.fetch_add(count, std::memory_order_relaxed);  // relaxed: an estimate
        std::uintptr_t head = remote_.load(std::memory_order_relaxed);
        do {
            if (head == closed) return orphan_free(first, count);  // [F3]
            next_of(last) = reinterpret_cast<header*>(head);
            // Release publishes the links to the home's acquire exchange [F2]; relaxed on failure: we only retry.
        } while (!remote_.compare_exchange_weak(head, reinterpret_cast<std::uintptr_t>(first),
                                                std::memory_order_release, std::memory_order_relaxed));
    }

    // The calling thread gave `count` blocks back to the allocator; every trim_interval of them, trim the heap.
    static void note_given_back(std::size_t count) noexcept {
        blocks_given_back_ += count;
        if (blocks_given_back_ < trim_interval) return;
        blocks_given_back_ = 0;
        trim_heap();
    }

    static void trim_heap() noexcept {
#if defined(__GLIBC__)
        malloc_trim(0);
#endif
    }

    // Blocks whose home has exited [F3].
    void orphan_free(header* block, std::int64_t count) noexcept {
        for (std::int64_t i = 0; i < count; ++i) {
            header* next = next_of(block);
            ::operator delete(block);
            block = next;
        }
        // acq_rel: whoever reaches zero deletes the cache after every other party's last access to it.
        if (orphans_.fetch_sub(count, std::memory_order_acq_rel) == count) delete this;
    }

    // Home thread, at its exit [F3].
    void abandon() noexcept {
        // Acquire: as in collect_remote. After this exchange no remote free links into our stack again.
        auto* block = reinterpret_cast<header*>(remote_.exchange(closed, std::memory_order_acquire));
        std::int64_t released = 0;
        while (block != nullptr) {
            header* next = next_of(block);
            ::operator delete(block);
            ++released;
            block = next;
        }
        for (header*& list : free_) {
            while (list != nullptr) {
                header* next = next_of(list);
                ::operator delete(list);
                ++released;
                list = next;
            }
        }
        const std::int64_t outstanding = owned_ - released;
        // acq_rel: see orphan_free. Late frees may already have counted below zero; the sum decides.
        if (orphans_.fetch_add(outstanding, std::memory_order_acq_rel) + outstanding == 0) delete this;
    }

    static inline thread_local std::size_t blocks_given_back_ = 0;  // since this thread's last trim
    static inline thread_local frame_cache* current_ = nullptr;
    static inline thread_local bool exited_ = false;  // this thread's cache is gone; do not install another

    header* free_[classes] = {};
    header* outbox_first_ = nullptr;  // frames of outbox_home_ freed here, waiting to go home (owner only)
    header* outbox_last_ = nullptr;
    frame_cache* outbox_home_ = nullptr;
    std::int64_t outbox_count_ = 0;
    std::int64_t owned_ = 0;           // blocks this cache created and has not deleted [F1]
    std::int64_t kept_[classes] = {};  // free blocks per class on the local lists, against the bound (owner only)
    bool worker_home_ = false;         // set once, before the first frame, by prepare_worker_thread
    alignas(cache_line) std::atomic<std::uintptr_t> remote_{0};
    std::atomic<std::int64_t> orphans_{0};
    std::atomic<std::int64_t> remote_count_{0};  // estimate of blocks on remote_ (non-worker homes only) [F4]
};

}  // namespace taskforge::detail
