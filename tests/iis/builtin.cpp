// SPDX-License-Identifier: MIT
// The built-in modules (src/iis/builtin.*): Basic authentication against a users file, and the
// static-file handler, each run through the pipeline.
#include <httpserv.h>
#include <sal.h>
#include <windows.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <string>

#include "iis/builtin.hpp"
#include "support/catch.hpp"

using namespace std::chrono_literals;

namespace {

class request_from_test final : public w3tp::iis::exchange {
 public:
  request_from_test(std::string method, std::string target, std::vector<w3tp::iis::header> headers = {}) {
    head_.method = std::move(method);
    head_.target = std::move(target);
    head_.headers = std::move(headers);
    head_.headers.push_back({"Host", "example.test"});
  }
  const w3tp::iis::request_head& head() const noexcept override { return head_; }
  const std::string& body() const noexcept override { return body_; }
  bool send(const w3tp::iis::response_head& h, std::string_view body, bool last) override {
    std::lock_guard lock(mu_);
    if (sends_++ == 0) answer_ = h;
    text_ += body;
    lasts_ += last ? 1 : 0;
    return true;
  }
  bool connected() const noexcept override { return true; }
  std::string header(const std::string& name) const {
    for (const auto& h : answer_.headers)
      if (h.name == name) return h.value;
    return {};
  }
  w3tp::iis::request_head head_;
  std::string body_;
  std::mutex mu_;
  int sends_ = 0, lasts_ = 0;
  w3tp::iis::response_head answer_;
  std::string text_;
};

/// Records the request's user as the handler sees it.
std::mutex g_seen_mu;
std::wstring g_seen_user, g_seen_type;
bool g_seen_null = false;
class who_module final : public CHttpModule {
 public:
  REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IHttpContext* ctx, IHttpEventProvider*) override {
    std::lock_guard lock(g_seen_mu);
    IHttpUser* u = ctx->GetUser();
    g_seen_null = u == nullptr;
    g_seen_user = u != nullptr ? u->GetUserName() : L"";
    g_seen_type = u != nullptr ? u->GetAuthenticationType() : L"";
    return RQ_NOTIFICATION_CONTINUE;
  }
};
class who_factory final : public IHttpModuleFactory {
 public:
  HRESULT GetHttpModule(CHttpModule** out, IModuleAllocator*) override {
    *out = new who_module;
    return S_OK;
  }
  VOID Terminate() override { delete this; }
};

struct site {
  w3tp::thread_pool pool{[] {
    w3tp::pool_options o;
    o.threads = 2;
    return o;
  }()};
  w3tp::iis::module_table modules;
  std::unique_ptr<w3tp::iis::pipeline> p;
  std::string root;
  std::string why;

  site() {
    char tmpl[] = "/tmp/w3tp-site-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    root = tmpl;
  }
  void start() {
    modules.seal();
    p = std::make_unique<w3tp::iis::pipeline>(modules, pool, w3tp::iis::site_config{1, L"Test", root});
  }
  std::shared_ptr<request_from_test> get(std::string target, std::vector<w3tp::iis::header> headers = {},
                                         std::string method = "GET") {
    auto ex = std::make_shared<request_from_test>(std::move(method), std::move(target), std::move(headers));
    p->handle(ex);
    REQUIRE(p->wait_idle(10s));
    return ex;
  }
  ~site() {
    p.reset();
    modules.terminate();
    pool.shutdown();
    std::string cmd = "rm -rf '" + root + "'";
    (void)!std::system(cmd.c_str());
  }
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("iis builtin: base64 and the users file", "[iis][builtin]") {
  std::string out;
  CHECK(w3tp::iis::decode_base64("YWxpY2U6c2VjcmV0", out));
  CHECK(out == "alice:secret");
  CHECK(w3tp::iis::decode_base64("YQ==", out));
  CHECK(out == "a");
  CHECK(w3tp::iis::decode_base64("YWI=", out));
  CHECK(out == "ab");
  CHECK(w3tp::iis::decode_base64("", out));
  CHECK(out.empty());
  for (const char* bad : {"YWxpY2U", "Y=Fh", "YW*j", "====", "YQ==YQ=="}) {
    INFO(bad);
    CHECK_FALSE(w3tp::iis::decode_base64(bad, out));
  }
  site s;
  const std::string users = s.root + "/users.txt";
  write_file(users, "# test users\nalice:secret\n\nbob:pa:ss\r\n");
  std::map<std::string, std::string> m;
  std::string why;
  REQUIRE(w3tp::iis::read_users_file(users, m, why));
  CHECK(m.size() == 2);
  CHECK(m["alice"] == "secret");
  CHECK(m["bob"] == "pa:ss");
  write_file(users, "alice:secret\nnocolon\n");
  CHECK_FALSE(w3tp::iis::read_users_file(users, m, why));
  CHECK(why.find("line 2") != std::string::npos);
  CHECK_FALSE(w3tp::iis::read_users_file(s.root + "/missing.txt", m, why));
  CHECK(why.find("missing.txt") != std::string::npos);
}

TEST_CASE("iis builtin: Basic authentication sets the user, refuses wrong credentials with 401", "[iis][builtin]") {
  for (bool anonymous : {true, false}) {
    site s;
    w3tp::iis::authentication_config c;
    c.anonymous = anonymous;
    c.basic = true;
    c.users = {{"alice", "secret"}};
    REQUIRE(w3tp::iis::add_basic_authentication(s.modules, w3tp::http_server(s.pool), c, s.why) == S_OK);
    REQUIRE(s.modules.add_builtin(
                L"Who",
                [](DWORD, IHttpModuleRegistrationInfo* info, IHttpServer*) {
                  return info->SetRequestNotifications(new who_factory, RQ_EXECUTE_REQUEST_HANDLER, 0);
                },
                w3tp::http_server(s.pool), s.why) == S_OK);
    s.start();
    INFO("anonymous " << anonymous);

    auto ok = s.get("/", {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}});
    CHECK(ok->answer_.status == 200);
    {
      std::lock_guard lock(g_seen_mu);
      CHECK(g_seen_user == L"alice");
      CHECK(g_seen_type == L"Basic");
    }
    for (const char* bad : {"Basic YWxpY2U6d3Jvbmc=", "Basic Ym9iOnNlY3JldA==", "Basic ***", "Basic YWxpY2U="}) {
      INFO(bad);
      auto no = s.get("/", {{"Authorization", bad}});
      CHECK(no->answer_.status == 401);
      CHECK(no->header("WWW-Authenticate") == "Basic realm=\"example.test\"");
    }
    auto none = s.get("/");
    if (anonymous) {
      CHECK(none->answer_.status == 200);
      std::lock_guard lock(g_seen_mu);
      CHECK_FALSE(g_seen_null);
      CHECK(g_seen_user.empty());  // the anonymous user, as in IIS
      CHECK(g_seen_type.empty());
    } else {
      CHECK(none->answer_.status == 401);
      CHECK(none->header("WWW-Authenticate") == "Basic realm=\"example.test\"");
    }
  }
}

