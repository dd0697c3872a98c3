// SPDX-License-Identifier: MIT
// A Windows-only smoke test of w3tp's IOCP pool, run on Windows or under Wine (ctest runs it through
// the toolchain's Wine wrapper when cross-compiling). It exercises the system's own overlapped I/O on
// files, named pipes and sockets through thread_pool::associate, and what w3tp owns on Windows:
// argument checks, post, the thread count, rule 9 of API.md and shutdown.
//
// Wine deviates from Windows in a few documented places. Like Wine's own conformance tests, checks of
// those places are marked "todo_wine": under Wine a failing one is reported as todo_wine and a passing
// one as a failure (the mark is stale); on Windows they count as ordinary checks.
#include <winsock2.h>
#include <ws2tcpip.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <w3tp/w3tp.hpp>

#include "backend/support.hpp"

namespace {

// ---------------------------------------------------------------------------------------------
// A minimal checking harness (exit code 0: every check passed).

const char* g_wine_version = nullptr;
int g_checks = 0;
int g_failures = 0;
int g_todo_wine = 0;
const char* g_section = "";

bool check_impl(bool ok, bool todo_wine, const char* what, int line) {
  ++g_checks;
  if (todo_wine && g_wine_version != nullptr) {
    if (ok) {
      std::printf("FAIL [%s] line %d: todo_wine check passed (remove the mark): %s\n", g_section, line, what);
      ++g_failures;
    } else {
      std::printf("todo_wine [%s] line %d: %s\n", g_section, line, what);
      ++g_todo_wine;
    }
    return ok;
  }
  if (!ok) {
    std::printf("FAIL [%s] line %d: %s\n", g_section, line, what);
    ++g_failures;
  }
  return ok;
}

#define CHECK(cond) check_impl(static_cast<bool>(cond), false, #cond, __LINE__)
#define CHECK_TODO_WINE(cond) check_impl(static_cast<bool>(cond), true, #cond, __LINE__)

// A check whose failure makes the rest of its section meaningless.
struct section_failed {};
#define REQUIRE(cond)                                                                         \
  do {                                                                                        \
    if (!check_impl(static_cast<bool>(cond), false, #cond, __LINE__)) throw section_failed{}; \
  } while (0)

void run_section(const char* name, void (*body)()) {
  g_section = name;
  int before = g_failures;
  try {
    body();
  } catch (const section_failed&) {
    std::printf("  (section %s stopped at a failed requirement)\n", name);
  } catch (const std::exception& e) {
    check_impl(false, false, e.what(), 0);
  }
  std::printf("%-28s %s\n", name, g_failures == before ? "ok" : "FAILED");
  std::fflush(stdout);
}

// Completion waits are bounded: a lost completion fails a check instead of hanging the test.
constexpr DWORD k_wait_ms = 5000;

// An auto-reset event.
struct event {
  HANDLE h = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  event() = default;
  event(const event&) = delete;
  ~event() { CloseHandle(h); }
  void set() { SetEvent(h); }
  bool wait(DWORD ms = k_wait_ms) { return WaitForSingleObject(h, ms) == WAIT_OBJECT_0; }
};

// An operation: the OVERLAPPED the system sees, and what its routine received.
struct io : OVERLAPPED {
  io() : OVERLAPPED{} {}
  event done;
  std::atomic<int> calls{0};
  DWORD error = 0xFFFFFFFFu;
  DWORD bytes = 0xFFFFFFFFu;
  OVERLAPPED* seen = nullptr;
  DWORD thread = 0;
  void prepare(ULONGLONG offset = 0) {
    Internal = InternalHigh = 0;
    Offset = static_cast<DWORD>(offset);
    OffsetHigh = static_cast<DWORD>(offset >> 32);
    hEvent = nullptr;
    calls = 0;
    error = bytes = 0xFFFFFFFFu;
    seen = nullptr;
    thread = 0;
  }
};

DWORD g_main_thread = 0;

void CALLBACK record(DWORD error, DWORD bytes, OVERLAPPED* ov) {
  io* op = static_cast<io*>(ov);
  op->error = error;
  op->bytes = bytes;
  op->seen = ov;
  op->thread = GetCurrentThreadId();
  op->calls.fetch_add(1);
  op->done.set();
}

// TRUE, or FALSE with ERROR_IO_PENDING: the operation was accepted and its routine will run.
bool accepted(BOOL result) { return result || GetLastError() == ERROR_IO_PENDING; }

// The routine ran once, on a pool thread, with these arguments and the very OVERLAPPED.
void check_completed(io& op, DWORD error, DWORD bytes) {
  REQUIRE(op.done.wait());
  CHECK(op.error == error);
  CHECK(op.bytes == bytes);
  CHECK(op.seen == &op);
  CHECK(op.thread != g_main_thread && op.thread != 0);
  CHECK(op.calls.load() == 1);
}

std::wstring temp_file_name() {
  wchar_t dir[MAX_PATH], name[MAX_PATH];
  GetTempPathW(MAX_PATH, dir);
  GetTempFileNameW(dir, L"w3t", 0, name);
  return name;
}

HANDLE open_temp(bool overlapped) {
  return CreateFileW(temp_file_name().c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                     FILE_ATTRIBUTE_NORMAL | FILE_FLAG_DELETE_ON_CLOSE | (overlapped ? FILE_FLAG_OVERLAPPED : 0),
                     nullptr);
}

// A connected named pipe: `server` end and `client` end, both overlapped.
struct pipe_pair {
  HANDLE server = INVALID_HANDLE_VALUE;
  HANDLE client = INVALID_HANDLE_VALUE;
  pipe_pair() {
    static std::atomic<int> serial{0};
    std::wstring name = L"\\\\.\\pipe\\w3tp-smoke-" + std::to_wstring(GetCurrentProcessId()) + L"-" +
                        std::to_wstring(serial.fetch_add(1));
    server = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                              PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, nullptr);
    client = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                         nullptr);
  }
  ~pipe_pair() {
    if (server != INVALID_HANDLE_VALUE) CloseHandle(server);
    if (client != INVALID_HANDLE_VALUE) CloseHandle(client);
  }
};

// Writes on a handle that is not associated with any pool, waiting with an event.
bool write_all(HANDLE h, const void* data, DWORD size) {
  OVERLAPPED ov{};
  ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  DWORD n = 0;
  BOOL ok = WriteFile(h, data, size, nullptr, &ov);
  if (!ok && GetLastError() == ERROR_IO_PENDING)
    ok = GetOverlappedResult(h, &ov, &n, TRUE);
  else if (ok)
    ok = GetOverlappedResult(h, &ov, &n, TRUE);
  CloseHandle(ov.hEvent);
  return ok && n == size;
}

// A connected TCP pair over 127.0.0.1 (both sockets overlapped, as socket() makes them).
struct socket_pair {
  SOCKET server = INVALID_SOCKET;
  SOCKET client = INVALID_SOCKET;
  socket_pair() {
    SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof addr;
    if (listener == INVALID_SOCKET || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (listener != INVALID_SOCKET) closesocket(listener);
      return;
    }
    client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (client != INVALID_SOCKET && connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      server = accept(listener, nullptr, nullptr);
    closesocket(listener);
  }
  ~socket_pair() {
    if (server != INVALID_SOCKET) closesocket(server);
    if (client != INVALID_SOCKET) closesocket(client);
  }
  HANDLE server_handle() const { return reinterpret_cast<HANDLE>(server); }
};

// ---------------------------------------------------------------------------------------------
// Sections

void backend_section() {
  w3tp::thread_pool pool({.threads = 2});
  std::printf("backend: %.*s\n", static_cast<int>(w3tp::to_string(pool.active_backend()).size()),
              w3tp::to_string(pool.active_backend()).data());
  CHECK(pool.active_backend() == w3tp::backend::iocp);
  CHECK(pool.fallback_reason().empty());
  CHECK(pool.thread_count() == 2);
  // Linux's backends, asked for by name, cannot start here: a system_error that says why.
  for (auto b : {w3tp::backend::io_uring, w3tp::backend::epoll}) {
    bool threw = false;
    try {
      w3tp::thread_pool p({.threads = 1, .preferred = b});
    } catch (const std::system_error& e) {
      threw = std::strlen(e.what()) > 10;
    }
    CHECK(threw);
  }
  w3tp::thread_pool explicit_iocp({.threads = 1, .preferred = w3tp::backend::iocp});
  CHECK(explicit_iocp.active_backend() == w3tp::backend::iocp);
}

void file_section() {
  w3tp::thread_pool pool({.threads = 2});
  HANDLE h = open_temp(true);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  REQUIRE(pool.associate(h, record) == S_OK);

  std::vector<char> out(8192), in(8192);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 7 + 1);
  io op;
  op.prepare(0);
  REQUIRE(accepted(WriteFile(h, out.data(), 8192, nullptr, &op)));
  check_completed(op, ERROR_SUCCESS, 8192);
  DWORD n = 0;
  CHECK(GetOverlappedResult(h, &op, &n, FALSE) && n == 8192);

