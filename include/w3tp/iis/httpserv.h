// SPDX-License-Identifier: MIT
/// @file httpserv.h
/// IIS's native-module interfaces for modules built on Linux against the `w3tp::iis` target and run by
/// `w3tp-iishost`. Every interface a request-level module uses is declared with the methods of IIS's
/// httpserv.h in the SDK's declaration order and with its signatures (a vtable slot is an ABI between
/// the host and a module), in the global namespace where module code names them. `IHttpServer` is
/// w3tp's own (<w3tp/httpserv.h>): AssociateWithThreadPool binds handles to the host's pool.
///
/// What the host answers for the methods that have no meaning here (E_NOTIMPL, NULL, FALSE) is listed
/// in docs/iis.md; types only named by such methods are declared as opaque classes.
#ifndef W3TP_IIS_HTTPSERV_H
#define W3TP_IIS_HTTPSERV_H

#include <sys/socket.h>

#include <http.h>
#include <sal.h>
#include <windows.h>

#include "w3tp/httpserv.h"

// ---------------------------------------------------------------------------------------------
// Constants

/// What a notification method tells the pipeline.
enum REQUEST_NOTIFICATION_STATUS {
  RQ_NOTIFICATION_CONTINUE,       ///< go on with the next module and notification
  RQ_NOTIFICATION_PENDING,        ///< the module finishes asynchronously (IndicateCompletion/PostCompletion)
  RQ_NOTIFICATION_FINISH_REQUEST  ///< skip to the end of the request
};

// Deterministic request notifications, in pipeline order.
#define RQ_BEGIN_REQUEST 0x00000001
#define RQ_AUTHENTICATE_REQUEST 0x00000002
#define RQ_AUTHORIZE_REQUEST 0x00000004
#define RQ_RESOLVE_REQUEST_CACHE 0x00000008
#define RQ_MAP_REQUEST_HANDLER 0x00000010
#define RQ_ACQUIRE_REQUEST_STATE 0x00000020
#define RQ_PRE_EXECUTE_REQUEST_HANDLER 0x00000040
#define RQ_EXECUTE_REQUEST_HANDLER 0x00000080
#define RQ_RELEASE_REQUEST_STATE 0x00000100
#define RQ_UPDATE_REQUEST_CACHE 0x00000200
#define RQ_LOG_REQUEST 0x00000400
#define RQ_END_REQUEST 0x00000800
// Non-deterministic request notifications.
#define RQ_CUSTOM_NOTIFICATION 0x10000000
#define RQ_SEND_RESPONSE 0x20000000
#define RQ_READ_ENTITY 0x40000000
#define RQ_MAP_PATH 0x80000000

// Global notifications (SetGlobalNotifications; the host serves none of them, docs/iis.md).
#define GL_STOP_LISTENING 0x00000002
#define GL_CACHE_CLEANUP 0x00000004
#define GL_CACHE_OPERATION 0x00000010
#define GL_HEALTH_CHECK 0x00000020
#define GL_CONFIGURATION_CHANGE 0x00000040
#define GL_FILE_CHANGE 0x00000080
#define GL_PRE_BEGIN_REQUEST 0x00000100
#define GL_APPLICATION_START 0x00000200
#define GL_TRACE_EVENT 0x00000400
#define GL_CUSTOM_NOTIFICATION 0x00000800
#define GL_THREAD_CLEANUP 0x00001000
#define GL_APPLICATION_RESOLVE_MODULES 0x00002000
#define GL_APPLICATION_STOP 0x00004000

// Priority aliases (SetPriorityForRequestNotification).
#define PRIORITY_ALIAS_FIRST L"FIRST"
#define PRIORITY_ALIAS_HIGH L"HIGH"
#define PRIORITY_ALIAS_MEDIUM L"MEDIUM"
#define PRIORITY_ALIAS_LOW L"LOW"
#define PRIORITY_ALIAS_LAST L"LAST"

// ISendResponseProvider flags (GetFlags/SetFlags), as HTTP_SEND_RESPONSE_FLAG_*.
#ifndef HTTP_SEND_RESPONSE_FLAG_DISCONNECT
#define HTTP_SEND_RESPONSE_FLAG_DISCONNECT 0x00000001
#define HTTP_SEND_RESPONSE_FLAG_MORE_DATA 0x00000002
#define HTTP_SEND_RESPONSE_FLAG_BUFFER_DATA 0x00000004
#endif

/// The server version RegisterModule receives (IIS 7 and later: 7).
#define HTTP_SERVER_VERSION_IIS7 7

