// SPDX-License-Identifier: MIT
// The HTTP benchmark's module (bench/http/run.sh): answers every request with "Hello" from memory through
// IHttpResponse::WriteEntityChunks in EXECUTE_REQUEST_HANDLER, and ends the request there. It measures
// w3tp-iishost's path (HTTP/1.1 on the pool, the pipeline, a module's response) without file I/O; the
// documentation sample's per-request overlapped file write is the benchmark's second row.
// clang-format off
#define _WINSOCKAPI_
#include <windows.h>
#include <sal.h>
#include <httpserv.h>
// clang-format on
#include <new>

namespace {

char g_hello[] = "Hello";

class hello_module final : public CHttpModule {
 public:
  REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IHttpContext* ctx, IHttpEventProvider*) override {
    IHttpResponse* r = ctx->GetResponse();
    r->SetHeader(HttpHeaderContentType, "text/plain", 10, TRUE);
    HTTP_DATA_CHUNK chunk{};
    chunk.DataChunkType = HttpDataChunkFromMemory;
    chunk.FromMemory.pBuffer = g_hello;
    chunk.FromMemory.BufferLength = 5;
    DWORD sent = 0;
    if (FAILED(r->WriteEntityChunks(&chunk, 1, FALSE, FALSE, &sent))) r->SetStatus(500, "Server Error");
    return RQ_NOTIFICATION_FINISH_REQUEST;
  }
  VOID Dispose() override { delete this; }
};

class hello_factory final : public IHttpModuleFactory {
 public:
  HRESULT GetHttpModule(CHttpModule** out, IModuleAllocator*) override {
    *out = new (std::nothrow) hello_module;
    return *out != nullptr ? S_OK : E_OUTOFMEMORY;
  }
  void Terminate() override { delete this; }
};

}  // namespace

HRESULT __stdcall RegisterModule(DWORD, IHttpModuleRegistrationInfo* info, IHttpServer*) {
  return info->SetRequestNotifications(new hello_factory, RQ_EXECUTE_REQUEST_HANDLER, 0);
}