TEST_CASE("iis builtin: the static-file handler serves the site's folder and nothing outside it", "[iis][builtin]") {
  site s;
  REQUIRE(w3tp::iis::add_static_file(s.modules, w3tp::http_server(s.pool), s.why) == S_OK);
  s.start();
  write_file(s.root + "/index.html", "<p>hi</p>");
  REQUIRE(::mkdir((s.root + "/sub dir").c_str(), 0755) == 0);
  write_file(s.root + "/sub dir/a.txt", "A");

  auto page = s.get("/index.html");
  CHECK(page->answer_.status == 200);
  CHECK(page->text_ == "<p>hi</p>");
  CHECK(page->header("Content-Type") == "text/html");
  auto spaced = s.get("/sub%20dir/a.txt?x=1");
  CHECK(spaced->answer_.status == 200);
  CHECK(spaced->text_ == "A");
  CHECK(spaced->header("Content-Type") == "text/plain");
  CHECK(s.get("/missing.html")->answer_.status == 404);
  CHECK(s.get("/sub%20dir")->answer_.status == 404);
  CHECK(s.get("/sub%20dir/")->answer_.status == 404);
  for (const char* escape :
       {"/../etc/passwd", "/%2e%2e/etc/passwd", "/sub%20dir/../../etc/passwd", "/..%2fetc%2fpasswd", "//etc/passwd",
        "/%2Fetc/passwd", "///etc/passwd", "/%2F%2Fetc/passwd"}) {
    INFO(escape);
    CHECK(s.get(escape)->answer_.status == 404);
  }
  // An overlong UTF-8 form of 'a' (%C1%A1) names no file: it decodes to U+FFFD, not to "a".
  write_file(s.root + "/a.txt", "A");
  CHECK(s.get("/a.txt")->answer_.status == 200);
  CHECK(s.get("/%C1%A1.txt")->answer_.status == 404);
  auto post = s.get("/index.html", {}, "POST");
  CHECK(post->answer_.status == 405);
  CHECK(post->header("Allow") == "GET, HEAD");
  CHECK(s.get("/index.html", {}, "HEAD")->answer_.status == 200);
}

TEST_CASE("iis builtin: with anonymous and Basic access both off every request gets 401", "[iis][builtin]") {
  site s;
  w3tp::iis::authentication_config c;
  c.anonymous = false;
  c.basic = false;
  REQUIRE(w3tp::iis::add_basic_authentication(s.modules, w3tp::http_server(s.pool), c, s.why) == S_OK);
  REQUIRE(w3tp::iis::add_static_file(s.modules, w3tp::http_server(s.pool), s.why) == S_OK);
  s.start();
  write_file(s.root + "/index.html", "x");
  for (auto headers : std::vector<std::vector<w3tp::iis::header>>{{}, {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}}) {
    auto r = s.get("/index.html", headers);
    CHECK(r->answer_.status == 401);
    CHECK(r->header("WWW-Authenticate").empty());
    CHECK(r->text_.find("x") == std::string::npos);
  }
}