/// A module's identity for the per-request and per-site context containers.
typedef VOID* HTTP_MODULE_ID;

/// IHttpContext::GetExtendedInterface's versions.
enum HTTP_CONTEXT_INTERFACE_VERSION { HTTP_CONTEXT_INTERFACE_V2, HTTP_CONTEXT_INTERFACE_V3 };

// ---------------------------------------------------------------------------------------------
// Types only named by methods that answer E_NOTIMPL or NULL here (docs/iis.md)

class IHttpUrlInfo;
class IMetadataInfo;
class IScriptMapInfo;
class IAppHostConfigException;
class IHttpCachePolicy;
class IHttpConnectionModuleContextContainer;
class CGlobalModule;
/// HTTP.sys's log record (ISendResponseProvider::GetLogData); opaque here.
typedef struct _HTTP_LOG_DATA HTTP_LOG_DATA, *PHTTP_LOG_DATA;

class CHttpModule;
class IHttpContext;
class IHttpUser;

// ---------------------------------------------------------------------------------------------
// Stored contexts and their containers

/// A module's data kept with a request, site or connection; cleaned up when that ends.
class IHttpStoredContext {
 public:
  /// Called once when the container that holds it goes.
  virtual VOID CleanupStoredContext(VOID) = 0;

 protected:
  // Virtual (after the SDK's methods, so their slots are unchanged): modules implement this interface and
  // `delete this`, which g++ and clang reject (-Wdelete-non-virtual-dtor) through a non-virtual one.
  virtual ~IHttpStoredContext() = default;
};

/// Holds one stored context per module.
class IHttpModuleContextContainer {
 public:
  /// The context this module stored, or NULL.
  virtual IHttpStoredContext* GetModuleContext(IN HTTP_MODULE_ID moduleId) = 0;
  /// Stores a context for this module; HRESULT_FROM_WIN32(ERROR_ALREADY_ASSIGNED) if one is there.
  virtual HRESULT SetModuleContext(IN IHttpStoredContext* ppStoredContext, IN HTTP_MODULE_ID moduleId) = 0;

 protected:
  ~IHttpModuleContextContainer() = default;
};

// ---------------------------------------------------------------------------------------------
// Providers: the second argument of each notification

/// Every notification's provider.
class IHttpEventProvider {
 public:
  /// Sets the error reported for this notification.
  virtual VOID SetErrorStatus(HRESULT hrError) = 0;

 protected:
  ~IHttpEventProvider() = default;
};

/// OnAuthenticateRequest's provider.
class IAuthenticationProvider : public IHttpEventProvider {
 public:
  /// Sets the request's user (the host references it and dereferences it at the request's end).
  virtual VOID SetUser(IN IHttpUser* pUser) = 0;

 protected:
  ~IAuthenticationProvider() = default;
};

/// OnSendResponse's provider.
class ISendResponseProvider : public IHttpEventProvider {
 public:
  /// TRUE while the status line and headers are about to be sent with this flush.
  virtual BOOL GetHeadersBeingSent(VOID) const = 0;
  /// HTTP_SEND_RESPONSE_FLAG_* of this flush.
  virtual DWORD GetFlags(VOID) const = 0;
  /// Replaces the flags of this flush.
  virtual VOID SetFlags(DWORD dwFlags) = 0;
  /// NULL (no HTTP.sys log data here).
  virtual HTTP_LOG_DATA* GetLogData(VOID) const = 0;
  /// E_NOTIMPL.
  virtual HRESULT SetLogData(IN HTTP_LOG_DATA* pLogData) = 0;
  /// FALSE.
  virtual BOOL GetReadyToLogData(VOID) const = 0;

 protected:
  ~ISendResponseProvider() = default;
};

/// OnMapRequestHandler's provider.
class IMapHandlerProvider : public IHttpEventProvider {
 public:
  /// Sets the script name of the request.
  virtual HRESULT SetScriptName(PCWSTR pszScriptName, DWORD cchScriptName) = 0;
  /// E_NOTIMPL.
  virtual VOID SetScriptMap(IN IScriptMapInfo* pScriptMap) = 0;
  /// Sets the physical file the request maps to.
  virtual VOID SetFileName(PCWSTR pszFileName, DWORD cchFileName) = 0;
  /// Does nothing.
  virtual VOID SetFileInfo(IN IHttpFileInfo* pFileInfo) = 0;

 protected:
  ~IMapHandlerProvider() = default;
};