  // A read at an offset gives what the write put there.
  op.prepare(4096);
  REQUIRE(accepted(ReadFile(h, in.data(), 4096, nullptr, &op)));
  check_completed(op, ERROR_SUCCESS, 4096);
  CHECK(std::memcmp(in.data(), out.data() + 4096, 4096) == 0);

  // A read that crosses the end gives what there is.
  op.prepare(8000);
  REQUIRE(accepted(ReadFile(h, in.data(), 4096, nullptr, &op)));
  check_completed(op, ERROR_SUCCESS, 192);

  // A read past the end: ERROR_HANDLE_EOF, either at once (no routine) or through the routine.
  op.prepare(1u << 20);
  BOOL r = ReadFile(h, in.data(), 4096, nullptr, &op);
  DWORD e = GetLastError();
  if (!r && e == ERROR_HANDLE_EOF) {
    std::printf("  read past the end failed at once with ERROR_HANDLE_EOF\n");
  } else {
    REQUIRE(!r && e == ERROR_IO_PENDING);
    check_completed(op, ERROR_HANDLE_EOF, 0);
    CHECK(!GetOverlappedResult(h, &op, &n, FALSE) && GetLastError() == ERROR_HANDLE_EOF);
  }
  CloseHandle(h);

  // A C++ callable, through the IHttpServer view too.
  HANDLE h2 = open_temp(true);
  REQUIRE(h2 != INVALID_HANDLE_VALUE);
  std::atomic<int> calls{0};
  event done;
  DWORD got = 0;
  REQUIRE(pool.associate(h2, [&](DWORD error, DWORD bytes, OVERLAPPED*) {
    got = error == ERROR_SUCCESS ? bytes : 0xFFFFFFFFu;
    calls.fetch_add(1);
    done.set();
  }) == S_OK);
  op.prepare(0);
  REQUIRE(accepted(WriteFile(h2, out.data(), 100, nullptr, &op)));
  REQUIRE(done.wait());
  CHECK(got == 100 && calls.load() == 1);
  CloseHandle(h2);

