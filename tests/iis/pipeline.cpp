// SPDX-License-Identifier: MIT
// The integrated pipeline (src/iis/pipeline.*) driven by test modules, without HTTP: the notification
// order, priorities, RQ_NOTIFICATION_FINISH_REQUEST, exactly one Dispose per request, a parked request
// resumed by IndicateCompletion (on the completing thread) and by PostCompletion (OnAsyncCompletion on a
// pool thread), a completion that races the return of PENDING, refused modules, and the response.
#include <httpserv.h>
#include <sal.h>
#include <windows.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "iis/pipeline.hpp"
#include "support/catch.hpp"

using namespace std::chrono_literals;
using w3tp::iis::exchange;
using w3tp::iis::module_table;
using w3tp::iis::pipeline;

namespace {

/// A request from a test: what a module sees, and what it answered.
class test_exchange final : public exchange {
 public:
  explicit test_exchange(std::string target = "/", std::string method = "GET") {
    head_.method = std::move(method);
    head_.target = std::move(target);
    head_.headers.push_back({"Host", "localhost"});
  }
  const w3tp::iis::request_head& head() const noexcept override { return head_; }
  const std::string& body() const noexcept override { return body_; }
  bool send(const w3tp::iis::response_head& h, std::string_view body, bool last) override {
    std::lock_guard lock(mu_);
    if (sends_++ == 0) answer_ = h;
    answer_body_ += body;
    if (last) ++lasts_;
    return true;
  }
  bool connected() const noexcept override { return true; }

  w3tp::iis::request_head head_;
  std::string body_;
  mutable std::mutex mu_;
  int sends_ = 0;
  int lasts_ = 0;
  w3tp::iis::response_head answer_;
  std::string answer_body_;
};

// Every notification's name, for the recorder.
const char* notification_name(DWORD n, bool post) {
  switch (n) {
    case RQ_BEGIN_REQUEST: return post ? "PostBeginRequest" : "BeginRequest";
    case RQ_AUTHENTICATE_REQUEST: return post ? "PostAuthenticateRequest" : "AuthenticateRequest";
    case RQ_AUTHORIZE_REQUEST: return post ? "PostAuthorizeRequest" : "AuthorizeRequest";
    case RQ_RESOLVE_REQUEST_CACHE: return post ? "PostResolveRequestCache" : "ResolveRequestCache";
    case RQ_MAP_REQUEST_HANDLER: return post ? "PostMapRequestHandler" : "MapRequestHandler";
    case RQ_ACQUIRE_REQUEST_STATE: return post ? "PostAcquireRequestState" : "AcquireRequestState";
    case RQ_PRE_EXECUTE_REQUEST_HANDLER: return post ? "PostPreExecuteRequestHandler" : "PreExecuteRequestHandler";
    case RQ_EXECUTE_REQUEST_HANDLER: return post ? "PostExecuteRequestHandler" : "ExecuteRequestHandler";
    case RQ_RELEASE_REQUEST_STATE: return post ? "PostReleaseRequestState" : "ReleaseRequestState";
    case RQ_UPDATE_REQUEST_CACHE: return post ? "PostUpdateRequestCache" : "UpdateRequestCache";
    case RQ_LOG_REQUEST: return post ? "PostLogRequest" : "LogRequest";
    case RQ_END_REQUEST: return post ? "PostEndRequest" : "EndRequest";
    case RQ_SEND_RESPONSE: return "SendResponse";
    default: return "?";
  }
}

constexpr DWORD k_all = RQ_BEGIN_REQUEST | RQ_AUTHENTICATE_REQUEST | RQ_AUTHORIZE_REQUEST | RQ_RESOLVE_REQUEST_CACHE |
                        RQ_MAP_REQUEST_HANDLER | RQ_ACQUIRE_REQUEST_STATE | RQ_PRE_EXECUTE_REQUEST_HANDLER |
                        RQ_EXECUTE_REQUEST_HANDLER | RQ_RELEASE_REQUEST_STATE | RQ_UPDATE_REQUEST_CACHE |
                        RQ_LOG_REQUEST | RQ_END_REQUEST;

/// What a recorder module does at one notification.
enum class action { cont, finish, pend_indicate, pend_post, race_indicate, race_post };

/// The events of every request, recorded by the recorder modules; checked on the test thread.
struct journal {
  std::mutex mu;
  std::vector<std::string> events;  // "<module>:<notification>" in the order they ran
  std::atomic<int> instances{0};    // GetHttpModule
  std::atomic<int> disposed{0};     // Dispose
  std::atomic<int> double_dispose{0};
  std::atomic<int> async_completions{0};
  std::atomic<int> bad_completion{0};  // OnAsyncCompletion saw other bytes or status than posted
  std::atomic<int> terminated{0};
  std::atomic<int> early{0};  // race_*: completions that came while the notification still ran
  std::atomic<int> late{0};   // race_*: completions that came after it had returned PENDING
  void add(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu);
    return std::move(events);
  }
};

