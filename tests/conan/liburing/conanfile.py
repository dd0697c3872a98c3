# SPDX-License-Identifier: MIT
# Test-only stand-in for Conan Center's liburing: wraps the system's (Debian's liburing-dev), so that
# package.conan runs with no remote. Never used outside w3tp's tests.
from conan import ConanFile


class SystemLiburing(ConanFile):
    name = "liburing"
    version = "2.3"
    package_type = "shared-library"
    settings = "os", "arch", "compiler", "build_type"

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "liburing")
        self.cpp_info.set_property("cmake_target_name", "liburing::liburing")
        self.cpp_info.set_property("pkg_config_name", "liburing")
        self.cpp_info.includedirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.bindirs = []
        self.cpp_info.system_libs = ["uring"]
