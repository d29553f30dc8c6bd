# ltc_add_plugin and friends: included by the source tree's CMakeLists.txt
# and by the SDK's LtcPluginsConfig.cmake (find_package(LtcPlugins)), so it
# needs nothing of either but the targets LtcPlugins::plugin_adapter and
# LtcPlugins::plugin_api, and LTC_PLUGIN_API_HEADER where the header is not
# in the source tree beside it.
include(GNUInstallDirs)
if(NOT LTC_PLUGIN_API_HEADER)
  set(LTC_PLUGIN_API_HEADER ${CMAKE_CURRENT_LIST_DIR}/../plugin_api/include/ltc/plugin_api.h)
endif()
# Where ltc_add_plugin puts plugins in the build tree and the install tree:
# <libdir>/ltc-plugins, beside the host that searches there.
if(NOT LTC_PLUGIN_DIR)
  set(LTC_PLUGIN_DIR ${CMAKE_BINARY_DIR}/ltc-plugins)
endif()
if(NOT LTC_INSTALL_PLUGINDIR)
  set(LTC_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/ltc-plugins)
endif()

# The ABI version plugins built here speak, read from the header so that the
# manifests can never disagree with it: LTC_PLUGIN_ABI_MAJOR/MINOR, and
# LTC_PLUGIN_ABI ("MAJOR.MINOR") for manifest.ltcplugin.in.
file(STRINGS ${LTC_PLUGIN_API_HEADER} _ltc_abi_defines
     REGEX "^#define LTC_PLUGIN_ABI_(MAJOR|MINOR) [0-9]+$")
