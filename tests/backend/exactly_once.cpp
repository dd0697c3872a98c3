// SPDX-License-Identifier: MIT
// API.md behaviour 2: exactly once, with the very OVERLAPPED*, on a pool thread, never inside a w3tp
// call of the routine's own thread; the starting thread may exit while the operation is pending.
#include "backend/common.hpp"

using namespace w3tp_test;

TEST_CASE("exactly once: file write and read run their routine once with the same OVERLAPPED*", "[once][file]") {
  fixture f;
  temp_file tf("once");
  HANDLE h = f.file(tf.path);
  op wr;
  REQUIRE(start_write(f.t, h, wr, "0123456789"));
  CHECK((wr.start_result == TRUE || wr.start_error == static_cast<DWORD>(ERROR_IO_PENDING)));
  REQUIRE(f.t.wait_op(wr));
  CHECK(wr.error.load() == 0u);
  CHECK(wr.bytes.load() == 10u);
  CHECK(wr.seen.load() == &wr.ov);
  CHECK(wr.on_pool.load());
  CHECK(wr.thread.load() != GetCurrentThreadId());
  CHECK(wr.ov.InternalHigh == 10u);

  op rd(32);
  REQUIRE(start_read(f.t, h, rd));
  REQUIRE(f.t.wait_op(rd));
  CHECK(rd.error.load() == 0u);
  CHECK(rd.bytes.load() == 10u);
  CHECK(rd.text() == "0123456789");
  CHECK(rd.seen.load() == &rd.ov);
  CHECK(rd.on_pool.load());
  CHECK(rd.thread.load() != GetCurrentThreadId());
  f.finish();
  CHECK(wr.calls.load() == 1);
  CHECK(rd.calls.load() == 1);
}

TEST_CASE("exactly once: pipe and socket reads complete once when data arrives", "[once][pipe][socket]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w, true, true);
  f.sockets(a, b, true, true);
  op pr, sr;
  REQUIRE(start_read(f.t, r, pr));
  REQUIRE(start_read(f.t, a, sr));
  // Nothing to read yet: both must be pending.
  CHECK(pr.start_result == FALSE);
  CHECK(pr.start_error == static_cast<DWORD>(ERROR_IO_PENDING));
  CHECK(sr.start_result == FALSE);
  CHECK(sr.start_error == static_cast<DWORD>(ERROR_IO_PENDING));
  op pw, sw;
  REQUIRE(start_write(f.t, w, pw, "pipe!"));
  REQUIRE(start_write(f.t, b, sw, "sock!"));
  REQUIRE(f.t.wait_delivered(4));
  CHECK(pr.text() == "pipe!");
  CHECK(sr.text() == "sock!");
  for (op* o : {&pr, &sr, &pw, &sw}) {
    CHECK(o->calls.load() == 1);
    CHECK(o->seen.load() == &o->ov);
    CHECK(o->error.load() == 0u);
    CHECK(o->bytes.load() == 5u);
    CHECK(o->on_pool.load());
  }
  f.finish();
}

TEST_CASE("exactly once: a failure at the call runs no routine", "[once]") {
  fixture f;
  temp_file tf("once-fail");
  // Opened for reading only: a write fails at once with ERROR_ACCESS_DENIED and owes no routine.
  {
    HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CloseHandle(h);
  }
  HANDLE ro = CreateFileA(tf.path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                          FILE_FLAG_OVERLAPPED, nullptr);
  f.associated(ro);
  op wr;
  CHECK_FALSE(start_write(f.t, ro, wr, "nope"));
  CHECK(wr.start_result == FALSE);
  CHECK(wr.start_error == static_cast<DWORD>(ERROR_ACCESS_DENIED));
  f.finish();
  CHECK(wr.calls.load() == 0);
}

TEST_CASE("exactly once: the starting thread may exit while its operation is pending", "[once]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b);
  temp_file tf("once-exit");
  HANDLE file = f.file(tf.path);
  op init;
  write_all(f, file, init, std::string(4096, 'z'));

  op pr, sr, fr(4096);
  std::thread starter([&] {
    start_read(f.t, r, pr);
    start_read(f.t, a, sr);
    start_read(f.t, file, fr);
  });
  starter.join();  // the thread is gone before the data arrives
  REQUIRE(pr.accepted);
  REQUIRE(sr.accepted);
  REQUIRE(fr.accepted);
  REQUIRE(plain_write(w, "after"));
  REQUIRE(plain_write(b, "exit!"));
  REQUIRE(f.t.wait_op(pr));
  REQUIRE(f.t.wait_op(sr));
  REQUIRE(f.t.wait_op(fr));
  CHECK(pr.text() == "after");
  CHECK(sr.text() == "exit!");
  CHECK(fr.error.load() == 0u);
  CHECK(fr.text() == std::string(4096, 'z'));
  f.finish();
}

