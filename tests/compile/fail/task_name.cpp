// Must NOT compile: a task name that could make the trace invalid (issue 14). The error names the rule.
#include <taskforge/trace.hpp>

int main() {
#if defined(TASKFORGE_FAIL_CASE_UNTERMINATED)
    static constexpr char name[3] = {'a', 'b', 'c'};  // no NUL: the writer would read past it
#elif defined(TASKFORGE_FAIL_CASE_NOT_UTF8)
    static constexpr char name[] = "caf\xe9";  // Latin-1, not UTF-8: not valid JSON
#else
    static constexpr char name[] = "tab\there";  // a control character: not valid in the SVG
#endif
    auto task = taskforge::named(name, [] {});
    return task.trace_name() != nullptr ? 0 : 1;
}
