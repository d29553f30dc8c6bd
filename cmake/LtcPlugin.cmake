# ltc_add_plugin(<target> NAME <name> DESCRIPTION <text> SOURCES <src...>
#                [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
# Builds a plugin shared object with the C++ adapter and writes its
# manifest <name>.ltcplugin beside it.
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
  target_compile_definitions(${target} PRIVATE LTC_PLUGIN_VERSION="${ARG_VERSION}")
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  set(LTC_PLUGIN_NAME ${ARG_NAME})
  set(LTC_PLUGIN_LIBRARY libltc_${ARG_NAME}.so)
  set(LTC_PLUGIN_VERSION ${ARG_VERSION})
  set(LTC_PLUGIN_DESCRIPTION ${ARG_DESCRIPTION})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/manifest.ltcplugin.in
                 ${ARG_OUTPUT_DIRECTORY}/${ARG_NAME}.ltcplugin @ONLY)
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${LTC_INSTALL_PLUGINDIR} COMPONENT ${ARG_NAME})
    install(FILES ${ARG_OUTPUT_DIRECTORY}/${ARG_NAME}.ltcplugin
            DESTINATION ${LTC_INSTALL_PLUGINDIR} COMPONENT ${ARG_NAME})
  endif()
endfunction()
