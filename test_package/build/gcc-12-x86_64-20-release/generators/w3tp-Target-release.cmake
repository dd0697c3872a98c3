# Avoid multiple calls to find_package to append duplicated properties to the targets
include_guard()########### VARIABLES #######################################################################
#############################################################################################
set(w3tp_FRAMEWORKS_FOUND_RELEASE "") # Will be filled later
conan_find_apple_frameworks(w3tp_FRAMEWORKS_FOUND_RELEASE "${w3tp_FRAMEWORKS_RELEASE}" "${w3tp_FRAMEWORK_DIRS_RELEASE}")

set(w3tp_LIBRARIES_TARGETS "") # Will be filled later


######## Create an interface target to contain all the dependencies (frameworks, system and conan deps)
if(NOT TARGET w3tp_DEPS_TARGET)
    add_library(w3tp_DEPS_TARGET INTERFACE IMPORTED)
endif()

set_property(TARGET w3tp_DEPS_TARGET
             APPEND PROPERTY INTERFACE_LINK_LIBRARIES
             $<$<CONFIG:Release>:${w3tp_FRAMEWORKS_FOUND_RELEASE}>
             $<$<CONFIG:Release>:${w3tp_SYSTEM_LIBS_RELEASE}>
             $<$<CONFIG:Release>:fmt::fmt;liburing::liburing>)

####### Find the libraries declared in cpp_info.libs, create an IMPORTED target for each one and link the
####### w3tp_DEPS_TARGET to all of them
conan_package_library_targets("${w3tp_LIBS_RELEASE}"    # libraries
                              "${w3tp_LIB_DIRS_RELEASE}" # package_libdir
                              "${w3tp_BIN_DIRS_RELEASE}" # package_bindir
                              "${w3tp_LIBRARY_TYPE_RELEASE}"
                              "${w3tp_IS_HOST_WINDOWS_RELEASE}"
                              w3tp_DEPS_TARGET
                              w3tp_LIBRARIES_TARGETS  # out_libraries_targets
                              "_RELEASE"
                              "w3tp"    # package_name
                              "${w3tp_NO_SONAME_MODE_RELEASE}")  # soname

# FIXME: What is the result of this for multi-config? All configs adding themselves to path?
set(CMAKE_MODULE_PATH ${w3tp_BUILD_DIRS_RELEASE} ${CMAKE_MODULE_PATH})

########## GLOBAL TARGET PROPERTIES Release ########################################
    set_property(TARGET w3tp::w3tp
                 APPEND PROPERTY INTERFACE_LINK_LIBRARIES
                 $<$<CONFIG:Release>:${w3tp_OBJECTS_RELEASE}>
                 $<$<CONFIG:Release>:${w3tp_LIBRARIES_TARGETS}>
                 )

    if("${w3tp_LIBS_RELEASE}" STREQUAL "")
        # If the package is not declaring any "cpp_info.libs" the package deps, system libs,
        # frameworks etc are not linked to the imported targets and we need to do it to the
        # global target
        set_property(TARGET w3tp::w3tp
                     APPEND PROPERTY INTERFACE_LINK_LIBRARIES
                     w3tp_DEPS_TARGET)
    endif()

    set_property(TARGET w3tp::w3tp
                 APPEND PROPERTY INTERFACE_LINK_OPTIONS
                 $<$<CONFIG:Release>:${w3tp_LINKER_FLAGS_RELEASE}>)
    set_property(TARGET w3tp::w3tp
                 APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
                 $<$<CONFIG:Release>:${w3tp_INCLUDE_DIRS_RELEASE}>)
    # Necessary to find LINK shared libraries in Linux
    set_property(TARGET w3tp::w3tp
                 APPEND PROPERTY INTERFACE_LINK_DIRECTORIES
                 $<$<CONFIG:Release>:${w3tp_LIB_DIRS_RELEASE}>)
    set_property(TARGET w3tp::w3tp
                 APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS
                 $<$<CONFIG:Release>:${w3tp_COMPILE_DEFINITIONS_RELEASE}>)
    set_property(TARGET w3tp::w3tp
                 APPEND PROPERTY INTERFACE_COMPILE_OPTIONS
                 $<$<CONFIG:Release>:${w3tp_COMPILE_OPTIONS_RELEASE}>)

########## For the modules (FindXXX)
set(w3tp_LIBRARIES_RELEASE w3tp::w3tp)