/// OnReadEntity's provider.
class IReadEntityProvider : public IHttpEventProvider {
 public:
  /// The entity bytes just read.
  virtual VOID GetEntity(OUT PVOID* ppBuffer, OUT DWORD* pcbData, OUT DWORD* pcbBuf) = 0;
  /// Replaces them.
  virtual VOID SetEntity(IN PVOID pBuffer, DWORD cbData, DWORD cbBuf) = 0;

 protected:
  ~IReadEntityProvider() = default;
};

/// OnMapPath's provider.
class IMapPathProvider : public IHttpEventProvider {
 public:
  /// The URL being mapped.
  virtual PCWSTR GetUrl() const = 0;
  /// The physical path it maps to so far.
  virtual PCWSTR GetPhysicalPath() const = 0;
  /// Replaces that path.
  virtual HRESULT SetPhysicalPath(PCWSTR pszPhysicalPath, DWORD cchPhysicalPath) = 0;

 protected:
  ~IMapPathProvider() = default;
};

/// What OnAsyncCompletion receives: the bytes and status that PostCompletion (or the host's own
/// asynchronous operation) completed with.
class IHttpCompletionInfo {
 public:
  /// The byte count.
  virtual DWORD GetCompletionBytes(VOID) const = 0;
  /// The HRESULT.
  virtual HRESULT GetCompletionStatus(VOID) const = 0;

 protected:
  ~IHttpCompletionInfo() = default;
};

// ---------------------------------------------------------------------------------------------
// The request's objects

/// The authenticated user of a request (anonymous: an empty user name, as in IIS).
class IHttpUser {
 public:
  /// The name the client sent (REMOTE_USER).
  virtual PCWSTR GetRemoteUserName(VOID) = 0;
  /// The authenticated name; L"" for anonymous requests.
  virtual PCWSTR GetUserName(VOID) = 0;
  /// L"Basic", or L"" for anonymous requests.
  virtual PCWSTR GetAuthenticationType(VOID) = 0;
  /// The password (Basic), or L"".
  virtual PCWSTR GetPassword(VOID) = 0;
  /// NULL (no Windows tokens here).
  virtual HANDLE GetImpersonationToken(VOID) = 0;
  /// NULL.
  virtual HANDLE GetPrimaryToken(VOID) = 0;
  /// One more reference.
  virtual VOID ReferenceUser(VOID) = 0;
  /// One fewer; the last deletes the user.
  virtual VOID DereferenceUser(VOID) = 0;
  /// FALSE.
  virtual BOOL SupportsIsInRole(VOID) = 0;
  /// E_NOTIMPL.
  virtual HRESULT IsInRole(IN PCWSTR pszRoleName, OUT BOOL* pfInRole) = 0;
  /// NULL.
  virtual PVOID GetUserVariable(IN PCSTR pszVariableName) = 0;

 protected:
  // Virtual (after the SDK's methods, so their slots are unchanged): modules implement this interface and
  // `delete this`, which g++ and clang reject (-Wdelete-non-virtual-dtor) through a non-virtual one.
  virtual ~IHttpUser() = default;
};

/// The site that serves a request.
class IHttpSite {
 public:
  /// The site's id (configuration `id`; 1 for /path: sites).
  virtual DWORD GetSiteId(VOID) const = 0;
  /// The site's name.
  virtual PCWSTR GetSiteName(VOID) const = 0;
  /// The modules' per-site contexts.
  virtual IHttpModuleContextContainer* GetModuleContextContainer(VOID) = 0;
  /// NULL.
  virtual IHttpPerfCounterInfo* GetPerfCounterInfo(VOID) = 0;

 protected:
  ~IHttpSite() = default;
};

/// The application (the site's root application) that serves a request.
class IHttpApplication {
 public:
  /// The application's physical path.
  virtual PCWSTR GetApplicationPhysicalPath(VOID) const = 0;
  /// Its id, L"/LM/W3SVC/<site id>/ROOT".
  virtual PCWSTR GetApplicationId(VOID) const = 0;
  /// Its configuration path, L"MACHINE/WEBROOT/APPHOST/<site name>".
  virtual PCWSTR GetAppConfigPath(VOID) const = 0;
  /// The modules' per-application contexts.
  virtual IHttpModuleContextContainer* GetModuleContextContainer(VOID) = 0;

 protected:
  ~IHttpApplication() = default;
};

/// The client connection a request came on.
class IHttpConnection {
 public:
  /// FALSE once the client has gone.
  virtual BOOL IsConnected(VOID) const = 0;
  /// Memory that lives as long as the connection.
  virtual VOID* AllocateMemory(DWORD cbAllocation) = 0;
  /// The modules' per-connection contexts.
  virtual IHttpConnectionModuleContextContainer* GetModuleContextContainer(VOID) = 0;

