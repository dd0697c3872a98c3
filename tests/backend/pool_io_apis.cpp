// SPDX-License-Identifier: MIT
// Windows' other two pool-I/O APIs: BindIoCompletionCallback and the thread-pool I/O objects
// (CreateThreadpoolIo, StartThreadpoolIo, CancelThreadpoolIo, WaitForThreadpoolIoCallbacks,
// CloseThreadpoolIo). On POSIX they are w3tp's, on its default pool; on Windows the same tests run
// against the system's own functions.
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "backend/common.hpp"

using namespace w3tp_test;

namespace {

/// Counts callbacks and lets the test wait for a number of them (bounded).
struct counter {
  std::mutex mu;
  std::condition_variable cv;
  long calls = 0;
  long off_pool = 0;  // callbacks that ran on the thread that started the I/O, or off the pool
  DWORD last_error = 0xFFFFFFFFu;
  ULONG_PTR last_bytes = ~ULONG_PTR{0};
  PVOID last_overlapped = nullptr;
  PTP_IO last_io = nullptr;
  PVOID last_context = nullptr;
  DWORD main_thread = GetCurrentThreadId();

  long null_instances = 0;  // thread-pool I/O callbacks that got a NULL PTP_CALLBACK_INSTANCE

  // Records a callback (Catch's assertions are not thread-safe: the test thread checks what it recorded).
  void hit(DWORD error, ULONG_PTR bytes, PVOID ov, PVOID context = nullptr, PTP_IO io = nullptr,
           PTP_CALLBACK_INSTANCE instance = reinterpret_cast<PTP_CALLBACK_INSTANCE>(1)) {
    std::lock_guard lock(mu);
    ++calls;
    if (instance == nullptr) ++null_instances;
#ifdef _WIN32
    if (GetCurrentThreadId() == main_thread) ++off_pool;
#else
    if (!w3tp::default_pool().get_executor().running_in_this_thread()) ++off_pool;
#endif
    last_error = error;
    last_bytes = bytes;
    last_overlapped = ov;
    last_context = context;
    last_io = io;
    cv.notify_all();
  }
  bool wait_for(long n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, k_wait, [&] { return calls >= n; });
  }
  long count() {
    std::lock_guard lock(mu);
    return calls;
  }
};

counter* g_bound = nullptr;

VOID WINAPI bound_routine(DWORD error, DWORD bytes, LPOVERLAPPED ov) { g_bound->hit(error, bytes, ov); }

VOID CALLBACK tp_callback(PTP_CALLBACK_INSTANCE instance, PVOID context, PVOID ov, ULONG result, ULONG_PTR bytes,
                          PTP_IO io) {
  static_cast<counter*>(context)->hit(result, bytes, ov, context, io, instance);
}

HANDLE open_overlapped(const std::string& path) {
  HANDLE h = CreateFileA(path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                         CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  return h;
}

}  // namespace

