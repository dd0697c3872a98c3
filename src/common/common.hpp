// SPDX-License-Identifier: MIT
// Pieces shared by every platform's pool: backend names and selection, the IHttpServer view, and
// the two thread-count hooks that each platform's pool implements.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "w3tp/w3tp.hpp"

namespace w3tp::detail {

/// The only way into a thread_pool's implementation (thread_pool::impl_ is private; this is its friend).
struct pool_access {
  static pool_impl& of(thread_pool& pool) noexcept { return *pool.impl_; }
};

/// Parses a backend name as W3TP_BACKEND spells it ("auto", "automatic", "io_uring", "epoll",
/// "iocp"); nullopt for anything else.
std::optional<backend> parse_backend(std::string_view name) noexcept;

/// The backend a pool should try first: `options.preferred`, or W3TP_BACKEND when that is
/// `automatic`. Throws std::system_error(EINVAL) for a W3TP_BACKEND value that names no backend.
backend requested_backend(const pool_options& options);

/// The IHttpServer that every pool embeds. Only the thread-pool methods have meaning outside IIS;
/// the others answer as httpserv.h documents.
class http_server_impl final : public IHttpServer {
 public:
  explicit http_server_impl(thread_pool& pool) noexcept : pool_(&pool) {}

  BOOL IsCommandLineLaunch() const override;
  PCWSTR GetAppPoolName() const override;
  HRESULT AssociateWithThreadPool(HANDLE hHandle, LPOVERLAPPED_COMPLETION_ROUTINE completionRoutine) override;
  VOID IncrementThreadCount() override;
  VOID DecrementThreadCount() override;
  VOID ReportUnhealthy(PCWSTR pszReasonString, HRESULT hrReason) override;
  VOID RecycleProcess(PCWSTR pszReason) override;
  IAppHostAdminManager* GetAdminManager() const override;
  HRESULT GetFileInfo(PCWSTR pszPhysicalPath, HANDLE hUserToken, PSID pSid, PCWSTR pszChangeNotificationPath,
                      HANDLE hChangeNotificationToken, BOOL fCache, IHttpFileInfo** ppFileInfo,
                      IHttpTraceContext* pHttpTraceContext) override;
  HRESULT FlushKernelCache(PCWSTR pszUrl) override;
  HRESULT DoCacheOperation(CACHE_OPERATION cacheOperation, IHttpCacheKey* pCacheKey,
                           IHttpCacheSpecificData** ppCacheSpecificData, IHttpTraceContext* pHttpTraceContext) override;
  GLOBAL_NOTIFICATION_STATUS NotifyCustomNotification(ICustomNotificationProvider* pCustomOutput) override;
  IHttpPerfCounterInfo* GetPerfCounterInfo() override;
  VOID RecycleApplication(PCWSTR pszAppConfigPath) override;
  VOID NotifyConfigurationChange(PCWSTR pszPath) override;
  VOID NotifyFileChange(PCWSTR pszFileName) override;
  IDispensedHttpModuleContextContainer* DispenseContainer() override;
  HRESULT AddFragmentToCache(HTTP_DATA_CHUNK* pDataChunk, PCWSTR pszFragmentName) override;
  HRESULT ReadFragmentFromCache(PCWSTR pszFragmentName, BYTE* pvBuffer, DWORD cbSize, DWORD* pcbCopied) override;
  HRESULT RemoveFragmentFromCache(PCWSTR pszFragmentName) override;
  HRESULT GetWorkerProcessSettings(IWpfSettings** ppWorkerProcessSettings) override;
  HRESULT GetProtocolManagerCustomInterface(PCWSTR pProtocolManagerDll, PCWSTR pProtocolManagerDllInitFunction,
                                            DWORD dwCustomInterfaceId, PVOID* ppCustomInterface) override;
  BOOL SatisfiesPrecondition(PCWSTR pszPrecondition, BOOL* pfUnknownPrecondition) const override;
  IHttpTraceContext* GetTraceContext() const override;
  HRESULT RegisterFileChangeMonitor(PCWSTR pszPath, HANDLE hToken, IHttpFileMonitor** ppFileMonitor) override;
  HRESULT GetExtendedInterface(HTTP_SERVER_INTERFACE_VERSION version, PVOID* ppInterface) override;

  ~http_server_impl() = default;

 private:
  thread_pool* pool_;
};

// Implemented by each platform's pool: IIS's IncrementThreadCount / DecrementThreadCount.
void increment_thread_count(thread_pool& pool) noexcept;

/// Sends a message to pool_options::on_log, if set; never throws (a throwing hook is ignored).
void log_message(const pool_options& options, log_level level, std::string_view message) noexcept;

/// As log_message, formatting the message with fmt only when there is a hook to hear it.
template <class... Args>
void log_format(const pool_options& options, log_level level, fmt::format_string<Args...> format,
                Args&&... args) noexcept {
  if (!options.on_log) return;
  try {
    log_message(options, level, fmt::format(format, std::forward<Args>(args)...));
  } catch (...) {
    // Out of memory for the message: it is dropped, the pool goes on.
  }
}

/// The pool's exception policy for a routine (or executor task) that let `e` escape: the user's
/// pool_options::on_exception if set, else print it and std::terminate, as IIS ends a worker process.
void handle_routine_exception(const pool_options& options, std::exception_ptr e) noexcept;
void decrement_thread_count(thread_pool& pool) noexcept;

/// True for a pool that a parent process made, seen in a child of fork() (POSIX; always false on
/// Windows): it refuses every call, and default_pool() replaces it.
bool stale_after_fork(thread_pool& pool) noexcept;

}  // namespace w3tp::detail