 protected:
  ~IHttpConnection() = default;
};

/// The request as the pipeline sees it (headers and URL may be changed by modules).
class IHttpRequest {
 public:
  /// The request in HTTP.sys's layout.
  virtual HTTP_REQUEST* GetRawHttpRequest(VOID) = 0;
  /// The same, read only.
  virtual const HTTP_REQUEST* GetRawHttpRequest(VOID) const = 0;
  /// A header's value by name (NULL if absent), its length in *pcchHeaderValue.
  virtual PCSTR GetHeader(IN PCSTR pszHeaderName, OUT USHORT* pcchHeaderValue = NULL) const = 0;
  /// A known header's value by id.
  virtual PCSTR GetHeader(IN HTTP_HEADER_ID ulHeaderIndex, OUT USHORT* pcchHeaderValue = NULL) const = 0;
  /// Sets or appends a header by name.
  virtual HRESULT SetHeader(IN PCSTR pszHeaderName, IN PCSTR pszHeaderValue, IN USHORT cchHeaderValue,
                            IN BOOL fReplace) = 0;
  /// Sets or appends a known header by id.
  virtual HRESULT SetHeader(IN HTTP_HEADER_ID ulHeaderIndex, IN PCSTR pszHeaderValue, IN USHORT cchHeaderValue,
                            IN BOOL fReplace) = 0;
  /// Removes a header by name.
  virtual HRESULT DeleteHeader(IN PCSTR pszHeaderName) = 0;
  /// Removes a known header by id.
  virtual HRESULT DeleteHeader(IN HTTP_HEADER_ID ulHeaderIndex) = 0;
  /// The verb, e.g. "GET".
  virtual PCSTR GetHttpMethod(VOID) const = 0;
  /// Replaces the verb.
  virtual HRESULT SetHttpMethod(IN PCSTR pszHttpMethod) = 0;
  /// Rewrites the URL (wide).
  virtual HRESULT SetUrl(IN PCWSTR pszUrl, IN DWORD cchUrl, IN BOOL fResetQueryString) = 0;
  /// Rewrites the URL.
  virtual HRESULT SetUrl(IN PCSTR pszUrl, IN DWORD cchUrl, IN BOOL fResetQueryString) = 0;
  /// TRUE once SetUrl changed it.
  virtual BOOL GetUrlChanged(VOID) const = 0;
  /// The URL before any rewrite.
  virtual PCWSTR GetForwardedUrl(VOID) const = 0;
  /// The server's address of the connection.
  virtual PSOCKADDR GetLocalAddress(VOID) const = 0;
  /// The client's address.
  virtual PSOCKADDR GetRemoteAddress(VOID) const = 0;
  /// Reads request entity bytes (synchronously here: *pfCompletionPending is FALSE).
  virtual HRESULT ReadEntityBody(OUT VOID* pvBuffer, IN DWORD cbBuffer, IN BOOL fAsync, OUT DWORD* pcbBytesReceived,
                                 OUT BOOL* pfCompletionPending = NULL) = 0;
  /// Puts entity bytes back in front of what is still unread.
  virtual HRESULT InsertEntityBody(IN VOID* pvBuffer, IN DWORD cbBuffer) = 0;
  /// Entity bytes not read yet.
  virtual DWORD GetRemainingEntityBytes(VOID) = 0;
  /// The request's HTTP version.
  virtual VOID GetHttpVersion(OUT USHORT* pMajorVersion, OUT USHORT* pMinorVersion) const = 0;
  /// E_NOTIMPL (no TLS here).
  virtual HRESULT GetClientCertificate(OUT HTTP_SSL_CLIENT_CERT_INFO** ppClientCertInfo,
                                       OUT BOOL* pfClientCertNegotiated) = 0;
  /// E_NOTIMPL.
  virtual HRESULT NegotiateClientCertificate(IN BOOL fAsync, OUT BOOL* pfCompletionPending = NULL) = 0;
  /// The site's id.
  virtual DWORD GetSiteId(VOID) const = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetHeaderChanges(IN DWORD dwOldChangeNumber, OUT DWORD* pdwNewChangeNumber,
                                   IN OUT PCSTR knownHeaderSnapshot[HttpHeaderRequestMaximum],
                                   IN OUT DWORD* pdwUnknownHeaderSnapshot, IN OUT PCSTR** ppUnknownHeaderNameSnapshot,
                                   IN OUT PCSTR** ppUnknownHeaderValueSnapshot,
                                   OUT DWORD diffedKnownHeaderIndices[HttpHeaderRequestMaximum + 1],
                                   OUT DWORD* pdwDiffedUnknownHeaders, OUT DWORD** ppDiffedUnknownHeaderIndices) = 0;