/// Threads that complete requests for race_* modules, each from a queue: long-lived, so that the
/// completion can come while the notification is still running (a thread made per request would be
/// detached, and glibc 2.36's pthread_detach can fault on a thread that has already exited).
class racers {
 public:
  explicit racers(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { serve(); });
  }
  ~racers() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  /// What a racer does: IndicateCompletion(CONTINUE) or PostCompletion(1234) on `ctx`, counting in
  /// `log` whether `calling` (the module's "still in the notification") was set when it began.
  struct completion {
    IHttpContext* ctx;
    bool indicate;
    const std::atomic<bool>* calling;
    journal* log;
  };
  void complete(completion c) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(c);
    }
    cv_.notify_one();
  }

 private:
  void serve() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every completion is made
      const completion c = queue_.front();
      queue_.pop_front();
      lock.unlock();
      // Read before completing: the module lives until the request ends, which needs this completion.
      (c.calling->load() ? c.log->early : c.log->late).fetch_add(1);
      if (c.indicate)
        c.ctx->IndicateCompletion(RQ_NOTIFICATION_CONTINUE);
      else
        c.ctx->PostCompletion(1234);
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<completion> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

/// A module's configuration: its name, what it subscribes to, and what it does where.
struct recorder_config {
  std::string name = "recorder";
  DWORD notifications = k_all | RQ_SEND_RESPONSE;
  DWORD post_notifications = k_all;
  DWORD act_on = 0;  // the notification (pre) at which `what` happens
  action what = action::cont;
  bool record = true;
  w3tp::thread_pool* pool = nullptr;  // where pend_* complete from
  racers* racer = nullptr;            // where race_* complete from
  journal* log = nullptr;
  std::vector<std::pair<DWORD, PCWSTR>> priorities;
  bool fail_get_module = false;
};

