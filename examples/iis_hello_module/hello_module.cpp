// SPDX-License-Identifier: MIT
// The HTTP module of Microsoft's IHttpServer::AssociateWithThreadPool documentation, corrected, as a
// module for w3tp-iishost (it builds unchanged for IIS on Windows too). On each response it checks the
// user: an anonymous request gets 401 "Access denied."; otherwise it opens hello.txt in the site's
// folder for overlapped writing, associates the handle with the server's thread pool, writes "Hello" and
// returns RQ_NOTIFICATION_PENDING. The completion routine runs on a pool thread and resumes the request.
//
// What is corrected from the sample: the OVERLAPPED lives in the per-request module object together
// with the IHttpContext* (the routine finds both from the OVERLAPPED's address); the routine resumes the
// request with IndicateCompletion (the sample never does, so under IIS its request would hang); the file
// handle belongs to the request, not to a global; the path comes from the site (MapPath), not d:\.
// The IIS SDK samples' include order.
// clang-format off
#define _WINSOCKAPI_
#include <windows.h>
#include <sal.h>
#include <httpserv.h>
// clang-format on

// The server's global interface, from RegisterModule.
IHttpServer* g_pGlobalInfo = NULL;

class MyHttpModule;

// One request's write: the OVERLAPPED first, so that the routine converts its pointer back.
struct WRITE_CONTEXT {
  OVERLAPPED ovl;
  IHttpContext* pHttpContext;
  HANDLE hFile;
};

// Runs on a server pool thread when the write has completed: closes the file and resumes the request.
VOID __stdcall MyCompletionRoutine(DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered, LPOVERLAPPED lpOverlapped) {
  UNREFERENCED_PARAMETER(dwNumberOfBytesTransfered);
  WRITE_CONTEXT* pWrite = reinterpret_cast<WRITE_CONTEXT*>(lpOverlapped);
  CloseHandle(pWrite->hFile);
  pWrite->hFile = INVALID_HANDLE_VALUE;
  if (dwErrorCode != ERROR_SUCCESS)
    pWrite->pHttpContext->GetResponse()->SetStatus(500, "Server Error", 0, HRESULT_FROM_WIN32(dwErrorCode));
  pWrite->pHttpContext->IndicateCompletion(RQ_NOTIFICATION_CONTINUE);
}

class MyHttpModule : public CHttpModule {
 public:
  MyHttpModule() {
    ZeroMemory(&m_write, sizeof m_write);
    m_write.hFile = INVALID_HANDLE_VALUE;
  }

  REQUEST_NOTIFICATION_STATUS OnSendResponse(IN IHttpContext* pHttpContext, IN ISendResponseProvider* pProvider) {
    UNREFERENCED_PARAMETER(pProvider);
    // Only once per request (OnSendResponse runs for every flush).
    if (m_written) return RQ_NOTIFICATION_CONTINUE;
    m_written = TRUE;

    BOOL fAuthenticated = FALSE;
    IHttpUser* pHttpUser = pHttpContext->GetUser();
    if (pHttpUser != NULL && wcslen(pHttpUser->GetUserName()) > 0) fAuthenticated = TRUE;
    IHttpResponse* pHttpResponse = pHttpContext->GetResponse();
    if (!fAuthenticated) {
      static char szDenied[] = "Access denied.";
      pHttpResponse->Clear();
      pHttpResponse->SetStatus(401, "Access denied.");
      pHttpResponse->SetHeader(HttpHeaderContentType, "text/plain", (USHORT)strlen("text/plain"), TRUE);
      HTTP_DATA_CHUNK chunk;
      chunk.DataChunkType = HttpDataChunkFromMemory;
      chunk.FromMemory.pBuffer = szDenied;
      chunk.FromMemory.BufferLength = (ULONG)strlen(szDenied);
      DWORD cbSent = 0;
      pHttpResponse->WriteEntityChunks(&chunk, 1, FALSE, TRUE, &cbSent);
      return RQ_NOTIFICATION_CONTINUE;
    }

    // The file lives in the site's folder.
    WCHAR wszPath[1024];
    DWORD cbPath = sizeof wszPath;
    HRESULT hr = pHttpContext->MapPath(L"/hello.txt", wszPath, &cbPath);
    if (FAILED(hr)) return Fail(pHttpContext, hr);
    m_write.pHttpContext = pHttpContext;
    m_write.hFile = CreateFileW(wszPath, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, NULL);
    if (m_write.hFile == INVALID_HANDLE_VALUE) return Fail(pHttpContext, HRESULT_FROM_WIN32(GetLastError()));
    hr = g_pGlobalInfo->AssociateWithThreadPool(m_write.hFile, MyCompletionRoutine);
    if (FAILED(hr)) return Fail(pHttpContext, hr);

    static char szHello[] = "Hello";
    DWORD cbWritten = 0;
    if (!WriteFile(m_write.hFile, szHello, (DWORD)strlen(szHello), &cbWritten, &m_write.ovl) &&
        GetLastError() != ERROR_IO_PENDING)
      return Fail(pHttpContext, HRESULT_FROM_WIN32(GetLastError()));
    // The routine runs exactly once, even when the write finished at once, and resumes the request.
    return RQ_NOTIFICATION_PENDING;
  }

  VOID Dispose() {
    if (m_write.hFile != INVALID_HANDLE_VALUE) CloseHandle(m_write.hFile);
    delete this;
  }

 private:
  REQUEST_NOTIFICATION_STATUS Fail(IHttpContext* pHttpContext, HRESULT hr) {
    if (m_write.hFile != INVALID_HANDLE_VALUE) CloseHandle(m_write.hFile);
    m_write.hFile = INVALID_HANDLE_VALUE;
    pHttpContext->GetResponse()->SetStatus(500, "Server Error", 0, hr);
    return RQ_NOTIFICATION_CONTINUE;
  }

  WRITE_CONTEXT m_write;
  BOOL m_written = FALSE;
};

class MyHttpModuleFactory : public IHttpModuleFactory {
 public:
  HRESULT GetHttpModule(OUT CHttpModule** ppModule, IN IModuleAllocator* pAllocator) {
    UNREFERENCED_PARAMETER(pAllocator);
    MyHttpModule* pModule = new MyHttpModule;
    if (pModule == NULL) return HRESULT_FROM_WIN32(ERROR_NOT_ENOUGH_MEMORY);
    *ppModule = pModule;
    return S_OK;
  }
  void Terminate() { delete this; }
};

HRESULT __stdcall RegisterModule(DWORD dwServerVersion, IHttpModuleRegistrationInfo* pModuleInfo,
                                 IHttpServer* pGlobalInfo) {
  UNREFERENCED_PARAMETER(dwServerVersion);
  g_pGlobalInfo = pGlobalInfo;
  return pModuleInfo->SetRequestNotifications(new MyHttpModuleFactory, RQ_SEND_RESPONSE, 0);
}
