// SPDX-License-Identifier: MIT
// The rest of API.md's surface as seen from a running pool: the last error per thread, the POSIX
// bridge (adopt_fd / native_fd), default_pool(), http_server(pool), synchronous I/O on handles.
#include "backend/common.hpp"

using namespace w3tp_test;

namespace {
// Waits for `flag` without calling the system: on Windows any system call (a condition variable's
// wait, a thread's join) may change the calling thread's last error, which is what is checked here.
// Bounded by a count of loads (a few seconds at most), never by a clock.
bool spin_until_set(const std::atomic<int>& flag) {
  for (long long i = 0; i < 4'000'000'000LL; ++i)
    if (flag.load(std::memory_order_acquire) != 0) return true;
  return false;
}
}  // namespace

TEST_CASE("misc: GetLastError and SetLastError are per thread, pool threads included", "[misc]") {
  std::atomic<int> set_there{0};
  std::atomic<DWORD> seen{0xFFFFu};
  std::thread t([&] {
    SetLastError(ERROR_BROKEN_PIPE);
    seen = GetLastError();
    set_there.store(1, std::memory_order_release);
  });
  SetLastError(ERROR_DISK_FULL);
  bool other_ran = spin_until_set(set_there);
  DWORD mine = GetLastError();
  t.join();
  REQUIRE(other_ran);
  CHECK(seen.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  CHECK(mine == static_cast<DWORD>(ERROR_DISK_FULL));
  // A routine's SetLastError does not leak into the test thread.
  fixture f;
  std::atomic<int> ran{0};
  REQUIRE(f.p().post(
              [](DWORD, DWORD, LPOVERLAPPED ov) {
                SetLastError(ERROR_NO_DATA);
                reinterpret_cast<std::atomic<int>*>(ov)->store(1, std::memory_order_release);
              },
              0, 0, reinterpret_cast<OVERLAPPED*>(&ran)) == S_OK);
  SetLastError(ERROR_DISK_FULL);
  bool routine_ran = spin_until_set(ran);
  mine = GetLastError();
  REQUIRE(routine_ran);
  CHECK(mine == static_cast<DWORD>(ERROR_DISK_FULL));
  SetLastError(0);
  f.finish();
}

TEST_CASE("misc: successful calls set the last error to 0 where Windows does", "[misc]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  op rd(8);
  REQUIRE(start_read(f.t, r, rd));
  CHECK(rd.start_error == static_cast<DWORD>(ERROR_IO_PENDING));  // pending, so FALSE + ERROR_IO_PENDING
  REQUIRE(plain_write(w, "x"));
  REQUIRE(f.t.wait_op(rd));
  f.finish();
}

#ifndef _WIN32
TEST_CASE("misc: adopt_fd and native_fd", "[misc][posix]") {
  SetLastError(0);
  CHECK(w3tp::adopt_fd(-1) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(w3tp::adopt_fd(1000000) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  int fd = w3tp::native_fd(r);
  CHECK(fd >= 0);
  CHECK(w3tp::native_fd(w) >= 0);
  CHECK(w3tp::native_fd(w) != fd);
  REQUIRE(CloseHandle(r));
  CHECK(w3tp::native_fd(r) == -1);  // dead handle
  CHECK(w3tp::native_fd(nullptr) == -1);
  CHECK(w3tp::native_fd(INVALID_HANDLE_VALUE) == -1);
  REQUIRE(CloseHandle(w));
  CHECK(w3tp::native_fd(w) == -1);
}
#endif

TEST_CASE("misc: default_pool is one shared, running pool", "[misc]") {
  w3tp::thread_pool& p = w3tp::default_pool();
  CHECK(&p == &w3tp::default_pool());
  CHECK(p.thread_count() >= 2);
  CHECK(p.active_backend() != w3tp::backend::automatic);
  tracker t;
  t.pool = &p;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  REQUIRE(w3tp::http_server(p).AssociateWithThreadPool(r, record_routine) == S_OK);
  op rd(8);
  REQUIRE(start_read(t, r, rd));
  REQUIRE(plain_write(w, "dflt"));
  REQUIRE(t.wait_op(rd));
  CHECK(rd.text() == "dflt");
  CHECK(rd.on_pool.load());
  CloseHandle(r);
  CloseHandle(w);
  CHECK(t.accepted.load() == t.delivered.load());
}

TEST_CASE("misc: http_server(pool) is the pool's IIS view", "[misc]") {
  fixture f;
  IHttpServer& s = w3tp::http_server(f.p());
  CHECK(&s == &f.p().http_server());
  temp_file tf("iis");
  HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED,
                         nullptr);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  f.keep(h);
  CHECK(s.AssociateWithThreadPool(h, record_routine) == S_OK);
  op wr;
  write_all(f, h, wr, "IIS", 0);
  CHECK(s.AssociateWithThreadPool(h, record_routine) == HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER));
  CHECK(s.IsCommandLineLaunch() == FALSE);
  CHECK(s.GetAppPoolName() != nullptr);
  f.finish();
}

TEST_CASE("misc: the active backend is the one W3TP_BACKEND named", "[misc]") {
  fixture f;
  const char* env = std::getenv("W3TP_BACKEND");
  INFO("W3TP_BACKEND=" << (env ? env : "(unset)") << ", fallback: " << f.p().fallback_reason());
  if (env != nullptr && std::string(env) != "auto" && *env != '\0') {
    CHECK(w3tp::to_string(f.p().active_backend()) == env);
    CHECK(f.p().fallback_reason().empty());
  }
  f.finish();
}