class recorder_module final : public CHttpModule {
 public:
  explicit recorder_module(recorder_config& c) : c_(c) { c_.log->instances.fetch_add(1); }

#define W3TP_RECORD(NAME, PROVIDER, BIT, POST) \
  REQUEST_NOTIFICATION_STATUS On##NAME(IHttpContext* ctx, PROVIDER*) override { return on(ctx, BIT, POST); }
  W3TP_RECORD(BeginRequest, IHttpEventProvider, RQ_BEGIN_REQUEST, false)
  W3TP_RECORD(PostBeginRequest, IHttpEventProvider, RQ_BEGIN_REQUEST, true)
  W3TP_RECORD(AuthenticateRequest, IAuthenticationProvider, RQ_AUTHENTICATE_REQUEST, false)
  W3TP_RECORD(PostAuthenticateRequest, IHttpEventProvider, RQ_AUTHENTICATE_REQUEST, true)
  W3TP_RECORD(AuthorizeRequest, IHttpEventProvider, RQ_AUTHORIZE_REQUEST, false)
  W3TP_RECORD(PostAuthorizeRequest, IHttpEventProvider, RQ_AUTHORIZE_REQUEST, true)
  W3TP_RECORD(ResolveRequestCache, IHttpEventProvider, RQ_RESOLVE_REQUEST_CACHE, false)
  W3TP_RECORD(PostResolveRequestCache, IHttpEventProvider, RQ_RESOLVE_REQUEST_CACHE, true)
  W3TP_RECORD(MapRequestHandler, IMapHandlerProvider, RQ_MAP_REQUEST_HANDLER, false)
  W3TP_RECORD(PostMapRequestHandler, IHttpEventProvider, RQ_MAP_REQUEST_HANDLER, true)
  W3TP_RECORD(AcquireRequestState, IHttpEventProvider, RQ_ACQUIRE_REQUEST_STATE, false)
  W3TP_RECORD(PostAcquireRequestState, IHttpEventProvider, RQ_ACQUIRE_REQUEST_STATE, true)
  W3TP_RECORD(PreExecuteRequestHandler, IHttpEventProvider, RQ_PRE_EXECUTE_REQUEST_HANDLER, false)
  W3TP_RECORD(PostPreExecuteRequestHandler, IHttpEventProvider, RQ_PRE_EXECUTE_REQUEST_HANDLER, true)
  W3TP_RECORD(ExecuteRequestHandler, IHttpEventProvider, RQ_EXECUTE_REQUEST_HANDLER, false)
  W3TP_RECORD(PostExecuteRequestHandler, IHttpEventProvider, RQ_EXECUTE_REQUEST_HANDLER, true)
  W3TP_RECORD(ReleaseRequestState, IHttpEventProvider, RQ_RELEASE_REQUEST_STATE, false)
  W3TP_RECORD(PostReleaseRequestState, IHttpEventProvider, RQ_RELEASE_REQUEST_STATE, true)
  W3TP_RECORD(UpdateRequestCache, IHttpEventProvider, RQ_UPDATE_REQUEST_CACHE, false)
  W3TP_RECORD(PostUpdateRequestCache, IHttpEventProvider, RQ_UPDATE_REQUEST_CACHE, true)
  W3TP_RECORD(LogRequest, IHttpEventProvider, RQ_LOG_REQUEST, false)
  W3TP_RECORD(PostLogRequest, IHttpEventProvider, RQ_LOG_REQUEST, true)
  W3TP_RECORD(EndRequest, IHttpEventProvider, RQ_END_REQUEST, false)
  W3TP_RECORD(PostEndRequest, IHttpEventProvider, RQ_END_REQUEST, true)
  W3TP_RECORD(SendResponse, ISendResponseProvider, RQ_SEND_RESPONSE, false)
#undef W3TP_RECORD

  REQUEST_NOTIFICATION_STATUS OnAsyncCompletion(IHttpContext*, DWORD notification, BOOL post, IHttpEventProvider*,
                                                IHttpCompletionInfo* info) override {
    c_.log->async_completions.fetch_add(1);
    if (info == nullptr || info->GetCompletionBytes() != 1234 || info->GetCompletionStatus() != S_OK ||
        notification != c_.act_on || post)
      c_.log->bad_completion.fetch_add(1);
    if (c_.record) c_.log->add(c_.name + ":AsyncCompletion");
    return RQ_NOTIFICATION_CONTINUE;
  }

  VOID Dispose() override {
    if (disposed_.exchange(true)) c_.log->double_dispose.fetch_add(1);
    c_.log->disposed.fetch_add(1);
    delete this;
  }

 private:
  REQUEST_NOTIFICATION_STATUS on(IHttpContext* ctx, DWORD bit, bool post) {
    if (c_.record) c_.log->add(c_.name + ":" + notification_name(bit, post));
    if (post || bit != c_.act_on) return RQ_NOTIFICATION_CONTINUE;
    switch (c_.what) {
      case action::cont: return RQ_NOTIFICATION_CONTINUE;
      case action::finish: return RQ_NOTIFICATION_FINISH_REQUEST;
      case action::pend_indicate:
        // Resumed from a pool thread, after this notification has returned.
        c_.pool->get_executor().execute([ctx] { ctx->IndicateCompletion(RQ_NOTIFICATION_CONTINUE); });
        return RQ_NOTIFICATION_PENDING;
      case action::pend_post: ctx->PostCompletion(1234); return RQ_NOTIFICATION_PENDING;
      case action::race_indicate:
      case action::race_post: {
        // The completion starts on another thread right now and may arrive before PENDING is returned.
        calling_.store(true);
        c_.racer->complete({ctx, c_.what == action::race_indicate, &calling_, c_.log});
        static thread_local std::minstd_rand rng(std::random_device{}());
        for (unsigned i = 0, n = rng() % 20000; i < n; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
        calling_.store(false);
        return RQ_NOTIFICATION_PENDING;
      }
    }
    return RQ_NOTIFICATION_CONTINUE;
  }

  recorder_config& c_;
  std::atomic<bool> disposed_{false};
  std::atomic<bool> calling_{false};  // race_*: inside the notification that returns PENDING
};

class recorder_factory final : public IHttpModuleFactory {
 public:
  explicit recorder_factory(recorder_config& c) : c_(c) {}
  HRESULT GetHttpModule(CHttpModule** out, IModuleAllocator*) override {
    if (c_.fail_get_module) return E_OUTOFMEMORY;
    *out = new recorder_module(c_);
    return S_OK;
  }
  VOID Terminate() override {
    c_.log->terminated.fetch_add(1);
    delete this;
  }