namespace {

// A chain of operations started from routines, each inside call_scope: if a backend ran a completion
// inline inside ReadFile/WriteFile/post/CancelIoEx/CloseHandle, record() sees t_in_w3tp_call set.
struct chain {
  fixture* f;
  HANDLE file;
  HANDLE pipe_r, pipe_w;
  op ops[8];
  std::atomic<int> step{0};
};
chain* g_chain = nullptr;

VOID WINAPI chain_routine(DWORD err, DWORD n, LPOVERLAPPED ov) {
  op* o = reinterpret_cast<op*>(ov);
  o->owner->record(*o, err, n, ov);
  chain& c = *g_chain;
  int s = c.step.fetch_add(1) + 1;
  call_scope scope;
  switch (s) {
    case 1: start_read(c.f->t, c.file, c.ops[1]); break;          // file read from a routine
    case 2: start_write(c.f->t, c.pipe_w, c.ops[2], "x"); break;  // pipe write: data ready at once
    case 3: start_read(c.f->t, c.pipe_r, c.ops[3]); break;        // pipe read: data already there
    case 4:
      // post from a routine, then a cancel and a close that have operations to complete.
      c.ops[4].owner = &c.f->t;
      c.f->t.accepted.fetch_add(1);
      c.f->p().post(chain_routine, 0, 0, &c.ops[4].ov);
      break;
    case 5:
      start_read(c.f->t, c.pipe_r, c.ops[5]);  // pending: nothing to read
      CancelIoEx(c.pipe_r, &c.ops[5].ov);
      break;
    case 6:
      start_read(c.f->t, c.pipe_r, c.ops[6]);
      CloseHandle(c.pipe_r);
      break;
    default: break;
  }
}

}  // namespace

TEST_CASE("exactly once: a routine never runs inside a w3tp call its own thread makes", "[once]") {
  fixture f;
  chain c;
  c.f = &f;
  g_chain = &c;
  temp_file tf("once-inline");
  c.file = f.keep(CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                              FILE_FLAG_OVERLAPPED, nullptr));
  REQUIRE(f.p().associate(c.file, chain_routine) == S_OK);
  REQUIRE(make_pipe(c.pipe_r, c.pipe_w));
  f.keep(c.pipe_r);
  f.keep(c.pipe_w);
  REQUIRE(f.p().associate(c.pipe_r, chain_routine) == S_OK);
  REQUIRE(f.p().associate(c.pipe_w, chain_routine) == S_OK);
  {
    call_scope scope;
    REQUIRE(start_write(f.t, c.file, c.ops[0], "chain"));
  }
  REQUIRE(f.t.wait([&] { return c.step.load() >= 7; }));
  CHECK(c.ops[1].text() == "chain");
  CHECK(c.ops[3].text() == "x");
  CHECK(c.ops[5].error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  check_aborted_by_close(c.ops[6], end_kind::pipe);
  for (int i = 0; i <= 6; ++i) {
    INFO("operation " << i);
    CHECK(c.ops[i].calls.load() == 1);
    CHECK_FALSE(c.ops[i].inside_call.load());
    CHECK(c.ops[i].on_pool.load());
  }
  f.finish();
  g_chain = nullptr;
}

namespace {
struct burst {
  fixture* f = nullptr;
  HANDLE h = nullptr;
  std::vector<std::unique_ptr<op>> ops;
  std::atomic<int> started{0};
};
burst* g_burst = nullptr;

// Starts every read of the burst from one routine, without returning in between.
VOID WINAPI start_burst(DWORD, DWORD, LPOVERLAPPED) {
  for (auto& o : g_burst->ops)
    if (start_read(g_burst->f->t, g_burst->h, *o, 1)) g_burst->started.fetch_add(1);
  g_burst->f->t.notify();
}
}  // namespace

TEST_CASE("exactly once: a routine that starts more operations than a ring holds", "[once][pipe]") {
  // io_uring: 1,000 reads prepared by one routine overflow its ring's submission queue (256 entries),
  // which is then submitted to make room; every read still completes once.
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  burst b;
  b.f = &f;
  b.h = r;
  for (int i = 0; i < 1000; ++i) b.ops.push_back(std::make_unique<op>(1));
  g_burst = &b;
  REQUIRE(f.p().post(start_burst, 0, 0, nullptr) == S_OK);
  REQUIRE(f.t.wait([&] { return b.started.load() == 1000; }));
  REQUIRE(plain_write(w, std::string(1000, 'b')));
  REQUIRE(f.t.wait_delivered(1000));
  int good = 0;
  for (auto& o : b.ops) good += o->calls.load() == 1 && o->error.load() == 0u && o->bytes.load() == 1u;
  CHECK(good == 1000);
  f.finish();
  g_burst = nullptr;
}
