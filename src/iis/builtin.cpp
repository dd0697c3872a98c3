// SPDX-License-Identifier: MIT
// Built-in modules (see builtin.hpp).
#include "iis/builtin.hpp"

#include <strings.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace w3tp::iis {

bool decode_base64(std::string_view in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  if (in.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad != 0 || (v[k] = value(c)) < 0) return false;
    }
    const unsigned bits = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                          (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out.push_back(static_cast<char>((bits >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xFF));
  }
  return true;
}

bool read_users_file(const std::string& path, std::map<std::string, std::string>& users, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = fmt::format("the users file {} cannot be read: {}", path, std::strerror(errno));
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      why = fmt::format("the users file {}, line {}: expected name:password", path, n);
      return false;
    }
    users[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return true;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Basic authentication

/// An authenticated Basic user; deleted with its last reference.
class basic_user final : public IHttpUser {
 public:
  basic_user(std::string name, std::string password) : name_(widen(name)), password_(widen(password)) {}
  PCWSTR GetRemoteUserName() override { return name_.c_str(); }
  PCWSTR GetUserName() override { return name_.c_str(); }
  PCWSTR GetAuthenticationType() override { return L"Basic"; }
  PCWSTR GetPassword() override { return password_.c_str(); }
  HANDLE GetImpersonationToken() override { return nullptr; }
  HANDLE GetPrimaryToken() override { return nullptr; }
  VOID ReferenceUser() override { refs_.fetch_add(1, std::memory_order_relaxed); }
  VOID DereferenceUser() override {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  BOOL SupportsIsInRole() override { return FALSE; }
  HRESULT IsInRole(PCWSTR, BOOL* in_role) override {
    if (in_role != nullptr) *in_role = FALSE;
    return E_NOTIMPL;
  }
  PVOID GetUserVariable(PCSTR) override { return nullptr; }

 private:
  std::wstring name_, password_;
  std::atomic<int> refs_{1};  // the module's, until SetUser has taken one
};

/// Adds the Basic challenge (WWW-Authenticate) to the response when Basic authentication is on.
void challenge(IHttpContext* ctx, const authentication_config& c) {
  if (!c.basic) return;
  std::string realm = c.realm;
  if (realm.empty()) {
    PCSTR host = ctx->GetRequest()->GetHeader(HttpHeaderHost);
    realm = host != nullptr ? host : "w3tp";
  }
  const std::string value = fmt::format("Basic realm=\"{}\"", realm);
  ctx->GetResponse()->SetHeader("WWW-Authenticate", value.c_str(), static_cast<USHORT>(value.size()), TRUE);
}

REQUEST_NOTIFICATION_STATUS deny(IHttpContext* ctx, const authentication_config& c) {
  IHttpResponse* r = ctx->GetResponse();
  r->Clear();
  r->SetStatus(401, "Unauthorized", 1);
  challenge(ctx, c);
  static char body[] = "401 - Unauthorized: Access is denied due to invalid credentials.";
  HTTP_DATA_CHUNK chunk{};
  chunk.DataChunkType = HttpDataChunkFromMemory;
  chunk.FromMemory.pBuffer = body;
  chunk.FromMemory.BufferLength = static_cast<ULONG>(std::strlen(body));
  DWORD sent = 0;
  r->WriteEntityChunks(&chunk, 1, FALSE, TRUE, &sent);
  return RQ_NOTIFICATION_FINISH_REQUEST;
}

class basic_module final : public CHttpModule {
 public:
  explicit basic_module(const authentication_config& c) : c_(c) {}
  // As IIS's Basic module: a 401 that any module answered carries the challenge, so that a client
  // knows to send credentials. SEND_RESPONSE runs this module last (registered first, order reversed).
  REQUEST_NOTIFICATION_STATUS OnSendResponse(IHttpContext* ctx, ISendResponseProvider*) override {
    USHORT status = 0;
    ctx->GetResponse()->GetStatus(&status);
    if (status == 401 && ctx->GetResponse()->GetHeader("WWW-Authenticate") == nullptr) challenge(ctx, c_);
    return RQ_NOTIFICATION_CONTINUE;
  }
  REQUEST_NOTIFICATION_STATUS OnAuthenticateRequest(IHttpContext* ctx, IAuthenticationProvider* p) override {
    if (!c_.basic) return c_.anonymous ? RQ_NOTIFICATION_CONTINUE : deny(ctx, c_);  // no method is on
    USHORT n = 0;
    PCSTR auth = ctx->GetRequest()->GetHeader(HttpHeaderAuthorization, &n);
    if (auth == nullptr || n == 0) return c_.anonymous ? RQ_NOTIFICATION_CONTINUE : deny(ctx, c_);
    std::string_view v(auth, n);
    if (v.size() < 6 || ::strncasecmp(v.data(), "Basic ", 6) != 0)
      return c_.anonymous ? RQ_NOTIFICATION_CONTINUE : deny(ctx, c_);  // another scheme: not ours
    v.remove_prefix(6);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    std::string decoded;
    if (!decode_base64(v, decoded)) return deny(ctx, c_);
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) return deny(ctx, c_);
    const std::string name = decoded.substr(0, colon), password = decoded.substr(colon + 1);
    auto it = c_.users.find(name);
    if (it == c_.users.end() || it->second != password) return deny(ctx, c_);
    auto* user = new basic_user(name, password);
    p->SetUser(user);
    user->DereferenceUser();  // the request holds it now
    return RQ_NOTIFICATION_CONTINUE;
  }

 private:
  const authentication_config& c_;
};

class basic_factory final : public IHttpModuleFactory {
 public:
  explicit basic_factory(authentication_config c) : c_(std::move(c)) {}
  HRESULT GetHttpModule(CHttpModule** out, IModuleAllocator*) override {
    *out = new (std::nothrow) basic_module(c_);
    return *out != nullptr ? S_OK : E_OUTOFMEMORY;
  }
  VOID Terminate() override { delete this; }

 private:
  authentication_config c_;
};

// ---------------------------------------------------------------------------------------------
// Static files

const char* content_type_of(const std::string& path) {
  static constexpr std::pair<const char*, const char*> k_types[] = {{".html", "text/html"},
                                                                    {".htm", "text/html"},
                                                                    {".txt", "text/plain"},
                                                                    {".css", "text/css"},
                                                                    {".js", "application/javascript"},
                                                                    {".json", "application/json"},
                                                                    {".xml", "text/xml"},
                                                                    {".png", "image/png"},
                                                                    {".jpg", "image/jpeg"},
                                                                    {".jpeg", "image/jpeg"},
                                                                    {".gif", "image/gif"},
                                                                    {".svg", "image/svg+xml"},
                                                                    {".ico", "image/x-icon"},
                                                                    {".pdf", "application/pdf"},
                                                                    {".wasm", "application/wasm"}};
  const auto dot = path.find_last_of("./");
  if (dot == std::string::npos || path[dot] != '.') return "application/octet-stream";
  const std::string ext = path.substr(dot);
  for (const auto& [e, t] : k_types)
    if (::strcasecmp(e, ext.c_str()) == 0) return t;
  return "application/octet-stream";
}

REQUEST_NOTIFICATION_STATUS answer(IHttpContext* ctx, USHORT status, const char* reason, const std::string& body) {
  IHttpResponse* r = ctx->GetResponse();
  r->Clear();
  r->SetStatus(status, reason);
  r->SetHeader(HttpHeaderContentType, "text/plain", 10, TRUE);
  if (!body.empty()) {
    HTTP_DATA_CHUNK chunk{};
    chunk.DataChunkType = HttpDataChunkFromMemory;
    chunk.FromMemory.pBuffer = const_cast<char*>(body.data());
    chunk.FromMemory.BufferLength = static_cast<ULONG>(body.size());
    DWORD sent = 0;
    r->WriteEntityChunks(&chunk, 1, FALSE, TRUE, &sent);
  }
  return RQ_NOTIFICATION_FINISH_REQUEST;
}

class static_file_module final : public CHttpModule {
 public:
  REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IHttpContext* ctx, IHttpEventProvider*) override {
    IHttpResponse* r = ctx->GetResponse();
    USHORT status = 0;
    r->GetStatus(&status);
    if (status != 200 || r->GetHeader(HttpHeaderContentLength) != nullptr) return RQ_NOTIFICATION_CONTINUE;
    const std::string method = ctx->GetRequest()->GetHttpMethod();
    if (method != "GET" && method != "HEAD") {
      r->SetHeader("Allow", "GET, HEAD", 9, TRUE);
      return answer(ctx, 405, "Method Not Allowed", "405 - Method not allowed.");
    }
    DWORD cch = 0;
    PCWSTR mapped = ctx->GetPhysicalPath(&cch);
    if (mapped == nullptr || cch == 0) return answer(ctx, 404, "Not Found", "404 - File or directory not found.");
    const std::string path = narrow(std::wstring_view(mapped, cch));
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return answer(ctx, 404, "Not Found", "404 - File or directory not found.");
    std::ifstream in(path, std::ios::binary);
    if (!in) return answer(ctx, 404, "Not Found", "404 - File or directory not found.");
    std::ostringstream data;
    data << in.rdbuf();
    body_ = data.str();
    r->Clear();
    const char* type = content_type_of(path);
    r->SetHeader(HttpHeaderContentType, type, static_cast<USHORT>(std::strlen(type)), TRUE);
    HTTP_DATA_CHUNK chunk{};
    chunk.DataChunkType = HttpDataChunkFromMemory;
    chunk.FromMemory.pBuffer = body_.data();
    chunk.FromMemory.BufferLength = static_cast<ULONG>(body_.size());
    DWORD sent = 0;
    r->WriteEntityChunks(&chunk, 1, FALSE, TRUE, &sent);
    return RQ_NOTIFICATION_CONTINUE;
  }

 private:
  std::string body_;
};

