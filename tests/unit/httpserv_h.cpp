// SPDX-License-Identifier: MIT
// <w3tp/httpserv.h>: IHttpServer's shape (IIS's method order and signatures) and what the methods
// that have no meaning outside IIS answer (documented fixed values, E_NOTIMPL, NULL).
#include <w3tp/httpserv.h>

#include <cstdint>
#include <cwchar>
#include <type_traits>

#include <w3tp/w3tp.hpp>

#include "support/catch.hpp"

static_assert(std::is_same_v<::IHttpServer, w3tp::IHttpServer>, "::IHttpServer is an alias of w3tp::IHttpServer");
static_assert(std::is_abstract_v<IHttpServer>, "IHttpServer is an interface");
static_assert(std::is_polymorphic_v<IHttpServer>, "IHttpServer has a vtable");
static_assert(!std::is_destructible_v<IHttpServer>, "a module never deletes the server (protected destructor)");

// The thread-pool methods keep IIS's exact signatures (a module takes their addresses, or overrides them in mocks).
static_assert(std::is_same_v<decltype(&IHttpServer::IsCommandLineLaunch), BOOL (IHttpServer::*)() const>, "");
static_assert(std::is_same_v<decltype(&IHttpServer::GetAppPoolName), PCWSTR (IHttpServer::*)() const>, "");
static_assert(std::is_same_v<decltype(&IHttpServer::AssociateWithThreadPool),
                             HRESULT (IHttpServer::*)(HANDLE, LPOVERLAPPED_COMPLETION_ROUTINE)>,
              "");
static_assert(std::is_same_v<decltype(&IHttpServer::IncrementThreadCount), VOID (IHttpServer::*)()>, "");
static_assert(std::is_same_v<decltype(&IHttpServer::DecrementThreadCount), VOID (IHttpServer::*)()>, "");
static_assert(std::is_same_v<decltype(&IHttpServer::ReportUnhealthy), VOID (IHttpServer::*)(PCWSTR, HRESULT)>, "");
static_assert(std::is_same_v<decltype(&IHttpServer::GetExtendedInterface),
                             HRESULT (IHttpServer::*)(HTTP_SERVER_INTERFACE_VERSION, PVOID*)>,
              "");

namespace {

// A test pool with two threads on whatever backend W3TP_BACKEND (or automatic) picks.
w3tp::pool_options small_pool() {
  w3tp::pool_options o;
  o.threads = 2;
  o.max_threads = 4;
  return o;
}

}  // namespace

TEST_CASE("httpserv.h: the IIS enums keep httpserv.h's values", "[unit][httpserv]") {
  CHECK(CACHE_OPERATION_RETRIEVE == 0);
  CHECK(CACHE_OPERATION_ADD == 1);
  CHECK(CACHE_OPERATION_DELETE == 2);
  CHECK(CACHE_OPERATION_FLUSH_PREFIX == 3);
  CHECK(CACHE_OPERATION_ENUM == 4);
  CHECK(GL_NOTIFICATION_CONTINUE == 0);
  CHECK(GL_NOTIFICATION_HANDLED == 1);
  CHECK(HTTP_SERVER_INTERFACE_V2 == 0);
}

TEST_CASE("httpserv.h: the trivial queries", "[unit][httpserv]") {
  w3tp::thread_pool pool(small_pool());
  IHttpServer& server = w3tp::http_server(pool);
  CHECK(&server == &pool.http_server());
  CHECK(server.IsCommandLineLaunch() == FALSE);
  PCWSTR name = server.GetAppPoolName();
  REQUIRE(name != nullptr);
  CHECK(std::wcslen(name) > 0);
  CHECK(std::wcscmp(name, L"w3tp") == 0);
}

