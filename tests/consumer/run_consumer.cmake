# Configures, builds and runs one consumer project: cmake -DMODE=<fetchcontent|subdirectory|find_package|pkgconfig>
#   -DTASKFORGE_SOURCE_DIR=... -DTASKFORGE_BINARY_DIR=... -DWORK_DIR=... -DCXX=... -P run_consumer.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkgconfig")
  run(${CMAKE_COMMAND} --install ${TASKFORGE_BINARY_DIR} --prefix ${prefix})
endif()

if(MODE STREQUAL "pkgconfig")
  set(ENV{PKG_CONFIG_PATH} ${prefix}/share/pkgconfig)
  execute_process(COMMAND pkg-config --cflags --libs taskforge OUTPUT_VARIABLE flags RESULT_VARIABLE result
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "pkg-config does not find taskforge.pc")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} ${flags} ${CMAKE_CURRENT_LIST_DIR}/main.cpp -o ${WORK_DIR}/consumer)
else()
  run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/${MODE} -B ${WORK_DIR}/build -G Ninja
      -DCMAKE_CXX_COMPILER=${CXX} -DTASKFORGE_SOURCE_DIR=${TASKFORGE_SOURCE_DIR} -DCMAKE_PREFIX_PATH=${prefix})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
  file(COPY ${WORK_DIR}/build/consumer DESTINATION ${WORK_DIR})
endif()
run(${WORK_DIR}/consumer)
message(STATUS "${MODE} consumer built and ran")
