// SPDX-License-Identifier: MIT
// w3tp-iishost: IIS native modules on Linux, behind HTTP/1.1, on one w3tp pool (IIS Express's command line).
//
//   w3tp-iishost /config:applicationHost.config [/site:NAME]
//   w3tp-iishost /path:DIR [/port:N]
//
// It prints "listening on http://IP:PORT/" once it accepts. SIGINT or SIGTERM stop accepting, let the
// requests in flight finish, and exit 0. A module that cannot be loaded or registered is named in a
// message and the host exits 1 (2 for a bad command line or configuration).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "iis/builtin.hpp"
#include "iis/config.hpp"
#include "iis/http_server.hpp"
#include "iis/loader.hpp"
#include "iis/pipeline.hpp"
#include "w3tp/w3tp.hpp"

namespace {

constexpr const char* k_usage =
    "usage: w3tp-iishost /config:applicationHost.config [/site:NAME]\n"
    "       w3tp-iishost /path:DIR [/port:N]\n"
    "Runs IIS native modules (shared libraries built against w3tp::iis) behind HTTP/1.1 on a w3tp pool.\n"
    "  /config:FILE  applicationHost.config: the site, its binding, globalModules, modules, authentication\n"
    "  /site:NAME    the site to run (default: the first one)\n"
    "  /path:DIR     serve DIR's files as a site, on 127.0.0.1\n"
    "  /port:N       the port for /path (default 8080)\n"
    "SIGINT/SIGTERM finish the requests in flight and exit 0.\n";

int fail(int code, const std::string& why) {
  fmt::print(stderr, "w3tp-iishost: {}\n", why);
  return code;
}

int run(int argc, char** argv) {
  w3tp::iis::host_options options;
  std::string why;
  if (!w3tp::iis::parse_command_line(argc, argv, options, why)) {
    fmt::print(stderr, "w3tp-iishost: {}\n{}", why, k_usage);
    return 2;
  }
  if (options.help) {
    fmt::print("{}", k_usage);
    return 0;
  }
  w3tp::iis::host_config config;
  if (!options.path.empty()) {
    config = w3tp::iis::quick_config(options.path, static_cast<std::uint16_t>(options.port > 0 ? options.port : 8080));
  } else if (!w3tp::iis::load_config(options.config_file, options.site_name, config, why)) {
    return fail(2, why);
  }

  // SIGINT and SIGTERM are taken by sigwait below; every thread started from here on keeps them blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  w3tp::thread_pool pool;
  IHttpServer& server = w3tp::http_server(pool);
  // The images outlive the module table: its destructor calls the factories' Terminate, their code.
  std::vector<std::unique_ptr<w3tp::iis::module_image>> images;
  w3tp::iis::module_table modules;

  // The modules, in the order of <modules> (all global modules when it is absent): the Basic
  // authentication module first when it is on, the static-file handler last.
  if ((config.authentication.basic || !config.authentication.anonymous) &&
      FAILED(w3tp::iis::add_basic_authentication(modules, server, config.authentication, why)))
    return fail(1, why);
  std::vector<std::string> names = config.modules;
  if (!config.modules_listed)
    for (const auto& g : config.global_modules) names.push_back(g.name);
  for (const std::string& name : names) {
    if (name == "StaticFileModule" || name == "BasicAuthenticationModule" || name == "AnonymousAuthenticationModule")
      continue;  // built in
    const auto g = std::find_if(config.global_modules.begin(), config.global_modules.end(),
                                [&](const w3tp::iis::global_module& m) { return m.name == name; });
    if (g == config.global_modules.end()) return fail(1, fmt::format("module {} is not in globalModules", name));
    auto image = w3tp::iis::module_image::open(g->name, g->image, why);
    if (!image) return fail(1, why);
    if (FAILED(modules.add(w3tp::iis::widen(g->name), image->entry(), server, why))) return fail(1, why);
    images.push_back(std::move(image));
  }
  if (FAILED(w3tp::iis::add_static_file(modules, server, why))) return fail(1, why);
  modules.seal();

  int status = 0;
  {
    w3tp::iis::pipeline pipeline(modules, pool, config.site);
    w3tp::iis::http_server http(pool, pipeline);
    if (FAILED(http.listen(config.ip, config.port))) {
      status = fail(1, http.last_error());
    } else {
      const bool v6 = config.ip.find(':') != std::string::npos;
      fmt::print("listening on http://{}{}{}:{}/\n", v6 ? "[" : "", config.ip, v6 ? "]" : "", http.port());
      std::fflush(stdout);
      int sig = 0;
      sigwait(&stop_signals, &sig);
      fmt::print(stderr, "w3tp-iishost: {}: finishing the requests in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
      if (!http.drain(std::chrono::seconds(30)))
        fmt::print(stderr, "w3tp-iishost: connections still open after 30 s\n");
    }
    if (!pipeline.wait_idle(std::chrono::seconds(30))) {
      // A module keeps a request parked: tearing the pipeline and the modules down under it would run
      // its code on freed objects, so the process ends here.
      fmt::print(stderr, "w3tp-iishost: {} requests still parked by a module after 30 s; exiting without cleanup\n",
                 pipeline.in_flight());
      std::fflush(stderr);
      std::_Exit(1);
    }
  }
  modules.terminate();
  pool.shutdown();
  // Routines that modules bound with BindIoCompletionCallback run on the default pool: it stops before
  // the modules' code is unloaded.
  w3tp::default_pool().shutdown();
  images.clear();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}