 protected:
  ~IHttpRequest() = default;
};

/// The response being built; sent by Flush or at the end of the request.
class IHttpResponse {
 public:
  /// The response in HTTP.sys's layout.
  virtual HTTP_RESPONSE* GetRawHttpResponse(VOID) = 0;
  /// The same, read only.
  virtual const HTTP_RESPONSE* GetRawHttpResponse(VOID) const = 0;
  /// NULL (no output cache here).
  virtual IHttpCachePolicy* GetCachePolicy(VOID) = 0;
  /// Sets the status line (the reason is copied).
  virtual HRESULT SetStatus(IN USHORT statusCode, IN PCSTR pszReason, IN USHORT uSubStatus = 0,
                            IN HRESULT hrErrorToReport = S_OK, IN IAppHostConfigException* pException = NULL,
                            IN BOOL fTrySkipCustomErrors = FALSE) = 0;
  /// Sets or appends a header by name.
  virtual HRESULT SetHeader(IN PCSTR pszHeaderName, IN PCSTR pszHeaderValue, IN USHORT cchHeaderValue,
                            IN BOOL fReplace) = 0;
  /// Sets or appends a known header by id.
  virtual HRESULT SetHeader(IN HTTP_HEADER_ID ulHeaderIndex, IN PCSTR pszHeaderValue, IN USHORT cchHeaderValue,
                            IN BOOL fReplace) = 0;
  /// Removes a header by name.
  virtual HRESULT DeleteHeader(IN PCSTR pszHeaderName) = 0;
  /// Removes a known header by id.
  virtual HRESULT DeleteHeader(IN HTTP_HEADER_ID ulHeaderIndex) = 0;
  /// A header's value by name (NULL if absent).
  virtual PCSTR GetHeader(IN PCSTR pszHeaderName, OUT USHORT* pcchHeaderValue = NULL) const = 0;
  /// A known header's value by id.
  virtual PCSTR GetHeader(IN HTTP_HEADER_ID ulHeaderIndex, OUT USHORT* pcchHeaderValue = NULL) const = 0;
  /// Drops the entity body written so far.
  virtual VOID Clear(VOID) = 0;
  /// Drops the headers set so far.
  virtual VOID ClearHeaders(VOID) = 0;
  /// Closes the connection after this response.
  virtual VOID SetNeedDisconnect(VOID) = 0;
  /// Resets the connection instead of sending the response.
  virtual VOID ResetConnection(VOID) = 0;
  /// Does nothing (no kernel cache here).
  virtual VOID DisableKernelCache(ULONG reason = 9) = 0;
  /// FALSE.
  virtual BOOL GetKernelCacheEnabled(VOID) const = 0;
  /// Sends no status line or headers.
  virtual VOID SuppressHeaders(VOID) = 0;
  /// TRUE after SuppressHeaders.
  virtual BOOL GetHeadersSuppressed(VOID) const = 0;
  /// Sends what is buffered (synchronously here: *pfCompletionExpected is FALSE).
  virtual HRESULT Flush(IN BOOL fAsync, IN BOOL fMoreData, OUT DWORD* pcbSent,
                        OUT BOOL* pfCompletionExpected = NULL) = 0;
  /// A 302 to pszUrl.
  virtual HRESULT Redirect(IN PCSTR pszUrl, IN BOOL fResetStatusCode = TRUE, IN BOOL fIncludeParameters = FALSE) = 0;
  /// Appends (or inserts at lInsertPosition) one chunk; memory chunks must stay valid until sent.
  virtual HRESULT WriteEntityChunkByReference(IN HTTP_DATA_CHUNK* pDataChunk, IN LONG lInsertPosition = -1) = 0;
  /// Appends chunks (memory chunks are copied); sends them at once unless fMoreData says more follows.
  virtual HRESULT WriteEntityChunks(IN HTTP_DATA_CHUNK* pDataChunks, IN DWORD nChunks, IN BOOL fAsync,
                                    IN BOOL fMoreData, OUT DWORD* pcbSent, OUT BOOL* pfCompletionExpected = NULL) = 0;
  /// Sends each write as it comes.
  virtual VOID DisableBuffering(VOID) = 0;
  /// The status set so far.
  virtual VOID GetStatus(OUT USHORT* pStatusCode, OUT USHORT* pSubStatus = NULL, OUT PCSTR* ppszReason = NULL,
                         OUT USHORT* pcchReason = NULL, OUT HRESULT* phrErrorToReport = NULL,
                         OUT PCWSTR* ppszModule = NULL, OUT DWORD* pdwNotification = NULL,
                         OUT IAppHostConfigException** ppException = NULL, OUT BOOL* pfTrySkipCustomErrors = NULL) = 0;
  /// Sets the description of a custom error.
  virtual HRESULT SetErrorDescription(IN PCWSTR pszDescription, IN DWORD cchDescription,
                                      IN BOOL fHtmlEncode = TRUE) = 0;
  /// That description.
  virtual PCWSTR GetErrorDescription(OUT DWORD* pcchDescription = NULL) = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetHeaderChanges(IN DWORD dwOldChangeNumber, OUT DWORD* pdwNewChangeNumber,
                                   IN OUT PCSTR knownHeaderSnapshot[HttpHeaderResponseMaximum],
                                   IN OUT DWORD* pdwUnknownHeaderSnapshot, IN OUT PCSTR** ppUnknownHeaderNameSnapshot,
                                   IN OUT PCSTR** ppUnknownHeaderValueSnapshot,
                                   OUT DWORD diffedKnownHeaderIndices[HttpHeaderResponseMaximum + 1],
                                   OUT DWORD* pdwDiffedUnknownHeaders, OUT DWORD** ppDiffedUnknownHeaderIndices) = 0;
  /// Closes the connection after this response.
  virtual VOID CloseConnection(VOID) = 0;

