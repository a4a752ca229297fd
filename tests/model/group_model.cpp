// Relacy model checks of a task_group's shared state (detail/group_state.hpp, invariants [G1]..[G6]) together with
// the waiter side of detail/state_word.hpp: the real headers, compiled against Relacy through detail/platform.hpp.
//
// A waiter waits exactly as wait_for_group does once it decides to block:
//     block_until(group.word(), group_state::waiting, &group_state::no_tasks_left); group.after_wait();
// "Tasks" are plain code on other model threads that end with group.finish() (and group.record() when they fail).
// A lost wake-up leaves the waiter blocked in the model futex forever, which Relacy reports as a DEADLOCK. Payloads
// written by a task before its finish are rl::var (a read that is not ordered after the write is a DATA RACE) or
// relaxed atomics (a stale read fails the RL_ASSERT that names the invariant).
//
// Mutants (built as WILL_FAIL tests by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_GROUP_CLEARS_AFTER_WAKE  the pre-fix finish of issue 9 finding 1 (wake, then clear
//                                                  `waiting`): the two round tests DEADLOCK [G5];
//   TASKFORGE_MODEL_MUTANT_GROUP_RELAXED_FINISH    finish's RMW relaxed: the payload reads are a DATA RACE [G2];
//   TASKFORGE_MODEL_MUTANT_GROUP_DRAIN_AFTER_ZERO  the last finisher takes the count to zero first and drains the
//                                                  awaiter list after: it touches a group its waiter already
//                                                  freed [G8].
//
// Coroutine awaiters (`co_await group`, [G7][G8]) are modelled by their resume job: group.await_zero(link) links
// it, and the finisher of the zero fills in the round's outcome and runs it on its own thread (the real job only
// queues the coroutine).
#define TASKFORGE_RELACY 1
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <taskforge/detail/group_state.hpp>
#include <taskforge/detail/state_word.hpp>

#include "model_runner.hpp"