  HANDLE h3 = open_temp(true);
  REQUIRE(h3 != INVALID_HANDLE_VALUE);
  CHECK(w3tp::http_server(pool).AssociateWithThreadPool(h3, record) == S_OK);
  op.prepare(0);
  REQUIRE(accepted(WriteFile(h3, out.data(), 10, nullptr, &op)));
  check_completed(op, ERROR_SUCCESS, 10);
  CloseHandle(h3);
}

void pipe_section() {
  w3tp::thread_pool pool({.threads = 2});
  pipe_pair p;
  REQUIRE(p.server != INVALID_HANDLE_VALUE && p.client != INVALID_HANDLE_VALUE);
  REQUIRE(pool.associate(p.server, record) == S_OK);

  // A pending read completes with what the peer writes.
  char buf[256];
  io op;
  op.prepare();
  BOOL r = ReadFile(p.server, buf, sizeof buf, nullptr, &op);
  REQUIRE(!r && GetLastError() == ERROR_IO_PENDING);
  CHECK(op.Internal == STATUS_PENDING);
  DWORD n = 0;
  CHECK(!GetOverlappedResult(p.server, &op, &n, FALSE) && GetLastError() == ERROR_IO_INCOMPLETE);
  REQUIRE(write_all(p.client, "hello", 5));
  check_completed(op, ERROR_SUCCESS, 5);
  CHECK(std::memcmp(buf, "hello", 5) == 0);

  // A write from the associated end completes through the routine.
  op.prepare();
  REQUIRE(accepted(WriteFile(p.server, "pong", 4, nullptr, &op)));
  check_completed(op, ERROR_SUCCESS, 4);

  // CancelIoEx of one pending read: ERROR_OPERATION_ABORTED through the routine.
  op.prepare();
  REQUIRE(!ReadFile(p.server, buf, sizeof buf, nullptr, &op) && GetLastError() == ERROR_IO_PENDING);
  CHECK(CancelIoEx(p.server, &op));
  check_completed(op, ERROR_OPERATION_ABORTED, 0);
  // Nothing left to cancel: FALSE and ERROR_NOT_FOUND (Wine answers TRUE for a NULL OVERLAPPED).
  SetLastError(0);
  BOOL none = CancelIoEx(p.server, nullptr);
  CHECK_TODO_WINE(!none && GetLastError() == ERROR_NOT_FOUND);
  SetLastError(0);
  CHECK(!CancelIoEx(p.server, &op) && GetLastError() == ERROR_NOT_FOUND);

  // CancelIoEx(h, NULL) reaches an operation that another thread started, after that thread exited.
  op.prepare();
  bool started = false;
  std::thread([&] {
    started = !ReadFile(p.server, buf, sizeof buf, nullptr, &op) && GetLastError() == ERROR_IO_PENDING;
  }).join();
  REQUIRE(started);
  CHECK(CancelIoEx(p.server, nullptr));
  check_completed(op, ERROR_OPERATION_ABORTED, 0);

  // An operation outlives the thread that started it.
  op.prepare();
  started = false;
  std::thread([&] {
    started = !ReadFile(p.server, buf, sizeof buf, nullptr, &op) && GetLastError() == ERROR_IO_PENDING;
  }).join();
  REQUIRE(started);
  REQUIRE(write_all(p.client, "late", 4));
  check_completed(op, ERROR_SUCCESS, 4);

  // The peer closing the pipe: ERROR_BROKEN_PIPE.
  op.prepare();
  REQUIRE(!ReadFile(p.server, buf, sizeof buf, nullptr, &op) && GetLastError() == ERROR_IO_PENDING);
  CloseHandle(p.client);
  p.client = INVALID_HANDLE_VALUE;
  check_completed(op, ERROR_BROKEN_PIPE, 0);
}

void socket_section() {
  w3tp::thread_pool pool({.threads = 2});
  {
    socket_pair s;
    REQUIRE(s.server != INVALID_SOCKET && s.client != INVALID_SOCKET);
    REQUIRE(pool.associate(s.server_handle(), record) == S_OK);

    // WSARecv on the associated socket, send from the peer.
    char buf[256];
    WSABUF wb{sizeof buf, buf};
    DWORD flags = 0;
    io op;
    op.prepare();
    int rc = WSARecv(s.server, &wb, 1, nullptr, &flags, &op, nullptr);
    REQUIRE(rc == 0 || WSAGetLastError() == WSA_IO_PENDING);
    REQUIRE(send(s.client, "ping", 4, 0) == 4);
    check_completed(op, ERROR_SUCCESS, 4);
    CHECK(std::memcmp(buf, "ping", 4) == 0);

    // WriteFile on the socket's HANDLE, recv at the peer.
    op.prepare();
    REQUIRE(accepted(WriteFile(s.server_handle(), "pong!", 5, nullptr, &op)));
    check_completed(op, ERROR_SUCCESS, 5);
    char got[8] = {};
    int total = 0;
    while (total < 5) {
      int k = recv(s.client, got + total, 5 - total, 0);
      if (k <= 0) break;
      total += k;
    }
    CHECK(total == 5 && std::memcmp(got, "pong!", 5) == 0);

    // ReadFile on the socket's HANDLE; the peer's orderly close gives success with 0 bytes.
    op.prepare();
    REQUIRE(accepted(ReadFile(s.server_handle(), buf, sizeof buf, nullptr, &op)));
    REQUIRE(shutdown(s.client, SD_SEND) == 0);
    check_completed(op, ERROR_SUCCESS, 0);
  }
  {
    // The peer's reset: ERROR_NETNAME_DELETED or ERROR_CONNECTION_ABORTED.
    socket_pair s;
    REQUIRE(s.server != INVALID_SOCKET && s.client != INVALID_SOCKET);
    REQUIRE(pool.associate(s.server_handle(), record) == S_OK);
    char buf[64];
    io op;
    op.prepare();
    REQUIRE(accepted(ReadFile(s.server_handle(), buf, sizeof buf, nullptr, &op)));
    linger lg{1, 0};
    setsockopt(s.client, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&lg), sizeof lg);
    closesocket(s.client);
    s.client = INVALID_SOCKET;
    REQUIRE(op.done.wait());
    CHECK(op.error == ERROR_NETNAME_DELETED || op.error == ERROR_CONNECTION_ABORTED);
    CHECK(op.calls.load() == 1 && op.seen == &op);
  }
  {
    // closesocket with a pending read: ERROR_OPERATION_ABORTED (Wine: ERROR_HANDLES_CLOSED, 676).
    socket_pair s;
    REQUIRE(s.server != INVALID_SOCKET && s.client != INVALID_SOCKET);
    REQUIRE(pool.associate(s.server_handle(), record) == S_OK);
    char buf[64];
    io op;
    op.prepare();
    REQUIRE(accepted(ReadFile(s.server_handle(), buf, sizeof buf, nullptr, &op)));
    closesocket(s.server);
    s.server = INVALID_SOCKET;
    REQUIRE(op.done.wait());
    if (g_wine_version != nullptr && op.error != ERROR_OPERATION_ABORTED)
      std::printf("  closesocket with a pending read gave %lu\n", op.error);
    CHECK_TODO_WINE(op.error == ERROR_OPERATION_ABORTED);
    CHECK(op.calls.load() == 1 && op.seen == &op);
  }
}

