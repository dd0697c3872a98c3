// SPDX-License-Identifier: MIT
/// @file w3tp/httpserv.h
/// <w3tp/win32.h> plus IIS's global utility interface `IHttpServer`, declared with every method of
/// IIS's httpserv.h in IIS's order and with IIS's signatures, so that the vtable matches and module
/// code written against IIS compiles unchanged. `::IHttpServer` is an alias of w3tp::IHttpServer.
///
/// Only the thread-pool methods have meaning outside IIS. What the others answer is fixed and
/// documented on each one; the types they name are declared here as opaque classes and enums.
#ifndef W3TP_HTTPSERV_H
#define W3TP_HTTPSERV_H

#include "w3tp/export.h"
#include "w3tp/win32.h"

#ifndef _WIN32
/// A security identifier; opaque outside Windows.
typedef void* PSID;
#endif

namespace w3tp {

// The IIS types that IHttpServer's other methods name. They are opaque: w3tp never creates one.
class IAppHostAdminManager;
class IHttpFileInfo;
class IHttpCacheKey;
class IHttpCacheSpecificData;
class IHttpTraceContext;
class ICustomNotificationProvider;
class IHttpPerfCounterInfo;
class IDispensedHttpModuleContextContainer;
class IWpfSettings;
class IHttpFileMonitor;
struct HTTP_DATA_CHUNK;

/// IIS's cache operations (httpserv.h values).
enum CACHE_OPERATION {
  CACHE_OPERATION_RETRIEVE,
  CACHE_OPERATION_ADD,
  CACHE_OPERATION_DELETE,
  CACHE_OPERATION_FLUSH_PREFIX,
  CACHE_OPERATION_ENUM
};

/// IIS's global notification status (httpserv.h values).
enum GLOBAL_NOTIFICATION_STATUS { GL_NOTIFICATION_CONTINUE, GL_NOTIFICATION_HANDLED };

/// IIS's extended interface versions (httpserv.h values).
enum HTTP_SERVER_INTERFACE_VERSION { HTTP_SERVER_INTERFACE_V2 };

/// IIS's IHttpServer, as w3tp serves it. Obtain one with `w3tp::http_server(pool)`.
///
/// The real methods are AssociateWithThreadPool, IncrementThreadCount and DecrementThreadCount
/// (and the two trivial queries before them). The others have no meaning outside IIS: methods
/// returning HRESULT give E_NOTIMPL (and set their out-pointers to NULL), methods returning
/// pointers give NULL, VOID methods do nothing, SatisfiesPrecondition gives FALSE (and reports
/// the precondition as unknown), NotifyCustomNotification gives GL_NOTIFICATION_CONTINUE.
class IHttpServer {
 public:
  /// FALSE: w3tp is never the IIS command-line host.
  virtual BOOL IsCommandLineLaunch() const = 0;
  /// The pool's name, L"w3tp".
  virtual PCWSTR GetAppPoolName() const = 0;
  /// Binds an overlapped handle to the pool; see API.md, behaviour 1.
  virtual HRESULT AssociateWithThreadPool(HANDLE hHandle, LPOVERLAPPED_COMPLETION_ROUTINE completionRoutine) = 0;
  /// One more pool thread, for a routine about to block (never past max_threads).
  virtual VOID IncrementThreadCount() = 0;
  /// One pool thread fewer (never below the pool's base thread count).
  virtual VOID DecrementThreadCount() = 0;
  /// Does nothing outside IIS.
  virtual VOID ReportUnhealthy(PCWSTR pszReasonString, HRESULT hrReason) = 0;
  /// Does nothing outside IIS (w3tp never recycles the process).
  virtual VOID RecycleProcess(PCWSTR pszReason) = 0;
  /// NULL.
  virtual IAppHostAdminManager* GetAdminManager() const = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetFileInfo(PCWSTR pszPhysicalPath, HANDLE hUserToken, PSID pSid, PCWSTR pszChangeNotificationPath,
                              HANDLE hChangeNotificationToken, BOOL fCache, IHttpFileInfo** ppFileInfo,
                              IHttpTraceContext* pHttpTraceContext = nullptr) = 0;
  /// E_NOTIMPL.
  virtual HRESULT FlushKernelCache(PCWSTR pszUrl) = 0;
  /// E_NOTIMPL.
  virtual HRESULT DoCacheOperation(CACHE_OPERATION cacheOperation, IHttpCacheKey* pCacheKey,
                                   IHttpCacheSpecificData** ppCacheSpecificData,
                                   IHttpTraceContext* pHttpTraceContext = nullptr) = 0;
  /// GL_NOTIFICATION_CONTINUE.
  virtual GLOBAL_NOTIFICATION_STATUS NotifyCustomNotification(ICustomNotificationProvider* pCustomOutput) = 0;
  /// NULL.
  virtual IHttpPerfCounterInfo* GetPerfCounterInfo() = 0;
  /// Does nothing outside IIS.
  virtual VOID RecycleApplication(PCWSTR pszAppConfigPath) = 0;
  /// Does nothing outside IIS.
  virtual VOID NotifyConfigurationChange(PCWSTR pszPath) = 0;
  /// Does nothing outside IIS.
  virtual VOID NotifyFileChange(PCWSTR pszFileName) = 0;
  /// NULL.
  virtual IDispensedHttpModuleContextContainer* DispenseContainer() = 0;
  /// E_NOTIMPL.
  virtual HRESULT AddFragmentToCache(HTTP_DATA_CHUNK* pDataChunk, PCWSTR pszFragmentName) = 0;
  /// E_NOTIMPL (and *pcbCopied = 0).
  virtual HRESULT ReadFragmentFromCache(PCWSTR pszFragmentName, BYTE* pvBuffer, DWORD cbSize, DWORD* pcbCopied) = 0;
  /// E_NOTIMPL.
  virtual HRESULT RemoveFragmentFromCache(PCWSTR pszFragmentName) = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetWorkerProcessSettings(IWpfSettings** ppWorkerProcessSettings) = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetProtocolManagerCustomInterface(PCWSTR pProtocolManagerDll, PCWSTR pProtocolManagerDllInitFunction,
                                                    DWORD dwCustomInterfaceId, PVOID* ppCustomInterface) = 0;
  /// FALSE, with *pfUnknownPrecondition = TRUE: w3tp knows no IIS preconditions.
  virtual BOOL SatisfiesPrecondition(PCWSTR pszPrecondition, BOOL* pfUnknownPrecondition = nullptr) const = 0;
  /// NULL.
  virtual IHttpTraceContext* GetTraceContext() const = 0;
  /// E_NOTIMPL.
  virtual HRESULT RegisterFileChangeMonitor(PCWSTR pszPath, HANDLE hToken, IHttpFileMonitor** ppFileMonitor) = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetExtendedInterface(HTTP_SERVER_INTERFACE_VERSION version, PVOID* ppInterface) = 0;