TEST_CASE("pool I/O APIs: BindIoCompletionCallback runs the routine on a pool thread", "[pool_io][bind]") {
  counter c;
  g_bound = &c;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  REQUIRE(BindIoCompletionCallback(r, bound_routine, 0) == TRUE);
  OVERLAPPED ov{};
  char buf[16] = {};
  BOOL ok = ReadFile(r, buf, sizeof buf, nullptr, &ov);
  REQUIRE((ok || GetLastError() == static_cast<DWORD>(ERROR_IO_PENDING)));
  REQUIRE(plain_write(w, "hello"));
  REQUIRE(c.wait_for(1));
  CHECK(c.last_error == static_cast<DWORD>(ERROR_SUCCESS));
  CHECK(c.last_bytes == 5u);
  CHECK(c.last_overlapped == &ov);
  CHECK(c.off_pool == 0);
  CHECK(std::string(buf, 5) == "hello");
  // A second binding of the same handle is refused, as a second completion port is on Windows.
  CHECK(BindIoCompletionCallback(r, bound_routine, 0) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  CHECK(CloseHandle(r));
  CHECK(CloseHandle(w));
  CHECK(c.count() == 1);
  g_bound = nullptr;
}

TEST_CASE("pool I/O APIs: BindIoCompletionCallback refuses what it cannot bind", "[pool_io][bind][bad_input]") {
  CHECK(BindIoCompletionCallback(INVALID_HANDLE_VALUE, bound_routine, 0) == FALSE);
  CHECK(GetLastError() != static_cast<DWORD>(ERROR_SUCCESS));
  temp_file tf("bind_plain");
  // Not opened for overlapped I/O.
  HANDLE plain = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                             FILE_ATTRIBUTE_NORMAL, nullptr);
  REQUIRE(plain != INVALID_HANDLE_VALUE);
  if (!k_windows) {
    // Windows binds a synchronous handle too (its completions simply never come); w3tp refuses, as
    // associate() does (API.md, behaviour 1), and checks the reserved Flags and the routine.
    CHECK(BindIoCompletionCallback(plain, bound_routine, 0) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
    HANDLE r, w;
    REQUIRE(make_pipe(r, w));
    CHECK(BindIoCompletionCallback(r, bound_routine, 1) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
    CHECK(BindIoCompletionCallback(r, nullptr, 0) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
    CHECK(CloseHandle(r));
    CHECK(CloseHandle(w));
  }
  CHECK(CloseHandle(plain));
}

TEST_CASE("pool I/O APIs: a thread-pool I/O object runs its callback once per started operation", "[pool_io][tpio]") {
  temp_file tf("tpio_file");
  HANDLE h = open_overlapped(tf.path);
  write_known_bytes(h, 4096);
  counter c;
  PTP_IO io = CreateThreadpoolIo(h, tp_callback, &c, nullptr);
  REQUIRE(io != nullptr);
  OVERLAPPED ov{};
  ov.Offset = 100;
  char buf[32] = {};
  StartThreadpoolIo(io);
  BOOL ok = ReadFile(h, buf, sizeof buf, nullptr, &ov);
  REQUIRE((ok || GetLastError() == static_cast<DWORD>(ERROR_IO_PENDING)));
  WaitForThreadpoolIoCallbacks(io, FALSE);
  // The wait returned after the callback had run, not before.
  CHECK(c.count() == 1);
  CHECK(c.last_error == static_cast<DWORD>(ERROR_SUCCESS));
  CHECK(c.last_bytes == sizeof buf);
  CHECK(c.last_overlapped == &ov);
  CHECK(c.last_context == &c);
  CHECK(c.last_io == io);
  CHECK(c.null_instances == 0);
  CHECK(c.off_pool == 0);
  CHECK(buf[0] == static_cast<char>(100 * 7));
  // Reading past the end: the callback gets ERROR_HANDLE_EOF.
  OVERLAPPED past{};
  past.Offset = 8192;
  StartThreadpoolIo(io);
  ok = ReadFile(h, buf, sizeof buf, nullptr, &past);
  if (ok || GetLastError() == static_cast<DWORD>(ERROR_IO_PENDING)) {
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(c.count() == 2);
    CHECK(c.last_error == static_cast<DWORD>(ERROR_HANDLE_EOF));
    CHECK(c.last_bytes == 0u);
  } else {
    // Windows may fail a read past the end at once: then no callback comes, and the start is undone.
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_HANDLE_EOF));
    CancelThreadpoolIo(io);
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(c.count() == 1);
  }
  CHECK(CloseHandle(h));
  CloseThreadpoolIo(io);
}

TEST_CASE("pool I/O APIs: CancelThreadpoolIo undoes the start of an operation that failed at once", "[pool_io][tpio]") {
  temp_file tf("tpio_cancel");
  HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  counter c;
  PTP_IO io = CreateThreadpoolIo(h, tp_callback, &c, nullptr);
  REQUIRE(io != nullptr);
  OVERLAPPED ov{};
  char buf[8];
  StartThreadpoolIo(io);
  // A read on a handle opened for writing only fails at once on both systems.
  CHECK(ReadFile(h, buf, sizeof buf, nullptr, &ov) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_ACCESS_DENIED));
  CancelThreadpoolIo(io);
  WaitForThreadpoolIoCallbacks(io, FALSE);  // returns at once: nothing is expected
  CHECK(c.count() == 0);
  CHECK(CloseHandle(h));
  CloseThreadpoolIo(io);
}

