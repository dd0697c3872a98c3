// SPDX-License-Identifier: MIT
// What every behaviour test shares: a pool on the backend under test, operations that record how their
// routine ran, and the exactly-once accounting (every accepted operation gets exactly one routine).
#pragma once

#include <w3tp/w3tp.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "backend/support.hpp"
#include "support/catch.hpp"

namespace w3tp_test {

using namespace std::chrono_literals;

/// The bounded wait used as a safety net everywhere: generous, so that a slow CI machine or a
/// sanitizer build never fails by timing, while a lost completion still ends the test.
inline constexpr auto k_wait = std::chrono::seconds(10);

/// True on Windows, where the I/O functions are the system's own and w3tp owns only the association,
/// the pool, post, the thread count and shutdown (API.md, "On Windows"). Tests branch on it only where
/// that part of API.md says Windows decides.
#ifdef _WIN32
inline constexpr bool k_windows = true;
#else
inline constexpr bool k_windows = false;
#endif

/// True in an AddressSanitizer build (its quarantine and shadow memory change RSS and timing).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool k_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool k_asan = true;
#else
inline constexpr bool k_asan = false;
#endif
#else
inline constexpr bool k_asan = false;
#endif

/// How many CHECK_TODO_WINE checks failed under Wine (reported, not counted); main() prints it.
inline std::atomic<int> g_todo_wine_failed{0};
inline std::atomic<int> g_todo_wine_passed{0};

/// A check of what Windows documents, in a place where Wine is known to deviate (API.md lists them).
/// As in Wine's own conformance tests: under Wine the result is reported with the reason and not
/// counted; everywhere else (Windows, POSIX) it is an ordinary CHECK.
#define CHECK_TODO_WINE(cond, reason)                                   \
  do {                                                                  \
    if (::w3tp_test::running_under_wine()) {                            \
      if (cond) {                                                       \
        ::w3tp_test::g_todo_wine_passed.fetch_add(1);                   \
        WARN("todo_wine check passed under Wine (" reason "): " #cond); \
      } else {                                                          \
        ::w3tp_test::g_todo_wine_failed.fetch_add(1);                   \
        WARN("todo_wine (" reason "): " #cond);                         \
      }                                                                 \
    } else {                                                            \
      CHECK(cond);                                                      \
    }                                                                   \
  } while (0)

/// A Wine deviation that a test found by itself, or a check that cannot even run under Wine (it would
/// hang there): reported and counted with the todo_wine failures.
#define TODO_WINE_REPORT(what)                    \
  do {                                            \
    ::w3tp_test::g_todo_wine_failed.fetch_add(1); \
    WARN("todo_wine: " << what);                  \
  } while (0)

/// The reason of the one CancelIoEx deviation, shared by the checks that meet it.
#define W3TP_WINE_CANCELIOEX_NULL "Wine's CancelIoEx(h, NULL) returns TRUE with nothing pending"

/// Checks what CancelIoEx answers when there is nothing to cancel: FALSE and ERROR_NOT_FOUND (rule 5).
#define CHECK_NOTHING_TO_CANCEL(h, ov)                                                               \
  do {                                                                                               \
    SetLastError(0);                                                                                 \
    BOOL w3tp_cancelled = CancelIoEx((h), (ov));                                                     \
    DWORD w3tp_error = GetLastError();                                                               \
    if ((ov) == nullptr && ::w3tp_test::k_windows) {                                                 \
      CHECK_TODO_WINE(w3tp_cancelled == FALSE, W3TP_WINE_CANCELIOEX_NULL);                           \
      CHECK_TODO_WINE(w3tp_error == static_cast<DWORD>(ERROR_NOT_FOUND), W3TP_WINE_CANCELIOEX_NULL); \
    } else {                                                                                         \
      CHECK(w3tp_cancelled == FALSE);                                                                \
      CHECK(w3tp_error == static_cast<DWORD>(ERROR_NOT_FOUND));                                      \
    }                                                                                                \
  } while (0)

/// What a handle is, for the checks whose Windows outcome depends on the kind of object.
enum class end_kind { file, pipe, socket };

/// Pool options for the tests: the backend comes from W3TP_BACKEND (set by ctest), as for users.
inline w3tp::pool_options test_options(unsigned threads = 2, unsigned max_threads = 0) {
  w3tp::pool_options o;
  o.threads = threads;
  o.max_threads = max_threads;
  return o;
}

struct tracker;

/// One overlapped operation. The OVERLAPPED comes first so that the routine finds its operation from
/// the pointer it gets (as IIS modules do with their context structures).
struct op {
  OVERLAPPED ov;
  tracker* owner = nullptr;
  bool accepted = false;      // ReadFile/WriteFile returned TRUE or ERROR_IO_PENDING
  BOOL start_result = FALSE;  // what ReadFile/WriteFile returned
  DWORD start_error = 0;      // GetLastError() after it
  std::atomic<int> calls{0};
  std::atomic<DWORD> error{0xFFFFFFFFu};
  std::atomic<DWORD> bytes{0xFFFFFFFFu};
  std::atomic<DWORD> thread{0};
  std::atomic<bool> on_pool{false};
  std::atomic<bool> inside_call{false};  // the routine ran inside a w3tp call of its own thread
  std::atomic<OVERLAPPED*> seen{nullptr};
  std::vector<char> buf;

  explicit op(std::size_t size = 64, unsigned long long offset = 0) : ov{}, buf(size) { set_offset(offset); }
  void set_offset(unsigned long long offset) {
    ov.Offset = static_cast<DWORD>(offset & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
  }
  std::string text() const {
    DWORD n = bytes.load();
    return n == 0xFFFFFFFFu ? std::string() : std::string(buf.data(), std::min<std::size_t>(n, buf.size()));
  }
};
static_assert(std::is_standard_layout_v<op>, "the routine converts OVERLAPPED* back to op*");

/// Marks the current thread as being inside a w3tp call (see routine_guard below).
inline thread_local bool t_in_w3tp_call = false;

/// Around a w3tp call made from a routine: a routine that starts inside it broke rule 2.
struct call_scope {
  call_scope() { t_in_w3tp_call = true; }
  ~call_scope() { t_in_w3tp_call = false; }
  call_scope(const call_scope&) = delete;
  call_scope& operator=(const call_scope&) = delete;
};

/// Counts accepted and delivered operations of one test and lets the test wait for routines.
struct tracker {
  w3tp::thread_pool* pool = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> accepted{0};
  std::atomic<int> delivered{0};
  std::atomic<int> duplicates{0};  // a second routine for the same operation
  std::atomic<int> violations{0};  // a routine off the pool or inside a w3tp call
  DWORD test_thread = GetCurrentThreadId();

  /// Records a routine run for `o` and wakes waiters.
  void record(op& o, DWORD err, DWORD n, OVERLAPPED* ov) {
    o.error.store(err);
    o.bytes.store(n);
    o.thread.store(GetCurrentThreadId());
    bool on_pool = pool != nullptr && pool->get_executor().running_in_this_thread();
    o.on_pool.store(on_pool);
    o.inside_call.store(t_in_w3tp_call);
    o.seen.store(ov);
    if (!on_pool || t_in_w3tp_call) violations.fetch_add(1);
    if (o.calls.fetch_add(1) != 0) duplicates.fetch_add(1);
    std::lock_guard lock(mu);
    delivered.fetch_add(1);
    cv.notify_all();
  }
  /// Wakes waiters after a change that a routine made outside record().
  void notify() {
    std::lock_guard lock(mu);
    cv.notify_all();
  }
  /// Waits (bounded by `limit`) until pred() holds; the result says whether it did.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds limit = k_wait) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, pred);
  }
  /// For states that change without a notification (a thread count, a destructor that ran): checks
  /// pred() every few milliseconds, bounded by `limit`.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds limit = k_wait) {
    auto end = std::chrono::steady_clock::now() + limit;
    std::unique_lock lock(mu);
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return pred();
      cv.wait_for(lock, 2ms);
    }
    return true;
  }
  bool wait_op(const op& o, std::chrono::milliseconds limit = k_wait) {
    return wait([&] { return o.calls.load() >= 1; }, limit);
  }
  bool wait_delivered(int n, std::chrono::milliseconds limit = k_wait) {
    return wait([&] { return delivered.load() >= n; }, limit);
  }
};

/// The routine given to every handle that records: it finds its op through the OVERLAPPED.
inline VOID WINAPI record_routine(DWORD err, DWORD n, LPOVERLAPPED ov) {
  op* o = reinterpret_cast<op*>(ov);
  o->owner->record(*o, err, n, ov);
}

/// Rule 6: an operation that was pending when its handle closed completes with ERROR_OPERATION_ABORTED.
/// On Windows the system decides for named pipes (ERROR_BROKEN_PIPE is documented too), and Wine's
/// closesocket completes a pending read with ERROR_HANDLES_CLOSED (676) (a todo_wine).
inline void check_aborted_by_close(const op& o, end_kind kind) {
  const DWORD e = o.error.load();
  INFO("the routine got error " << e);
  if (k_windows && kind == end_kind::pipe) {
    CHECK((e == static_cast<DWORD>(ERROR_OPERATION_ABORTED) || e == static_cast<DWORD>(ERROR_BROKEN_PIPE)));
  } else if (k_windows && kind == end_kind::socket) {
    CHECK_TODO_WINE(e == static_cast<DWORD>(ERROR_OPERATION_ABORTED),
                    "Wine's closesocket completes a pending read with ERROR_HANDLES_CLOSED, 676");
    if (running_under_wine()) CHECK((e == static_cast<DWORD>(ERROR_OPERATION_ABORTED) || e == 676u));
  } else {
    CHECK(e == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  }
}

/// Starts an overlapped read and counts it as accepted when it was (TRUE, or FALSE + ERROR_IO_PENDING).
inline bool start_read(tracker& t, HANDLE h, op& o, DWORD len = 0) {
  o.owner = &t;
  SetLastError(0xDEADu);
  o.start_result = ReadFile(h, o.buf.data(), len != 0 ? len : static_cast<DWORD>(o.buf.size()), nullptr, &o.ov);
  o.start_error = GetLastError();
  o.accepted = o.start_result != FALSE || o.start_error == ERROR_IO_PENDING;
  if (o.accepted) t.accepted.fetch_add(1);
  return o.accepted;
}

/// Starts an overlapped write of `data` (copied into the op's buffer), counted as for start_read.
inline bool start_write(tracker& t, HANDLE h, op& o, const std::string& data) {
  o.owner = &t;
  o.buf.assign(data.begin(), data.end());
  SetLastError(0xDEADu);
  o.start_result = WriteFile(h, o.buf.data(), static_cast<DWORD>(o.buf.size()), nullptr, &o.ov);
  o.start_error = GetLastError();
  o.accepted = o.start_result != FALSE || o.start_error == ERROR_IO_PENDING;
  if (o.accepted) t.accepted.fetch_add(1);
  return o.accepted;
}

/// A pool plus its tracker. The destructor is where exactly-once is checked: after shutdown every
/// accepted operation must have had exactly one routine, and nothing ran off the pool.
struct fixture {
  tracker t;
  std::unique_ptr<w3tp::thread_pool> pool;
  std::vector<HANDLE> handles;  // closed at the end if the test did not close them

  explicit fixture(w3tp::pool_options o = test_options()) : pool(std::make_unique<w3tp::thread_pool>(std::move(o))) {
    t.pool = pool.get();
  }
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  /// Shuts down and checks the accounting (call at the end of a test; the destructor does it too).
  void finish() {
    if (!pool) return;
    for (HANDLE h : handles) CloseHandle(h);  // already closed ones just fail
    handles.clear();
    // On Windows shutdown cannot see the system's ReadFile/WriteFile (API.md, "On Windows"): the
    // application lets the routines of what it closed run before it shuts the pool down.
    if (k_windows) t.wait([&] { return t.delivered.load() >= t.accepted.load(); });
    pool->shutdown();
    CHECK(t.accepted.load() == t.delivered.load());
    CHECK(t.duplicates.load() == 0);
    CHECK(t.violations.load() == 0);
    pool.reset();
  }
  ~fixture() { finish(); }

  w3tp::thread_pool& p() { return *pool; }

  /// An associated handle (with record_routine), remembered for cleanup.
  HANDLE associated(HANDLE h) {
    REQUIRE(h != INVALID_HANDLE_VALUE);
    handles.push_back(h);
    REQUIRE(pool->associate(h, record_routine) == S_OK);
    return h;
  }
  HANDLE keep(HANDLE h) {
    handles.push_back(h);
    return h;
  }
  // By default only the end under test is associated; the other end feeds it with plain_write.
  void pipe(HANDLE& r, HANDLE& w, bool assoc_r = true, bool assoc_w = false) {
    REQUIRE(make_pipe(r, w));
    keep(r);
    keep(w);
    if (assoc_r) REQUIRE(pool->associate(r, record_routine) == S_OK);
    if (assoc_w) REQUIRE(pool->associate(w, record_routine) == S_OK);
  }
  void sockets(HANDLE& a, HANDLE& b, bool assoc_a = true, bool assoc_b = false) {
    REQUIRE(make_socket_pair(a, b));
    keep(a);
    keep(b);
    if (assoc_a) REQUIRE(pool->associate(a, record_routine) == S_OK);
    if (assoc_b) REQUIRE(pool->associate(b, record_routine) == S_OK);
  }
  /// A new overlapped file (CREATE_ALWAYS, read/write), associated, deleted at the end of the test.
  HANDLE file(const std::string& path, bool assoc = true) {
    HANDLE h = CreateFileA(path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                           CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    keep(h);
    if (assoc) REQUIRE(pool->associate(h, record_routine) == S_OK);
    return h;
  }
};

/// A temporary file path that is deleted when the test ends.
struct temp_file {
  std::string path;
  explicit temp_file(const char* tag) : path(temp_path(tag)) {}
  ~temp_file() { remove_file(path); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
};

/// Writes all of `data` synchronously-by-waiting through an associated handle (start, then wait).
inline void write_all(fixture& f, HANDLE h, op& o, const std::string& data, unsigned long long offset = 0) {
  o.set_offset(offset);
  REQUIRE(start_write(f.t, h, o, data));
  REQUIRE(f.t.wait_op(o));
  REQUIRE(o.error.load() == static_cast<DWORD>(ERROR_SUCCESS));
  REQUIRE(o.bytes.load() == data.size());
}

/// An OVERLAPPED for waiting with GetOverlappedResult(..., TRUE). On Windows it carries its own event:
/// without one the wait is on the handle, which Windows does not signal reliably for sockets or when
/// other operations are in flight on the same handle (GetOverlappedResult's documentation).
struct sync_overlapped {
  OVERLAPPED ov{};
#ifdef _WIN32
  sync_overlapped() { ov.hEvent = CreateEventA(nullptr, TRUE, FALSE, nullptr); }
  ~sync_overlapped() {
    if (ov.hEvent != nullptr) CloseHandle(ov.hEvent);
  }
#else
  sync_overlapped() = default;
#endif
  sync_overlapped(const sync_overlapped&) = delete;
  sync_overlapped& operator=(const sync_overlapped&) = delete;
};

/// A write on a handle that is not associated (never use it on an associated one: the routine would
/// get an OVERLAPPED that is not an op) (on POSIX a plain blocking write; on Windows the
/// overlapped write is waited for with GetOverlappedResult), used to feed the peer of a handle under test.
inline bool plain_write(HANDLE h, const std::string& data) {
  sync_overlapped ov;
  DWORD n = 0;
  if (!WriteFile(h, data.data(), static_cast<DWORD>(data.size()), &n, &ov.ov)) {
    if (GetLastError() != ERROR_IO_PENDING) return false;
    if (!GetOverlappedResult(h, &ov.ov, &n, TRUE)) return false;
  }
  return n == data.size();
}

/// A read on a handle that is not associated (as plain_write); returns the bytes read, or -1.
inline long plain_read(HANDLE h, char* buf, DWORD len) {
  sync_overlapped ov;
  DWORD n = 0;
  if (!ReadFile(h, buf, len, &n, &ov.ov)) {
    if (GetLastError() != ERROR_IO_PENDING) return -1;
    if (!GetOverlappedResult(h, &ov.ov, &n, TRUE)) return -1;
  }
  return static_cast<long>(n);
}

/// True while the operation has not completed (rule 7: Internal is STATUS_PENDING).
inline bool pending(const op& o) {
  return std::atomic_ref<ULONG_PTR>(const_cast<ULONG_PTR&>(o.ov.Internal)).load() == STATUS_PENDING &&
         o.calls.load() == 0;
}

/// Writes `size` known bytes (byte i is i * 7) at offset 0 of an overlapped handle that is not
/// associated yet, waiting when Windows completes the write asynchronously.
inline void write_known_bytes(HANDLE h, std::size_t size) {
  std::vector<char> data(size);
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 7);
  OVERLAPPED ov{};
  DWORD n = 0;
  if (!WriteFile(h, data.data(), static_cast<DWORD>(size), &n, &ov)) {
    REQUIRE(GetLastError() == static_cast<DWORD>(ERROR_IO_PENDING));
    REQUIRE(GetOverlappedResult(h, &ov, &n, TRUE));
  }
  REQUIRE(n == size);
}

}  // namespace w3tp_test
