########## MACROS ###########################################################################
#############################################################################################

# Requires CMake > 3.15
if(${CMAKE_VERSION} VERSION_LESS "3.15")
    message(FATAL_ERROR "The 'CMakeDeps' generator only works with CMake >= 3.15")
endif()

if(liburing_FIND_QUIETLY)
    set(liburing_MESSAGE_MODE VERBOSE)
else()
    set(liburing_MESSAGE_MODE STATUS)
endif()

include(${CMAKE_CURRENT_LIST_DIR}/cmakedeps_macros.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/liburingTargets.cmake)
include(CMakeFindDependencyMacro)

check_build_type_defined()

foreach(_DEPENDENCY ${liburing_FIND_DEPENDENCY_NAMES} )
    # Check that we have not already called a find_package with the transitive dependency
    if(NOT ${_DEPENDENCY}_FOUND)
        find_dependency(${_DEPENDENCY} REQUIRED ${${_DEPENDENCY}_FIND_MODE})
    endif()
endforeach()

set(liburing_VERSION_STRING "2.3")
set(liburing_INCLUDE_DIRS ${liburing_INCLUDE_DIRS_RELEASE} )
set(liburing_INCLUDE_DIR ${liburing_INCLUDE_DIRS_RELEASE} )
set(liburing_LIBRARIES ${liburing_LIBRARIES_RELEASE} )
set(liburing_DEFINITIONS ${liburing_DEFINITIONS_RELEASE} )


# Only the last installed configuration BUILD_MODULES are included to avoid the collision
foreach(_BUILD_MODULE ${liburing_BUILD_MODULES_PATHS_RELEASE} )
    message(${liburing_MESSAGE_MODE} "Conan: Including build module from '${_BUILD_MODULE}'")
    include(${_BUILD_MODULE})
endforeach()