TEST_CASE("httpserv.h: the methods without meaning outside IIS answer fixed values", "[unit][httpserv]") {
  w3tp::thread_pool pool(small_pool());
  IHttpServer& server = w3tp::http_server(pool);

  server.ReportUnhealthy(L"reason", E_FAIL);  // does nothing
  server.RecycleProcess(L"reason");           // does nothing (the test process survives)
  server.RecycleApplication(L"/app");
  server.NotifyConfigurationChange(L"/config");
  server.NotifyFileChange(L"/file");
  CHECK(server.GetAdminManager() == nullptr);
  CHECK(server.GetPerfCounterInfo() == nullptr);
  CHECK(server.DispenseContainer() == nullptr);
  CHECK(server.GetTraceContext() == nullptr);
  CHECK(server.NotifyCustomNotification(nullptr) == GL_NOTIFICATION_CONTINUE);

  auto* bogus = reinterpret_cast<void*>(static_cast<std::uintptr_t>(0x1234));
  IHttpFileInfo* file_info = reinterpret_cast<IHttpFileInfo*>(bogus);
  CHECK(server.GetFileInfo(L"/x", nullptr, nullptr, L"/x", nullptr, TRUE, &file_info) == E_NOTIMPL);
  CHECK(file_info == nullptr);
  CHECK(server.GetFileInfo(L"/x", nullptr, nullptr, L"/x", nullptr, TRUE, nullptr) == E_NOTIMPL);
  CHECK(server.FlushKernelCache(L"/") == E_NOTIMPL);
  IHttpCacheSpecificData* cache_data = reinterpret_cast<IHttpCacheSpecificData*>(bogus);
  CHECK(server.DoCacheOperation(CACHE_OPERATION_RETRIEVE, nullptr, &cache_data) == E_NOTIMPL);
  CHECK(cache_data == nullptr);
  CHECK(server.AddFragmentToCache(nullptr, L"frag") == E_NOTIMPL);
  BYTE buffer[8];
  DWORD copied = 77;
  CHECK(server.ReadFragmentFromCache(L"frag", buffer, sizeof buffer, &copied) == E_NOTIMPL);
  CHECK(copied == 0);
  CHECK(server.RemoveFragmentFromCache(L"frag") == E_NOTIMPL);
  IWpfSettings* settings = reinterpret_cast<IWpfSettings*>(bogus);
  CHECK(server.GetWorkerProcessSettings(&settings) == E_NOTIMPL);
  CHECK(settings == nullptr);
  PVOID custom = bogus;
  CHECK(server.GetProtocolManagerCustomInterface(L"x.dll", L"Init", 1, &custom) == E_NOTIMPL);
  CHECK(custom == nullptr);
  BOOL unknown = FALSE;
  CHECK(server.SatisfiesPrecondition(L"integratedMode", &unknown) == FALSE);
  CHECK(unknown == TRUE);
  CHECK(server.SatisfiesPrecondition(L"integratedMode") == FALSE);
  IHttpFileMonitor* monitor = reinterpret_cast<IHttpFileMonitor*>(bogus);
  CHECK(server.RegisterFileChangeMonitor(L"/", nullptr, &monitor) == E_NOTIMPL);
  CHECK(monitor == nullptr);
  PVOID ext = bogus;
  CHECK(server.GetExtendedInterface(HTTP_SERVER_INTERFACE_V2, &ext) == E_NOTIMPL);
  CHECK(ext == nullptr);
}

TEST_CASE("httpserv.h: AssociateWithThreadPool checks its arguments", "[unit][httpserv]") {
  w3tp::thread_pool pool(small_pool());
  IHttpServer& server = w3tp::http_server(pool);
  auto routine = [](DWORD, DWORD, LPOVERLAPPED) {};
  CHECK(server.AssociateWithThreadPool(nullptr, routine) == HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  CHECK(server.AssociateWithThreadPool(INVALID_HANDLE_VALUE, routine) == HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
}

TEST_CASE("httpserv.h: IncrementThreadCount and DecrementThreadCount", "[unit][httpserv]") {
  w3tp::thread_pool pool(small_pool());
  IHttpServer& server = w3tp::http_server(pool);
  CHECK(pool.thread_count() == 2);
  server.IncrementThreadCount();
  CHECK(pool.thread_count() == 3);
  server.DecrementThreadCount();
  server.DecrementThreadCount();  // never below the base count
  pool.shutdown();
}
