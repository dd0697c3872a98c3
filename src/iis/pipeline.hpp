// SPDX-License-Identifier: MIT
// The integrated request pipeline of w3tp-iishost, as IIS runs it: modules registered through their
// RegisterModule, one module instance per request from each factory, the deterministic notifications in
// IIS's order with their post-notifications, SEND_RESPONSE on every flush, and a request that a module
// parks with RQ_NOTIFICATION_PENDING until IndicateCompletion or PostCompletion resumes it.
//
// A request arrives as an exchange (src/iis/exchange.hpp) from the HTTP server or from a test, and its
// answer leaves through the same exchange. docs/iis.md describes what each interface method does here.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <httpserv.h>

#include "iis/exchange.hpp"
#include "w3tp/w3tp.hpp"

namespace w3tp::iis {

/// The steps of a request, in the order they run: the ten notifications from BEGIN_REQUEST to
/// UPDATE_REQUEST_CACHE with their post-notifications, the final SEND_RESPONSE (the response leaves
/// here, so that LOG_REQUEST sees what was sent), then LOG_REQUEST and END_REQUEST with theirs.
/// RQ_NOTIFICATION_FINISH_REQUEST skips to the final SEND_RESPONSE; the end steps always run.
constexpr unsigned k_steps = 25;
constexpr unsigned k_send_step = 20;

/// The notification bit (RQ_*) of a step, and whether it is the post-notification.
struct step_info {
  DWORD notification;
  bool post;
};
step_info step_at(unsigned step) noexcept;

/// A module registered with the host: what its RegisterModule set through this interface.
class module_registration final : public IHttpModuleRegistrationInfo {
 public:
  module_registration(std::wstring name, unsigned index) : name_(std::move(name)), index_(index) {}

  PCWSTR GetName() const override { return name_.c_str(); }
  HTTP_MODULE_ID GetId() const override { return const_cast<module_registration*>(this); }
  HRESULT SetRequestNotifications(IHttpModuleFactory* factory, DWORD notifications, DWORD post_notifications) override;
  HRESULT SetGlobalNotifications(CGlobalModule*, DWORD) override { return E_NOTIMPL; }
  HRESULT SetPriorityForRequestNotification(DWORD notifications, PCWSTR priority) override;
  HRESULT SetPriorityForGlobalNotification(DWORD, PCWSTR) override { return E_NOTIMPL; }

  const std::wstring& name() const noexcept { return name_; }
  unsigned index() const noexcept { return index_; }
  IHttpModuleFactory* factory() const noexcept { return factory_; }
  /// Whether the module handles this step.
  bool handles(unsigned step) const noexcept;
  /// Its priority for a notification: 0 (FIRST) to 4 (LAST), 2 (MEDIUM) unless set.
  int priority(DWORD notification) const noexcept;

 private:
  std::wstring name_;
  unsigned index_;
  IHttpModuleFactory* factory_ = nullptr;
  DWORD notifications_ = 0;
  DWORD post_notifications_ = 0;
  std::vector<std::pair<DWORD, int>> priorities_;
};

/// The host's modules, in configuration order. Built once (add, then seal), then read by every request.
class module_table {
 public:
  module_table() = default;
  module_table(const module_table&) = delete;
  module_table& operator=(const module_table&) = delete;
  ~module_table();

  /// Calls a module's RegisterModule. S_OK when it returned S_OK and registered a factory for at least
  /// one notification; otherwise the module is not added and `why` says what failed, naming it.
  HRESULT add(const std::wstring& name, PFN_REGISTERMODULE entry, IHttpServer& server, std::string& why);
  /// As add, for a module built into the host (its registration as a function object).
  HRESULT add_builtin(const std::wstring& name,
                      const std::function<HRESULT(DWORD, IHttpModuleRegistrationInfo*, IHttpServer*)>& entry,
                      IHttpServer& server, std::string& why);
  /// Fixes the order in which modules run for each step (priority, then configuration order; reversed
  /// for SEND_RESPONSE, as IIS documents). Call after the last add.
  void seal();
  /// Calls each factory's Terminate once (at the host's stop); later calls do nothing.
  void terminate() noexcept;

  std::size_t size() const noexcept { return modules_.size(); }
  module_registration& at(std::size_t i) noexcept { return *modules_[i]; }
  /// The indices of the modules that handle `step`, in the order they run.
  const std::vector<std::uint16_t>& order(unsigned step) const noexcept { return order_[step]; }

 private:
  std::vector<std::unique_ptr<module_registration>> modules_;
  std::vector<std::uint16_t> order_[k_steps];
  bool terminated_ = false;
};

/// The site the pipeline serves.
struct site_config {
  DWORD id = 1;
  std::wstring name = L"Default Web Site";
  std::string physical_path = ".";  ///< the root application's virtual directory
};

/// Runs requests through the pipeline; a request_handler for the HTTP server.
class pipeline final : public request_handler {
 public:
  pipeline(module_table& modules, thread_pool& pool, site_config site);
  ~pipeline() override;
  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;

  /// Starts a request on the calling thread; it runs until its end or until a module parks it.
  void handle(std::shared_ptr<exchange> ex) override;
  /// Requests started and not ended yet.
  std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_acquire); }
  /// Waits until no request is in flight; false if `limit` passed first.
  bool wait_idle(std::chrono::milliseconds limit);

  module_table& modules() noexcept { return modules_; }
  thread_pool& pool() noexcept { return pool_; }
  const site_config& site() const noexcept { return site_; }
  /// Called by a request when it has ended (after every Dispose).
  void request_ended() noexcept;
  /// The modules' per-site and per-application contexts (one site, one root application).
  IHttpModuleContextContainer& site_contexts() noexcept { return *site_contexts_; }
  IHttpModuleContextContainer& application_contexts() noexcept { return *application_contexts_; }

 private:
  module_table& modules_;
  thread_pool& pool_;
  site_config site_;
  std::unique_ptr<IHttpModuleContextContainer, void (*)(IHttpModuleContextContainer*)> site_contexts_;
  std::unique_ptr<IHttpModuleContextContainer, void (*)(IHttpModuleContextContainer*)> application_contexts_;
  std::atomic<std::size_t> in_flight_{0};
  std::mutex mu_;
  std::condition_variable idle_;
};

/// UTF-8 to WCHAR (UTF-32 here); invalid sequences become U+FFFD.
std::wstring widen(std::string_view utf8);
/// WCHAR to UTF-8.
std::string narrow(std::wstring_view wide);

}  // namespace w3tp::iis