TEST_CASE("pool I/O APIs: WaitForThreadpoolIoCallbacks(TRUE) after a cancelled read", "[pool_io][tpio]") {
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  counter c;
  PTP_IO io = CreateThreadpoolIo(r, tp_callback, &c, nullptr);
  REQUIRE(io != nullptr);
  OVERLAPPED ov{};
  char buf[8];
  StartThreadpoolIo(io);
  BOOL ok = ReadFile(r, buf, sizeof buf, nullptr, &ov);
  REQUIRE((ok || GetLastError() == static_cast<DWORD>(ERROR_IO_PENDING)));
  CHECK(CancelIoEx(r, &ov) == TRUE);
  // Returns once the cancelled read's callback has run or, being due and not started, was dropped.
  WaitForThreadpoolIoCallbacks(io, TRUE);
  const long after_wait = c.count();
  CHECK(after_wait <= 1);
  if (after_wait == 1) CHECK(c.last_error == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  CHECK(CloseHandle(r));
  CHECK(CloseHandle(w));
  CloseThreadpoolIo(io);
  CHECK(c.count() == after_wait);
}

TEST_CASE("pool I/O APIs: one thread-pool I/O object shared by threads that start reads concurrently",
          "[pool_io][tpio][concurrency]") {
  temp_file tf("tpio_many");
  HANDLE h = open_overlapped(tf.path);
  write_known_bytes(h, 64 * 1024);
  counter c;
  PTP_IO io = CreateThreadpoolIo(h, tp_callback, &c, nullptr);
  REQUIRE(io != nullptr);
  constexpr int k_threads = 3, k_reads = 300;
  std::atomic<long> started{0}, refused{0};
  auto reader = [&](int who) {
    std::vector<OVERLAPPED> ovs(k_reads);
    std::vector<char> bufs(static_cast<std::size_t>(k_reads) * 16);
    for (int i = 0; i < k_reads; ++i) {
      ovs[i] = OVERLAPPED{};
      ovs[i].Offset = static_cast<DWORD>(((who * k_reads + i) * 16) % (64 * 1024));
      StartThreadpoolIo(io);
      if (ReadFile(h, &bufs[static_cast<std::size_t>(i) * 16], 16, nullptr, &ovs[i]) ||
          GetLastError() == static_cast<DWORD>(ERROR_IO_PENDING)) {
        started.fetch_add(1);
      } else {
        CancelThreadpoolIo(io);
        refused.fetch_add(1);
      }
    }
    // The OVERLAPPEDs and buffers must outlive their operations: wait before they go.
    WaitForThreadpoolIoCallbacks(io, FALSE);
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < k_threads; ++t) ts.emplace_back(reader, t);
  for (auto& t : ts) t.join();
  WaitForThreadpoolIoCallbacks(io, FALSE);
  CHECK(refused.load() == 0);
  CHECK(c.count() == started.load());
  CHECK(c.off_pool == 0);
  CHECK(CloseHandle(h));
  CloseThreadpoolIo(io);
}

TEST_CASE("pool I/O APIs: CreateThreadpoolIo refuses what it cannot bind", "[pool_io][tpio][bad_input]") {
  counter c;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  PTP_IO io = CreateThreadpoolIo(r, tp_callback, &c, nullptr);
  REQUIRE(io != nullptr);
  // A handle bound once cannot be bound again.
  CHECK(CreateThreadpoolIo(r, tp_callback, &c, nullptr) == nullptr);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  CHECK(CloseHandle(r));
  CHECK(CloseHandle(w));
  CloseThreadpoolIo(io);
  if (!k_windows) {
    // Windows would crash on these; w3tp answers with an error.
    CHECK(CreateThreadpoolIo(INVALID_HANDLE_VALUE, tp_callback, &c, nullptr) == nullptr);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
    HANDLE r2, w2;
    REQUIRE(make_pipe(r2, w2));
    CHECK(CreateThreadpoolIo(r2, nullptr, &c, nullptr) == nullptr);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
    TP_CALLBACK_ENVIRON env{};
    env.Version = 3;
    env.Pool = reinterpret_cast<PTP_POOL>(&env);  // a private pool: not w3tp's
    CHECK(CreateThreadpoolIo(r2, tp_callback, &c, &env) == nullptr);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_NOT_SUPPORTED));
    env.Pool = nullptr;
    PTP_IO io2 = CreateThreadpoolIo(r2, tp_callback, &c, &env);  // the default environment is fine
    CHECK(io2 != nullptr);
    StartThreadpoolIo(nullptr);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
    CHECK(CloseHandle(r2));
    CHECK(CloseHandle(w2));
    if (io2 != nullptr) CloseThreadpoolIo(io2);
  }
  CHECK(c.count() == 0);
}
