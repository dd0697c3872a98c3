// SPDX-License-Identifier: MIT
// Module images (see loader.hpp).
#include "iis/loader.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

#include <fmt/format.h>

namespace w3tp::iis {

std::unique_ptr<module_image> module_image::open(const std::string& module_name, const std::string& path,
                                                 std::string& why) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    why = fmt::format("module {}: its image {} does not exist", module_name, path);
    return nullptr;
  }
  // RTLD_LOCAL: each module keeps its own symbols; their Win32 calls bind to the host's w3tp.
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* e = ::dlerror();
    why = fmt::format("module {}: cannot load {}: {}", module_name, path, e != nullptr ? e : "unknown error");
    return nullptr;
  }
  void* sym = ::dlsym(h, "RegisterModule");
  if (sym == nullptr) {
    ::dlclose(h);
    why = fmt::format("module {}: {} exports no RegisterModule (declare it as <httpserv.h> does)", module_name, path);
    return nullptr;
  }
  PFN_REGISTERMODULE entry;
  static_assert(sizeof entry == sizeof sym);
  __builtin_memcpy(&entry, &sym, sizeof entry);
  return std::unique_ptr<module_image>(new module_image(h, entry));
}

module_image::~module_image() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

}  // namespace w3tp::iis