 protected:
  ~IHttpResponse() = default;
};

/// One request's context: what every notification receives.
class IHttpContext {
 public:
  /// The site.
  virtual IHttpSite* GetSite(VOID) = 0;
  /// The application.
  virtual IHttpApplication* GetApplication(VOID) = 0;
  /// The connection.
  virtual IHttpConnection* GetConnection(VOID) = 0;
  /// The request.
  virtual IHttpRequest* GetRequest(VOID) = 0;
  /// The response.
  virtual IHttpResponse* GetResponse(VOID) = 0;
  /// TRUE once the status line and headers went to the client.
  virtual BOOL GetResponseHeadersSent(VOID) const = 0;
  /// The request's user (anonymous: user name L""), or NULL before authentication.
  virtual IHttpUser* GetUser(VOID) const = 0;
  /// The modules' per-request contexts.
  virtual IHttpModuleContextContainer* GetModuleContextContainer(VOID) = 0;
  /// Resumes a request whose notification returned RQ_NOTIFICATION_PENDING, on the calling thread.
  virtual VOID IndicateCompletion(IN REQUEST_NOTIFICATION_STATUS notificationStatus) = 0;
  /// Resumes it on a pool thread through the module's OnAsyncCompletion (cbBytes, S_OK).
  virtual HRESULT PostCompletion(IN DWORD cbBytes) = 0;
  /// Stops the calling module's later notifications for this request.
  virtual VOID DisableNotifications(IN DWORD dwNotifications, IN DWORD dwPostNotifications) = 0;
  /// FALSE (no in-notification iteration here).
  virtual BOOL GetNextNotification(IN REQUEST_NOTIFICATION_STATUS status, OUT DWORD* pdwNotification,
                                   OUT BOOL* pfIsPostNotification, OUT CHttpModule** ppModuleInfo,
                                   OUT IHttpEventProvider** ppRequestOutput) = 0;
  /// TRUE while the current notification is the request's last one.
  virtual BOOL GetIsLastNotification(IN REQUEST_NOTIFICATION_STATUS status) = 0;
  /// E_NOTIMPL (no child requests).
  virtual HRESULT ExecuteRequest(IN BOOL fAsync, IN IHttpContext* pHttpContext, IN DWORD dwExecuteFlags,
                                 IN IHttpUser* pHttpUser, OUT BOOL* pfCompletionExpected = NULL) = 0;
  /// 0.
  virtual DWORD GetExecuteFlags(VOID) const = 0;
  /// A server variable as a wide string.
  virtual HRESULT GetServerVariable(PCSTR pszVariableName, __deref_out_ecount(*pcchValueLength) PCWSTR* ppszValue,
                                    OUT DWORD* pcchValueLength) = 0;
  /// A server variable.
  virtual HRESULT GetServerVariable(PCSTR pszVariableName, __deref_out_ecount(*pcchValueLength) PCSTR* ppszValue,
                                    OUT DWORD* pcchValueLength) = 0;
  /// Sets a server variable for this request.
  virtual HRESULT SetServerVariable(PCSTR pszVariableName, PCWSTR pszVariableValue) = 0;
  /// Memory that lives as long as the request (freed at its end, after every Dispose).
  virtual VOID* AllocateRequestMemory(IN DWORD cbAllocation) = 0;
  /// NULL.
  virtual IHttpUrlInfo* GetUrlInfo(VOID) = 0;
  /// NULL.
  virtual IMetadataInfo* GetMetadata(VOID) = 0;
  /// The physical path the URL maps to.
  virtual PCWSTR GetPhysicalPath(OUT DWORD* pcchPhysicalPath = NULL) = 0;
  /// The URL's path.
  virtual PCWSTR GetScriptName(OUT DWORD* pcchScriptName = NULL) const = 0;
  /// As GetPhysicalPath.
  virtual PCWSTR GetScriptTranslated(OUT DWORD* pcchScriptTranslated = NULL) = 0;
  /// NULL.
  virtual IScriptMapInfo* GetScriptMap(VOID) const = 0;
  /// Marks the request as handled.
  virtual VOID SetRequestHandled(VOID) = 0;
  /// NULL.
  virtual IHttpFileInfo* GetFileInfo(VOID) const = 0;
  /// Maps a URL to a physical path under the site's root; *pcbPhysicalPath is in bytes (with the
  /// terminating NUL), HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) with the size needed when too small.
  virtual HRESULT MapPath(PCWSTR pszUrl, __inout_bcount(*pcbPhysicalPath) PWSTR pszPhysicalPath,
                          IN OUT DWORD* pcbPhysicalPath) = 0;
  /// E_NOTIMPL.
  virtual HRESULT NotifyCustomNotification(ICustomNotificationProvider* pCustomOutput,
                                           OUT BOOL* pfCompletionExpected) = 0;
  /// NULL.
  virtual IHttpContext* GetParentContext(VOID) const = 0;
  /// This context.
  virtual IHttpContext* GetRootContext(VOID) const = 0;
  /// E_NOTIMPL.
  virtual HRESULT CloneContext(IN DWORD dwCloneFlags, OUT IHttpContext** ppHttpContext) = 0;
  /// E_NOTIMPL.
  virtual HRESULT ReleaseClonedContext(VOID) = 0;
  /// The current notification (*pdwNotification); the other outputs are 0 or NULL.
  virtual HRESULT GetCurrentExecutionStats(OUT DWORD* pdwNotification, OUT DWORD* pdwNotificationStartTickCount = NULL,
                                           OUT PCWSTR* ppszModule = NULL, OUT DWORD* pdwModuleStartTickCount = NULL,
                                           OUT DWORD* pdwAsyncNotification = NULL,
                                           OUT DWORD* pdwAsyncNotificationStartTickCount = NULL) const = 0;
  /// NULL.
  virtual IHttpTraceContext* GetTraceContext(VOID) const = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetServerVarChanges(IN DWORD dwOldChangeNumber, OUT DWORD* pdwNewChangeNumber,
                                      IN OUT DWORD* pdwVariableSnapshot, IN OUT PCSTR** ppVariableNameSnapshot,
                                      IN OUT PCWSTR** ppVariableValueSnapshot, OUT DWORD* pdwDiffedVariables,
                                      OUT DWORD** ppDiffedVariableIndices) = 0;
  /// E_NOTIMPL.
  virtual HRESULT CancelIo(VOID) = 0;
  /// E_NOTIMPL.
  virtual HRESULT MapHandler(IN DWORD dwSiteId, IN PCWSTR pszSiteName, IN PCWSTR pszUrl, IN PCSTR pszVerb,
                             OUT IScriptMapInfo** ppScriptMap, IN BOOL fIgnoreWildcardMappings = FALSE) = 0;
  /// E_NOTIMPL.
  virtual HRESULT GetExtendedInterface(IN HTTP_CONTEXT_INTERFACE_VERSION version, OUT PVOID* ppInterface) = 0;