 private:
  recorder_config& c_;
};

// RegisterModule for recorder modules: the configuration comes through this pointer (one at a time).
recorder_config* g_next_config = nullptr;
HRESULT WINAPI register_recorder(DWORD version, IHttpModuleRegistrationInfo* info, IHttpServer*) {
  if (version < 7) return E_INVALIDARG;
  recorder_config& c = *g_next_config;
  HRESULT hr = info->SetRequestNotifications(new recorder_factory(c), c.notifications, c.post_notifications);
  for (auto [bit, p] : c.priorities)
    if (SUCCEEDED(hr)) hr = info->SetPriorityForRequestNotification(bit, p);
  return hr;
}

/// A pool, the modules, and the pipeline.
struct host {
  w3tp::thread_pool pool{[] {
    w3tp::pool_options o;
    o.threads = 2;
    return o;
  }()};
  journal log;
  std::vector<std::unique_ptr<recorder_config>> configs;
  module_table modules;
  std::unique_ptr<pipeline> p;

  recorder_config& add(recorder_config c) {
    c.log = &log;
    c.pool = &pool;
    configs.push_back(std::make_unique<recorder_config>(std::move(c)));
    g_next_config = configs.back().get();
    std::string why;
    REQUIRE(modules.add(w3tp::iis::widen(configs.back()->name), register_recorder, w3tp::http_server(pool), why) ==
            S_OK);
    return *configs.back();
  }
  void seal() {
    modules.seal();
    p = std::make_unique<pipeline>(modules, pool, w3tp::iis::site_config{});
  }
  std::shared_ptr<test_exchange> run(std::string target = "/") {
    auto ex = std::make_shared<test_exchange>(std::move(target));
    p->handle(ex);
    return ex;
  }
  ~host() {
    if (p) p->wait_idle(10s);
    p.reset();
    modules.terminate();
    pool.shutdown();
  }
};

std::vector<std::string> full_sequence(const std::string& m) {
  std::vector<std::string> v;
  const DWORD order[] = {
      RQ_BEGIN_REQUEST,         RQ_AUTHENTICATE_REQUEST,  RQ_AUTHORIZE_REQUEST,           RQ_RESOLVE_REQUEST_CACHE,
      RQ_MAP_REQUEST_HANDLER,   RQ_ACQUIRE_REQUEST_STATE, RQ_PRE_EXECUTE_REQUEST_HANDLER, RQ_EXECUTE_REQUEST_HANDLER,
      RQ_RELEASE_REQUEST_STATE, RQ_UPDATE_REQUEST_CACHE};
  for (DWORD n : order) {
    v.push_back(m + ":" + notification_name(n, false));
    v.push_back(m + ":" + notification_name(n, true));
  }
  v.push_back(m + ":SendResponse");
  for (DWORD n : {static_cast<DWORD>(RQ_LOG_REQUEST), static_cast<DWORD>(RQ_END_REQUEST)}) {
    v.push_back(m + ":" + notification_name(n, false));
    v.push_back(m + ":" + notification_name(n, true));
  }
  return v;
}

}  // namespace

