// SPDX-License-Identifier: MIT
// The integrated pipeline (see pipeline.hpp): module registration and ordering, and one request's state
// machine with the IIS interfaces a module sees (IHttpContext and what it hands out).
#include "iis/pipeline.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <algorithm>
#include <cstring>
#include <cwchar>
#include <filesystem>
#include <memory_resource>

#include <fmt/format.h>
#include <fmt/xchar.h>

#ifndef ERROR_INVALID_INDEX
#define ERROR_INVALID_INDEX 1413L  // Win32's value: no server variable of that name
#endif
#ifndef ERROR_ALREADY_ASSIGNED
#define ERROR_ALREADY_ASSIGNED 85L  // Win32's value: a stored context or factory is already there
#endif

namespace w3tp::iis {

// ---------------------------------------------------------------------------------------------
// Steps and text

namespace {

constexpr DWORD k_notifications[] = {RQ_BEGIN_REQUEST,
                                     RQ_AUTHENTICATE_REQUEST,
                                     RQ_AUTHORIZE_REQUEST,
                                     RQ_RESOLVE_REQUEST_CACHE,
                                     RQ_MAP_REQUEST_HANDLER,
                                     RQ_ACQUIRE_REQUEST_STATE,
                                     RQ_PRE_EXECUTE_REQUEST_HANDLER,
                                     RQ_EXECUTE_REQUEST_HANDLER,
                                     RQ_RELEASE_REQUEST_STATE,
                                     RQ_UPDATE_REQUEST_CACHE,
                                     RQ_LOG_REQUEST,
                                     RQ_END_REQUEST};

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The request header names of HTTP_HEADER_ID (HttpHeaderCacheControl .. HttpHeaderUserAgent).
constexpr const char* k_request_header_names[HttpHeaderRequestMaximum] = {"Cache-Control",
                                                                          "Connection",
                                                                          "Date",
                                                                          "Keep-Alive",
                                                                          "Pragma",
                                                                          "Trailer",
                                                                          "Transfer-Encoding",
                                                                          "Upgrade",
                                                                          "Via",
                                                                          "Warning",
                                                                          "Allow",
                                                                          "Content-Length",
                                                                          "Content-Type",
                                                                          "Content-Encoding",
                                                                          "Content-Language",
                                                                          "Content-Location",
                                                                          "Content-MD5",
                                                                          "Content-Range",
                                                                          "Expires",
                                                                          "Last-Modified",
                                                                          "Accept",
                                                                          "Accept-Charset",
                                                                          "Accept-Encoding",
                                                                          "Accept-Language",
                                                                          "Authorization",
                                                                          "Cookie",
                                                                          "Expect",
                                                                          "From",
                                                                          "Host",
                                                                          "If-Match",
                                                                          "If-Modified-Since",
                                                                          "If-None-Match",
                                                                          "If-Range",
                                                                          "If-Unmodified-Since",
                                                                          "Max-Forwards",
                                                                          "Proxy-Authorization",
                                                                          "Referer",
                                                                          "Range",
                                                                          "TE",
                                                                          "Translate",
                                                                          "User-Agent"};

// The response header names of HTTP_HEADER_ID (the general and entity ones, then HttpHeaderAcceptRanges ..).
const char* response_header_name(HTTP_HEADER_ID id) noexcept {
  static constexpr const char* k_response_only[] = {
      "Accept-Ranges", "Age",    "ETag",       "Location", "Proxy-Authenticate",
      "Retry-After",   "Server", "Set-Cookie", "Vary",     "WWW-Authenticate"};
  const int i = static_cast<int>(id);
  if (i < 0 || i >= HttpHeaderResponseMaximum) return nullptr;
  return i < HttpHeaderAcceptRanges ? k_request_header_names[i] : k_response_only[i - HttpHeaderAcceptRanges];
}

const char* request_header_name(HTTP_HEADER_ID id) noexcept {
  const int i = static_cast<int>(id);
  return i < 0 || i >= HttpHeaderRequestMaximum ? nullptr : k_request_header_names[i];
}

// The URL path with %XX decoded, as IIS gives it to modules (URL, GetScriptName, MapPath). A %00 or a
// malformed escape is kept as it came, so that it names no file.
std::string percent_decoded(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

int priority_of(PCWSTR alias) noexcept {
  if (alias == nullptr) return -1;
  static constexpr const wchar_t* k_aliases[] = {PRIORITY_ALIAS_FIRST, PRIORITY_ALIAS_HIGH, PRIORITY_ALIAS_MEDIUM,
                                                 PRIORITY_ALIAS_LOW, PRIORITY_ALIAS_LAST};
  for (int i = 0; i < 5; ++i)
    if (::wcscasecmp(alias, k_aliases[i]) == 0) return i;
  return -1;
}

}  // namespace

step_info step_at(unsigned step) noexcept {
  if (step < k_send_step) return {k_notifications[step / 2], step % 2 == 1};
  if (step == k_send_step) return {RQ_SEND_RESPONSE, false};
  const unsigned i = step - 1;  // LOG_REQUEST and END_REQUEST follow SEND_RESPONSE
  return {k_notifications[i / 2], i % 2 == 1};
}

std::wstring widen(std::string_view s) {
  std::wstring out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    char32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    bool ok = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc >> 6) == 2;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr char32_t k_min[] = {0, 0, 0x80, 0x800, 0x10000};  // shortest form per length
    ok = ok && cp >= k_min[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    out.push_back(ok ? static_cast<wchar_t>(cp) : L'\uFFFD');
    i += ok ? n : 1;
  }
  return out;
}

std::string narrow(std::wstring_view w) {
  std::string out;
  out.reserve(w.size());
  for (wchar_t wc : w) {
    auto cp = static_cast<char32_t>(wc);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Registration

HRESULT module_registration::SetRequestNotifications(IHttpModuleFactory* factory, DWORD notifications,
                                                     DWORD post_notifications) {
  if (factory == nullptr || (notifications == 0 && post_notifications == 0)) return E_INVALIDARG;
  if (factory_ != nullptr && factory_ != factory) return HRESULT_FROM_WIN32(ERROR_ALREADY_ASSIGNED);
  factory_ = factory;
  notifications_ |= notifications;
  post_notifications_ |= post_notifications;
  return S_OK;
}

HRESULT module_registration::SetPriorityForRequestNotification(DWORD notifications, PCWSTR priority) {
  const int p = priority_of(priority);
  if (p < 0 || notifications == 0) return E_INVALIDARG;
  for (DWORD bit = 1; bit != 0; bit <<= 1) {
    if ((notifications & bit) == 0) continue;
    auto it = std::find_if(priorities_.begin(), priorities_.end(), [bit](const auto& e) { return e.first == bit; });
    if (it != priorities_.end())
      it->second = p;
    else
      priorities_.emplace_back(bit, p);
  }
  return S_OK;
}

bool module_registration::handles(unsigned step) const noexcept {
  const step_info s = step_at(step);
  return ((s.post ? post_notifications_ : notifications_) & s.notification) != 0;
}

int module_registration::priority(DWORD notification) const noexcept {
  for (const auto& [bit, p] : priorities_)
    if (bit == notification) return p;
  return 2;
}

module_table::~module_table() { terminate(); }

HRESULT module_table::add(const std::wstring& name, PFN_REGISTERMODULE entry, IHttpServer& server, std::string& why) {
  if (entry == nullptr) {
    why = fmt::format("module {} has no RegisterModule", narrow(name));
    return E_INVALIDARG;
  }
  return add_builtin(name, std::function<HRESULT(DWORD, IHttpModuleRegistrationInfo*, IHttpServer*)>(entry), server,
                     why);
}

HRESULT module_table::add_builtin(
    const std::wstring& name, const std::function<HRESULT(DWORD, IHttpModuleRegistrationInfo*, IHttpServer*)>& entry,
    IHttpServer& server, std::string& why) {
  if (!entry) {
    why = fmt::format("module {} has no RegisterModule", narrow(name));
    return E_INVALIDARG;
  }
  auto reg = std::make_unique<module_registration>(name, static_cast<unsigned>(modules_.size()));
  HRESULT hr;
  try {
    hr = entry(HTTP_SERVER_VERSION_IIS7, reg.get(), &server);
  } catch (...) {
    why = fmt::format("module {}: RegisterModule threw an exception", narrow(name));
    return E_FAIL;
  }
  if (FAILED(hr)) {
    why = fmt::format("module {}: RegisterModule failed with HRESULT 0x{:08X}", narrow(name),
                      static_cast<std::uint32_t>(hr));
    if (reg->factory() != nullptr) reg->factory()->Terminate();
    return hr;
  }
  if (reg->factory() == nullptr) {
    why = fmt::format("module {}: RegisterModule registered no request notifications", narrow(name));
    return E_INVALIDARG;
  }
  modules_.push_back(std::move(reg));
  return S_OK;
}

void module_table::seal() {
  for (unsigned step = 0; step < k_steps; ++step) {
    auto& o = order_[step];
    o.clear();
    for (const auto& m : modules_)
      if (m->handles(step)) o.push_back(static_cast<std::uint16_t>(m->index()));
    const DWORD n = step_at(step).notification;
    std::stable_sort(o.begin(), o.end(), [&](std::uint16_t a, std::uint16_t b) {
      return modules_[a]->priority(n) < modules_[b]->priority(n);
    });
    if (n == RQ_SEND_RESPONSE) std::reverse(o.begin(), o.end());
  }
}

void module_table::terminate() noexcept {
  if (terminated_) return;
  terminated_ = true;
  for (auto& m : modules_) {
    if (m->factory() == nullptr) continue;
    try {
      m->factory()->Terminate();
    } catch (...) {
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One request

namespace {

class request;

/// A module context container: one stored context per module id, cleaned up with the container.
class context_container final : public IHttpModuleContextContainer {
 public:
  IHttpStoredContext* GetModuleContext(HTTP_MODULE_ID id) override {
    std::lock_guard lock(mu_);
    for (auto& [k, v] : items_)
      if (k == id) return v;
    return nullptr;
  }
  HRESULT SetModuleContext(IHttpStoredContext* ctx, HTTP_MODULE_ID id) override {
    if (ctx == nullptr || id == nullptr) return E_INVALIDARG;
    std::lock_guard lock(mu_);
    for (auto& [k, v] : items_)
      if (k == id) return HRESULT_FROM_WIN32(ERROR_ALREADY_ASSIGNED);
    items_.emplace_back(id, ctx);
    return S_OK;
  }
  /// Calls CleanupStoredContext on each stored context once.
  void cleanup() noexcept {
    std::vector<std::pair<HTTP_MODULE_ID, IHttpStoredContext*>> items;
    {
      std::lock_guard lock(mu_);
      items.swap(items_);
    }
    for (auto& [k, v] : items) v->CleanupStoredContext();
  }
  ~context_container() { cleanup(); }

 private:
  std::mutex mu_;
  std::vector<std::pair<HTTP_MODULE_ID, IHttpStoredContext*>> items_;
};

/// The anonymous user every request has once authentication has run without setting one.
class anonymous_user final : public IHttpUser {
 public:
  PCWSTR GetRemoteUserName() override { return L""; }
  PCWSTR GetUserName() override { return L""; }
  PCWSTR GetAuthenticationType() override { return L""; }
  PCWSTR GetPassword() override { return L""; }
  HANDLE GetImpersonationToken() override { return nullptr; }
  HANDLE GetPrimaryToken() override { return nullptr; }
  VOID ReferenceUser() override {}
  VOID DereferenceUser() override {}
  BOOL SupportsIsInRole() override { return FALSE; }
  HRESULT IsInRole(PCWSTR, BOOL* in_role) override {
    if (in_role != nullptr) *in_role = FALSE;
    return E_NOTIMPL;
  }
  PVOID GetUserVariable(PCSTR) override { return nullptr; }
};
anonymous_user g_anonymous;

class event_provider final : public IHttpEventProvider {
 public:
  VOID SetErrorStatus(HRESULT hr) override { error = hr; }
  HRESULT error = S_OK;
};

class authentication_provider final : public IAuthenticationProvider {
 public:
  explicit authentication_provider(request& r) : r_(r) {}
  VOID SetErrorStatus(HRESULT hr) override { error = hr; }
  VOID SetUser(IHttpUser* user) override;
  HRESULT error = S_OK;

 private:
  request& r_;
};

class send_response_provider final : public ISendResponseProvider {
 public:
  VOID SetErrorStatus(HRESULT hr) override { error = hr; }
  BOOL GetHeadersBeingSent() const override { return headers_being_sent; }
  DWORD GetFlags() const override { return flags; }
  VOID SetFlags(DWORD f) override { flags = f; }
  HTTP_LOG_DATA* GetLogData() const override { return nullptr; }
  HRESULT SetLogData(HTTP_LOG_DATA*) override { return E_NOTIMPL; }
  BOOL GetReadyToLogData() const override { return FALSE; }
  HRESULT error = S_OK;
  BOOL headers_being_sent = FALSE;
  DWORD flags = 0;
};

class map_handler_provider final : public IMapHandlerProvider {
 public:
  explicit map_handler_provider(request& r) : r_(r) {}
  VOID SetErrorStatus(HRESULT hr) override { error = hr; }
  HRESULT SetScriptName(PCWSTR name, DWORD cch) override;
  VOID SetScriptMap(IScriptMapInfo*) override {}
  VOID SetFileName(PCWSTR name, DWORD cch) override;
  VOID SetFileInfo(IHttpFileInfo*) override {}
  HRESULT error = S_OK;

 private:
  request& r_;
};

class completion_info final : public IHttpCompletionInfo {
 public:
  DWORD GetCompletionBytes() const override { return bytes; }
  HRESULT GetCompletionStatus() const override { return status; }
  DWORD bytes = 0;
  HRESULT status = S_OK;
};

/// How a parked request is resumed.
enum class resume_kind { none, indicate, post };

/// One request: IHttpContext and the objects it hands out, and the pipeline's state machine.
class request final : public IHttpContext, public IModuleAllocator {
 public:
  request(pipeline& p, std::shared_ptr<exchange> ex)
      : p_(p), ex_(std::move(ex)), auth_(*this), map_(*this), instances_(p.modules().size(), nullptr) {
    const request_head& h = ex_->head();
    method_ = h.method;
    url_ = h.target;
    headers_ = h.headers;
    body_ = ex_->body();
    const auto q = url_.find('?');
    path_ = percent_decoded(url_.substr(0, q));
    query_ = q == std::string::npos ? std::string() : url_.substr(q + 1);
    wpath_ = widen(path_);
    wquery_ = widen(query_);
    wsite_name_ = p_.site().name;
    app_id_ = fmt::format(L"/LM/W3SVC/{}/ROOT", p_.site().id);
    app_config_path_ = L"MACHINE/WEBROOT/APPHOST/" + p_.site().name;
    wphysical_root_ = widen(p_.site().physical_path);
  }

  /// Makes the module instances and runs the pipeline from its first step.
  void start() {
    for (std::size_t i = 0; i < instances_.size(); ++i) {
      CHttpModule* m = nullptr;
      HRESULT hr;
      try {
        hr = p_.modules().at(i).factory()->GetHttpModule(&m, this);
      } catch (...) {
        hr = E_FAIL;
      }
      if (FAILED(hr) || m == nullptr) {
        fail(500, "Internal Server Error", hr);
        step_ = k_send_step;
        continue;
      }
      instances_[i] = m;
    }
    run();
  }

  // --- IHttpContext ------------------------------------------------------------------------------
  IHttpSite* GetSite() override { return &site_part_; }
  IHttpApplication* GetApplication() override { return &application_part_; }
  IHttpConnection* GetConnection() override { return &connection_part_; }
  IHttpRequest* GetRequest() override { return &request_part_; }
  IHttpResponse* GetResponse() override { return &response_part_; }
  BOOL GetResponseHeadersSent() const override { return headers_sent_; }
  IHttpUser* GetUser() const override { return user_; }
  IHttpModuleContextContainer* GetModuleContextContainer() override { return &request_contexts_; }
  VOID IndicateCompletion(REQUEST_NOTIFICATION_STATUS status) override { resume(resume_kind::indicate, status, 0); }
  HRESULT PostCompletion(DWORD bytes) override {
    // Resumed on a pool thread: the completion runs OnAsyncCompletion there (or, if it arrives before the
    // notification has returned PENDING, on the thread that then returns it).
    {
      std::lock_guard lock(mu_);
      ++posts_in_flight_;
    }
    const HRESULT hr =
        p_.pool().post([](DWORD, DWORD n, OVERLAPPED* ov) { reinterpret_cast<post_slot*>(ov)->owner->posted(n); }, 0,
                       bytes, &post_slot_.ov);
    if (FAILED(hr)) {
      std::lock_guard lock(mu_);
      --posts_in_flight_;
    }
    return hr;
  }
  VOID DisableNotifications(DWORD notifications, DWORD post_notifications) override {
    if (current_ < disabled_.size()) {
      disabled_[current_].first |= notifications;
      disabled_[current_].second |= post_notifications;
    }
  }
  BOOL GetNextNotification(REQUEST_NOTIFICATION_STATUS, DWORD*, BOOL*, CHttpModule**, IHttpEventProvider**) override {
    return FALSE;
  }
  BOOL GetIsLastNotification(REQUEST_NOTIFICATION_STATUS) override { return step_ == k_steps - 1 ? TRUE : FALSE; }
  HRESULT ExecuteRequest(BOOL, IHttpContext*, DWORD, IHttpUser*, BOOL* expected) override {
    if (expected != nullptr) *expected = FALSE;
    return E_NOTIMPL;
  }
  DWORD GetExecuteFlags() const override { return 0; }
  HRESULT GetServerVariable(PCSTR name, PCWSTR* value, DWORD* cch) override {
    PCSTR narrow_value = nullptr;
    DWORD n = 0;
    HRESULT hr = GetServerVariable(name, &narrow_value, &n);
    if (FAILED(hr)) return hr;
    const std::wstring w = widen(std::string_view(narrow_value, n));
    auto* copy = static_cast<WCHAR*>(allocate(static_cast<DWORD>((w.size() + 1) * sizeof(WCHAR))));
    if (copy == nullptr) return E_OUTOFMEMORY;
    std::wmemcpy(copy, w.c_str(), w.size() + 1);
    if (value != nullptr) *value = copy;
    if (cch != nullptr) *cch = static_cast<DWORD>(w.size());
    return S_OK;
  }
  HRESULT GetServerVariable(PCSTR name, PCSTR* value, DWORD* cch) override;
  HRESULT SetServerVariable(PCSTR name, PCWSTR value) override {
    if (name == nullptr) return E_INVALIDARG;
    std::lock_guard lock(mu_);
    set_vars_.push_back({name, value != nullptr ? narrow(value) : std::string()});
    return S_OK;
  }
  VOID* AllocateRequestMemory(DWORD cb) override { return allocate(cb); }
  IHttpUrlInfo* GetUrlInfo() override { return nullptr; }
  IMetadataInfo* GetMetadata() override { return nullptr; }
  PCWSTR GetPhysicalPath(DWORD* cch) override {
    if (physical_.empty()) physical_ = map_url(wpath_);
    if (cch != nullptr) *cch = static_cast<DWORD>(physical_.size());
    return physical_.c_str();
  }
  PCWSTR GetScriptName(DWORD* cch) const override {
    const std::wstring& s = script_name_.empty() ? wpath_ : script_name_;
    if (cch != nullptr) *cch = static_cast<DWORD>(s.size());
    return s.c_str();
  }
  PCWSTR GetScriptTranslated(DWORD* cch) override { return GetPhysicalPath(cch); }
  IScriptMapInfo* GetScriptMap() const override { return nullptr; }
  VOID SetRequestHandled() override {}  // nothing here reads it (docs/iis.md)
  IHttpFileInfo* GetFileInfo() const override { return nullptr; }
  HRESULT MapPath(PCWSTR url, PWSTR out, DWORD* cb) override {
    if (url == nullptr || cb == nullptr) return E_INVALIDARG;
    std::wstring mapped = map_url(url);
    if (mapped.empty()) return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
    const DWORD need = static_cast<DWORD>((mapped.size() + 1) * sizeof(WCHAR));
    if (out == nullptr || *cb < need) {
      *cb = need;
      return HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER);
    }
    std::wmemcpy(out, mapped.c_str(), mapped.size() + 1);
    *cb = need;
    return S_OK;
  }
  HRESULT NotifyCustomNotification(ICustomNotificationProvider*, BOOL* expected) override {
    if (expected != nullptr) *expected = FALSE;
    return E_NOTIMPL;
  }
  IHttpContext* GetParentContext() const override { return nullptr; }
  IHttpContext* GetRootContext() const override { return const_cast<request*>(this); }
  HRESULT CloneContext(DWORD, IHttpContext** out) override {
    if (out != nullptr) *out = nullptr;
    return E_NOTIMPL;
  }
  HRESULT ReleaseClonedContext() override { return E_NOTIMPL; }
  HRESULT GetCurrentExecutionStats(DWORD* notification, DWORD* start, PCWSTR* module, DWORD* module_start, DWORD* async,
                                   DWORD* async_start) const override {
    if (notification != nullptr) *notification = step_ < k_steps ? step_at(step_).notification : 0;
    if (start != nullptr) *start = 0;
    if (module != nullptr) *module = current_ < instances_.size() ? p_.modules().at(current_).name().c_str() : nullptr;
    if (module_start != nullptr) *module_start = 0;
    if (async != nullptr) *async = 0;
    if (async_start != nullptr) *async_start = 0;
    return S_OK;
  }
  IHttpTraceContext* GetTraceContext() const override { return nullptr; }
  HRESULT GetServerVarChanges(DWORD, DWORD*, DWORD*, PCSTR**, PCWSTR**, DWORD*, DWORD**) override { return E_NOTIMPL; }
  HRESULT CancelIo() override { return E_NOTIMPL; }
  HRESULT MapHandler(DWORD, PCWSTR, PCWSTR, PCSTR, IScriptMapInfo** out, BOOL) override {
    if (out != nullptr) *out = nullptr;
    return E_NOTIMPL;
  }
  HRESULT GetExtendedInterface(HTTP_CONTEXT_INTERFACE_VERSION, PVOID* out) override {
    if (out != nullptr) *out = nullptr;
    return E_NOTIMPL;
  }

  // --- IModuleAllocator ----------------------------------------------------------------------------
  VOID* AllocateMemory(DWORD cb) override { return allocate(cb); }

  /// The site as a request sees it.
  class site_part final : public IHttpSite {
   public:
    explicit site_part(request& r) : r_(r) {}
    DWORD GetSiteId() const override { return r_.p_.site().id; }
    PCWSTR GetSiteName() const override { return r_.wsite_name_.c_str(); }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return &r_.p_.site_contexts(); }
    IHttpPerfCounterInfo* GetPerfCounterInfo() override { return nullptr; }

   private:
    request& r_;
  };

  /// The root application as a request sees it.
  class application_part final : public IHttpApplication {
   public:
    explicit application_part(request& r) : r_(r) {}
    PCWSTR GetApplicationPhysicalPath() const override { return r_.wphysical_root_.c_str(); }
    PCWSTR GetApplicationId() const override { return r_.app_id_.c_str(); }
    PCWSTR GetAppConfigPath() const override { return r_.app_config_path_.c_str(); }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return &r_.p_.application_contexts(); }

   private:
    request& r_;
  };

  /// The connection as a request sees it (per-connection contexts are not kept: NULL).
  class connection_part final : public IHttpConnection {
   public:
    explicit connection_part(request& r) : r_(r) {}
    BOOL IsConnected() const override { return r_.ex_->connected() ? TRUE : FALSE; }
    VOID* AllocateMemory(DWORD cb) override { return r_.allocate(cb); }
    IHttpConnectionModuleContextContainer* GetModuleContextContainer() override { return nullptr; }

   private:
    request& r_;
  };

  /// The request's IHttpRequest.
  class request_part final : public IHttpRequest {
   public:
    explicit request_part(request& r) : r_(r) {}
    HTTP_REQUEST* GetRawHttpRequest() override { return &r_.raw_request(); }
    const HTTP_REQUEST* GetRawHttpRequest() const override { return &r_.raw_request(); }
    PCSTR GetHeader(PCSTR name, USHORT* cch) const override { return r_.find_header(r_.headers_, name, cch); }
    // By id: the name helpers answer NULL for an id outside the table, which the lookups refuse.
    PCSTR GetHeader(HTTP_HEADER_ID id, USHORT* cch) const override {
      return r_.find_header(r_.headers_, request_header_name(id), cch);
    }
    HRESULT SetHeader(PCSTR name, PCSTR value, USHORT cch, BOOL replace) override {
      return r_.set_header(r_.headers_, name, value, cch, replace);
    }
    HRESULT SetHeader(HTTP_HEADER_ID id, PCSTR value, USHORT cch, BOOL replace) override {
      return r_.set_header(r_.headers_, request_header_name(id), value, cch, replace);
    }
    HRESULT DeleteHeader(PCSTR name) override { return r_.delete_header(r_.headers_, name); }
    HRESULT DeleteHeader(HTTP_HEADER_ID id) override { return r_.delete_header(r_.headers_, request_header_name(id)); }
    PCSTR GetHttpMethod() const override { return r_.method_.c_str(); }
    HRESULT SetHttpMethod(PCSTR method) override {
      if (method == nullptr || *method == '\0') return E_INVALIDARG;
      r_.method_ = method;
      r_.raw_valid_ = false;
      return S_OK;
    }
    HRESULT SetUrl(PCWSTR url, DWORD cch, BOOL reset_query) override {
      if (url == nullptr) return E_INVALIDARG;
      return SetUrl(narrow(std::wstring_view(url, cch)).c_str(), static_cast<DWORD>(-1), reset_query);
    }
    HRESULT SetUrl(PCSTR url, DWORD cch, BOOL reset_query) override {
      if (url == nullptr || *url != '/') return E_INVALIDARG;
      std::string u = cch == static_cast<DWORD>(-1) ? std::string(url)
                                                    : std::string(url, std::strlen(url) < cch ? std::strlen(url) : cch);
      if (r_.forwarded_.empty()) r_.forwarded_ = widen(r_.url_);
      const auto q = u.find('?');
      r_.path_ = percent_decoded(u.substr(0, q));
      if (q != std::string::npos)
        r_.query_ = u.substr(q + 1);
      else if (reset_query)
        r_.query_.clear();
      r_.url_ = r_.query_.empty() ? r_.path_ : r_.path_ + "?" + r_.query_;
      r_.wpath_ = widen(r_.path_);
      r_.wquery_ = widen(r_.query_);
      r_.physical_.clear();
      r_.url_changed_ = true;
      r_.raw_valid_ = false;
      return S_OK;
    }
    BOOL GetUrlChanged() const override { return r_.url_changed_; }
    PCWSTR GetForwardedUrl() const override { return r_.forwarded_.empty() ? nullptr : r_.forwarded_.c_str(); }
    PSOCKADDR GetLocalAddress() const override {
      return reinterpret_cast<PSOCKADDR>(const_cast<sockaddr_storage*>(&r_.ex_->head().local));
    }
    PSOCKADDR GetRemoteAddress() const override {
      return reinterpret_cast<PSOCKADDR>(const_cast<sockaddr_storage*>(&r_.ex_->head().remote));
    }
    HRESULT ReadEntityBody(VOID* buf, DWORD cb, BOOL, DWORD* received, BOOL* pending) override {
      if (pending != nullptr) *pending = FALSE;
      if (received != nullptr) *received = 0;
      if (buf == nullptr && cb != 0) return E_INVALIDARG;
      const std::size_t left = r_.body_.size() - r_.body_read_;
      if (left == 0) return HRESULT_FROM_WIN32(ERROR_HANDLE_EOF);
      const std::size_t n = std::min<std::size_t>(cb, left);
      std::memcpy(buf, r_.body_.data() + r_.body_read_, n);
      r_.body_read_ += n;
      if (received != nullptr) *received = static_cast<DWORD>(n);
      return S_OK;
    }
    HRESULT InsertEntityBody(VOID* buf, DWORD cb) override {
      if (buf == nullptr && cb != 0) return E_INVALIDARG;
      r_.body_.insert(r_.body_read_, static_cast<const char*>(buf), cb);
      return S_OK;
    }
    DWORD GetRemainingEntityBytes() override { return static_cast<DWORD>(r_.body_.size() - r_.body_read_); }
    VOID GetHttpVersion(USHORT* major, USHORT* minor) const override {
      if (major != nullptr) *major = static_cast<USHORT>(r_.ex_->head().version / 10);
      if (minor != nullptr) *minor = static_cast<USHORT>(r_.ex_->head().version % 10);
    }
    HRESULT GetClientCertificate(HTTP_SSL_CLIENT_CERT_INFO** info, BOOL* negotiated) override {
      if (info != nullptr) *info = nullptr;
      if (negotiated != nullptr) *negotiated = FALSE;
      return E_NOTIMPL;
    }
    HRESULT NegotiateClientCertificate(BOOL, BOOL* pending) override {
      if (pending != nullptr) *pending = FALSE;
      return E_NOTIMPL;
    }
    DWORD GetSiteId() const override { return r_.p_.site().id; }
    HRESULT GetHeaderChanges(DWORD, DWORD*, PCSTR*, DWORD*, PCSTR**, PCSTR**, DWORD*, DWORD*, DWORD**) override {
      return E_NOTIMPL;
    }

   private:
    request& r_;
  };

  /// The request's IHttpResponse.
  class response_part final : public IHttpResponse {
   public:
    explicit response_part(request& r) : r_(r) {}
    HTTP_RESPONSE* GetRawHttpResponse() override { return &r_.raw_response(); }
    const HTTP_RESPONSE* GetRawHttpResponse() const override { return &r_.raw_response(); }
    PCSTR GetHeader(PCSTR name, USHORT* cch) const override { return r_.find_header(r_.out_headers_, name, cch); }
    // By id: the name helpers answer NULL for an id outside the table, which the lookups refuse.
    PCSTR GetHeader(HTTP_HEADER_ID id, USHORT* cch) const override {
      return r_.find_header(r_.out_headers_, response_header_name(id), cch);
    }
    HRESULT SetHeader(PCSTR name, PCSTR value, USHORT cch, BOOL replace) override {
      return r_.set_header(r_.out_headers_, name, value, cch, replace);
    }
    HRESULT SetHeader(HTTP_HEADER_ID id, PCSTR value, USHORT cch, BOOL replace) override {
      return r_.set_header(r_.out_headers_, response_header_name(id), value, cch, replace);
    }
    HRESULT DeleteHeader(PCSTR name) override { return r_.delete_header(r_.out_headers_, name); }
    HRESULT DeleteHeader(HTTP_HEADER_ID id) override {
      return r_.delete_header(r_.out_headers_, response_header_name(id));
    }
    IHttpCachePolicy* GetCachePolicy() override { return nullptr; }
    HRESULT SetStatus(USHORT code, PCSTR reason, USHORT sub_status, HRESULT hr, IAppHostConfigException*,
                      BOOL) override {
      if (code < 100 || code > 999) return E_INVALIDARG;
      r_.status_ = code;
      r_.reason_ = reason != nullptr ? reason : "";
      r_.sub_status_ = sub_status;
      r_.error_ = hr;
      return S_OK;
    }
    VOID Clear() override { r_.out_body_.clear(); }
    VOID ClearHeaders() override { r_.out_headers_.clear(); }
    VOID SetNeedDisconnect() override { r_.close_ = true; }
    VOID ResetConnection() override { r_.close_ = true; }
    VOID DisableKernelCache(ULONG) override {}
    BOOL GetKernelCacheEnabled() const override { return FALSE; }
    VOID SuppressHeaders() override { r_.suppress_ = true; }
    BOOL GetHeadersSuppressed() const override { return r_.suppress_; }
    HRESULT Flush(BOOL, BOOL more, DWORD* sent, BOOL* expected) override {
      if (expected != nullptr) *expected = FALSE;
      const std::size_t n = r_.out_body_.size();
      HRESULT hr = r_.send_now(!more && false);
      if (sent != nullptr) *sent = static_cast<DWORD>(n);
      return hr;
    }
    HRESULT Redirect(PCSTR url, BOOL reset_status, BOOL) override {
      if (url == nullptr) return E_INVALIDARG;
      if (reset_status) {
        r_.status_ = 302;
        r_.reason_ = "Redirect";
      }
      r_.set_header(r_.out_headers_, "Location", url, static_cast<USHORT>(std::strlen(url)), TRUE);
      return S_OK;
    }
    HRESULT WriteEntityChunkByReference(HTTP_DATA_CHUNK* chunk, LONG position) override {
      if (chunk == nullptr) return E_INVALIDARG;
      std::string bytes;
      if (HRESULT hr = r_.chunk_bytes(*chunk, bytes); FAILED(hr)) return hr;
      if (position < 0 || static_cast<std::size_t>(position) >= r_.out_body_.size())
        r_.out_body_ += bytes;
      else
        r_.out_body_.insert(static_cast<std::size_t>(position), bytes);
      return S_OK;
    }
    HRESULT WriteEntityChunks(HTTP_DATA_CHUNK* chunks, DWORD n, BOOL, BOOL more, DWORD* sent, BOOL* expected) override {
      if (expected != nullptr) *expected = FALSE;
      if (sent != nullptr) *sent = 0;
      if (chunks == nullptr && n != 0) return E_INVALIDARG;
      std::size_t total = 0;
      for (DWORD i = 0; i < n; ++i) {
        std::string bytes;
        if (HRESULT hr = r_.chunk_bytes(chunks[i], bytes); FAILED(hr)) return hr;
        total += bytes.size();
        r_.out_body_ += bytes;
      }
      if (sent != nullptr) *sent = static_cast<DWORD>(total);
      if (!r_.buffering_ && !more) return r_.send_now(false);
      return S_OK;
    }
    VOID DisableBuffering() override { r_.buffering_ = false; }
    VOID GetStatus(USHORT* code, USHORT* sub, PCSTR* reason, USHORT* cch, HRESULT* hr, PCWSTR* module,
                   DWORD* notification, IAppHostConfigException** exception, BOOL* skip) override {
      if (code != nullptr) *code = r_.status_;
      if (sub != nullptr) *sub = r_.sub_status_;
      if (reason != nullptr) *reason = r_.reason_.c_str();
      if (cch != nullptr) *cch = static_cast<USHORT>(r_.reason_.size());
      if (hr != nullptr) *hr = r_.error_;
      if (module != nullptr) *module = nullptr;
      if (notification != nullptr) *notification = 0;
      if (exception != nullptr) *exception = nullptr;
      if (skip != nullptr) *skip = FALSE;
    }
    HRESULT SetErrorDescription(PCWSTR text, DWORD cch, BOOL) override {
      if (text == nullptr) return E_INVALIDARG;
      r_.error_description_.assign(text, cch);
      return S_OK;
    }
    PCWSTR GetErrorDescription(DWORD* cch) override {
      if (cch != nullptr) *cch = static_cast<DWORD>(r_.error_description_.size());
      return r_.error_description_.c_str();
    }
    VOID CloseConnection() override { r_.close_ = true; }
    HRESULT GetHeaderChanges(DWORD, DWORD*, PCSTR*, DWORD*, PCSTR**, PCSTR**, DWORD*, DWORD*, DWORD**) override {
      return E_NOTIMPL;
    }

   private:
    request& r_;
  };

  /// A PostCompletion's routine: resumes the request, and deletes it if it had ended meanwhile (a
  /// completion the module posted without being pending, kept so that the routine finds live memory).
  void posted(DWORD bytes) {
    resume(resume_kind::post, RQ_NOTIFICATION_CONTINUE, bytes);
    bool last;
    {
      std::lock_guard lock(mu_);
      last = --posts_in_flight_ == 0 && ended_;
    }
    if (last) destroy();
  }

  /// Resumes a parked request, or records a completion that came before its PENDING (the return of
  /// PENDING then resumes it): whichever of the two comes second goes on with the request.
  void resume(resume_kind kind, REQUEST_NOTIFICATION_STATUS status, DWORD bytes) {
    {
      std::lock_guard lock(mu_);
      // A completion while a flush runs SEND_RESPONSE modules, or after the request ended, belongs to
      // no pending notification here (docs/iis.md): it changes nothing.
      if (nested_ || ended_) return;
      if (state_ == state::parked) {
        state_ = state::running;
      } else if (state_ == state::in_call) {
        early_ = kind;
        early_status_ = status;
        early_bytes_ = bytes;
        return;
      } else {
        return;  // nothing is pending: a stray completion (the module's mistake) changes nothing
      }
    }
    if (go_on(kind, status, bytes)) run();
  }

  void set_user(IHttpUser* user) {
    if (user != nullptr) user->ReferenceUser();
    if (user_ != nullptr) user_->DereferenceUser();
    user_ = user;
  }
  HRESULT set_script_name(PCWSTR name, DWORD cch) {
    if (name == nullptr) return E_INVALIDARG;
    script_name_.assign(name, cch);
    return S_OK;
  }
  void set_file_name(PCWSTR name, DWORD cch) {
    if (name != nullptr) physical_.assign(name, cch);
  }

 private:
  enum class state { running, in_call, parked };

  // Runs steps until the request ends or a module parks it.
  void run() {
    for (;;) {
      if (step_ >= k_steps) return end();
      const auto& order = p_.modules().order(step_);
      if (cursor_ >= order.size()) {
        if (step_ == k_send_step) send_now(true);
        if (step_at(step_).notification == RQ_AUTHENTICATE_REQUEST && !step_at(step_).post && user_ == nullptr)
          set_user(&g_anonymous);
        ++step_;
        cursor_ = 0;
        continue;
      }
      current_ = order[cursor_];
      CHttpModule* m = instances_[current_];
      if (m == nullptr || disabled(current_, step_)) {
        ++cursor_;
        continue;
      }
      enter_call();
      const REQUEST_NOTIFICATION_STATUS status = call(*m, step_);
      resume_kind kind;
      REQUEST_NOTIFICATION_STATUS resumed;
      DWORD bytes;
      if (!leave_call(status, kind, resumed, bytes)) return;  // parked: a completion goes on
      if (status == RQ_NOTIFICATION_PENDING) {
        // The completion came before PENDING was returned: this thread, second, goes on.
        if (!go_on(kind, resumed, bytes)) return;
        continue;
      }
      apply(status);
    }
  }

  // Marks the request as inside a module call (a completion that arrives now is kept for its return).
  void enter_call() {
    std::lock_guard lock(mu_);
    state_ = state::in_call;
    early_ = resume_kind::none;
  }

  // After a module call: false when it returned PENDING and no completion has come yet (the request
  // is parked; the caller must not touch it again). Otherwise the completion that came early, if any.
  bool leave_call(REQUEST_NOTIFICATION_STATUS status, resume_kind& kind, REQUEST_NOTIFICATION_STATUS& resumed,
                  DWORD& bytes) {
    std::lock_guard lock(mu_);
    kind = early_;
    resumed = early_status_;
    bytes = early_bytes_;
    early_ = resume_kind::none;
    if (status == RQ_NOTIFICATION_PENDING && kind == resume_kind::none) {
      state_ = state::parked;
      return false;
    }
    state_ = state::running;
    return true;
  }

  // Goes on after a completion: a PostCompletion runs the module's OnAsyncCompletion first, whose
  // answer counts (and may park the request again). False when the request is parked again.
  bool go_on(resume_kind kind, REQUEST_NOTIFICATION_STATUS status, DWORD bytes) {
    while (kind == resume_kind::post) {
      completion_.bytes = bytes;
      completion_.status = S_OK;
      const step_info s = step_at(step_);
      CHttpModule* m = instances_[current_];
      enter_call();
      const REQUEST_NOTIFICATION_STATUS answer =
          guarded([&] { return m->OnAsyncCompletion(this, s.notification, s.post, &events_, &completion_); });
      if (!leave_call(answer, kind, status, bytes)) return false;
      if (answer != RQ_NOTIFICATION_PENDING) {
        status = answer;
        break;
      }
    }
    // IndicateCompletion(RQ_NOTIFICATION_PENDING) would park nothing: it counts as CONTINUE.
    apply(status == RQ_NOTIFICATION_PENDING ? RQ_NOTIFICATION_CONTINUE : status);
    return true;
  }

  void apply(REQUEST_NOTIFICATION_STATUS status) {
    switch (status) {
      case RQ_NOTIFICATION_CONTINUE:
      case RQ_NOTIFICATION_PENDING: ++cursor_; return;
      case RQ_NOTIFICATION_FINISH_REQUEST:
        if (step_ < k_send_step) {
          step_ = k_send_step;
          cursor_ = 0;
        } else {
          cursor_ = p_.modules().order(step_).size();
        }
        return;
    }
    ++cursor_;
  }

  template <class F>
  REQUEST_NOTIFICATION_STATUS guarded(F&& f) noexcept {
    try {
      return f();
    } catch (...) {
      fail(500, "Internal Server Error", E_FAIL);
      return RQ_NOTIFICATION_FINISH_REQUEST;
    }
  }

  REQUEST_NOTIFICATION_STATUS call(CHttpModule& m, unsigned step) noexcept {
    const step_info s = step_at(step);
    IHttpEventProvider* e = &events_;
    return guarded([&]() -> REQUEST_NOTIFICATION_STATUS {
      switch (s.notification) {
        case RQ_BEGIN_REQUEST: return s.post ? m.OnPostBeginRequest(this, e) : m.OnBeginRequest(this, e);
        case RQ_AUTHENTICATE_REQUEST:
          return s.post ? m.OnPostAuthenticateRequest(this, e) : m.OnAuthenticateRequest(this, &auth_);
        case RQ_AUTHORIZE_REQUEST: return s.post ? m.OnPostAuthorizeRequest(this, e) : m.OnAuthorizeRequest(this, e);
        case RQ_RESOLVE_REQUEST_CACHE:
          return s.post ? m.OnPostResolveRequestCache(this, e) : m.OnResolveRequestCache(this, e);
        case RQ_MAP_REQUEST_HANDLER:
          return s.post ? m.OnPostMapRequestHandler(this, e) : m.OnMapRequestHandler(this, &map_);
        case RQ_ACQUIRE_REQUEST_STATE:
          return s.post ? m.OnPostAcquireRequestState(this, e) : m.OnAcquireRequestState(this, e);
        case RQ_PRE_EXECUTE_REQUEST_HANDLER:
          return s.post ? m.OnPostPreExecuteRequestHandler(this, e) : m.OnPreExecuteRequestHandler(this, e);
        case RQ_EXECUTE_REQUEST_HANDLER:
          return s.post ? m.OnPostExecuteRequestHandler(this, e) : m.OnExecuteRequestHandler(this, e);
        case RQ_RELEASE_REQUEST_STATE:
          return s.post ? m.OnPostReleaseRequestState(this, e) : m.OnReleaseRequestState(this, e);
        case RQ_UPDATE_REQUEST_CACHE:
          return s.post ? m.OnPostUpdateRequestCache(this, e) : m.OnUpdateRequestCache(this, e);
        case RQ_LOG_REQUEST: return s.post ? m.OnPostLogRequest(this, e) : m.OnLogRequest(this, e);
        case RQ_END_REQUEST: return s.post ? m.OnPostEndRequest(this, e) : m.OnEndRequest(this, e);
        case RQ_SEND_RESPONSE:
          send_provider_.headers_being_sent = headers_sent_ || suppress_ ? FALSE : TRUE;
          return m.OnSendResponse(this, &send_provider_);
        default: return RQ_NOTIFICATION_CONTINUE;
      }
    });
  }

  bool disabled(unsigned module, unsigned step) const noexcept {
    const step_info s = step_at(step);
    return ((s.post ? disabled_[module].second : disabled_[module].first) & s.notification) != 0;
  }

  // Sends what the response holds now: the status line and headers the first time, then the body.
  // A flush from a module (final = false) runs the SEND_RESPONSE notifications itself; the final one's
  // ran as the send step.
  HRESULT send_now(bool final) {
    if (!final && !p_.modules().order(k_send_step).empty()) {
      {
        std::lock_guard lock(mu_);
        nested_ = true;
      }
      for (std::uint16_t i : p_.modules().order(k_send_step))
        if (instances_[i] != nullptr && !disabled(i, k_send_step)) {
          const unsigned saved = current_;
          current_ = i;
          // A flush cannot park the request: PENDING from these counts as CONTINUE (docs/iis.md).
          (void)call(*instances_[i], k_send_step);
          current_ = saved;
        }
      std::lock_guard lock(mu_);
      nested_ = false;
    }
    if (sent_last_) return S_OK;
    response_head head;
    head.status = status_;
    head.reason = reason_;
    head.headers = out_headers_;
    head.close = close_;
    head.suppress_headers = suppress_;
    const bool ok = ex_->send(head, out_body_, final);
    headers_sent_ = TRUE;
    out_body_.clear();
    if (final) sent_last_ = true;
    return ok ? S_OK : HRESULT_FROM_WIN32(ERROR_NETNAME_DELETED);
  }

  void fail(USHORT code, const char* reason, HRESULT hr) {
    if (headers_sent_) return;
    status_ = code;
    reason_ = reason;
    error_ = hr;
    out_body_.clear();
  }

  // Ends the request: every module instance's Dispose once, the stored contexts, the user, the memory.
  void end() {
    if (!sent_last_) send_now(true);
    for (CHttpModule* m : instances_) {
      if (m == nullptr) continue;
      try {
        m->Dispose();
      } catch (...) {
      }
    }
    request_contexts_.cleanup();
    if (user_ != nullptr) user_->DereferenceUser();
    user_ = nullptr;
    pipeline& p = p_;  // read first: once ended_ is set, a posted routine may delete this request
    bool now;
    {
      std::lock_guard lock(mu_);
      ended_ = true;
      now = posts_in_flight_ == 0;
    }
    if (now) destroy();  // else the last posted routine does
    p.request_ended();
  }

  void destroy() noexcept { delete this; }

  void* allocate(DWORD cb) noexcept {
    if (cb == 0) cb = 1;
    try {
      std::lock_guard lock(mu_);
      return memory_.allocate(cb, alignof(std::max_align_t));
    } catch (...) {
      return nullptr;
    }
  }

  // The physical path of a URL path under the site's folder, or "" when it would leave the folder: every
  // leading '/' goes (a path starting "//" would otherwise be absolute and replace the root), ".."
  // anywhere is refused, and the result must still start with the root.
  std::wstring map_url(std::wstring_view url) const {
    // In UTF-8 (std::filesystem converts wide strings through the C locale, which fails on non-ASCII).
    const std::string u = narrow(url.substr(0, url.find(L'?')));
    const bool folder = !u.empty() && u.back() == '/';
    std::size_t first = 0;
    while (first < u.size() && u[first] == '/') ++first;
    const std::filesystem::path rel = std::filesystem::path(u.substr(first)).lexically_normal();
    if (rel.has_root_path() || rel.is_absolute()) return {};
    for (const auto& part : rel)
      if (part == "..") return {};
    const std::filesystem::path root = std::filesystem::path(p_.site().physical_path).lexically_normal();
    const std::filesystem::path joined = (rel.empty() || rel == ".") ? root : (root / rel).lexically_normal();
    const std::string r = root.string();
    std::string out = joined.string();
    if (out.compare(0, r.size(), r) != 0) return {};
    if (folder && (out.empty() || out.back() != '/')) out.push_back('/');
    return widen(out);
  }

  static PCSTR find_header(const std::vector<header>& hs, PCSTR name, USHORT* cch) {
    if (cch != nullptr) *cch = 0;
    if (name == nullptr) return nullptr;
    for (const auto& h : hs)
      if (iequals(h.name, name)) {
        if (cch != nullptr) *cch = static_cast<USHORT>(h.value.size());
        return h.value.c_str();
      }
    return nullptr;
  }
  HRESULT set_header(std::vector<header>& hs, PCSTR name, PCSTR value, USHORT cch, BOOL replace) {
    if (name == nullptr || *name == '\0' || value == nullptr) return E_INVALIDARG;
    std::string v(value, cch != 0 ? cch : std::strlen(value));
    raw_valid_ = false;
    for (auto& h : hs)
      if (iequals(h.name, name)) {
        if (replace)
          h.value = std::move(v);
        else
          h.value += "," + v;
        return S_OK;
      }
    hs.push_back({name, std::move(v)});
    return S_OK;
  }
  HRESULT delete_header(std::vector<header>& hs, PCSTR name) {
    if (name == nullptr) return E_INVALIDARG;
    raw_valid_ = false;
    hs.erase(std::remove_if(hs.begin(), hs.end(), [&](const header& h) { return iequals(h.name, name); }), hs.end());
    return S_OK;
  }

  static HRESULT chunk_bytes(const HTTP_DATA_CHUNK& c, std::string& out) {
    switch (c.DataChunkType) {
      case HttpDataChunkFromMemory:
        if (c.FromMemory.pBuffer == nullptr && c.FromMemory.BufferLength != 0) return E_INVALIDARG;
        out.assign(static_cast<const char*>(c.FromMemory.pBuffer), c.FromMemory.BufferLength);
        return S_OK;
      case HttpDataChunkFromFileHandle:
      case HttpDataChunkFromFragmentCache:
      case HttpDataChunkFromFragmentCacheEx:
      case HttpDataChunkMaximum: return E_NOTIMPL;  // docs/iis.md: memory chunks only, for now
    }
    return E_INVALIDARG;
  }

  HTTP_REQUEST& raw_request();
  HTTP_RESPONSE& raw_response();

  pipeline& p_;
  std::shared_ptr<exchange> ex_;
  std::mutex mu_;
  state state_ = state::running;
  resume_kind early_ = resume_kind::none;
  REQUEST_NOTIFICATION_STATUS early_status_ = RQ_NOTIFICATION_CONTINUE;
  DWORD early_bytes_ = 0;

  unsigned step_ = 0;
  std::size_t cursor_ = 0;
  unsigned current_ = 0;

  request_part request_part_{*this};
  response_part response_part_{*this};
  site_part site_part_{*this};
  application_part application_part_{*this};
  connection_part connection_part_{*this};
  event_provider events_;
  authentication_provider auth_;
  send_response_provider send_provider_;
  map_handler_provider map_;
  completion_info completion_;
  /// What PostCompletion posts: the OVERLAPPED comes first, so the routine finds the request.
  struct post_slot {
    OVERLAPPED ov{};
    request* owner = nullptr;
  } post_slot_{{}, this};
  unsigned posts_in_flight_ = 0;  // PostCompletion routines not run yet (guarded by mu_)
  bool ended_ = false;            // end() has run (guarded by mu_)
  bool nested_ = false;           // a flush is running SEND_RESPONSE modules (guarded by mu_)
  context_container request_contexts_;
  std::vector<CHttpModule*> instances_;
  std::vector<std::pair<DWORD, DWORD>> disabled_ = std::vector<std::pair<DWORD, DWORD>>(instances_.size());
  IHttpUser* user_ = nullptr;
  std::pmr::monotonic_buffer_resource memory_;

  // The request.
  std::string method_, url_, path_, query_, body_;
  std::size_t body_read_ = 0;
  std::vector<header> headers_;
  std::wstring wpath_, wquery_, forwarded_, script_name_, physical_, wsite_name_, app_id_, app_config_path_,
      wphysical_root_;
  std::vector<std::pair<std::string, std::string>> set_vars_;
  bool url_changed_ = false;
  bool raw_valid_ = false;
  HTTP_REQUEST raw_req_{};
  std::wstring raw_full_url_;
  std::vector<HTTP_UNKNOWN_HEADER> raw_unknown_;
  std::string raw_url_narrow_;

  // The response.
  USHORT status_ = 200;
  USHORT sub_status_ = 0;
  std::string reason_ = "OK";
  HRESULT error_ = S_OK;
  std::vector<header> out_headers_;
  std::string out_body_;
  std::wstring error_description_;
  bool buffering_ = true;
  bool close_ = false;
  BOOL suppress_ = FALSE;
  BOOL headers_sent_ = FALSE;
  bool sent_last_ = false;
  HTTP_RESPONSE raw_resp_{};
};

void authentication_provider::SetUser(IHttpUser* user) { r_.set_user(user); }
HRESULT map_handler_provider::SetScriptName(PCWSTR name, DWORD cch) { return r_.set_script_name(name, cch); }
VOID map_handler_provider::SetFileName(PCWSTR name, DWORD cch) { r_.set_file_name(name, cch); }

HRESULT request::GetServerVariable(PCSTR name, PCSTR* value, DWORD* cch) {
  if (value != nullptr) *value = nullptr;
  if (cch != nullptr) *cch = 0;
  if (name == nullptr || value == nullptr) return E_INVALIDARG;
  std::string v;
  bool found = true;
  const std::string_view n(name);
  auto address = [](const sockaddr_storage& ss, bool port) -> std::string {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
      const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
      if (port) return std::to_string(ntohs(a.sin_port));
      ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
    } else if (ss.ss_family == AF_INET6) {
      const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
      if (port) return std::to_string(ntohs(a.sin6_port));
      ::inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf);
    }
    return buf;
  };
  {
    std::lock_guard lock(mu_);
    for (auto it = set_vars_.rbegin(); it != set_vars_.rend(); ++it)
      if (iequals(it->first, n)) {
        v = it->second;
        goto done;
      }
  }
  if (iequals(n, "REQUEST_METHOD")) {
    v = method_;
  } else if (iequals(n, "URL") || iequals(n, "SCRIPT_NAME") || iequals(n, "PATH_INFO")) {
    v = path_;
  } else if (iequals(n, "QUERY_STRING")) {
    v = query_;
  } else if (iequals(n, "HTTP_URL") || iequals(n, "UNENCODED_URL")) {
    v = url_;
  } else if (iequals(n, "SERVER_PROTOCOL")) {
    v = ex_->head().version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  } else if (iequals(n, "REMOTE_ADDR") || iequals(n, "REMOTE_HOST")) {
    v = address(ex_->head().remote, false);
  } else if (iequals(n, "REMOTE_PORT")) {
    v = address(ex_->head().remote, true);
  } else if (iequals(n, "LOCAL_ADDR")) {
    v = address(ex_->head().local, false);
  } else if (iequals(n, "SERVER_PORT")) {
    v = address(ex_->head().local, true);
  } else if (iequals(n, "AUTH_TYPE")) {
    v = user_ != nullptr ? narrow(user_->GetAuthenticationType()) : "";
  } else if (iequals(n, "AUTH_USER") || iequals(n, "REMOTE_USER") || iequals(n, "LOGON_USER")) {
    v = user_ != nullptr ? narrow(user_->GetUserName()) : "";
  } else if (iequals(n, "APPL_PHYSICAL_PATH")) {
    v = p_.site().physical_path;
  } else if (iequals(n, "PATH_TRANSLATED")) {
    v = narrow(GetPhysicalPath(nullptr));
  } else if (iequals(n, "CONTENT_LENGTH")) {
    v = std::to_string(body_.size());
  } else if (iequals(n, "CONTENT_TYPE")) {
    PCSTR t = find_header(headers_, "Content-Type", nullptr);
    v = t != nullptr ? t : "";
  } else if (iequals(n, "INSTANCE_ID")) {
    v = std::to_string(p_.site().id);
  } else if (iequals(n, "SERVER_SOFTWARE")) {
    v = "w3tp-iishost";
  } else if (n.size() > 5 && iequals(n.substr(0, 5), "HTTP_")) {
    std::string want(n.substr(5));
    std::replace(want.begin(), want.end(), '_', '-');
    PCSTR h = find_header(headers_, want.c_str(), nullptr);
    found = h != nullptr;
    if (found) v = h;
  } else {
    found = false;
  }
done:
  if (!found) return HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);
  std::lock_guard lock(mu_);
  auto* mem = static_cast<char*>(memory_.allocate(v.size() + 1, 1));
  std::memcpy(mem, v.c_str(), v.size() + 1);
  *value = mem;
  if (cch != nullptr) *cch = static_cast<DWORD>(v.size());
  return S_OK;
}

HTTP_REQUEST& request::raw_request() {
  if (raw_valid_) return raw_req_;
  raw_req_ = HTTP_REQUEST{};
  raw_req_.Version.MajorVersion = static_cast<USHORT>(ex_->head().version / 10);
  raw_req_.Version.MinorVersion = static_cast<USHORT>(ex_->head().version % 10);
  static constexpr std::pair<const char*, HTTP_VERB> k_verbs[] = {
      {"OPTIONS", HttpVerbOPTIONS},     {"GET", HttpVerbGET},         {"HEAD", HttpVerbHEAD},
      {"POST", HttpVerbPOST},           {"PUT", HttpVerbPUT},         {"DELETE", HttpVerbDELETE},
      {"TRACE", HttpVerbTRACE},         {"CONNECT", HttpVerbCONNECT}, {"TRACK", HttpVerbTRACK},
      {"MOVE", HttpVerbMOVE},           {"COPY", HttpVerbCOPY},       {"PROPFIND", HttpVerbPROPFIND},
      {"PROPPATCH", HttpVerbPROPPATCH}, {"MKCOL", HttpVerbMKCOL},     {"LOCK", HttpVerbLOCK},
      {"UNLOCK", HttpVerbUNLOCK},       {"SEARCH", HttpVerbSEARCH}};
  raw_req_.Verb = HttpVerbUnknown;
  for (const auto& [name, verb] : k_verbs)
    if (method_ == name) raw_req_.Verb = verb;
  if (raw_req_.Verb == HttpVerbUnknown) {
    raw_req_.pUnknownVerb = method_.c_str();
    raw_req_.UnknownVerbLength = static_cast<USHORT>(method_.size());
  }
  raw_url_narrow_ = url_;
  raw_req_.pRawUrl = raw_url_narrow_.c_str();
  raw_req_.RawUrlLength = static_cast<USHORT>(raw_url_narrow_.size());
  PCSTR host = find_header(headers_, "Host", nullptr);
  raw_full_url_ =
      L"http://" + widen(host != nullptr ? host : "localhost") + wpath_ + (wquery_.empty() ? L"" : L"?" + wquery_);
  raw_req_.CookedUrl.pFullUrl = raw_full_url_.c_str();
  raw_req_.CookedUrl.FullUrlLength = static_cast<USHORT>(raw_full_url_.size() * sizeof(WCHAR));
  const std::size_t host_at = 7, path_at = raw_full_url_.find(L'/', host_at);
  raw_req_.CookedUrl.pHost = raw_full_url_.c_str() + host_at;
  raw_req_.CookedUrl.HostLength = static_cast<USHORT>((path_at - host_at) * sizeof(WCHAR));
  raw_req_.CookedUrl.pAbsPath = raw_full_url_.c_str() + path_at;
  raw_req_.CookedUrl.AbsPathLength = static_cast<USHORT>(wpath_.size() * sizeof(WCHAR));
  if (!wquery_.empty()) {
    raw_req_.CookedUrl.pQueryString = raw_full_url_.c_str() + path_at + wpath_.size();
    raw_req_.CookedUrl.QueryStringLength = static_cast<USHORT>((wquery_.size() + 1) * sizeof(WCHAR));
  }
  raw_req_.Address.pRemoteAddress = request_part_.GetRemoteAddress();
  raw_req_.Address.pLocalAddress = request_part_.GetLocalAddress();
  raw_unknown_.clear();
  for (const auto& h : headers_) {
    int id = -1;
    for (int i = 0; i < HttpHeaderRequestMaximum; ++i)
      if (iequals(h.name, k_request_header_names[i])) id = i;
    if (id >= 0) {
      raw_req_.Headers.KnownHeaders[id].pRawValue = h.value.c_str();
      raw_req_.Headers.KnownHeaders[id].RawValueLength = static_cast<USHORT>(h.value.size());
    } else {
      HTTP_UNKNOWN_HEADER u{};
      u.pName = h.name.c_str();
      u.NameLength = static_cast<USHORT>(h.name.size());
      u.pRawValue = h.value.c_str();
      u.RawValueLength = static_cast<USHORT>(h.value.size());
      raw_unknown_.push_back(u);
    }
  }
  raw_req_.Headers.UnknownHeaderCount = static_cast<USHORT>(raw_unknown_.size());
  raw_req_.Headers.pUnknownHeaders = raw_unknown_.empty() ? nullptr : raw_unknown_.data();
  raw_req_.BytesReceived = body_.size();
  raw_valid_ = true;
  return raw_req_;
}

HTTP_RESPONSE& request::raw_response() {
  raw_resp_ = HTTP_RESPONSE{};
  raw_resp_.Version.MajorVersion = 1;
  raw_resp_.Version.MinorVersion = 1;
  raw_resp_.StatusCode = status_;
  raw_resp_.pReason = reason_.c_str();
  raw_resp_.ReasonLength = static_cast<USHORT>(reason_.size());
  return raw_resp_;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The pipeline

namespace {
// The site with its folder as an absolute, normal path (MapPath's results are absolute, as in IIS).
site_config absolute_site(site_config site) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(site.physical_path, ec);
  if (!ec) site.physical_path = p.lexically_normal().string();
  return site;
}
}  // namespace

pipeline::pipeline(module_table& modules, thread_pool& pool, site_config site)
    : modules_(modules),
      pool_(pool),
      site_(absolute_site(std::move(site))),
      site_contexts_(new context_container,
                     [](IHttpModuleContextContainer* c) { delete static_cast<context_container*>(c); }),
      application_contexts_(new context_container,
                            [](IHttpModuleContextContainer* c) { delete static_cast<context_container*>(c); }) {}

pipeline::~pipeline() { wait_idle(std::chrono::seconds(30)); }

void pipeline::handle(std::shared_ptr<exchange> ex) {
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  request* r = nullptr;
  try {
    r = new request(*this, std::move(ex));
  } catch (...) {
    request_ended();
    return;
  }
  r->start();
}

void pipeline::request_ended() noexcept {
  // Under the lock: once wait_idle can see 0, this thread no longer touches the pipeline.
  std::lock_guard lock(mu_);
  if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) idle_.notify_all();
}

bool pipeline::wait_idle(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, limit, [&] { return in_flight_.load(std::memory_order_acquire) == 0; });
}

}  // namespace w3tp::iis
