// SPDX-License-Identifier: MIT
// w3tp-iishost's configuration, as IIS Express takes it: the command line (/config:FILE [/site:NAME], or
// /path:DIR /port:N) and the subset of applicationHost.config that matters here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/builtin.hpp"
#include "iis/pipeline.hpp"

namespace w3tp::iis {

/// A native module from `globalModules/add`.
struct global_module {
  std::string name;
  std::string image;
};

/// What the host serves.
struct host_config {
  site_config site;
  std::string ip = "127.0.0.1";  ///< the binding's address ("*" in the file means every address)
  std::uint16_t port = 8080;
  std::vector<global_module> global_modules;
  /// `modules/add name`, in order: names of global modules or of built-in ones
  /// (BasicAuthenticationModule, StaticFileModule, AnonymousAuthenticationModule).
  std::vector<std::string> modules;
  bool modules_listed = false;  ///< a `modules` section was present
  authentication_config authentication;
};

/// The command line, parsed. Exactly one of `config_file` or `path` is set unless `help`.
struct host_options {
  bool help = false;
  std::string config_file;
  std::string site_name;
  std::string path;
  int port = -1;
};

/// Parses IIS Express's switches (/config:FILE, /site:NAME, /path:DIR, /port:N, /?, /help; also with a
/// leading '-'). False with a sentence in `why` for anything else.
bool parse_command_line(int argc, char** argv, host_options& out, std::string& why);

/// Reads applicationHost.config: the site named `site_name` (the first site when empty) with its root
/// application's virtual directory and its first http binding ("IP:port:"), `system.webServer`'s
/// globalModules (port 0 picks a free port, which the "listening on" line then shows), modules and
/// security/authentication (anonymousAuthentication enabled; basicAuthentication
/// enabled, realm and usersFile, a path relative to the configuration file's folder). %VAR% in paths is
/// replaced by the environment variable. False with a sentence (file, element) in `why` on any error.
bool load_config(const std::string& file, const std::string& site_name, host_config& out, std::string& why);

/// The configuration of `/path:DIR /port:N`: DIR as the site "WebSite1", 127.0.0.1:N, the static-file
/// handler, anonymous access.
host_config quick_config(const std::string& dir, std::uint16_t port);

}  // namespace w3tp::iis
