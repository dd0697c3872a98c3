# SPDX-License-Identifier: MIT
# Conan 2 recipe for w3tp: `conan create .` builds this checkout. The package gives the CMake target
# w3tp::w3tp (find_package(w3tp CONFIG REQUIRED)) and the pkg-config name w3tp.
import os
import re

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load


class W3tpConan(ConanFile):
    name = "w3tp"
    description = "IIS-style thread-pool I/O association (AssociateWithThreadPool) for Linux and Windows"
    license = "MIT"
    url = "https://github.com/w3tp/w3tp"
    topics = ("iocp", "io_uring", "epoll", "thread-pool", "iis", "asynchronous-io")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False], "with_io_uring": [True, False]}
    default_options = {"shared": False, "fPIC": True, "with_io_uring": True}
    exports_sources = "CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*", "docs/*.in"

    def set_version(self):
        # The version is CMake's project(VERSION ...), so the two cannot disagree.
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        self.version = re.search(r"project\(w3tp VERSION ([0-9.]+)", text).group(1)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC
        if self.settings.os != "Linux":
            del self.options.with_io_uring

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Ranges that Debian 12's fmt 9.1 and liburing 2.3 satisfy, and Conan Center's newer ones too.
        self.requires("fmt/[>=9.1 <12]")
        if self.settings.os == "Linux" and self.options.get_safe("with_io_uring"):
            self.requires("liburing/[>=2.3 <3]")

    def generate(self):
        tc = CMakeToolchain(self)
        tc.variables["W3TP_BUILD_TESTS"] = False
        tc.variables["W3TP_BUILD_EXAMPLES"] = False
        tc.variables["W3TP_BUILD_BENCH"] = False
        if self.settings.os == "Linux":
            tc.variables["W3TP_WITH_IO_URING"] = bool(self.options.get_safe("with_io_uring"))
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "w3tp")
        self.cpp_info.set_property("cmake_target_name", "w3tp::w3tp")
        self.cpp_info.set_property("pkg_config_name", "w3tp")
        self.cpp_info.libs = ["w3tp"]
        if self.options.shared:
            self.cpp_info.defines = ["W3TP_SHARED"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
        elif self.settings.os == "Windows":
            self.cpp_info.system_libs = ["ws2_32"]