TEST_CASE("iis pipeline: every notification and post-notification in IIS's order, then one Dispose",
          "[iis][pipeline]") {
  host h;
  h.add({});
  h.seal();
  auto ex = h.run();
  REQUIRE(h.p->wait_idle(10s));
  CHECK(h.log.take() == full_sequence("recorder"));
  CHECK(h.log.instances.load() == 1);
  CHECK(h.log.disposed.load() == 1);
  CHECK(h.log.double_dispose.load() == 0);
  CHECK(ex->lasts_ == 1);
  CHECK(ex->answer_.status == 200);
}

TEST_CASE("iis pipeline: priorities order modules; SEND_RESPONSE runs them in reverse", "[iis][pipeline]") {
  host h;
  recorder_config low;
  low.name = "low";
  low.notifications = RQ_BEGIN_REQUEST | RQ_SEND_RESPONSE;
  low.post_notifications = 0;
  low.priorities = {{RQ_BEGIN_REQUEST | RQ_SEND_RESPONSE, PRIORITY_ALIAS_LOW}};
  recorder_config high = low;
  high.name = "high";
  high.priorities = {{RQ_BEGIN_REQUEST | RQ_SEND_RESPONSE, PRIORITY_ALIAS_HIGH}};
  recorder_config plain = low;  // MEDIUM, registered last
  plain.name = "medium";
  plain.priorities = {};
  h.add(low);
  h.add(high);
  h.add(plain);
  h.seal();
  h.run();
  REQUIRE(h.p->wait_idle(10s));
  CHECK(h.log.take() == std::vector<std::string>{"high:BeginRequest", "medium:BeginRequest", "low:BeginRequest",
                                                 "low:SendResponse", "medium:SendResponse", "high:SendResponse"});
  CHECK(h.log.disposed.load() == 3);
}

TEST_CASE("iis pipeline: RQ_NOTIFICATION_FINISH_REQUEST skips to the response, logging and the end",
          "[iis][pipeline]") {
  host h;
  recorder_config c;
  c.act_on = RQ_AUTHORIZE_REQUEST;
  c.what = action::finish;
  h.add(c);
  h.seal();
  auto ex = h.run();
  REQUIRE(h.p->wait_idle(10s));
  CHECK(h.log.take() == std::vector<std::string>{"recorder:BeginRequest", "recorder:PostBeginRequest",
                                                 "recorder:AuthenticateRequest", "recorder:PostAuthenticateRequest",
                                                 "recorder:AuthorizeRequest", "recorder:SendResponse",
                                                 "recorder:LogRequest", "recorder:PostLogRequest",
                                                 "recorder:EndRequest", "recorder:PostEndRequest"});
  CHECK(h.log.disposed.load() == 1);
  CHECK(ex->lasts_ == 1);
}

TEST_CASE("iis pipeline: PENDING resumed by IndicateCompletion from a pool thread", "[iis][pipeline]") {
  host h;
  recorder_config c;
  c.act_on = RQ_EXECUTE_REQUEST_HANDLER;
  c.what = action::pend_indicate;
  h.add(c);
  h.seal();
  for (int i = 0; i < 50; ++i) h.run();
  REQUIRE(h.p->wait_idle(10s));
  std::vector<std::string> all = h.log.take();
  CHECK(all.size() == 50 * full_sequence("recorder").size());
  CHECK(h.log.disposed.load() == 50);
  CHECK(h.log.double_dispose.load() == 0);
}

TEST_CASE("iis pipeline: PostCompletion resumes through OnAsyncCompletion with its bytes and S_OK", "[iis][pipeline]") {
  host h;
  recorder_config c;
  c.act_on = RQ_EXECUTE_REQUEST_HANDLER;
  c.what = action::pend_post;
  h.add(c);
  h.seal();
  h.run();
  REQUIRE(h.p->wait_idle(10s));
  std::vector<std::string> expected = full_sequence("recorder");
  auto at = std::find(expected.begin(), expected.end(), "recorder:ExecuteRequestHandler");
  expected.insert(at + 1, "recorder:AsyncCompletion");
  CHECK(h.log.take() == expected);
  CHECK(h.log.async_completions.load() == 1);
  CHECK(h.log.bad_completion.load() == 0);
  CHECK(h.log.disposed.load() == 1);
}

