# Load the debug and release variables
file(GLOB DATA_FILES "${CMAKE_CURRENT_LIST_DIR}/w3tp-*-data.cmake")

foreach(f ${DATA_FILES})
    include(${f})
endforeach()

# Create the targets for all the components
foreach(_COMPONENT ${w3tp_COMPONENT_NAMES} )
    if(NOT TARGET ${_COMPONENT})
        add_library(${_COMPONENT} INTERFACE IMPORTED)
        message(${w3tp_MESSAGE_MODE} "Conan: Component target declared '${_COMPONENT}'")
    endif()
endforeach()

if(NOT TARGET w3tp::w3tp)
    add_library(w3tp::w3tp INTERFACE IMPORTED)
    message(${w3tp_MESSAGE_MODE} "Conan: Target declared 'w3tp::w3tp'")
endif()
# Load the debug and release library finders
file(GLOB CONFIG_FILES "${CMAKE_CURRENT_LIST_DIR}/w3tp-Target-*.cmake")

foreach(f ${CONFIG_FILES})
    include(${f})
endforeach()