 protected:
  ~IHttpContext() = default;
};

// ---------------------------------------------------------------------------------------------
// Modules

/// A request-level module: one instance per request, from its factory. Each notification method
/// returns RQ_NOTIFICATION_CONTINUE unless overridden; the host calls only those registered with
/// SetRequestNotifications. Dispose is called once, when the request ends.
class CHttpModule {
 public:
  virtual REQUEST_NOTIFICATION_STATUS OnBeginRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostBeginRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnAuthenticateRequest(IN IHttpContext*, IN IAuthenticationProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostAuthenticateRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnAuthorizeRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostAuthorizeRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnResolveRequestCache(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostResolveRequestCache(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnMapRequestHandler(IN IHttpContext*, IN IMapHandlerProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostMapRequestHandler(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnAcquireRequestState(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostAcquireRequestState(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPreExecuteRequestHandler(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostPreExecuteRequestHandler(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostExecuteRequestHandler(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnReleaseRequestState(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostReleaseRequestState(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnUpdateRequestCache(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostUpdateRequestCache(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnLogRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostLogRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnEndRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnPostEndRequest(IN IHttpContext*, IN IHttpEventProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnSendResponse(IN IHttpContext*, IN ISendResponseProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnReadEntity(IN IHttpContext*, IN IReadEntityProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnMapPath(IN IHttpContext*, IN IMapPathProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnCustomRequestNotification(IN IHttpContext*, IN ICustomNotificationProvider*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  virtual REQUEST_NOTIFICATION_STATUS OnAsyncCompletion(IN IHttpContext*, IN DWORD /*dwNotification*/,
                                                        IN BOOL /*fPostNotification*/, IN IHttpEventProvider*,
                                                        IN IHttpCompletionInfo*) {
    return RQ_NOTIFICATION_CONTINUE;
  }
  /// Called once at the request's end; the default deletes the module (one from `new`).
  virtual VOID Dispose(VOID) { delete this; }

 protected:
  CHttpModule() = default;
  virtual ~CHttpModule() = default;
};

/// Memory for a module instance that lives as long as its request.
class IModuleAllocator {
 public:
  /// cbAllocation bytes, or NULL; freed by the host after the request's Dispose calls.
  virtual VOID* AllocateMemory(IN DWORD cbAllocation) = 0;

 protected:
  ~IModuleAllocator() = default;
};

/// Makes a module's per-request instances.
class IHttpModuleFactory {
 public:
  /// A new instance for one request (S_OK), or a failure that ends the request with 500.
  virtual HRESULT GetHttpModule(OUT CHttpModule** ppModule, IN IModuleAllocator* pAllocator) = 0;
  /// Called once when the host stops.
  virtual VOID Terminate(VOID) = 0;

 protected:
  // Virtual (after the SDK's methods, so their slots are unchanged): modules implement this interface and
  // `delete this`, which g++ and clang reject (-Wdelete-non-virtual-dtor) through a non-virtual one.
  virtual ~IHttpModuleFactory() = default;
};

/// What RegisterModule receives to register its notifications.
class IHttpModuleRegistrationInfo {
 public:
  /// The module's name (`globalModules/add name`).
  virtual PCWSTR GetName(VOID) const = 0;
  /// The module's id (for the context containers).
  virtual HTTP_MODULE_ID GetId(VOID) const = 0;
  /// The factory and the notifications (RQ_*) and post-notifications it handles.
  virtual HRESULT SetRequestNotifications(IN IHttpModuleFactory* pModuleFactory, IN DWORD dwRequestNotifications,
                                          IN DWORD dwPostRequestNotifications) = 0;
  /// E_NOTIMPL (no global notifications here).
  virtual HRESULT SetGlobalNotifications(IN CGlobalModule* pGlobalModule, IN DWORD dwGlobalNotifications) = 0;
  /// The module's priority (PRIORITY_ALIAS_*) for one notification.
  virtual HRESULT SetPriorityForRequestNotification(IN DWORD dwRequestNotification, IN PCWSTR pszPriority) = 0;
  /// E_NOTIMPL.
  virtual HRESULT SetPriorityForGlobalNotification(IN DWORD dwGlobalNotification, IN PCWSTR pszPriority) = 0;

 protected:
  ~IHttpModuleRegistrationInfo() = default;
};

/// A module's entry point, as `RegisterModule` is declared (with C linkage, visible to the host).
typedef HRESULT(WINAPI* PFN_REGISTERMODULE)(DWORD dwServerVersion, IHttpModuleRegistrationInfo* pModuleInfo,
                                            IHttpServer* pGlobalInfo);

/// The entry point every module defines: its definition `HRESULT __stdcall RegisterModule(...)` takes C
/// linkage and default visibility from this declaration, so the host finds it with dlsym.
extern "C" __attribute__((visibility("default"))) HRESULT WINAPI
RegisterModule(DWORD dwServerVersion, IHttpModuleRegistrationInfo* pModuleInfo, IHttpServer* pGlobalInfo);

#endif  // W3TP_IIS_HTTPSERV_H
