// taskforge/detail/trace_json.hpp — writes the trace rings as Chrome trace-event JSON (cold path: stop_trace()).
//
// The format (the "Trace Event Format" document that Perfetto and chrome://tracing read): one object with
// "traceEvents", an array of events with "name", "ph" (phase), "ts" (microseconds), "pid" and "tid";
// complete events ("ph":"X") add "dur", instant events ("ph":"i") add a scope "s"; metadata events ("ph":"M")
// name the process and the threads. Timestamps are rough_ticks() (platform.hpp), converted to microseconds by the
// ratio of ticks to steady_clock time over the whole trace, and written with nanosecond precision; an event is
// converted as integer nanoseconds first, so one that nests inside another on its track still does after
// conversion.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "trace_ring.hpp"

namespace taskforge::detail {

struct trace_track {
    std::string name;  // "worker 0", "guest 1", "spare 9"
    std::size_t id;    // the slot index; the event's tid is id + 1
    const trace_ring* ring;
    std::uint64_t first;  // the first event number of this trace [T3]
};

struct trace_window {
    std::uint64_t begin_ticks = 0, end_ticks = 0;
    std::chrono::steady_clock::time_point begin_time, end_time;
};

class trace_writer {
public:
    trace_writer(std::ostream& out, const trace_window& window) : out_(out), window_(window) {
        const auto ticks = window.end_ticks - window.begin_ticks;
        const auto nanoseconds =
            std::chrono::duration_cast<std::chrono::nanoseconds>(window.end_time - window.begin_time);
        if (ticks > 0 && nanoseconds.count() > 0) {
            nanoseconds_per_tick_ = static_cast<double>(nanoseconds.count()) / static_cast<double>(ticks);
        }
    }

    void write(const std::vector<trace_track>& tracks) {
        text("{\"traceEvents\":[\n");
        metadata("process_name", 0, "taskforge");
        std::uint64_t dropped = 0;
        for (const trace_track& track : tracks) {
            std::uint64_t written = 0;
            dropped += track.ring->read(track.first, [&](const trace_event& event) {
                if (this->event(track, event)) ++written;
            });
            if (written > 0 || track.name.rfind("worker", 0) == 0) {
                metadata("thread_name", track.id + 1, track.name.c_str());
            }
        }
        text("],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"dropped_events\":");
        number(dropped);
        text(",\"tasks_traced\":");
        number(tasks_);
        text("}}\n");
        out_.flush();
    }

private:
    // False when the event lies outside the trace's window (written around a start or stop by a task that ran
    // across it).
    bool event(const trace_track& track, const trace_event& event) {
        if (event.start < window_.begin_ticks || event.start > window_.end_ticks || event.end < event.start) {
            return false;
        }
        const std::uint64_t start = nanoseconds_since_begin(event.start);
        const bool task = event.kind == trace_kind::task;
        separator();
        text("{\"name\":");
        string(task ? (event.name != nullptr ? event.name : "task") : kind_name(event.kind));
        text(task ? ",\"cat\":\"task\",\"ph\":\"X\",\"ts\":" : ",\"cat\":\"scheduler\",\"ph\":\"i\",\"ts\":");
        microseconds(start);
        if (task) {
            text(",\"dur\":");
            microseconds(nanoseconds_since_begin(event.end) - start);
            ++tasks_;
        } else {
            text(",\"s\":\"t\"");
        }
        text(",\"pid\":1,\"tid\":");
        number(track.id + 1);
        if (event.kind == trace_kind::steal) {
            text(",\"args\":{\"victim_slot\":");
            number(event.detail);
            text("}");
        }
        text("}");
        return true;
    }

    static const char* kind_name(trace_kind kind) noexcept {
        switch (kind) {
            case trace_kind::steal:
                return "steal";
            case trace_kind::park:
                return "park";
            case trace_kind::wakeup:
                return "wake-up";
            case trace_kind::task:
                break;
        }
        return "task";
    }

    void metadata(const char* what, std::size_t tid, const char* name) {
        separator();
        text("{\"name\":\"");
        text(what);
        text("\",\"ph\":\"M\",\"pid\":1,\"tid\":");
        number(tid);
        text(",\"args\":{\"name\":");
        string(name);
        text("}}");
    }

    std::uint64_t nanoseconds_since_begin(std::uint64_t ticks) const noexcept {
        return static_cast<std::uint64_t>(static_cast<double>(ticks - window_.begin_ticks) * nanoseconds_per_tick_);
    }

    // Everything goes through text() and number(): write() and snprintf ignore the stream's flags and locale (a
    // user's std::hex or thousands grouping must not reach the JSON).
    void text(const char* piece) { out_.write(piece, static_cast<std::streamsize>(std::strlen(piece))); }

    void number(std::uint64_t value) {
        char digits[24];
        const int length = std::snprintf(digits, sizeof digits, "%llu", static_cast<unsigned long long>(value));
        out_.write(digits, length);
    }

    void microseconds(std::uint64_t nanoseconds) {
        char digits[32];
        const int length =
            std::snprintf(digits, sizeof digits, "%llu.%03llu", static_cast<unsigned long long>(nanoseconds / 1000),
                          static_cast<unsigned long long>(nanoseconds % 1000));
        out_.write(digits, length);
    }

    // Names are checked at compile time (trace.hpp: printable, valid UTF-8); quotes and backslashes are escaped
    // here, and any control character left (none from a task_name) as \u00XX.
    void string(const char* name) {
        out_.put('"');
        for (const char* c = name; *c != '\0'; ++c) {
            const auto byte = static_cast<unsigned char>(*c);
            if (byte == '"' || byte == '\\') {
                out_.put('\\');
                out_.put(*c);
            } else if (byte < 0x20) {
                char escaped[8];
                const int length = std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
                out_.write(escaped, length);
            } else {
                out_.put(*c);
            }
        }
        out_.put('"');
    }

    void separator() {
        if (!first_) text(",\n");
        first_ = false;
    }

    std::ostream& out_;
    const trace_window& window_;
    double nanoseconds_per_tick_ = 1.0;
    std::uint64_t tasks_ = 0;
    bool first_ = true;
};

}  // namespace taskforge::detail
