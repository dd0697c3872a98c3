// SPDX-License-Identifier: MIT
// <httpserv.h>'s vtable slots: the methods a host and a module call through each other, at the slots of
// the Windows SDK's declaration order. The expected slots were checked against an IIS module that pins
// them independently (CHttpModule: OnBeginRequest 0, OnAsyncCompletion 28, Dispose 29; IHttpContext:
// GetRequest 3, GetResponse 4, PostCompletion 9; ...). Read from the Itanium C++ ABI's representation of
// a pointer to a virtual member function (1 + the slot's byte offset), so x86-64 only.
#include <httpserv.h>
#include <sal.h>
#include <windows.h>

#include <cstdint>
#include <cstring>

#include "support/catch.hpp"

namespace {

#if defined(__x86_64__)
/// The vtable slot of a pointer to a virtual member function (-1 if it is not virtual).
template <class M>
long slot(M m) {
  struct itanium_member_pointer {
    std::uintptr_t ptr;
    std::ptrdiff_t adj;
  } raw;
  static_assert(sizeof(M) == sizeof raw, "an Itanium pointer to member function");
  std::memcpy(&raw, &m, sizeof raw);
  if ((raw.ptr & 1) == 0) return -1;
  return static_cast<long>((raw.ptr - 1) / sizeof(void*));
}
#endif

}  // namespace

TEST_CASE("iis: httpserv.h's interfaces have the SDK's vtable slots", "[iis][vtable]") {
#if !defined(__x86_64__)
  WARN("skipped: the slots are read from the x86-64 Itanium ABI's member pointers");
  return;
#else
  CHECK(slot(&CHttpModule::OnBeginRequest) == 0);
  CHECK(slot(&CHttpModule::OnPostBeginRequest) == 1);
  CHECK(slot(&CHttpModule::OnExecuteRequestHandler) == 14);
  CHECK(slot(&CHttpModule::OnPostEndRequest) == 23);
  CHECK(slot(&CHttpModule::OnSendResponse) == 24);
  CHECK(slot(&CHttpModule::OnAsyncCompletion) == 28);
  CHECK(slot(&CHttpModule::Dispose) == 29);

  CHECK(slot(&IHttpContext::GetSite) == 0);
  CHECK(slot(&IHttpContext::GetRequest) == 3);
  CHECK(slot(&IHttpContext::GetResponse) == 4);
  CHECK(slot(&IHttpContext::GetUser) == 6);
  CHECK(slot(&IHttpContext::IndicateCompletion) == 8);
  CHECK(slot(&IHttpContext::PostCompletion) == 9);

  using request_raw = HTTP_REQUEST* (IHttpRequest::*)();
  using request_header_by_name = PCSTR (IHttpRequest::*)(PCSTR, USHORT*) const;
  CHECK(slot(static_cast<request_raw>(&IHttpRequest::GetRawHttpRequest)) == 0);
  CHECK(slot(static_cast<request_header_by_name>(&IHttpRequest::GetHeader)) == 2);
  CHECK(slot(&IHttpRequest::GetHttpMethod) == 8);
  CHECK(slot(&IHttpRequest::ReadEntityBody) == 16);
  CHECK(slot(&IHttpRequest::GetRemainingEntityBytes) == 18);

  using response_header_by_name = HRESULT (IHttpResponse::*)(PCSTR, PCSTR, USHORT, BOOL);
  CHECK(slot(&IHttpResponse::SetStatus) == 3);
  CHECK(slot(static_cast<response_header_by_name>(&IHttpResponse::SetHeader)) == 4);
  CHECK(slot(&IHttpResponse::Clear) == 10);
  CHECK(slot(&IHttpResponse::Flush) == 18);
  CHECK(slot(&IHttpResponse::WriteEntityChunks) == 21);

  CHECK(slot(&IHttpModuleFactory::GetHttpModule) == 0);
  CHECK(slot(&IHttpModuleFactory::Terminate) == 1);
  CHECK(slot(&IModuleAllocator::AllocateMemory) == 0);
  CHECK(slot(&IHttpModuleRegistrationInfo::GetName) == 0);
  CHECK(slot(&IHttpModuleRegistrationInfo::SetRequestNotifications) == 2);
  CHECK(slot(&IHttpModuleRegistrationInfo::SetPriorityForRequestNotification) == 4);

  CHECK(slot(&IHttpServer::AssociateWithThreadPool) == 2);
#endif
}