 protected:
  ~IHttpServer() = default;
};

}  // namespace w3tp

/// IIS's IHttpServer in the global namespace, where IIS module code names it.
using IHttpServer = w3tp::IHttpServer;
using w3tp::CACHE_OPERATION;
using w3tp::CACHE_OPERATION_ADD;
using w3tp::CACHE_OPERATION_DELETE;
using w3tp::CACHE_OPERATION_ENUM;
using w3tp::CACHE_OPERATION_FLUSH_PREFIX;
using w3tp::CACHE_OPERATION_RETRIEVE;
using w3tp::GL_NOTIFICATION_CONTINUE;
using w3tp::GL_NOTIFICATION_HANDLED;
using w3tp::GLOBAL_NOTIFICATION_STATUS;
using w3tp::HTTP_DATA_CHUNK;
using w3tp::HTTP_SERVER_INTERFACE_V2;
using w3tp::HTTP_SERVER_INTERFACE_VERSION;
using w3tp::IAppHostAdminManager;
using w3tp::ICustomNotificationProvider;
using w3tp::IDispensedHttpModuleContextContainer;
using w3tp::IHttpCacheKey;
using w3tp::IHttpCacheSpecificData;
using w3tp::IHttpFileInfo;
using w3tp::IHttpFileMonitor;
using w3tp::IHttpPerfCounterInfo;
using w3tp::IHttpTraceContext;
using w3tp::IWpfSettings;

#endif  // W3TP_HTTPSERV_H