namespace {

using taskforge::detail::atomic;
using taskforge::detail::awaiting_link;
using taskforge::detail::block_until;
using taskforge::detail::group_state;
using taskforge::detail::job;
using taskforge::detail::model_futex;

// The part of wait_for_group that blocks (detail/waiting.hpp), for a thread that is not a worker.
void wait_for(group_state& group) {
    block_until(group.word(), group_state::waiting, &group_state::no_tasks_left);
    group.after_wait();
}

// Base: one group and one model futex per iteration (the futex must exist before any thread waits).
template <class Derived, int Threads>
struct group_test : rl::test_suite<Derived, Threads> {
    group_state* group = nullptr;
    model_futex* futex = nullptr;
    void before() {
        futex = new model_futex;
        model_futex::current() = futex;
        group = new group_state;
    }
    void after() {
        // Every add() met its finish (the `waiting` bit may remain: after_wait() leaves it to whoever moved the word).
        RL_ASSERT(group_state::no_tasks_left(group->word().load(std::memory_order_relaxed)));  // [G1] count balanced
        delete group;
        model_futex::current() = nullptr;
        delete futex;
    }
};

// Issue 9 finding 1: the waiter spawns one task per round and waits for it; the task finishes on another thread.
// Round r+1's spawn can fall between round r's wake and any clearing of `waiting` that follows it — the pre-fix
// finisher then cleared the bit the round-(r+1) sleeper relies on, and the next finish did not wake it [G5][G3].
// The payload checks [G2] on each round as well.
struct waiter_rounds_versus_finisher : group_test<waiter_rounds_versus_finisher, 2> {
    static constexpr int rounds = 3;
    atomic<int> posted{0};  // rounds whose task has been spawned (stands in for the queue the task sits in)
    rl::var<int> payload;   // written by round r's task before its finish
    void thread(unsigned index) {
        if (index == 0) {  // the waiter: spawn [G1], publish, wait, read what the task wrote
            for (int round = 1; round <= rounds; ++round) {
                group->add();
                posted.store(round, std::memory_order_release);
                wait_for(*group);
                RL_ASSERT(payload($) == round);  // [G2] the round's task wrote it before its finish
            }
        } else {  // the task runner: takes round r's task once it is published, runs it, finishes it
            for (int round = 1; round <= rounds; ++round) {
                while (posted.load(std::memory_order_acquire) < round) taskforge::detail::cpu_relax();
                payload($) = round;
                group->finish();
            }
        }
    }
};

// Rounds again, but each round's task spawns a child from inside the group before it finishes ([G1]: its own count
// is still held), and the runner releases the two finishes of the last round as one deferred batch [G4]. The
// count passes through non-zero values with `waiting` set, and only the RMW that reaches zero may wake [G3].
struct task_spawns_in_rounds : group_test<task_spawns_in_rounds, 2> {
    static constexpr int rounds = 2;
    atomic<int> posted{0};
    rl::var<int> payload;
    void thread(unsigned index) {
        if (index == 0) {
            for (int round = 1; round <= rounds; ++round) {
                group->add();
                posted.store(round, std::memory_order_release);
                wait_for(*group);
                RL_ASSERT(payload($) == round);  // [G2] written by the child, the round's last task
            }
        } else {
            for (int round = 1; round <= rounds; ++round) {
                while (posted.load(std::memory_order_acquire) < round) taskforge::detail::cpu_relax();
                group->add();  // the round's task spawns a child [G1]
                if (round < rounds) {
                    group->finish();  // the parent
                    payload($) = round;
                    group->finish();  // the child
                } else {
                    payload($) = round;
                    group->finish(2);  // [G4] parent and child, deferred and released together
                }
            }
        }
    }
};

// Two threads wait on the same round; a third runs its two tasks. Both waiters must wake [G3][G5] and both see what
// both tasks wrote [G2].
struct two_waiters : group_test<two_waiters, 3> {
    rl::var<int> first;
    atomic<int> second{0};
    void before() {
        group_test::before();
        group->add();  // [G1]: both spawns happen before either wait
        group->add();
    }
    void thread(unsigned index) {
        if (index < 2) {
            wait_for(*group);
            RL_ASSERT(first($) == 1);                                // [G2] plain write, released by finish
            RL_ASSERT(second.load(std::memory_order_relaxed) == 2);  // [G2] relaxed store, released by finish
        } else {
            first($) = 1;
            group->finish();
            second.store(2, std::memory_order_relaxed);
            group->finish();
        }
    }
};

// Two tasks fail on two threads while three threads wait (two of them after running their task). The first
// recorded exception goes to exactly one waiter [G6], which also sees what the failing task wrote before recording
// it [G2]; the others get nothing.
struct failure_taken_once : group_test<failure_taken_once, 3> {
    rl::var<int> written[3];  // written[t]: the failing task of thread t (t = 1, 2) wrote t before record()
    int taken[3] = {};        // taken[t]: the error thread t's take_error() returned (0: none); one writer each
    void before() {
        group_test::before();
        group->add();
        group->add();
    }
    void thread(unsigned index) {
        if (index > 0) {  // runs one failing task, then waits as well
            written[index]($) = static_cast<int>(index);
            group->record(std::make_exception_ptr(static_cast<int>(index)));
            group->finish();
        }
        wait_for(*group);
        if (std::exception_ptr error = group->take_error()) {
            int value = 0;
            try {
                std::rethrow_exception(error);
            } catch (int thrown) {
                value = thrown;
            }
            RL_ASSERT(value == 1 || value == 2);
            RL_ASSERT(written[value]($) == value);  // [G2] the failing task's writes before record()
            taken[index] = value;
        }
    }
    void after() {
        int takers = 0;
        for (const int value : taken) takers += value != 0 ? 1 : 0;
        RL_ASSERT(takers == 1);                     // [G6] exactly one waiter got the first exception
        RL_ASSERT(group->take_error() == nullptr);  // [G6] and it is gone from the slot
        group_test::after();
    }
};

// Two tasks on two threads publish a plain write and a relaxed store, then finish; a waiter that sees zero reads
// both [G2] (the second finish continues the first one's release sequence). The second task releases a batch of
// deferred finishes with one RMW [G4].
struct finish_publishes_payload : group_test<finish_publishes_payload, 3> {
    rl::var<int> plain;
    atomic<int> relaxed{0};
    void before() {
        group_test::before();
        group->add();
        group->add();
        group->add();
    }
    void thread(unsigned index) {
        if (index == 0) {
            wait_for(*group);
            RL_ASSERT(plain($) == 7);                                 // [G2] (a DATA RACE if not ordered)
            RL_ASSERT(relaxed.load(std::memory_order_relaxed) == 9);  // [G2]
        } else if (index == 1) {
            plain($) = 7;
            group->finish();
        } else {
            relaxed.store(9, std::memory_order_relaxed);
            group->finish(2);  // [G4] two deferred finishes, one RMW
        }
    }
};

// A coroutine's resume job: counts its runs and checks, when run, what the tasks it waited for wrote [G2][G8].
struct model_resume : job {
    model_resume() noexcept : job(&resume) { link.resume = this; }
    awaiting_link link;  // what group.await_zero() links in
    atomic<int> runs{0};
    void (*check)(model_resume&) = nullptr;
    void* test = nullptr;
    static void resume(job* work) noexcept {
        auto& self = *static_cast<model_resume*>(work);
        if (self.check != nullptr) self.check(self);
        self.runs.fetch_add(1, std::memory_order_relaxed);
    }
};

// A coroutine awaits two tasks finished on two other threads. If it was linked, it is resumed exactly once, by the
// finisher of the zero, after both tasks' writes [G8][G2]; if it found the count zero, it sees them itself.
struct awaiter_resumed_once_after_zero : group_test<awaiter_resumed_once_after_zero, 3> {
    rl::var<int> written[2];
    model_resume resume;
    bool linked = false;
    static void check(model_resume& self) {
        auto& test = *static_cast<awaiter_resumed_once_after_zero*>(self.test);
        RL_ASSERT(test.written[0]($) == 1 && test.written[1]($) == 2);  // [G2] through the zero's acquire
    }
    void before() {
        group_test::before();
        resume.check = &check;
        resume.test = this;
        group->add();
        group->add();
    }
    void thread(unsigned index) {
        if (index == 0) {
            linked = group->await_zero(resume.link);
            if (!linked) RL_ASSERT(written[0]($) == 1 && written[1]($) == 2);  // [G2] the acquire of zero
        } else {
            written[index - 1]($) = static_cast<int>(index);
            group->finish();
        }
    }
    void after() {
        RL_ASSERT(resume.runs.load(std::memory_order_relaxed) == (linked ? 1 : 0));  // [G8] exactly once
        group_test::after();
    }
};

// The lifetime rule: a thread blocked in wait() frees the group as soon as it sees zero [G3], while the last
// finisher also has a coroutine to resume. The finisher must have drained the list before that zero [G8]: a drain
// after it touches freed memory (the mutant). The owner first spawns one more task into the round and runs it,
// racing the drain: the round may then end at that task's finish instead, and the coroutine is still resumed once.
struct waiter_frees_group_at_zero : group_test<waiter_frees_group_at_zero, 2> {
    // The group lives here, and "freeing" it destroys it and wipes its bytes: Relacy then reports any later access
    // to its atomics as ACCESS TO FREED MEMORY (a real delete's writes could be dropped as dead stores, and the
    // storage stays ours, so the wipe cannot be).
    alignas(group_state) unsigned char storage[sizeof(group_state)];
    model_resume resume;
    rl::var<int> first_task;
    static void check(model_resume& self) {
        auto& test = *static_cast<waiter_frees_group_at_zero*>(self.test);
        RL_ASSERT(test.first_task($) == 1);  // linked before the first task's finish: it ran [G2][G8]
    }
    void before() {
        futex = new model_futex;
        model_futex::current() = futex;
        group = ::new (static_cast<void*>(storage)) group_state;
        resume.check = &check;
        resume.test = this;
        group->add();
        RL_ASSERT(group->await_zero(resume.link));  // the coroutine suspended while the first task was pending
    }
    void thread(unsigned index) {
        if (index == 0) {  // the owner: spawns a second task from outside, runs it, waits, frees the group
            group->add();
            group->finish();
            wait_for(*group);
            group->~group_state();
            std::memset(storage, 0, sizeof storage);
        } else {  // runs the first task
            first_task($) = 1;
            group->finish();
        }
    }
    void after() {
        RL_ASSERT(resume.runs.load(std::memory_order_relaxed) == 1);  // [G8]
        model_futex::current() = nullptr;
        delete futex;
    }
};

// Two coroutines, linked in different rounds: the first while the first task is pending, the second once an outside
// spawn began another round. Neither is resumed before a zero that followed its own link: the second checks that
// the second round's task ran [G8] (the mutant, draining after the zero, may hand it the first round's zero).
struct awaiters_of_two_rounds : group_test<awaiters_of_two_rounds, 3> {
    model_resume early;
    model_resume late;
    rl::var<int> second_task;
    atomic<int> second_spawned{0};
    bool late_linked = false;
    static void check_late(model_resume& self) {
        auto& test = *static_cast<awaiters_of_two_rounds*>(self.test);
        RL_ASSERT(test.second_task($) == 1);  // [G8] resumed after the zero of its own round
    }
    void before() {
        group_test::before();
        late.check = &check_late;
        late.test = this;
        group->add();
        RL_ASSERT(group->await_zero(early.link));
    }
    void thread(unsigned index) {
        if (index == 0) {  // the first round's task
            group->finish();
        } else if (index == 1) {  // an outside spawner: the second round's task, announced, then run
            group->add();
            second_spawned.store(1, std::memory_order_release);
            second_task($) = 1;
            group->finish();
        } else {  // the second coroutine: links once the second task was spawned (its count is then non-zero)
            if (second_spawned.load(std::memory_order_acquire) == 1) late_linked = group->await_zero(late.link);
        }
    }
    void after() {
        RL_ASSERT(early.runs.load(std::memory_order_relaxed) == 1);
        RL_ASSERT(late.runs.load(std::memory_order_relaxed) == (late_linked ? 1 : 0));
        group_test::after();
    }
};

// A failing task, a coroutine linked before it finished, and a thread blocked in wait(): the round's exception goes
// to exactly one of the two awaiters [G6] — taken for the coroutine by the finisher before the zero [G8], or by the
// waiter after it.
struct failure_reaches_one_awaiter : group_test<failure_reaches_one_awaiter, 3> {
    model_resume resume;
    bool waiter_got_it = false;
    void before() {
        group_test::before();
        group->add();
        group->add();
        RL_ASSERT(group->await_zero(resume.link));
    }
    void thread(unsigned index) {
        if (index == 0) {
            group->record(std::make_exception_ptr(7));
            group->finish();
        } else if (index == 1) {
            group->finish();
        } else {
            wait_for(*group);
            waiter_got_it = group->take_error() != nullptr;
        }
    }
    void after() {
        RL_ASSERT(resume.runs.load(std::memory_order_relaxed) == 1);
        RL_ASSERT((resume.link.error != nullptr) != waiter_got_it);  // [G6] exactly one
        group_test::after();
    }
};

}  // namespace

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 100000);
    bool all = true;
    all &= taskforge_model::check<waiter_rounds_versus_finisher>("waiter_rounds_versus_finisher", iterations);
    all &= taskforge_model::check<task_spawns_in_rounds>("task_spawns_in_rounds", iterations);
    all &= taskforge_model::check<two_waiters>("two_waiters", iterations);
    all &= taskforge_model::check<failure_taken_once>("failure_taken_once", iterations);
    all &= taskforge_model::check<finish_publishes_payload>("finish_publishes_payload", iterations);
    all &= taskforge_model::check<awaiter_resumed_once_after_zero>("awaiter_resumed_once_after_zero", iterations);
    all &= taskforge_model::check<waiter_frees_group_at_zero>("waiter_frees_group_at_zero", iterations);
    all &= taskforge_model::check<awaiters_of_two_rounds>("awaiters_of_two_rounds", iterations);
    all &= taskforge_model::check<failure_reaches_one_awaiter>("failure_reaches_one_awaiter", iterations);
    return all ? 0 : 1;
}
