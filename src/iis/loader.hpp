// SPDX-License-Identifier: MIT
// IIS module images for w3tp-iishost: a shared library loaded with dlopen, and its RegisterModule.
#pragma once

#include <memory>
#include <string>

#include <httpserv.h>

namespace w3tp::iis {

/// One module image (`globalModules/add image`), loaded until destroyed (after its factories' Terminate).
class module_image {
 public:
  /// Loads `path` and finds its RegisterModule; nullptr with a sentence naming the module in `why`
  /// when the image is missing or cannot be loaded, or exports no RegisterModule.
  static std::unique_ptr<module_image> open(const std::string& module_name, const std::string& path, std::string& why);
  ~module_image();
  module_image(const module_image&) = delete;
  module_image& operator=(const module_image&) = delete;

  /// The image's RegisterModule.
  PFN_REGISTERMODULE entry() const noexcept { return entry_; }

 private:
  module_image(void* handle, PFN_REGISTERMODULE entry) : handle_(handle), entry_(entry) {}
  void* handle_;
  PFN_REGISTERMODULE entry_;
};

}  // namespace w3tp::iis
