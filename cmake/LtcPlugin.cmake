# The ABI version plugins built here speak, read from the header so that the
# manifests can never disagree with it: LTC_PLUGIN_ABI_MAJOR/MINOR, and
# LTC_PLUGIN_ABI ("MAJOR.MINOR") for manifest.ltcplugin.in.
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/../plugin_api/include/ltc/plugin_api.h _ltc_abi_defines
     REGEX "^#define LTC_PLUGIN_ABI_(MAJOR|MINOR) [0-9]+$")
foreach(_ltc_define IN LISTS _ltc_abi_defines)
  string(REGEX MATCH "^#define (LTC_PLUGIN_ABI_[A-Z]+) ([0-9]+)$" _ltc_match "${_ltc_define}")
  set(${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
endforeach()
if(NOT DEFINED LTC_PLUGIN_ABI_MAJOR OR NOT DEFINED LTC_PLUGIN_ABI_MINOR)
  message(FATAL_ERROR "no LTC_PLUGIN_ABI_MAJOR/MINOR in plugin_api.h")
endif()
set(LTC_PLUGIN_ABI ${LTC_PLUGIN_ABI_MAJOR}.${LTC_PLUGIN_ABI_MINOR})

# ltc_add_plugin(<target> NAME <name> DESCRIPTION <text> SOURCES <src...>
#                [VERSION <version>] [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
# Builds a plugin shared object with the C++ adapter and writes its
# manifest <name>.ltcplugin beside it. The plugin exports ltc_plugin_query
# only. Its sources see LTC_PLUGIN_VERSION and LTC_PLUGIN_BUILD (compiler and
# build type, for the descriptor's build string).
function(ltc_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "NAME;DESCRIPTION;OUTPUT_DIRECTORY;VERSION" "SOURCES" ${ARGN})
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${LTC_PLUGIN_DIR})
  endif()
  if(NOT ARG_VERSION)
    set(ARG_VERSION ${PROJECT_VERSION})
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ltc::plugin_adapter)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" OUTPUT_NAME "ltc_${ARG_NAME}"
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  target_compile_definitions(${target} PRIVATE
    LTC_PLUGIN_VERSION="${ARG_VERSION}"
    LTC_PLUGIN_BUILD="${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} $<CONFIG>")
  # One exported symbol: the version script hides everything but the entry
  # point, and --exclude-libs keeps the static libraries linked in (the
  # adapter, cudart_static, ...) from exporting theirs.
  set(version_script ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/ltc_plugin.map)
  target_link_options(${target} PRIVATE
    "LINKER:--no-undefined"
    "LINKER:--version-script=${version_script}"
    "LINKER:--exclude-libs,ALL")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${version_script})
  set(LTC_PLUGIN_NAME ${ARG_NAME})
  set(LTC_PLUGIN_LIBRARY libltc_${ARG_NAME}.so)
  set(LTC_PLUGIN_VERSION ${ARG_VERSION})
  set(LTC_PLUGIN_DESCRIPTION ${ARG_DESCRIPTION})
  configure_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/manifest.ltcplugin.in
                 ${ARG_OUTPUT_DIRECTORY}/${ARG_NAME}.ltcplugin @ONLY)
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${LTC_INSTALL_PLUGINDIR} COMPONENT ${ARG_NAME})
    install(FILES ${ARG_OUTPUT_DIRECTORY}/${ARG_NAME}.ltcplugin
            DESTINATION ${LTC_INSTALL_PLUGINDIR} COMPONENT ${ARG_NAME})
  endif()
endfunction()