void post_section() {
  w3tp::thread_pool pool({.threads = 2});
  io op;
  op.prepare();
  REQUIRE(pool.post(record, 1234, 77, &op) == S_OK);
  check_completed(op, 1234, 77);

  // A NULL OVERLAPPED is carried as given.
  static event null_done;
  static std::atomic<bool> null_ok{false};
  REQUIRE(pool.post(
              [](DWORD e, DWORD b, OVERLAPPED* ov) {
                null_ok = e == 5 && b == 6 && ov == nullptr;
                null_done.set();
              },
              5, 6, nullptr) == S_OK);
  REQUIRE(null_done.wait());
  CHECK(null_ok.load());
  CHECK(pool.post(nullptr, 0, 0, &op) == E_INVALIDARG);

  // The executor runs tasks on pool threads.
  event task_done;
  bool in_pool = false;
  pool.get_executor().execute([&] {
    in_pool = pool.get_executor().running_in_this_thread();
    task_done.set();
  });
  REQUIRE(task_done.wait());
  CHECK(in_pool);
  CHECK(!pool.get_executor().running_in_this_thread());
}

void association_checks_section() {
  w3tp::thread_pool pool({.threads = 2});
  w3tp::thread_pool other({.threads = 1});
  const HRESULT invalid_handle = HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
  const HRESULT invalid_parameter = HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);

  CHECK(pool.associate(nullptr, record) == invalid_handle);
  CHECK(pool.associate(INVALID_HANDLE_VALUE, record) == invalid_handle);

  HANDLE h = open_temp(true);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  CHECK(pool.associate(h, static_cast<LPOVERLAPPED_COMPLETION_ROUTINE>(nullptr)) == E_INVALIDARG);
  CHECK(pool.associate(h, record) == S_OK);
  // A second association, with this pool or another, is refused by the system.
  CHECK(pool.associate(h, record) == invalid_parameter);
  CHECK(other.associate(h, record) == invalid_parameter);
  int destroyed = 0;
  struct counted {
    int* n;
    explicit counted(int* p) : n(p) {}
    counted(const counted& o) : n(o.n) {}
    ~counted() { ++*n; }
    void operator()(DWORD, DWORD, OVERLAPPED*) const {}
  };
  {
    counted c(&destroyed);
    CHECK(other.associate(h, c) == invalid_parameter);
  }
  CHECK(destroyed == 2);  // the refused association's copy is destroyed, and so is the original
  // The refused associations changed nothing: completions still reach the first routine.
  io op;
  op.prepare();
  REQUIRE(accepted(WriteFile(h, "x", 1, nullptr, &op)));
  check_completed(op, ERROR_SUCCESS, 1);
  CloseHandle(h);

  // A handle opened without FILE_FLAG_OVERLAPPED.
  HANDLE sync = open_temp(false);
  REQUIRE(sync != INVALID_HANDLE_VALUE);
  CHECK(pool.associate(sync, record) == invalid_parameter);
  CloseHandle(sync);

  // A closed handle.
  HANDLE closed = open_temp(true);
  REQUIRE(closed != INVALID_HANDLE_VALUE);
  CloseHandle(closed);
  CHECK(pool.associate(closed, record) == invalid_handle);
}