TEST_CASE("iis pipeline: a completion that arrives before PENDING is returned, over 10,000 requests",
          "[iis][pipeline][race]") {
  for (action what : {action::race_indicate, action::race_post}) {
    host h;
    racers racer(2);  // declared after the host: joined, their last completions made, before it goes
    recorder_config c;
    c.act_on = RQ_MAP_REQUEST_HANDLER;
    c.what = what;
    c.record = false;
    c.racer = &racer;
    h.add(c);
    h.seal();
    constexpr int k_requests = 10000;
    std::vector<std::shared_ptr<test_exchange>> exs;
    exs.reserve(k_requests);
    for (int i = 0; i < k_requests; ++i) {
      exs.push_back(h.run());
      // Bounded in flight, so that the racers' queue stays short and completions come early.
      while (h.p->in_flight() > 64) std::this_thread::yield();
    }
    INFO((what == action::race_indicate ? "IndicateCompletion" : "PostCompletion"));
    REQUIRE(h.p->wait_idle(30s));
    int answered = 0;
    for (auto& ex : exs) answered += ex->lasts_ == 1 ? 1 : 0;
    CHECK(answered == k_requests);
    CHECK(h.log.disposed.load() == k_requests);
    CHECK(h.log.double_dispose.load() == 0);
    CHECK(h.log.bad_completion.load() == 0);
    if (what == action::race_post) CHECK(h.log.async_completions.load() == k_requests);
    // Both orders happened (the early rule and the parked request were both exercised).
    INFO("early " << h.log.early.load() << ", late " << h.log.late.load());
    CHECK(h.log.early.load() > 0);
    CHECK(h.log.late.load() > 0);
    CHECK(h.log.early.load() + h.log.late.load() == k_requests);
  }
}

TEST_CASE("iis pipeline: a module whose RegisterModule fails or registers nothing is refused by name",
          "[iis][pipeline]") {
  w3tp::pool_options o;
  o.threads = 1;
  w3tp::thread_pool pool(o);
  module_table t;
  std::string why;
  HRESULT hr = t.add(
      L"Broken", [](DWORD, IHttpModuleRegistrationInfo*, IHttpServer*) -> HRESULT { return E_FAIL; },
      w3tp::http_server(pool), why);
  CHECK(hr == E_FAIL);
  CHECK(why.find("Broken") != std::string::npos);
  hr = t.add(
      L"Silent", [](DWORD, IHttpModuleRegistrationInfo*, IHttpServer*) -> HRESULT { return S_OK; },
      w3tp::http_server(pool), why);
  CHECK(FAILED(hr));
  CHECK(why.find("Silent") != std::string::npos);
  hr = t.add(L"Missing", nullptr, w3tp::http_server(pool), why);
  CHECK(FAILED(hr));
  CHECK(why.find("Missing") != std::string::npos);
  CHECK(t.size() == 0);
  pool.shutdown();
}

TEST_CASE("iis pipeline: a factory that fails gives 500; the other modules still end and Dispose", "[iis][pipeline]") {
  host h;
  recorder_config ok;
  ok.name = "ok";
  recorder_config bad = ok;
  bad.name = "bad";
  bad.fail_get_module = true;
  h.add(ok);
  h.add(bad);
  h.seal();
  auto ex = h.run();
  REQUIRE(h.p->wait_idle(10s));
  CHECK(ex->answer_.status == 500);
  CHECK(ex->lasts_ == 1);
  CHECK(h.log.instances.load() == 1);
  CHECK(h.log.disposed.load() == 1);
  std::vector<std::string> ev = h.log.take();
  CHECK(std::find(ev.begin(), ev.end(), "ok:EndRequest") != ev.end());
  CHECK(std::find(ev.begin(), ev.end(), "ok:BeginRequest") == ev.end());
}

TEST_CASE("iis pipeline: the factories' Terminate runs once at the end", "[iis][pipeline]") {
  journal* log = nullptr;
  {
    host h;
    h.add({});
    h.add({});
    h.seal();
    log = &h.log;
    h.modules.terminate();
    CHECK(log->terminated.load() == 2);
    h.modules.terminate();
    CHECK(log->terminated.load() == 2);
  }
}
