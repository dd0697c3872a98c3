# SPDX-License-Identifier: MIT
# Test-only stand-in for Conan Center's fmt: wraps the system's (Debian's libfmt-dev), so that
# package.conan runs with no remote. Never used outside w3tp's tests.
from conan import ConanFile


class SystemFmt(ConanFile):
    name = "fmt"
    version = "9.1.0"
    package_type = "shared-library"
    settings = "os", "arch", "compiler", "build_type"

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "fmt")
        self.cpp_info.set_property("cmake_target_name", "fmt::fmt")
        self.cpp_info.set_property("pkg_config_name", "fmt")
        self.cpp_info.includedirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.bindirs = []
        self.cpp_info.system_libs = ["fmt"]
