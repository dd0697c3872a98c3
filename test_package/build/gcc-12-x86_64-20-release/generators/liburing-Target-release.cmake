# Avoid multiple calls to find_package to append duplicated properties to the targets
include_guard()########### VARIABLES #######################################################################
#############################################################################################
set(liburing_FRAMEWORKS_FOUND_RELEASE "") # Will be filled later
conan_find_apple_frameworks(liburing_FRAMEWORKS_FOUND_RELEASE "${liburing_FRAMEWORKS_RELEASE}" "${liburing_FRAMEWORK_DIRS_RELEASE}")

set(liburing_LIBRARIES_TARGETS "") # Will be filled later


######## Create an interface target to contain all the dependencies (frameworks, system and conan deps)
if(NOT TARGET liburing_DEPS_TARGET)
    add_library(liburing_DEPS_TARGET INTERFACE IMPORTED)
endif()

set_property(TARGET liburing_DEPS_TARGET
             APPEND PROPERTY INTERFACE_LINK_LIBRARIES
             $<$<CONFIG:Release>:${liburing_FRAMEWORKS_FOUND_RELEASE}>
             $<$<CONFIG:Release>:${liburing_SYSTEM_LIBS_RELEASE}>
             $<$<CONFIG:Release>:>)

####### Find the libraries declared in cpp_info.libs, create an IMPORTED target for each one and link the
####### liburing_DEPS_TARGET to all of them
conan_package_library_targets("${liburing_LIBS_RELEASE}"    # libraries
                              "${liburing_LIB_DIRS_RELEASE}" # package_libdir
                              "${liburing_BIN_DIRS_RELEASE}" # package_bindir
                              "${liburing_LIBRARY_TYPE_RELEASE}"
                              "${liburing_IS_HOST_WINDOWS_RELEASE}"
                              liburing_DEPS_TARGET
                              liburing_LIBRARIES_TARGETS  # out_libraries_targets
                              "_RELEASE"
                              "liburing"    # package_name
                              "${liburing_NO_SONAME_MODE_RELEASE}")  # soname

# FIXME: What is the result of this for multi-config? All configs adding themselves to path?
set(CMAKE_MODULE_PATH ${liburing_BUILD_DIRS_RELEASE} ${CMAKE_MODULE_PATH})

########## GLOBAL TARGET PROPERTIES Release ########################################
    set_property(TARGET liburing::liburing
                 APPEND PROPERTY INTERFACE_LINK_LIBRARIES
                 $<$<CONFIG:Release>:${liburing_OBJECTS_RELEASE}>
                 $<$<CONFIG:Release>:${liburing_LIBRARIES_TARGETS}>
                 )

    if("${liburing_LIBS_RELEASE}" STREQUAL "")
        # If the package is not declaring any "cpp_info.libs" the package deps, system libs,
        # frameworks etc are not linked to the imported targets and we need to do it to the
        # global target
        set_property(TARGET liburing::liburing
                     APPEND PROPERTY INTERFACE_LINK_LIBRARIES
                     liburing_DEPS_TARGET)
    endif()

    set_property(TARGET liburing::liburing
                 APPEND PROPERTY INTERFACE_LINK_OPTIONS
                 $<$<CONFIG:Release>:${liburing_LINKER_FLAGS_RELEASE}>)
    set_property(TARGET liburing::liburing
                 APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
                 $<$<CONFIG:Release>:${liburing_INCLUDE_DIRS_RELEASE}>)
    # Necessary to find LINK shared libraries in Linux
    set_property(TARGET liburing::liburing
                 APPEND PROPERTY INTERFACE_LINK_DIRECTORIES
                 $<$<CONFIG:Release>:${liburing_LIB_DIRS_RELEASE}>)
    set_property(TARGET liburing::liburing
                 APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS
                 $<$<CONFIG:Release>:${liburing_COMPILE_DEFINITIONS_RELEASE}>)
    set_property(TARGET liburing::liburing
                 APPEND PROPERTY INTERFACE_COMPILE_OPTIONS
                 $<$<CONFIG:Release>:${liburing_COMPILE_OPTIONS_RELEASE}>)

########## For the modules (FindXXX)
set(liburing_LIBRARIES_RELEASE liburing::liburing)
