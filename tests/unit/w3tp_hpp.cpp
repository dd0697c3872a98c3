// SPDX-License-Identifier: MIT
// <w3tp/w3tp.hpp>: names, options and their defaults, backend selection by W3TP_BACKEND, and the
// executor (with Boost.Asio when it is installed).
#include <w3tp/w3tp.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

#include "support/catch.hpp"

#ifdef W3TP_TEST_HAVE_BOOST
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/require.hpp>
#endif

static_assert(!std::is_copy_constructible_v<w3tp::thread_pool>, "a pool is not copyable");
static_assert(std::is_nothrow_invocable_r_v<std::string_view, decltype(&w3tp::to_string), w3tp::backend>,
              "to_string is noexcept");

namespace {

// Sets (or unsets) an environment variable for one scope and restores the old value after it.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ~scoped_env() { set(old_ ? old_->c_str() : nullptr); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  void set(const char* value) {
#ifdef _WIN32
    _putenv_s(name_, value ? value : "");
#else
    if (value)
      ::setenv(name_, value, 1);
    else
      ::unsetenv(name_);
#endif
  }
  const char* name_;
  std::optional<std::string> old_;
};

// Waits (bounded) until pred() holds; the condition variable is notified by whoever changes the state.
template <class Pred>
bool wait_until(std::mutex& mu, std::condition_variable& cv, Pred pred) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, std::chrono::seconds(10), pred);
}

// Pool options without aggregate initialisation (which -Wextra flags for the members left out).
w3tp::pool_options opts(unsigned threads, w3tp::backend preferred) {
  w3tp::pool_options o;
  o.threads = threads;
  o.preferred = preferred;
  return o;
}

#ifdef W3TP_TEST_HAVE_BOOST
template <class E>
constexpr bool asio_can_post() {
  return boost::asio::execution::is_executor<E>::value &&
         boost::asio::can_require<E, boost::asio::execution::blocking_t::never_t>::value;
}

// Submits `job` with each of post, defer and dispatch that accepts the executor; returns how many did.
template <class E, class F>
int asio_submit(const E& ex, F& job) {
  int n = 0;
  if constexpr (asio_can_post<E>()) {
    boost::asio::post(ex, job);
    boost::asio::defer(ex, job);
    n += 2;
  }
  if constexpr (boost::asio::execution::is_executor<E>::value) {
    boost::asio::dispatch(ex, job);
    n += 1;
  }
  return n;
}
#endif

}  // namespace

TEST_CASE("w3tp.hpp: to_string names every backend", "[unit][w3tp]") {
  CHECK(w3tp::to_string(w3tp::backend::automatic) == "automatic");
  CHECK(w3tp::to_string(w3tp::backend::iocp) == "iocp");
  CHECK(w3tp::to_string(w3tp::backend::io_uring) == "io_uring");
  CHECK(w3tp::to_string(w3tp::backend::epoll) == "epoll");
}

TEST_CASE("w3tp.hpp: pool_options defaults", "[unit][w3tp]") {
  w3tp::pool_options o;
  CHECK(o.threads == 0);
  CHECK(o.max_threads == 0);
  CHECK(o.preferred == w3tp::backend::automatic);
  CHECK_FALSE(static_cast<bool>(o.on_exception));
}

TEST_CASE("w3tp.hpp: a default pool has at least two threads and a real backend", "[unit][w3tp]") {
  w3tp::thread_pool pool;
  CHECK(pool.thread_count() >= 2);
  CHECK(pool.thread_count() >= std::min(2u, std::thread::hardware_concurrency()));
  CHECK(pool.active_backend() != w3tp::backend::automatic);
  if (pool.fallback_reason().empty()) SUCCEED("automatic got its first choice");
  INFO("backend " << w3tp::to_string(pool.active_backend()) << ", fallback: " << pool.fallback_reason());
#ifdef _WIN32
  CHECK(pool.active_backend() == w3tp::backend::iocp);
#else
  CHECK(pool.active_backend() != w3tp::backend::iocp);
#endif
}

TEST_CASE("w3tp.hpp: W3TP_BACKEND chooses the backend when preferred is automatic", "[unit][w3tp]"){
#ifndef _WIN32
    {scoped_env env("W3TP_BACKEND", "epoll");
w3tp::thread_pool pool(opts(2, w3tp::backend::automatic));
CHECK(pool.active_backend() == w3tp::backend::epoll);
CHECK(pool.fallback_reason().empty());
}
{
  scoped_env env("W3TP_BACKEND", "auto");
  w3tp::thread_pool pool(opts(2, w3tp::backend::automatic));
  CHECK(pool.active_backend() != w3tp::backend::automatic);
  if (pool.active_backend() == w3tp::backend::epoll) CHECK_FALSE(pool.fallback_reason().empty());
}
{
  // An explicit preference wins over the environment.
  scoped_env env("W3TP_BACKEND", "io_uring");
  w3tp::thread_pool pool(opts(2, w3tp::backend::epoll));
  CHECK(pool.active_backend() == w3tp::backend::epoll);
}
{
  // The iocp backend asked for by name on Linux: an exception that says why.
  scoped_env env("W3TP_BACKEND", "iocp");
  CHECK_THROWS_AS(w3tp::thread_pool(opts(2, w3tp::backend::automatic)), std::system_error);
}
#endif
}