// A routine that blocks until released (its OVERLAPPED is a blocker).
struct blocker : OVERLAPPED {
  blocker() : OVERLAPPED{} {}
  event started, release;
  w3tp::thread_pool* add_thread_to = nullptr;
};

void CALLBACK block(DWORD, DWORD, OVERLAPPED* ov) {
  auto* b = static_cast<blocker*>(ov);
  if (b->add_thread_to != nullptr) w3tp::http_server(*b->add_thread_to).IncrementThreadCount();
  b->started.set();
  b->release.wait(20000);
  if (b->add_thread_to != nullptr) w3tp::http_server(*b->add_thread_to).DecrementThreadCount();
}

void concurrency_section() {
  // Rule 9: with one routine blocked, a due completion and a post run on the other thread.
  {
    w3tp::thread_pool pool({.threads = 2});
    HANDLE h = open_temp(true);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    REQUIRE(pool.associate(h, record) == S_OK);
    blocker b;
    REQUIRE(pool.post(block, 0, 0, &b) == S_OK);
    REQUIRE(b.started.wait());
    io op;
    op.prepare();
    REQUIRE(accepted(WriteFile(h, "abc", 3, nullptr, &op)));
    CHECK(op.done.wait(2000));
    io posted;
    posted.prepare();
    REQUIRE(pool.post(record, 0, 1, &posted) == S_OK);
    CHECK(posted.done.wait(2000));
    b.release.set();
    CloseHandle(h);
  }
  // IncrementThreadCount: with the only thread blocked, the added one runs the next packet.
  {
    w3tp::thread_pool pool({.threads = 1, .max_threads = 3});
    CHECK(pool.thread_count() == 1);
    blocker b;
    b.add_thread_to = &pool;
    REQUIRE(pool.post(block, 0, 0, &b) == S_OK);
    REQUIRE(b.started.wait());
    CHECK(pool.thread_count() == 2);
    io posted;
    posted.prepare();
    REQUIRE(pool.post(record, 0, 2, &posted) == S_OK);
    CHECK(posted.done.wait(2000));
    b.release.set();
  }
  // The count never passes max_threads and never drops below threads; extra threads retire when idle.
  {
    w3tp::thread_pool pool({.threads = 2, .max_threads = 4});
    IHttpServer& server = w3tp::http_server(pool);
    for (int i = 0; i < 5; ++i) server.IncrementThreadCount();
    CHECK(pool.thread_count() == 4);
    for (int i = 0; i < 5; ++i) server.DecrementThreadCount();
    // Retiring threads leave on their own; poll the count with a deadline.
    DWORD start = GetTickCount();
    while (pool.thread_count() != 2 && GetTickCount() - start < k_wait_ms) SwitchToThread();
    CHECK(pool.thread_count() == 2);
    // The pool still works with the threads it kept.
    io posted;
    posted.prepare();
    REQUIRE(pool.post(record, 0, 3, &posted) == S_OK);
    check_completed(posted, 0, 3);
  }
}

