# add_tock_test(name SOURCES src... [LIBS lib...] [TIMEOUT s] [ENV VAR=val...]
#               [LABELS label...] [ARGS arg...])
#
# One cmocka executable per module, linked against the static libtock (so a
# test can reach internals) and tests/support, registered with ctest with a
# timeout, so no test can hang CI.
function(add_tock_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;ENV;LABELS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE tock_support tock_static ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "TOCK_SOURCE_DIR=${PROJECT_SOURCE_DIR};TOCK_BINARY_DIR=${PROJECT_BINARY_DIR};${T_ENV}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
