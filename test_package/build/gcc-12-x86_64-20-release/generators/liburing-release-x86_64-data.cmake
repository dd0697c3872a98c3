########### AGGREGATED COMPONENTS AND DEPENDENCIES FOR THE MULTI CONFIG #####################
#############################################################################################

set(liburing_COMPONENT_NAMES "")
if(DEFINED liburing_FIND_DEPENDENCY_NAMES)
  list(APPEND liburing_FIND_DEPENDENCY_NAMES )
  list(REMOVE_DUPLICATES liburing_FIND_DEPENDENCY_NAMES)
else()
  set(liburing_FIND_DEPENDENCY_NAMES )
endif()

########### VARIABLES #######################################################################
#############################################################################################
set(liburing_PACKAGE_FOLDER_RELEASE "/work/main/build/consumers/conan/conan-home/p/b/liburaa06224884387/p")
set(liburing_BUILD_MODULES_PATHS_RELEASE )


set(liburing_INCLUDE_DIRS_RELEASE )
set(liburing_RES_DIRS_RELEASE )
set(liburing_DEFINITIONS_RELEASE )
set(liburing_SHARED_LINK_FLAGS_RELEASE )
set(liburing_EXE_LINK_FLAGS_RELEASE )
set(liburing_OBJECTS_RELEASE )
set(liburing_COMPILE_DEFINITIONS_RELEASE )
set(liburing_COMPILE_OPTIONS_C_RELEASE )
set(liburing_COMPILE_OPTIONS_CXX_RELEASE )
set(liburing_LIB_DIRS_RELEASE )
set(liburing_BIN_DIRS_RELEASE )
set(liburing_LIBRARY_TYPE_RELEASE SHARED)
set(liburing_IS_HOST_WINDOWS_RELEASE 0)
set(liburing_LIBS_RELEASE )
set(liburing_SYSTEM_LIBS_RELEASE uring)
set(liburing_FRAMEWORK_DIRS_RELEASE )
set(liburing_FRAMEWORKS_RELEASE )
set(liburing_BUILD_DIRS_RELEASE )
set(liburing_NO_SONAME_MODE_RELEASE FALSE)


# COMPOUND VARIABLES
set(liburing_COMPILE_OPTIONS_RELEASE
    "$<$<COMPILE_LANGUAGE:CXX>:${liburing_COMPILE_OPTIONS_CXX_RELEASE}>"
    "$<$<COMPILE_LANGUAGE:C>:${liburing_COMPILE_OPTIONS_C_RELEASE}>")
set(liburing_LINKER_FLAGS_RELEASE
    "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,SHARED_LIBRARY>:${liburing_SHARED_LINK_FLAGS_RELEASE}>"
    "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,MODULE_LIBRARY>:${liburing_SHARED_LINK_FLAGS_RELEASE}>"
    "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:${liburing_EXE_LINK_FLAGS_RELEASE}>")


set(liburing_COMPONENTS_RELEASE )