// SPDX-License-Identifier: MIT
#include "common/common.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>

#include <fmt/format.h>

namespace w3tp {

namespace {

/// Every backend's name (as to_string spells it) and the other spelling W3TP_BACKEND accepts, in the
/// order W3TP_BACKEND's error message lists them.
struct backend_name {
  backend kind;
  std::string_view name;
  std::string_view alias;
};
constexpr backend_name k_backend_names[] = {
    {backend::automatic, "automatic", "auto"},
    {backend::io_uring, "io_uring", "uring"},
    {backend::epoll, "epoll", ""},
    {backend::iocp, "iocp", ""},
};

}  // namespace

std::string_view to_string(backend b) noexcept {
  for (const backend_name& n : k_backend_names)
    if (n.kind == b) return n.name;
  return "unknown";
}

IHttpServer& http_server(thread_pool& pool) { return pool.http_server(); }

thread_pool& default_pool() {
  // Started on first use; shut down with the other statics at exit. In a child of fork() the parent's
  // pool is stale (no threads serve it): the child gets a fresh one, and the stale one is left alone.
  struct holder {
    std::mutex mu;
    std::atomic<thread_pool*> pool{nullptr};
    ~holder() {
      thread_pool* p = pool.load();
      if (p != nullptr && !detail::stale_after_fork(*p)) delete p;
    }
  };
  static holder h;
  thread_pool* p = h.pool.load(std::memory_order_acquire);
  if (p != nullptr && !detail::stale_after_fork(*p)) return *p;
  std::lock_guard lock(h.mu);
  p = h.pool.load(std::memory_order_acquire);
  if (p == nullptr || detail::stale_after_fork(*p)) {
    p = new thread_pool();
    h.pool.store(p, std::memory_order_release);
  }
  return *p;
}

namespace detail {

std::optional<backend> parse_backend(std::string_view name) noexcept {
  if (name.empty()) return backend::automatic;
  for (const backend_name& n : k_backend_names)
    if (name == n.name || (!n.alias.empty() && name == n.alias)) return n.kind;
  return std::nullopt;
}

backend requested_backend(const pool_options& options) {
  if (options.preferred != backend::automatic) return options.preferred;
  const char* env = std::getenv("W3TP_BACKEND");
  if (env == nullptr) return backend::automatic;
  auto parsed = parse_backend(env);
  if (!parsed) {
    std::string names;
    for (std::size_t i = 0; i < std::size(k_backend_names); ++i) {
      const backend_name& n = k_backend_names[i];
      names += i == 0 ? "" : i + 1 == std::size(k_backend_names) ? " or " : ", ";
      names += n.kind == backend::automatic ? n.alias : n.name;
    }
    throw std::system_error(EINVAL, std::generic_category(),
                            fmt::format("W3TP_BACKEND='{}' names no backend (use {})", env, names));
  }
  return *parsed;
}

BOOL http_server_impl::IsCommandLineLaunch() const { return FALSE; }
PCWSTR http_server_impl::GetAppPoolName() const { return L"w3tp"; }
HRESULT http_server_impl::AssociateWithThreadPool(HANDLE hHandle, LPOVERLAPPED_COMPLETION_ROUTINE completionRoutine) {
  return pool_->associate(hHandle, completionRoutine);
}
VOID http_server_impl::IncrementThreadCount() { increment_thread_count(*pool_); }
VOID http_server_impl::DecrementThreadCount() { decrement_thread_count(*pool_); }
VOID http_server_impl::ReportUnhealthy(PCWSTR, HRESULT) {}
VOID http_server_impl::RecycleProcess(PCWSTR) {}
IAppHostAdminManager* http_server_impl::GetAdminManager() const { return nullptr; }
HRESULT http_server_impl::GetFileInfo(PCWSTR, HANDLE, PSID, PCWSTR, HANDLE, BOOL, IHttpFileInfo** ppFileInfo,
                                      IHttpTraceContext*) {
  if (ppFileInfo != nullptr) *ppFileInfo = nullptr;
  return E_NOTIMPL;
}
HRESULT http_server_impl::FlushKernelCache(PCWSTR) { return E_NOTIMPL; }
HRESULT http_server_impl::DoCacheOperation(CACHE_OPERATION, IHttpCacheKey*,
                                           IHttpCacheSpecificData** ppCacheSpecificData, IHttpTraceContext*) {
  if (ppCacheSpecificData != nullptr) *ppCacheSpecificData = nullptr;
  return E_NOTIMPL;
}
GLOBAL_NOTIFICATION_STATUS http_server_impl::NotifyCustomNotification(ICustomNotificationProvider*) {
  return GL_NOTIFICATION_CONTINUE;
}
IHttpPerfCounterInfo* http_server_impl::GetPerfCounterInfo() { return nullptr; }
VOID http_server_impl::RecycleApplication(PCWSTR) {}
VOID http_server_impl::NotifyConfigurationChange(PCWSTR) {}
VOID http_server_impl::NotifyFileChange(PCWSTR) {}
IDispensedHttpModuleContextContainer* http_server_impl::DispenseContainer() { return nullptr; }
HRESULT http_server_impl::AddFragmentToCache(HTTP_DATA_CHUNK*, PCWSTR) { return E_NOTIMPL; }
HRESULT http_server_impl::ReadFragmentFromCache(PCWSTR, BYTE*, DWORD, DWORD* pcbCopied) {
  if (pcbCopied != nullptr) *pcbCopied = 0;
  return E_NOTIMPL;
}
HRESULT http_server_impl::RemoveFragmentFromCache(PCWSTR) { return E_NOTIMPL; }
HRESULT http_server_impl::GetWorkerProcessSettings(IWpfSettings** ppWorkerProcessSettings) {
  if (ppWorkerProcessSettings != nullptr) *ppWorkerProcessSettings = nullptr;
  return E_NOTIMPL;
}
HRESULT http_server_impl::GetProtocolManagerCustomInterface(PCWSTR, PCWSTR, DWORD, PVOID* ppCustomInterface) {
  if (ppCustomInterface != nullptr) *ppCustomInterface = nullptr;
  return E_NOTIMPL;
}
BOOL http_server_impl::SatisfiesPrecondition(PCWSTR, BOOL* pfUnknownPrecondition) const {
  if (pfUnknownPrecondition != nullptr) *pfUnknownPrecondition = TRUE;
  return FALSE;
}
IHttpTraceContext* http_server_impl::GetTraceContext() const { return nullptr; }
HRESULT http_server_impl::RegisterFileChangeMonitor(PCWSTR, HANDLE, IHttpFileMonitor** ppFileMonitor) {
  if (ppFileMonitor != nullptr) *ppFileMonitor = nullptr;
  return E_NOTIMPL;
}
HRESULT http_server_impl::GetExtendedInterface(HTTP_SERVER_INTERFACE_VERSION, PVOID* ppInterface) {
  if (ppInterface != nullptr) *ppInterface = nullptr;
  return E_NOTIMPL;
}

void log_message(const pool_options& options, log_level level, std::string_view message) noexcept {
  if (!options.on_log) return;
  try {
    options.on_log(level, message);
  } catch (...) {
    // A hook that throws is ignored: logging never changes what the pool does.
  }
}

void handle_routine_exception(const pool_options& options, std::exception_ptr e) noexcept {
  if (options.on_log) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_format(options, log_level::error, "a completion routine let an exception escape: {}", ex.what());
    } catch (...) {
      log_message(options, log_level::error, "a completion routine let an exception of unknown type escape");
    }
  }
  if (options.on_exception) {
    options.on_exception(e);  // noexcept context: a throwing handler terminates
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "w3tp: a completion routine let an exception escape: %s\n", ex.what());
  } catch (...) {
    std::fprintf(stderr, "w3tp: a completion routine let an exception of unknown type escape\n");
  }
  std::fflush(stderr);
  std::terminate();
}

}  // namespace detail
}  // namespace w3tp
