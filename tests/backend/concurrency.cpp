// SPDX-License-Identifier: MIT
// API.md behaviour 9: while one routine runs or blocks, a completion that is due runs on another idle
// pool thread; a routine may start I/O, associate, close and post.
#include "backend/common.hpp"

using namespace w3tp_test;

namespace {

// A gate that routines block on; the test opens it. Bounded so that a broken pool cannot hang forever.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> waiting{0};
  void wait(tracker& t) {
    waiting.fetch_add(1);
    t.notify();
    std::unique_lock lock(mu);
    cv.wait_for(lock, 2 * k_wait, [&] { return open; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("concurrency: a due completion runs while another routine is blocked", "[concurrency]") {
  fixture f(test_options(2));
  gate g;
  std::atomic<bool> blocker_done{false};
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  f.keep(r);
  f.keep(w);
  // The pipe's routine blocks until the gate opens.
  REQUIRE(f.p().associate(r, [&](DWORD err, DWORD n, OVERLAPPED* ov) {
    op* o = reinterpret_cast<op*>(ov);
    o->owner->record(*o, err, n, ov);
    g.wait(f.t);
    blocker_done = true;
  }) == S_OK);
  op blocked(8);
  REQUIRE(start_read(f.t, r, blocked));
  REQUIRE(plain_write(w, "b"));
  REQUIRE(f.t.wait([&] { return g.waiting.load() == 1; }));

  SECTION("a post") {
    op posted;
    posted.owner = &f.t;
    f.t.accepted.fetch_add(1);
    REQUIRE(f.p().post(record_routine, 0, 0, &posted.ov) == S_OK);
    CHECK(f.t.wait_op(posted, 5000ms));
    CHECK_FALSE(blocker_done.load());
  }
  SECTION("file and stream completions") {
    temp_file tf("conc");
    HANDLE file = f.file(tf.path);
    HANDLE a, b;
    f.sockets(a, b);
    op fw, sr(8);
    REQUIRE(start_write(f.t, file, fw, "while blocked"));
    REQUIRE(start_read(f.t, a, sr));
    REQUIRE(plain_write(b, "s"));
    CHECK(f.t.wait_op(fw, 5000ms));
    CHECK(f.t.wait_op(sr, 5000ms));
    CHECK_FALSE(blocker_done.load());
  }
  g.release();
  REQUIRE(f.t.eventually([&] { return blocker_done.load(); }));
  f.finish();
}

namespace {

struct self_wait_ctx {
  fixture* f;
  HANDLE file;
  HANDLE pipe_r, pipe_w;
  op child_post;
  op child_file;
  op child_pipe;
  op child_pipe_write;
  std::atomic<int> which{0};
  std::atomic<bool> saw_child{false};
};
self_wait_ctx* g_self = nullptr;

// Starts work from inside a routine, then blocks until that work's routine has run. On IOCP that
// completion goes to another thread; a backend that queues it behind the busy routine (a per-thread
// queue, or a ring that is only submitted when the routine returns) deadlocks here, which the
// bounded wait turns into a failure.
VOID WINAPI self_wait_routine(DWORD err, DWORD n, LPOVERLAPPED ov) {
  op* o = reinterpret_cast<op*>(ov);
  self_wait_ctx& c = *g_self;
  if (o == &c.child_post || o == &c.child_file || o == &c.child_pipe || o == &c.child_pipe_write) {
    o->owner->record(*o, err, n, ov);
    return;
  }
  op* child = nullptr;
  switch (c.which.load()) {
    case 0:
      child = &c.child_post;
      child->owner = &c.f->t;
      c.f->t.accepted.fetch_add(1);
      c.f->p().post(self_wait_routine, 0, 0, &child->ov);
      break;
    case 1:
      child = &c.child_file;
      start_read(c.f->t, c.file, *child, 4);
      break;
    default:
      child = &c.child_pipe;
      start_read(c.f->t, c.pipe_r, *child);
      start_write(c.f->t, c.pipe_w, c.child_pipe_write, "p");
      break;
  }
  c.saw_child = c.f->t.wait_op(*child, 5000ms);
  o->owner->record(*o, err, n, ov);  // last: the test reads saw_child once this routine is recorded
}

}  // namespace

TEST_CASE("concurrency: work started by a blocked routine is not held back behind it", "[concurrency]") {
  fixture f(test_options(2));
  self_wait_ctx c;
  c.f = &f;
  g_self = &c;
  temp_file tf("selfwait");
  c.file = f.file(tf.path, false);
  REQUIRE(f.p().associate(c.file, self_wait_routine) == S_OK);
  REQUIRE(make_pipe(c.pipe_r, c.pipe_w));
  f.keep(c.pipe_r);
  f.keep(c.pipe_w);
  REQUIRE(f.p().associate(c.pipe_r, self_wait_routine) == S_OK);
  REQUIRE(f.p().associate(c.pipe_w, self_wait_routine) == S_OK);
  op init;
  init.owner = &f.t;
  {
    // Content for the child file read, written synchronously-by-waiting.
    HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                           0, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    DWORD n = 0;
    REQUIRE(WriteFile(h, "data", 4, &n, nullptr));
    CloseHandle(h);
  }
  SECTION("a post from the routine") { c.which = 0; }
  SECTION("a file read from the routine") { c.which = 1; }
  SECTION("pipe I/O from the routine") { c.which = 2; }
  op parent;
  parent.owner = &f.t;
  f.t.accepted.fetch_add(1);
  REQUIRE(f.p().post(self_wait_routine, 0, 0, &parent.ov) == S_OK);
  REQUIRE(f.t.wait_op(parent));
  // The parent routine returns only after its child ran, or after 5 s.
  REQUIRE(f.t.eventually([&] { return f.t.delivered.load() == f.t.accepted.load(); }, 15000ms));
  CHECK(c.saw_child.load());
  f.finish();
  g_self = nullptr;
}

TEST_CASE("concurrency: routines run in parallel on different threads", "[concurrency]") {
  fixture f(test_options(3));
  gate g;
  std::mutex mu;
  std::vector<DWORD> threads;
  auto routine = [&](DWORD err, DWORD n, OVERLAPPED* ov) {
    {
      std::lock_guard lock(mu);
      threads.push_back(GetCurrentThreadId());
    }
    op* o = reinterpret_cast<op*>(ov);
    o->owner->record(*o, err, n, ov);
    g.wait(f.t);
  };
  HANDLE r1, w1, r2, w2, r3, w3;
  REQUIRE(make_pipe(r1, w1));
  REQUIRE(make_pipe(r2, w2));
  REQUIRE(make_pipe(r3, w3));
  for (HANDLE h : {r1, w1, r2, w2, r3, w3}) f.keep(h);
  REQUIRE(f.p().associate(r1, routine) == S_OK);
  REQUIRE(f.p().associate(r2, routine) == S_OK);
  REQUIRE(f.p().associate(r3, routine) == S_OK);
  op a(4), b(4), c(4);
  REQUIRE(start_read(f.t, r1, a));
  REQUIRE(start_read(f.t, r2, b));
  REQUIRE(start_read(f.t, r3, c));
  REQUIRE(plain_write(w1, "1"));
  REQUIRE(plain_write(w2, "2"));
  REQUIRE(plain_write(w3, "3"));
  // All three block at once: that needs three threads running routines in parallel.
  CHECK(f.t.wait([&] { return g.waiting.load() == 3; }, 5000ms));
  g.release();
  REQUIRE(f.t.wait_delivered(3));
  f.finish();
  std::lock_guard lock(mu);
  REQUIRE(threads.size() == 3);
  CHECK(threads[0] != threads[1]);
  CHECK(threads[1] != threads[2]);
  CHECK(threads[0] != threads[2]);
}

namespace {

// Reads started from one routine become requests of that routine's thread, so their completions are
// reaped by one thread and queued on it together.
struct one_ring_ctx {
  tracker* t;
  HANDLE r[3];
  op* ops[3];
  std::atomic<bool> started{false};
};
one_ring_ctx* g_one_ring = nullptr;
VOID WINAPI start_three_reads(DWORD, DWORD, LPOVERLAPPED) {
  for (int i = 0; i < 3; ++i) start_read(*g_one_ring->t, g_one_ring->r[i], *g_one_ring->ops[i]);
  g_one_ring->started.store(true);
}

}  // namespace

namespace {

// Three routines that block, on three pipes whose reads one routine started (one thread's requests,
// see one_ring_ctx), in three rounds on a fresh pool of three threads each. The writes come at once,
// or one at a time: each once the previous routine is blocking.
void three_blocking_routines_of_one_thread(bool one_at_a_time) {
  for (int round = 0; round < 3; ++round) {
    fixture f(test_options(3));
    gate g;
    auto routine = [&](DWORD err, DWORD n, OVERLAPPED* ov) {
      op* o = reinterpret_cast<op*>(ov);
      o->owner->record(*o, err, n, ov);
      g.wait(f.t);
    };
    HANDLE w[3];
    one_ring_ctx c;
    c.t = &f.t;
    op a(4), b(4), d(4);
    c.ops[0] = &a;
    c.ops[1] = &b;
    c.ops[2] = &d;
    for (int i = 0; i < 3; ++i) {
      REQUIRE(make_pipe(c.r[i], w[i]));
      f.keep(c.r[i]);
      f.keep(w[i]);
      REQUIRE(f.p().associate(c.r[i], routine) == S_OK);
    }
    g_one_ring = &c;
    if (k_windows) {
      for (int i = 0; i < 3; ++i) REQUIRE(start_read(f.t, c.r[i], *c.ops[i]));
    } else {
      REQUIRE(f.p().post(start_three_reads, 0, 0, nullptr) == S_OK);
      REQUIRE(f.t.eventually([&] { return c.started.load(); }, 5000ms));
    }
    INFO("round " << round);
    if (one_at_a_time) {
      bool all = true;
      for (int i = 0; i < 3 && all; ++i) {
        REQUIRE(plain_write(w[i], "x"));
        INFO("completion " << i + 1);
        all = f.t.wait([&] { return g.waiting.load() == i + 1; }, 5000ms);
        CHECK(all);
      }
    } else {
      for (int i = 0; i < 3; ++i) REQUIRE(plain_write(w[i], "x"));
      CHECK(f.t.wait([&] { return g.waiting.load() == 3; }, 5000ms));
    }
    g.release();
    REQUIRE(f.t.wait_delivered(3));
    f.finish();
    g_one_ring = nullptr;
  }
}

}  // namespace

TEST_CASE("concurrency: completions queued together on one thread all start while threads are idle", "[concurrency]") {
  // API.md behaviour 9: three routines that block, due at once on one thread's queue, need three threads;
  // the second thread, stealing one, must wake the third for the last (it used to stay asleep, and the
  // third routine waited behind a blocking one).
  three_blocking_routines_of_one_thread(false);
}

TEST_CASE("concurrency: completions that reach one thread's queue one at a time all start while threads are idle",
          "[concurrency]") {
  // API.md behaviour 9, when the completions of one thread's requests come apart: each routine blocks,
  // and the next completion is due only once the previous routine is blocking. The thread that takes
  // the second one (a helper of the first, busy, thread) must leave the third watched by the idle one
  // (it used to go busy with nobody watching, and the third waited behind two blocking routines).
  three_blocking_routines_of_one_thread(true);
}

namespace {

struct busy_ctx {
  fixture* f;
  std::string dir_path;
  std::atomic<int> stage{0};
  HANDLE r = nullptr, w = nullptr, r2 = nullptr, w2 = nullptr;
  op read_op{8};
  op write_op{8};
  op posted{0};
  op closed_read{8};
  std::atomic<HRESULT> assoc_result{E_FAIL};
  std::atomic<BOOL> close_result{FALSE};
};
busy_ctx* g_busy = nullptr;

// A routine that makes a pipe, associates it, starts I/O on it, posts, and closes a handle with a read
// pending: everything a routine may do (API.md, behaviour 9).
VOID WINAPI busy_routine(DWORD err, DWORD n, LPOVERLAPPED ov) {
  op* o = reinterpret_cast<op*>(ov);
  busy_ctx& c = *g_busy;
  struct record_last {  // the test reads the results once this routine is recorded
    op* o;
    DWORD err, n;
    ~record_last() { o->owner->record(*o, err, n, &o->ov); }
  } last{o, err, n};
  if (c.stage.fetch_add(1) != 0) return;
  if (!make_pipe(c.r, c.w)) return;
  c.assoc_result = c.f->p().associate(c.r, record_routine);
  c.f->p().associate(c.w, record_routine);
  start_read(c.f->t, c.r, c.read_op);
  start_write(c.f->t, c.w, c.write_op, "inner");
  c.posted.owner = &c.f->t;
  c.f->t.accepted.fetch_add(1);
  c.f->p().post(record_routine, 1, 2, &c.posted.ov);
  // A second pipe, so that the pending read that the close aborts cannot take the first pipe's data.
  if (!make_pipe(c.r2, c.w2)) return;
  c.f->p().associate(c.r2, record_routine);
  start_read(c.f->t, c.r2, c.closed_read);
  c.close_result = CloseHandle(c.r2);
}

}  // namespace

TEST_CASE("concurrency: a routine may start I/O, associate, post and close", "[concurrency]") {
  fixture f;
  busy_ctx c;
  c.f = &f;
  g_busy = &c;
  op start;
  start.owner = &f.t;
  f.t.accepted.fetch_add(1);
  REQUIRE(f.p().post(busy_routine, 0, 0, &start.ov) == S_OK);
  REQUIRE(f.t.wait_op(start));
  REQUIRE(f.t.eventually([&] { return c.stage.load() >= 1 && f.t.delivered.load() == f.t.accepted.load(); }));
  CHECK(c.assoc_result.load() == S_OK);
  CHECK(c.close_result.load() == TRUE);
  CHECK(c.read_op.text() == "inner");
  CHECK(c.write_op.error.load() == 0u);
  CHECK(c.posted.error.load() == 1u);
  CHECK(c.posted.bytes.load() == 2u);
  check_aborted_by_close(c.closed_read, end_kind::pipe);
  f.keep(c.r);
  f.keep(c.w);
  f.keep(c.w2);
  f.finish();
  g_busy = nullptr;
}
