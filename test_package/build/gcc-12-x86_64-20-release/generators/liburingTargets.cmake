# Load the debug and release variables
file(GLOB DATA_FILES "${CMAKE_CURRENT_LIST_DIR}/liburing-*-data.cmake")

foreach(f ${DATA_FILES})
    include(${f})
endforeach()

# Create the targets for all the components
foreach(_COMPONENT ${liburing_COMPONENT_NAMES} )
    if(NOT TARGET ${_COMPONENT})
        add_library(${_COMPONENT} INTERFACE IMPORTED)
        message(${liburing_MESSAGE_MODE} "Conan: Component target declared '${_COMPONENT}'")
    endif()
endforeach()

if(NOT TARGET liburing::liburing)
    add_library(liburing::liburing INTERFACE IMPORTED)
    message(${liburing_MESSAGE_MODE} "Conan: Target declared 'liburing::liburing'")
endif()
# Load the debug and release library finders
file(GLOB CONFIG_FILES "${CMAKE_CURRENT_LIST_DIR}/liburing-Target-*.cmake")

foreach(f ${CONFIG_FILES})
    include(${f})
endforeach()