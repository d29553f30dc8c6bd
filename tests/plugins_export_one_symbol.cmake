# Every plugin exports ltc_plugin_query and nothing else (cmake/ltc_plugin.map):
# a second exported symbol could interpose on another plugin's or the host's.
#   cmake -DNM=<nm> -DGLOBS=<glob;...> [-DEXCLUDE=<regex>] -P plugins_export_one_symbol.cmake
# Fails naming each plugin that exports something else, or not the entry point.
cmake_minimum_required(VERSION 3.18)
file(GLOB plugins ${GLOBS})
if(EXCLUDE)
  list(FILTER plugins EXCLUDE REGEX "${EXCLUDE}")
endif()
if(NOT plugins)
  message(FATAL_ERROR "no plugin matches ${GLOBS}: build them first")
endif()

set(failures "")
foreach(plugin IN LISTS plugins)
  execute_process(COMMAND ${NM} -D --defined-only ${plugin}
                  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    string(APPEND failures "\n  ${plugin}: ${NM} failed: ${errors}")
    continue()
  endif()
  # Lines are "<address> <type> <name>"; keep the names.
  string(REGEX REPLACE "[^\n]* ([^ \n]+)(\n|$)" "\\1;" names "${listing}")
  list(FILTER names EXCLUDE REGEX "^$")
  if(NOT names STREQUAL "ltc_plugin_query")
    list(JOIN names ", " exported)
    string(APPEND failures "\n  ${plugin} exports: ${exported}")
  endif()
endforeach()

list(LENGTH plugins count)
if(failures)
  message(FATAL_ERROR "plugins must export ltc_plugin_query only:${failures}")
endif()
message(STATUS "${count} plugins export ltc_plugin_query only")