foreach(_ltc_define IN LISTS _ltc_abi_defines)
  string(REGEX MATCH "^#define (LTC_PLUGIN_ABI_[A-Z]+) ([0-9]+)$" _ltc_match "${_ltc_define}")
  set(${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
endforeach()
if(NOT DEFINED LTC_PLUGIN_ABI_MAJOR OR NOT DEFINED LTC_PLUGIN_ABI_MINOR)
  message(FATAL_ERROR "no LTC_PLUGIN_ABI_MAJOR/MINOR in ${LTC_PLUGIN_API_HEADER}")
endif()
set(LTC_PLUGIN_ABI ${LTC_PLUGIN_ABI_MAJOR}.${LTC_PLUGIN_ABI_MINOR})

# The manifest format ltc_write_plugin_manifest writes. Minor versions add
# keys, which older loaders ignore; a new major is one they refuse.
set(LTC_MANIFEST_FORMAT 1.0)

# ltc_libtorch_version(<var>): "MAJOR.MINOR" of the LibTorch whose headers
# this build compiles against, read from the version header in
# TORCH_INCLUDE_DIRS: what a plugin linking it is built for, even where
# Torch's CMake config reports another installation's version. LibTorch 2.x
# defines the numbers in torch/headeronly/version.h, which its
# torch/version.h includes; 1.x in torch/version.h.
function(ltc_libtorch_version var)
  foreach(header torch/headeronly/version.h torch/version.h)
    foreach(dir IN LISTS TORCH_INCLUDE_DIRS)
      if(NOT EXISTS ${dir}/${header})
        continue()
      endif()
      file(STRINGS ${dir}/${header} defines REGEX "^#define TORCH_VERSION_(MAJOR|MINOR) [0-9]+$")
      set(major)
      set(minor)
      foreach(define IN LISTS defines)
        string(REGEX MATCH "^#define TORCH_VERSION_([A-Z]+) ([0-9]+)$" match "${define}")
        if(CMAKE_MATCH_1 STREQUAL "MAJOR")
          set(major ${CMAKE_MATCH_2})
        else()
          set(minor ${CMAKE_MATCH_2})
        endif()
      endforeach()
      if(DEFINED major AND DEFINED minor)
        set(${var} ${major}.${minor} PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
  message(FATAL_ERROR "no LibTorch version header defining TORCH_VERSION_MAJOR/MINOR in "
                      "TORCH_INCLUDE_DIRS (${TORCH_INCLUDE_DIRS}): find_package(Torch) first")
endfunction()

# ltc_write_plugin_manifest(<file> NAME <name> LIBRARY <file name> DESCRIPTION <text>
#                           VERSION <version> [ABI <major.minor>] [LIBTORCH <major.minor>])
# Writes the manifest <file>: what the loader reads before it loads a plugin.
# ABI defaults to this header's; LIBTORCH is given for plugins that link
# LibTorch, so that a host of another LibTorch refuses them unloaded.
function(ltc_write_plugin_manifest file)
  cmake_parse_arguments(ARG "" "NAME;LIBRARY;DESCRIPTION;VERSION;ABI;LIBTORCH" "" ${ARGN})
  set(LTC_PLUGIN_NAME ${ARG_NAME})
  set(LTC_PLUGIN_LIBRARY ${ARG_LIBRARY})
  set(LTC_PLUGIN_DESCRIPTION ${ARG_DESCRIPTION})
  set(LTC_PLUGIN_VERSION ${ARG_VERSION})
  if(ARG_ABI)
    set(LTC_PLUGIN_ABI ${ARG_ABI})
  endif()
  if(ARG_LIBTORCH)
    set(LTC_PLUGIN_LIBTORCH_LINE "libtorch = ${ARG_LIBTORCH}")
  else()
    set(LTC_PLUGIN_LIBTORCH_LINE "# libtorch: none, this plugin links no LibTorch")
  endif()
  configure_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/manifest.ltcplugin.in ${file} @ONLY)
endfunction()

# ltc_add_plugin(<target> NAME <name> DESCRIPTION <text> SOURCES <src...>
#                [VERSION <version>] [OUTPUT_DIRECTORY <dir>] [LIBTORCH] [NO_INSTALL]
#                [BUNDLE <regex>...])
# Builds a plugin shared object with the C++ adapter and writes its
# manifest <name>.ltcplugin beside it. The plugin exports ltc_plugin_query
# only. Its sources see LTC_PLUGIN_VERSION and LTC_PLUGIN_BUILD (compiler and
# build type, for the descriptor's build string). LIBTORCH says the plugin
# links LibTorch: its manifest then names the version (ltc_libtorch_version).
#
# Installed into LTC_INSTALL_PLUGINDIR, in component <name>; with LTC_WHEEL
# on, into the Python package ltc_plugin_<name> instead, with an __init__.py
# whose manifest() the wheel's entry point names (see docs/writing-a-plugin.md),
# and with the shared libraries the plugin links whose file names match a
# BUNDLE regex (and theirs) copied beside it, found there by RPATH.
function(ltc_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL;LIBTORCH" "NAME;DESCRIPTION;OUTPUT_DIRECTORY;VERSION"
                        "SOURCES;BUNDLE" ${ARGN})
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${LTC_PLUGIN_DIR})
  endif()
  if(NOT ARG_VERSION)
    set(ARG_VERSION ${PROJECT_VERSION})
  endif()
  foreach(required NAME DESCRIPTION VERSION SOURCES)
    if(NOT ARG_${required})
      message(FATAL_ERROR "ltc_add_plugin(${target}): ${required} is required "
                          "(VERSION defaults to the project's, which has none)")
    endif()
  endforeach()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE LtcPlugins::plugin_adapter)
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
  set(libtorch)
  if(ARG_LIBTORCH)
    ltc_libtorch_version(libtorch)
  endif()
  set(manifest ${ARG_OUTPUT_DIRECTORY}/${ARG_NAME}.ltcplugin)
  ltc_write_plugin_manifest(${manifest} NAME ${ARG_NAME} LIBRARY libltc_${ARG_NAME}.so
    DESCRIPTION ${ARG_DESCRIPTION} VERSION ${ARG_VERSION} LIBTORCH "${libtorch}")
  if(ARG_NO_INSTALL)
    return()
  endif()
  if(NOT LTC_WHEEL)
    install(TARGETS ${target} LIBRARY DESTINATION ${LTC_INSTALL_PLUGINDIR} COMPONENT ${ARG_NAME})
    install(FILES ${manifest} DESTINATION ${LTC_INSTALL_PLUGINDIR} COMPONENT ${ARG_NAME})
    return()
  endif()
  set(package ltc_plugin_${ARG_NAME})
  set(LTC_PLUGIN_NAME ${ARG_NAME})
  configure_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/wheel_plugin_init.py.in
                 ${CMAKE_CURRENT_BINARY_DIR}/${package}/__init__.py @ONLY)
  install(FILES ${manifest} ${CMAKE_CURRENT_BINARY_DIR}/${package}/__init__.py
          DESTINATION ${package} COMPONENT ${ARG_NAME})
  # torch's own libraries from torch/lib beside this package, where pip puts
  # them; bundled ones from this directory. DT_RPATH, not RUNPATH, so that a
  # bundled library finds what it links beside it too.
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN;$ORIGIN/../torch/lib")
  install(TARGETS ${target} LIBRARY DESTINATION ${package} COMPONENT ${ARG_NAME})
  if(NOT ARG_BUNDLE)
    return()
  endif()
  target_link_options(${target} PRIVATE "LINKER:--disable-new-dtags")
  # Each as one file under the name the linker asks for (a wheel holds no
  # symlinks: install(RUNTIME_DEPENDENCY_SET) would copy each link's chain).
  set(regexes)
  foreach(regex IN LISTS ARG_BUNDLE)
    string(APPEND regexes " \"${regex}\"")
  endforeach()
  install(CODE "
    file(GET_RUNTIME_DEPENDENCIES LIBRARIES \"$<TARGET_FILE:${target}>\"
         RESOLVED_DEPENDENCIES_VAR bundle
         PRE_INCLUDE_REGEXES ${regexes} PRE_EXCLUDE_REGEXES \".*\")
    foreach(library IN LISTS bundle)
      get_filename_component(name \"\${library}\" NAME)
      file(REAL_PATH \"\${library}\" file)
      file(INSTALL \"\${file}\" DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${package}\"
           RENAME \"\${name}\")
    endforeach()" COMPONENT ${ARG_NAME})
endfunction()
