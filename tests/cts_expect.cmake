# Runs ltc-plugin-cts and checks what a user would see: its exit status and
# lines of its output.
#   cmake -DCTS=<ltc-plugin-cts> "-DARGS=<arguments, space-separated>"
#         -DEXIT=<expected status> "-DEXPECT=<regex>;<regex>..." -P cts_expect.cmake
separate_arguments(arguments UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${CTS} ${arguments}
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
# Shown by ctest --output-on-failure, so a failure needs no rerun to read.
message("${output}${errors}")
if(NOT status STREQUAL "${EXIT}")
  message(FATAL_ERROR "ltc-plugin-cts ${ARGS}: exit status ${status}, expected ${EXIT}")
endif()
foreach(regex IN LISTS EXPECT)
  if(NOT "${output}${errors}" MATCHES "${regex}")
    message(FATAL_ERROR "ltc-plugin-cts ${ARGS}: no output matches '${regex}'")
  endif()
endforeach()