TEST_CASE("w3tp.hpp: a W3TP_BACKEND value that names no backend throws std::system_error", "[unit][w3tp]") {
  scoped_env env("W3TP_BACKEND", "kqueue");
  try {
    w3tp::thread_pool pool(opts(2, w3tp::backend::automatic));
    FAIL("a pool started with W3TP_BACKEND=kqueue");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK(std::string(e.what()).find("kqueue") != std::string::npos);
  }
#ifndef _WIN32
  // With a backend named in the options, the environment is not read at all.
  w3tp::thread_pool pool(opts(2, w3tp::backend::epoll));
  CHECK(pool.active_backend() == w3tp::backend::epoll);
#endif
}

TEST_CASE("w3tp.hpp: the executor runs work on a pool thread, never inline", "[unit][w3tp]") {
  w3tp::thread_pool pool(opts(2, w3tp::backend::automatic));
  auto ex = pool.get_executor();
  CHECK(&ex.context() == &pool);
  CHECK(ex == pool.get_executor());
  CHECK_FALSE(ex.running_in_this_thread());
  std::mutex mu;
  std::condition_variable cv;
  int ran = 0;
  bool on_pool = false;
  std::thread::id caller = std::this_thread::get_id(), runner;
  ex.execute([&] {
    std::lock_guard lock(mu);
    on_pool = pool.get_executor().running_in_this_thread();
    runner = std::this_thread::get_id();
    ++ran;
    cv.notify_all();
  });
  REQUIRE(wait_until(mu, cv, [&] { return ran == 1; }));
  CHECK(on_pool);
  CHECK(runner != caller);
  pool.shutdown();
  // Work given to a pool that is shut down is destroyed without running.
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  ex.execute([&ran, token = std::move(token)] { ++ran; });
  CHECK(watch.expired());
  CHECK(ran == 1);
}

TEST_CASE("w3tp.hpp: the executor works with Boost.Asio post, dispatch and defer", "[unit][w3tp][asio]") {
#ifdef W3TP_TEST_HAVE_BOOST
  w3tp::thread_pool pool(opts(2, w3tp::backend::automatic));
  std::mutex mu;
  std::condition_variable cv;
  int ran = 0;
  std::atomic<int> on_pool{0};
  auto job = [&] {
    if (pool.get_executor().running_in_this_thread()) on_pool.fetch_add(1);
    std::lock_guard lock(mu);
    ++ran;
    cv.notify_all();
  };
  using executor = w3tp::thread_pool::executor_type;
  // Asio's post and defer take a standard executor only when it can require blocking.never (the
  // executor must answer require/query for Asio's properties); checked here without failing the
  // build, so that the rest of the unit tests still run when it is missing.
  CHECK(boost::asio::execution::is_executor<executor>::value);
  CHECK(asio_can_post<executor>());
  int expected = asio_submit(pool.get_executor(), job);
  REQUIRE(wait_until(mu, cv, [&] { return ran == expected; }));
  CHECK(expected == 3);
  CHECK(on_pool.load() == expected);
  pool.shutdown();
#else
  SUCCEED("Boost.Asio is not installed; the executor's Asio test is skipped");
#endif
}

TEST_CASE("w3tp.hpp: associate with a callable and post check their arguments", "[unit][w3tp]") {
  w3tp::thread_pool pool(opts(2, w3tp::backend::automatic));
  int calls = 0;
  auto callable = [&calls](DWORD, DWORD, OVERLAPPED*) { ++calls; };
  CHECK(pool.associate(nullptr, callable) == HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  CHECK(pool.associate(INVALID_HANDLE_VALUE, callable) == HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  CHECK(pool.post(nullptr, 0, 0, nullptr) == E_INVALIDARG);
  pool.shutdown();
  CHECK(calls == 0);
}

TEST_CASE("w3tp.hpp: default_pool is one shared pool", "[unit][w3tp]") {
  w3tp::thread_pool& a = w3tp::default_pool();
  w3tp::thread_pool& b = w3tp::default_pool();
  CHECK(&a == &b);
  CHECK(a.thread_count() >= 2);
  CHECK(&w3tp::http_server(a) == &a.http_server());
}

#ifndef _WIN32
TEST_CASE("w3tp.hpp: adopt_fd and native_fd refuse what is not a live descriptor", "[unit][w3tp][posix]") {
  SetLastError(0);
  CHECK(w3tp::adopt_fd(-1) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(w3tp::adopt_fd(1 << 29) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  CHECK(w3tp::native_fd(nullptr) == -1);
  CHECK(w3tp::native_fd(INVALID_HANDLE_VALUE) == -1);
  CHECK(w3tp::native_fd(reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(0x0000000700000042ull))) == -1);
}
#endif
