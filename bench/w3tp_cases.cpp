// SPDX-License-Identifier: MIT
// w3tp on every workload, written as an IIS module would use it: CreateFileA with
// FILE_FLAG_OVERLAPPED (or adopt_fd for sockets and pipes), associate with a function-pointer routine,
// ReadFile/WriteFile with an OVERLAPPED, and routines that start the next operation themselves.
#include <poll.h>
#include <sys/eventfd.h>

#include <functional>

#include <memory>
#include <optional>
#include <system_error>

#include <w3tp/w3tp.hpp>

#include "bench.hpp"

namespace bench {

namespace {

// The routines are plain function pointers (the IIS model), so the state they reach is global to
// this process: one case runs per process.
w3tp::thread_pool* g_pool = nullptr;
std::atomic<unsigned> g_left{0};  // chains, slots or clients still running
std::atomic<std::uint64_t> g_errors{0};
// Set before a case closes its handles: what completes after that (aborted reads, a pipe's broken
// end, a socket's orderly close) is the tear-down, not a failure.
std::atomic<bool> g_closing{false};
std::atomic<std::uint64_t> g_first_error{0};  // (error << 32 | bytes) + 1 of the first failure, for the note

void record_error(DWORD error, DWORD bytes) {
  g_errors.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t none = 0;
  g_first_error.compare_exchange_strong(none, ((std::uint64_t{error} << 32) | bytes) + 1);
}

// The measuring thread sleeps on an eventfd, not in std::atomic::wait: libstdc++'s atomic waits share
// a small table of futexes, and while a thread waits in it, every notify on an address that hashes to
// the same entry (w3tp notifies each OVERLAPPED's Internal on completion) becomes a futex syscall.
// That cost is w3tp's to fix (see bench/README.md); with wait=atomic a case shows it.
int g_done_fd = -1;
std::function<void()> g_on_stall;  // prints the state of a stuck run
bool g_wait_atomic = false;

// exit_when_done=1 (instructions.sh): the last routine ends the process itself. Valgrind 3.19 keeps
// its global lock while a thread sleeps in io_uring_enter (liburing issue #657), so an idle io_uring
// pool thread would keep the measuring thread from ever running again; both run lengths end the same
// way, so the difference still counts whole operations only.
bool g_exit_when_done = false;

void finish_one() {
  if (g_left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (g_exit_when_done) {
      std::fflush(stdout);
      ::_exit(0);
    }
    if (g_wait_atomic) {
      g_left.notify_all();
    } else {
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t r = ::write(g_done_fd, &one, sizeof one);
    }
  }
}

void wait_done() {
  if (g_wait_atomic) {
    wait_zero(g_left);
    return;
  }
  std::uint64_t v;
  while (g_left.load(std::memory_order_acquire) != 0) {
    // A run that makes no progress for 10 s is stuck: say where (once), then keep waiting for the
    // driver's time-out, so that a debugger can still be attached.
    struct pollfd pf = {g_done_fd, POLLIN, 0};
    int r = ::poll(&pf, 1, g_exit_when_done ? -1 : 10'000);
    if (r == 0 && g_on_stall) {
      g_on_stall();
      g_on_stall = nullptr;
    }
    if (r > 0 && ::read(g_done_fd, &v, sizeof v) < 0 && errno != EINTR) fail("eventfd read");
  }
}

// Builds the pool a case asks for; nullopt (after a note) when that backend cannot start here.
std::unique_ptr<w3tp::thread_pool> make_pool(const params& p) {
  g_wait_atomic = p.str("wait", "eventfd") == "atomic";
  g_exit_when_done = p.num("exit_when_done", 0) != 0;
  if (g_done_fd < 0 && (g_done_fd = ::eventfd(0, EFD_CLOEXEC)) < 0) fail("eventfd");
  w3tp::pool_options o;
  o.threads = static_cast<unsigned>(p.num("threads", 2));
  std::string b = p.str("backend", "io_uring");
  o.preferred = b == "epoll" ? w3tp::backend::epoll : w3tp::backend::io_uring;
  try {
    auto pool = std::make_unique<w3tp::thread_pool>(o);
    return pool;
  } catch (const std::system_error& e) {
    note(fmt::format("w3tp {} unavailable: {}", b, e.what()));
    return nullptr;
  }
}

int check_errors() {
  if (std::uint64_t e = g_errors.load(); e != 0) {
    std::uint64_t f = g_first_error.load() - 1;
    note(fmt::format("{} operations failed (first: error {}, {} bytes)", e, f >> 32, f & 0xFFFFFFFFu));
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// posts: independent chains of routine -> post -> routine.

// Every chain's and slot's state is on cache lines of its own, as in the raw liburing peer (whose
// threads keep theirs apart): packed 40-byte chains made two threads write the same line for
// unrelated chains, and that harness cost was most of the 2-thread post run (measured with perf).
struct alignas(64) post_chain {
  OVERLAPPED ov;  // first: the routine gets this pointer back
  std::uint64_t left;
};

void CALLBACK post_routine(DWORD, DWORD, OVERLAPPED* ov) {
  auto* c = reinterpret_cast<post_chain*>(ov);
  if (--c->left == 0) {
    finish_one();
    return;
  }
  if (FAILED(g_pool->post(post_routine, 0, 0, ov))) {
    record_error(GetLastError(), 0xFFFF);
    finish_one();
  }
}

// ---------------------------------------------------------------------------------------------
// file: random 4 KiB reads, `depth` in flight; each completed read starts the next from its routine.

struct alignas(64) file_slot {
  OVERLAPPED ov;
  std::uint64_t left;
  rng r;
  char* buf;
  HANDLE file;
  const void* last_thread = nullptr;  // the thread that ran this slot's last routine
};

// Routines that ran on another thread than the slot's previous one (its state and its 4 KiB buffer
// then move between cores): reported as moves_per_op, a diagnostic of the scheduler.
std::atomic<std::uint64_t> g_moves{0};
thread_local char t_thread_tag;

void issue_read(file_slot* s) {
  std::uint64_t off = s->r.offset();
  s->ov.Offset = static_cast<DWORD>(off);
  s->ov.OffsetHigh = static_cast<DWORD>(off >> 32);
  if (!ReadFile(s->file, s->buf, k_block, nullptr, &s->ov) && GetLastError() != ERROR_IO_PENDING) {
    record_error(GetLastError(), 0xFFFF);
    finish_one();
  }
}

void CALLBACK file_routine(DWORD error, DWORD bytes, OVERLAPPED* ov) {
  auto* s = reinterpret_cast<file_slot*>(ov);
  if (error != ERROR_SUCCESS || bytes != k_block) record_error(error, bytes);
  if (s->last_thread != &t_thread_tag) {
    if (s->last_thread != nullptr) g_moves.fetch_add(1, std::memory_order_relaxed);
    s->last_thread = &t_thread_tag;
  }
  if (--s->left == 0) {
    finish_one();
    return;
  }
  issue_read(s);
}

// Runs the file workload on an open pool, slot i reading through files[i % files.size()]; reports the
// rate and the CPU time per read.
void run_file(const std::vector<HANDLE>& files, unsigned depth, std::uint64_t ops) {
  std::vector<file_slot> slots(depth);
  std::vector<char> bufs(static_cast<std::size_t>(depth) * k_block);
  for (unsigned i = 0; i < depth; ++i) {
    slots[i].ov = {};
    slots[i].left = ops / depth + (i < ops % depth ? 1 : 0);
    slots[i].r = rng(i + 1);
    slots[i].buf = bufs.data() + static_cast<std::size_t>(i) * k_block;
    slots[i].file = files[i % files.size()];
  }
  unsigned active = 0;
  for (auto& s : slots) active += s.left != 0;
  g_left.store(active);
  std::uint64_t t0 = now_ns(), cpu0 = cpu_ns();
  if (g_exit_when_done) {
    // Under callgrind the first reads are started by a pool thread, so that the pool never waits for
    // this thread (which valgrind may not let run again, see g_exit_when_done).
    static std::vector<file_slot>* kick;
    kick = &slots;
    g_pool->post(
        [](DWORD, DWORD, OVERLAPPED*) {
          for (auto& s : *kick)
            if (s.left != 0) issue_read(&s);
        },
        0, 0, nullptr);
  } else {
    for (auto& s : slots)
      if (s.left != 0) issue_read(&s);
  }
  wait_done();
  report_rate(ops, now_ns() - t0);
  report_cpu(ops, cpu0);
  result("moves_per_op", static_cast<double>(g_moves.load()) / static_cast<double>(ops));
}

// Opens `n` overlapped handles of the benchmark file and associates each with the pool.
std::vector<HANDLE> open_files(std::size_t n, bool associate) {
  std::vector<HANDLE> files(n);
  for (HANDLE& h : files) {
    h = CreateFileA(file_path().c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                    nullptr);
    if (h == INVALID_HANDLE_VALUE) fail("CreateFileA");
    if (associate && FAILED(g_pool->associate(h, file_routine))) fail("associate");
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// ping-pong: the client writes 64 bytes, the server reads them all and writes them back, the client
// reads them all; each side's operations form one serial chain (write -> read -> write ...).

struct pp_end;
struct pp_op {
  OVERLAPPED ov;
  pp_end* end;
  bool write;
};
struct pp_end {
  pp_op rd, wr;
  HANDLE hr = nullptr, hw = nullptr;
  bool client = false;
  unsigned got = 0;
  std::uint64_t left = 0;  // client: round trips still to make
  std::uint64_t t0 = 0;
  std::vector<std::uint64_t>* rtt = nullptr;  // client: latency samples, when measured
  char rbuf[k_msg];
  char wbuf[k_msg];
};

void pp_start_write(pp_end* e) {
  if (e->rtt != nullptr) e->t0 = now_ns();
  if (!WriteFile(e->hw, e->wbuf, k_msg, nullptr, &e->wr.ov) && GetLastError() != ERROR_IO_PENDING) {
    if (g_closing.load(std::memory_order_acquire)) return;  // the run closed the handle
    record_error(GetLastError(), 0xFFFF);
    if (e->client) finish_one();
  }
}

void pp_start_read(pp_end* e) {
  if (!ReadFile(e->hr, e->rbuf + e->got, k_msg - e->got, nullptr, &e->rd.ov) && GetLastError() != ERROR_IO_PENDING) {
    if (g_closing.load(std::memory_order_acquire)) return;  // the run closed the handle
    record_error(GetLastError(), 0xFFFF);
    if (e->client) finish_one();
  }
}

void CALLBACK pp_routine(DWORD error, DWORD bytes, OVERLAPPED* ov) {
  auto* op = reinterpret_cast<pp_op*>(ov);
  pp_end* e = op->end;
  if (error != ERROR_SUCCESS || (!op->write && bytes == 0)) {
    // The servers' last reads end when the run closes the handles.
    if (g_closing.load(std::memory_order_acquire)) return;
    record_error(error, bytes);
    if (e->client) finish_one();
    return;
  }
  if (op->write) {
    e->got = 0;
    pp_start_read(e);
    return;
  }
  e->got += bytes;
  if (e->got < k_msg) {
    pp_start_read(e);
    return;
  }
  if (e->client) {
    if (e->rtt != nullptr) e->rtt->push_back(now_ns() - e->t0);
    if (--e->left == 0) {
      finish_one();
      return;
    }
  }
  pp_start_write(e);
}

HANDLE adopt_associate(int fd, LPOVERLAPPED_COMPLETION_ROUTINE fn) {
  HANDLE h = w3tp::adopt_fd(fd);
  if (h == INVALID_HANDLE_VALUE || FAILED(g_pool->associate(h, fn))) fail("adopt_fd/associate");
  return h;
}

void CALLBACK idle_routine(DWORD error, DWORD bytes, OVERLAPPED*) {
  if (error != ERROR_OPERATION_ABORTED) record_error(error, bytes);
}

void CALLBACK quiet_routine(DWORD, DWORD, OVERLAPPED*) {}

}  // namespace

int w3tp_posts(const params& p) {
  auto pool = make_pool(p);
  if (!pool) return k_skip;
  g_pool = pool.get();
  auto chains = static_cast<unsigned>(p.num("chains", 64));
  auto ops = static_cast<std::uint64_t>(p.num("ops", 2'000'000));
  std::vector<post_chain> c(chains);
  for (unsigned i = 0; i < chains; ++i) c[i] = {{}, ops / chains};
  g_left.store(chains);
  std::uint64_t t0 = now_ns();
  for (auto& ch : c) g_pool->post(post_routine, 0, 0, &ch.ov);
  wait_done();
  std::uint64_t ns = now_ns() - t0;
  report_rate(ops / chains * chains, ns);
  pool->shutdown();
  return check_errors();
}

int w3tp_file(const params& p) {
  prepare_cache(p.num("cold", 0) != 0);
  // Opened before the pool starts: under callgrind no system call that may block should run between
  // the pool's start and the first wait (see exit_when_done). handles=N: N handles of the same file.
  std::vector<HANDLE> files = open_files(static_cast<std::size_t>(std::max<long>(1, p.num("handles", 1))), false);
  auto pool = make_pool(p);
  if (!pool) return k_skip;
  g_pool = pool.get();
  for (HANDLE h : files)
    if (FAILED(pool->associate(h, file_routine))) fail("associate");
  auto ops = static_cast<std::uint64_t>(p.num("ops", 1'000'000));
  run_file(files, static_cast<unsigned>(p.num("depth", 64)), ops);
  for (HANDLE h : files) CloseHandle(h);
  pool->shutdown();
  return check_errors();
}

int w3tp_pingpong(const params& p) {
  apply_cpus(p);
  auto pairs = static_cast<unsigned>(p.num("pairs", 64));
  bool pipes = p.num("pipes", 0) != 0;
  bool lat = p.num("lat", 0) != 0;
  auto ops = static_cast<std::uint64_t>(p.num("ops", 400'000));
  std::uint64_t rounds = std::max<std::uint64_t>(1, ops / pairs);
  auto fds = make_pairs(pairs, pipes);
  auto pool = make_pool(p);
  if (!pool) return k_skip;
  g_pool = pool.get();
  std::vector<pp_end> ends(2 * pairs);
  std::vector<std::uint64_t> rtt;
  if (lat) rtt.reserve(rounds);
  for (unsigned i = 0; i < pairs; ++i) {
    pp_end& c = ends[2 * i];
    pp_end& s = ends[2 * i + 1];
    c.client = true;
    c.left = rounds;
    c.rtt = lat ? &rtt : nullptr;
    c.hr = adopt_associate(fds[i].client_rd, pp_routine);
    c.hw = pipes ? adopt_associate(fds[i].client_wr, pp_routine) : c.hr;
    s.hr = adopt_associate(fds[i].server_rd, pp_routine);
    s.hw = pipes ? adopt_associate(fds[i].server_wr, pp_routine) : s.hr;
  }
  for (auto& e : ends) {
    e.rd = {{}, &e, false};
    e.wr = {{}, &e, true};
    std::memset(e.wbuf, 'x', sizeof e.wbuf);
  }
  g_on_stall = [&] {
    auto st = [](const OVERLAPPED& ov) {
      ULONG_PTR s = std::atomic_ref<const ULONG_PTR>(ov.Internal).load();
      return s == STATUS_PENDING ? std::string("pending") : fmt::format("{:#x}", s);
    };
    for (unsigned i = 0; i < pairs; ++i) {
      const pp_end& c = ends[2 * i];
      const pp_end& sv = ends[2 * i + 1];
      if (c.left == 0) continue;
      note(fmt::format("stuck pair {}: client left {} got {} rd {} wr {}; server got {} rd {} wr {}", i, c.left, c.got,
                       st(c.rd.ov), st(c.wr.ov), sv.got, st(sv.rd.ov), st(sv.wr.ov)));
    }
  };
  g_left.store(pairs);
  // Servers first, so that every message finds a read waiting.
  for (unsigned i = 0; i < pairs; ++i) pp_start_read(&ends[2 * i + 1]);
  std::uint64_t t0 = now_ns();
  for (unsigned i = 0; i < pairs; ++i) pp_start_write(&ends[2 * i]);
  wait_done();
  std::uint64_t ns = now_ns() - t0;
  if (lat)
    report_latency(rtt);
  else
    report_rate(rounds * pairs, ns);
  g_closing.store(true);
  for (auto& e : ends) {
    CloseHandle(e.hr);
    if (e.hw != e.hr) CloseHandle(e.hw);
  }
  pool->shutdown();
  return check_errors();
}

int w3tp_handles(const params& p) {
  raise_nofile();
  prepare_cache(false);
  auto pool = make_pool(p);
  if (!pool) return k_skip;
  g_pool = pool.get();
  auto handles = static_cast<unsigned>(p.num("handles", 1));
  // Idle handles: eventfds that are never signalled, each with one pending 8-byte read.
  std::vector<HANDLE> idle(handles);
  std::vector<OVERLAPPED> ovs(handles);
  std::vector<std::uint64_t> vals(handles);
  std::uint64_t s0 = now_ns();
  for (unsigned i = 0; i < handles; ++i) {
    int fd = ::eventfd(0, EFD_CLOEXEC);
    if (fd < 0) fail(fmt::format("eventfd #{}: {}", i, std::strerror(errno)));
    idle[i] = adopt_associate(fd, idle_routine);
    ovs[i] = {};
    if (!ReadFile(idle[i], &vals[i], 8, nullptr, &ovs[i]) && GetLastError() != ERROR_IO_PENDING) fail("idle ReadFile");
  }
  result("setup_ns_per_handle", static_cast<double>(now_ns() - s0) / handles);
  std::vector<HANDLE> files = open_files(1, true);
  auto ops = static_cast<std::uint64_t>(p.num("ops", 1'000'000));
  run_file(files, static_cast<unsigned>(p.num("depth", 64)), ops);
  CloseHandle(files[0]);
  std::uint64_t c0 = now_ns();
  for (HANDLE h : idle) CloseHandle(h);
  pool->shutdown();
  result("teardown_ns_per_handle", static_cast<double>(now_ns() - c0) / handles);
  return check_errors();
}

int w3tp_memory(const params& p) {
  raise_nofile();
  auto pool = make_pool(p);
  if (!pool) return k_skip;
  g_pool = pool.get();
  auto n = static_cast<unsigned>(p.num("handles", 16000));
  std::vector<int> fds(n);
  for (auto& fd : fds)
    if ((fd = ::eventfd(0, EFD_CLOEXEC)) < 0) fail(fmt::format("eventfd: {}", std::strerror(errno)));
  // The application's own OVERLAPPEDs and buffers exist (and are touched) before the first sample.
  std::vector<OVERLAPPED> ovs(n);
  std::vector<std::uint64_t> vals(n, 0);
  std::vector<HANDLE> hs(n, nullptr);
  {
    // Warm-up: the pool's first handle, operation and routine, so that one-off costs do not count.
    int fd = ::eventfd(1, EFD_CLOEXEC);
    HANDLE h = adopt_associate(fd, quiet_routine);
    OVERLAPPED ov = {};
    std::uint64_t v;
    g_left.store(1);
    g_pool->post([](DWORD, DWORD, OVERLAPPED*) { finish_one(); }, 0, 0, nullptr);
    wait_done();
    DWORD n = 0;
    if (ReadFile(h, &v, 8, nullptr, &ov) || GetLastError() == ERROR_IO_PENDING) GetOverlappedResult(h, &ov, &n, TRUE);
    CloseHandle(h);
  }
  std::int64_t r0 = rss_bytes();
  for (unsigned i = 0; i < n; ++i) hs[i] = adopt_associate(fds[i], idle_routine);
  std::int64_t r1 = rss_bytes();
  for (unsigned i = 0; i < n; ++i)
    if (!ReadFile(hs[i], &vals[i], 8, nullptr, &ovs[i]) && GetLastError() != ERROR_IO_PENDING) fail("ReadFile");
  std::int64_t r2 = rss_bytes();
  result("bytes_per_handle", static_cast<double>(r1 - r0) / n);
  result("bytes_per_op", static_cast<double>(r2 - r1) / n);
  for (HANDLE h : hs) CloseHandle(h);
  pool->shutdown();
  return check_errors();
}

}  // namespace bench