class static_file_factory final : public IHttpModuleFactory {
 public:
  HRESULT GetHttpModule(CHttpModule** out, IModuleAllocator*) override {
    *out = new (std::nothrow) static_file_module;
    return *out != nullptr ? S_OK : E_OUTOFMEMORY;
  }
  VOID Terminate() override { delete this; }
};

}  // namespace

HRESULT add_basic_authentication(module_table& modules, IHttpServer& server, authentication_config config,
                                 std::string& why) {
  return modules.add_builtin(
      L"BasicAuthenticationModule",
      [config = std::move(config)](DWORD, IHttpModuleRegistrationInfo* info, IHttpServer*) {
        return info->SetRequestNotifications(new basic_factory(config), RQ_AUTHENTICATE_REQUEST | RQ_SEND_RESPONSE, 0);
      },
      server, why);
}

HRESULT add_static_file(module_table& modules, IHttpServer& server, std::string& why) {
  return modules.add_builtin(
      L"StaticFileModule",
      [](DWORD, IHttpModuleRegistrationInfo* info, IHttpServer*) {
        HRESULT hr = info->SetRequestNotifications(new static_file_factory, RQ_EXECUTE_REQUEST_HANDLER, 0);
        if (SUCCEEDED(hr))
          hr = info->SetPriorityForRequestNotification(RQ_EXECUTE_REQUEST_HANDLER, PRIORITY_ALIAS_LAST);
        return hr;
      },
      server, why);
}

}  // namespace w3tp::iis
