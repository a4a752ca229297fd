// Built with -DTASKFORGE_METRICS=0 -DTASKFORGE_TRACING=0: the API stays, nothing is counted or recorded.
#include <sstream>
#include <string>
#include <taskforge/taskforge.hpp>

#include "../support/catch.hpp"

static_assert(!taskforge::detail::metrics_enabled && !taskforge::detail::tracing_enabled);

TEST_CASE("compiled out, metrics read 0 and a trace is valid and empty", "[metrics][trace][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    pool.start_trace();
    for (int i = 0; i < 100; ++i) pool.spawn(taskforge::named("counted", [i] { return i; })).get();
    std::ostringstream out;
    pool.stop_trace(out);
    const auto total = pool.metrics().total();
    CHECK(total.tasks_run == 0);
    CHECK(total.steal_attempts == 0);
    CHECK(pool.metrics().workers.size() >= 2);
    CHECK(out.str().rfind("{\"traceEvents\":[", 0) == 0);
    CHECK(out.str().find("counted") == std::string::npos);
}