void exception_section() {
  static std::atomic<int> caught{0};
  w3tp::pool_options options;
  options.threads = 1;
  options.on_exception = [](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::runtime_error&) {
      caught.fetch_add(1);
    }
  };
  w3tp::thread_pool pool(options);
  HANDLE h = open_temp(true);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  REQUIRE(pool.associate(h, [](DWORD, DWORD, OVERLAPPED*) { throw std::runtime_error("routine"); }) == S_OK);
  io op;
  op.prepare();
  REQUIRE(accepted(WriteFile(h, "x", 1, nullptr, &op)));
  pool.get_executor().execute([] { throw std::runtime_error("task"); });
  // The same (only) thread goes on after the handler: this post runs after both throws.
  io posted;
  posted.prepare();
  REQUIRE(pool.post(record, 0, 0, &posted) == S_OK);
  REQUIRE(posted.done.wait());
  DWORD start = GetTickCount();
  while (caught.load() < 2 && GetTickCount() - start < k_wait_ms) SwitchToThread();
  CHECK(caught.load() == 2);
  CloseHandle(h);
}

std::atomic<int> g_shutdown_runs{0};
void CALLBACK count_run(DWORD, DWORD, OVERLAPPED*) { g_shutdown_runs.fetch_add(1); }

struct shutdown_from_routine : OVERLAPPED {
  shutdown_from_routine() : OVERLAPPED{} {}
  w3tp::thread_pool* pool = nullptr;
  HRESULT post_after = S_OK;
  event done;
};

