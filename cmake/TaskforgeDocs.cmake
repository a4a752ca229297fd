# The API reference: Doxygen, run on the public headers (include/taskforge/*.hpp, not detail/) with
# docs/Doxyfile.in. Included by the top-level CMakeLists.txt when taskforge is the top-level project.
#
#   cmake --build <dir> --target docs      writes <dir>/docs/html/index.html
#   ctest --test-dir <dir> -L docs         the api_reference test: the same run, failing on any Doxygen warning
#                                          (an undocumented public entity, a doc comment Doxygen cannot parse)
#
# Without Doxygen (1.9.4 or newer: the version the warnings-as-errors build is checked with) there is neither the
# target nor the test.

find_package(Doxygen 1.9.4 QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "taskforge: Doxygen >= 1.9.4 not found; no `docs` target and no api_reference test")
  return()
endif()

set(TASKFORGE_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/docs)
set(TASKFORGE_DOXYFILE ${PROJECT_BINARY_DIR}/Doxyfile)
configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${TASKFORGE_DOXYFILE} @ONLY)

add_custom_target(docs
  COMMAND ${DOXYGEN_EXECUTABLE} ${TASKFORGE_DOXYFILE}
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  COMMENT "Generating the API reference with Doxygen: ${TASKFORGE_DOCS_OUTPUT}/html/index.html"
  VERBATIM)

# The Doxyfile sets WARN_AS_ERROR = FAIL_ON_WARNINGS, so doxygen exits non-zero after any warning and the test
# fails, listing every warning. Sanitizer builds test the code, not the documentation: they skip it.
if(TASKFORGE_BUILD_TESTS AND NOT CMAKE_CXX_FLAGS MATCHES "sanitize")
  add_test(NAME api_reference COMMAND ${DOXYGEN_EXECUTABLE} ${TASKFORGE_DOXYFILE}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(api_reference PROPERTIES LABELS docs)
endif()
