// SPDX-License-Identifier: MIT
// The smallest IIS module, built against the installed w3tp::iis: IIS's own headers by their names.
// The IIS SDK samples' include order.
// clang-format off
#define _WINSOCKAPI_
#include <windows.h>
#include <sal.h>
#include <httpserv.h>
// clang-format on

class HelloModule : public CHttpModule {
 public:
  REQUEST_NOTIFICATION_STATUS OnBeginRequest(IN IHttpContext* pHttpContext, IN IHttpEventProvider* pProvider) {
    UNREFERENCED_PARAMETER(pProvider);
    pHttpContext->GetResponse()->SetStatus(200, "OK");
    return RQ_NOTIFICATION_CONTINUE;
  }
};

class HelloFactory : public IHttpModuleFactory {
 public:
  HRESULT GetHttpModule(OUT CHttpModule** ppModule, IN IModuleAllocator* pAllocator) {
    UNREFERENCED_PARAMETER(pAllocator);
    *ppModule = new HelloModule;
    return S_OK;
  }
  void Terminate() { delete this; }
};

HRESULT __stdcall RegisterModule(DWORD dwServerVersion, IHttpModuleRegistrationInfo* pModuleInfo,
                                 IHttpServer* pGlobalInfo) {
  UNREFERENCED_PARAMETER(dwServerVersion);
  UNREFERENCED_PARAMETER(pGlobalInfo);
  return pModuleInfo->SetRequestNotifications(new HelloFactory, RQ_BEGIN_REQUEST, 0);
}
