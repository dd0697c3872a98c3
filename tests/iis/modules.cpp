// SPDX-License-Identifier: MIT
// Module images loaded as w3tp-iishost loads them (dlopen, RegisterModule by dlsym), and the
// documentation sample (examples/iis_hello_module) run through the pipeline: an anonymous request gets
// 401 "Access denied."; an authenticated one is answered after the module's overlapped write of "Hello"
// completed on the pool and resumed the request.
#include <httpserv.h>
#include <sal.h>
#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include <unistd.h>

#include "iis/loader.hpp"
#include "iis/pipeline.hpp"
#include "support/catch.hpp"

using namespace std::chrono_literals;

namespace {

class answered final : public w3tp::iis::exchange {
 public:
  answered() {
    head_.method = "GET";
    head_.target = "/";
    head_.headers.push_back({"Host", "localhost"});
  }
  const w3tp::iis::request_head& head() const noexcept override { return head_; }
  const std::string& body() const noexcept override { return body_; }
  bool send(const w3tp::iis::response_head& h, std::string_view body, bool last) override {
    std::lock_guard lock(mu_);
    if (sends_++ == 0) status_ = h.status, reason_ = h.reason;
    answer_ += body;
    lasts_ += last ? 1 : 0;
    return true;
  }
  bool connected() const noexcept override { return true; }
  w3tp::iis::request_head head_;
  std::string body_;
  std::mutex mu_;
  int sends_ = 0, lasts_ = 0;
  unsigned status_ = 0;
  std::string reason_, answer_;
};

/// The user a test authentication module sets.
class test_user final : public IHttpUser {
 public:
  PCWSTR GetRemoteUserName() override { return L"alice"; }
  PCWSTR GetUserName() override { return L"alice"; }
  PCWSTR GetAuthenticationType() override { return L"Basic"; }
  PCWSTR GetPassword() override { return L""; }
  HANDLE GetImpersonationToken() override { return nullptr; }
  HANDLE GetPrimaryToken() override { return nullptr; }
  VOID ReferenceUser() override { refs.fetch_add(1); }
  VOID DereferenceUser() override { refs.fetch_sub(1); }
  BOOL SupportsIsInRole() override { return FALSE; }
  HRESULT IsInRole(PCWSTR, BOOL*) override { return E_NOTIMPL; }
  PVOID GetUserVariable(PCSTR) override { return nullptr; }
  std::atomic<int> refs{0};
};
test_user g_alice;

class auth_module final : public CHttpModule {
 public:
  REQUEST_NOTIFICATION_STATUS OnAuthenticateRequest(IHttpContext*, IAuthenticationProvider* p) override {
    p->SetUser(&g_alice);
    return RQ_NOTIFICATION_CONTINUE;
  }
};
class auth_factory final : public IHttpModuleFactory {
 public:
  HRESULT GetHttpModule(CHttpModule** out, IModuleAllocator*) override {
    *out = new auth_module;
    return S_OK;
  }
  VOID Terminate() override { delete this; }
};
HRESULT WINAPI register_auth(DWORD, IHttpModuleRegistrationInfo* info, IHttpServer*) {
  return info->SetRequestNotifications(new auth_factory, RQ_AUTHENTICATE_REQUEST, 0);
}

std::string temp_dir() {
  char tmpl[] = "/tmp/w3tp-iis-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  REQUIRE(d != nullptr);
  return d;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("iis modules: a missing image or one without RegisterModule is refused by name", "[iis][modules]") {
  std::string why;
  CHECK(w3tp::iis::module_image::open("Nowhere", "/nonexistent/libnowhere.so", why) == nullptr);
  CHECK(why.find("Nowhere") != std::string::npos);
  CHECK(why.find("/nonexistent/libnowhere.so") != std::string::npos);
  why.clear();
  CHECK(w3tp::iis::module_image::open("NoEntry", W3TP_TEST_NO_ENTRY_MODULE, why) == nullptr);
  CHECK(why.find("NoEntry") != std::string::npos);
  CHECK(why.find("RegisterModule") != std::string::npos);
  why.clear();
  auto image = w3tp::iis::module_image::open("Hello", W3TP_TEST_HELLO_MODULE, why);
  CHECK(image != nullptr);
  CHECK(why.empty());
}

TEST_CASE("iis modules: the documentation sample answers 401 to anonymous requests and writes Hello otherwise",
          "[iis][modules][sample]") {
  std::string why;
  auto image = w3tp::iis::module_image::open("HelloModule", W3TP_TEST_HELLO_MODULE, why);
  REQUIRE(image != nullptr);
  w3tp::pool_options o;
  o.threads = 2;
  w3tp::thread_pool pool(o);
  const std::string root = temp_dir();
  const std::string file = root + "/hello.txt";
  {
    // Anonymous.
    w3tp::iis::module_table modules;
    REQUIRE(modules.add(L"HelloModule", image->entry(), w3tp::http_server(pool), why) == S_OK);
    modules.seal();
    w3tp::iis::pipeline p(modules, pool, {1, L"Test", root});
    auto ex = std::make_shared<answered>();
    p.handle(ex);
    REQUIRE(p.wait_idle(10s));
    CHECK(ex->status_ == 401);
    CHECK(ex->reason_ == "Access denied.");
    CHECK(ex->answer_ == "Access denied.");
    CHECK(ex->lasts_ == 1);
    CHECK(::access(file.c_str(), F_OK) != 0);
    modules.terminate();
  }
  {
    // Authenticated by a module that runs before it; the write completes on the pool and resumes.
    w3tp::iis::module_table modules;
    REQUIRE(modules.add(L"TestAuth", register_auth, w3tp::http_server(pool), why) == S_OK);
    REQUIRE(modules.add(L"HelloModule", image->entry(), w3tp::http_server(pool), why) == S_OK);
    modules.seal();
    w3tp::iis::pipeline p(modules, pool, {1, L"Test", root});
    for (int i = 0; i < 20; ++i) {
      auto ex = std::make_shared<answered>();
      p.handle(ex);
      REQUIRE(p.wait_idle(10s));
      CHECK(ex->status_ == 200);
      CHECK(ex->lasts_ == 1);
      CHECK(slurp(file) == "Hello");
    }
    CHECK(g_alice.refs.load() == 0);  // every request dereferenced its user
    modules.terminate();
  }
  pool.shutdown();
  std::remove(file.c_str());
  ::rmdir(root.c_str());
}