void CALLBACK shut_down_pool(DWORD, DWORD, OVERLAPPED* ov) {
  auto* s = static_cast<shutdown_from_routine*>(ov);
  s->pool->shutdown();
  s->post_after = s->pool->post(count_run, 0, 0, nullptr);
  s->done.set();
}

void shutdown_section() {
  // Every accepted post runs before shutdown returns; later work is refused.
  {
    w3tp::thread_pool pool({.threads = 2});
    g_shutdown_runs = 0;
    for (int i = 0; i < 200; ++i) REQUIRE(pool.post(count_run, 0, 0, nullptr) == S_OK);
    pool.shutdown();
    CHECK(g_shutdown_runs.load() == 200);
    pool.shutdown();  // idempotent
    const HRESULT invalid_state = HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
    CHECK(pool.post(count_run, 0, 0, nullptr) == invalid_state);
    HANDLE h = open_temp(true);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(pool.associate(h, record) == invalid_state);
    CloseHandle(h);
    bool ran = false;
    pool.get_executor().execute([&] { ran = true; });  // destroyed without running
    CHECK(!ran);
    CHECK(g_shutdown_runs.load() == 200);
  }
  // shutdown from a routine: no deadlock, and the owner's later shutdown (the destructor) waits.
  {
    auto* pool = new w3tp::thread_pool({.threads = 2});
    shutdown_from_routine s;
    s.pool = pool;
    REQUIRE(pool->post(shut_down_pool, 0, 0, &s) == S_OK);
    REQUIRE(s.done.wait());
    CHECK(s.post_after == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
    delete pool;
  }
  // shutdown from the routine of a one-thread pool, with posts queued behind it: no deadlock, and the
  // thread runs them after the routine returns.
  {
    auto* pool = new w3tp::thread_pool({.threads = 1});
    g_shutdown_runs = 0;
    blocker gate;
    shutdown_from_routine s;
    s.pool = pool;
    REQUIRE(pool->post(block, 0, 0, &gate) == S_OK);
    REQUIRE(gate.started.wait());
    REQUIRE(pool->post(shut_down_pool, 0, 0, &s) == S_OK);
    for (int i = 0; i < 10; ++i) REQUIRE(pool->post(count_run, 0, 0, nullptr) == S_OK);
    gate.release.set();
    REQUIRE(s.done.wait());
    delete pool;  // the pool's thread still drains the port, and frees the pool when it leaves
    DWORD start = GetTickCount();
    while (g_shutdown_runs.load() != 10 && GetTickCount() - start < k_wait_ms) SwitchToThread();
    CHECK(g_shutdown_runs.load() == 10);
  }
  // I/O completions queued before shutdown get their routines before it returns.
  {
    w3tp::thread_pool pool({.threads = 1});
    HANDLE h = open_temp(true);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    REQUIRE(pool.associate(h, record) == S_OK);
    blocker gate;
    REQUIRE(pool.post(block, 0, 0, &gate) == S_OK);
    REQUIRE(gate.started.wait());
    // The only thread is blocked: these completions wait in the port.
    // An event in the OVERLAPPED (low bit clear) is set when the write is done, as its packet is queued;
    // the OVERLAPPED itself is updated only when the packet is dequeued.
    io ops[5];
    HANDLE done[5];
    for (int i = 0; i < 5; ++i) {
      ops[i].prepare(static_cast<ULONGLONG>(i) * 16);
      ops[i].hEvent = done[i] = CreateEventW(nullptr, TRUE, FALSE, nullptr);
      REQUIRE(accepted(WriteFile(h, "0123456789abcdef", 16, nullptr, &ops[i])));
    }
    CHECK(WaitForMultipleObjects(5, done, TRUE, k_wait_ms) == WAIT_OBJECT_0);
    std::thread stopper([&] { pool.shutdown(); });
    gate.release.set();
    stopper.join();
    for (auto& op : ops) CHECK(op.calls.load() == 1 && op.error == ERROR_SUCCESS && op.bytes == 16);
    for (HANDLE e : done) CloseHandle(e);
    CloseHandle(h);
  }
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  g_main_thread = GetCurrentThreadId();
  g_wine_version = w3tp_test::wine_version();
  std::printf("iocp_smoke: running on %s%s\n", g_wine_version != nullptr ? "Wine " : "Windows",
              g_wine_version != nullptr ? g_wine_version : "");
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    std::printf("WSAStartup failed\n");
    return 1;
  }

  run_section("backend", backend_section);
  run_section("file", file_section);
  run_section("named pipe", pipe_section);
  run_section("socket", socket_section);
  run_section("post and executor", post_section);
  run_section("association checks", association_checks_section);
  run_section("concurrency (rule 9)", concurrency_section);
  run_section("exceptions", exception_section);
  run_section("shutdown", shutdown_section);

  WSACleanup();
  std::printf("iocp_smoke: %d checks, %d failed, %d todo_wine\n", g_checks, g_failures, g_todo_wine);
  return g_failures == 0 ? 0 : 1;
}
