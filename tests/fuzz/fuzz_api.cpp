// SPDX-License-Identifier: MIT
// libFuzzer target: each input is a program of w3tp calls -- make pipes, sockets and files, associate,
// ReadFile/WriteFile, CancelIoEx (one, all, a forged OVERLAPPED), CancelIo, CloseHandle, post,
// GetOverlappedResult, shutdown -- on live, closed, forged, NULL and INVALID_HANDLE_VALUE handles, run
// against a fresh pool. After the program every handle is closed and the pool shut down, and the
// invariants are checked: each accepted operation got exactly one routine with a code its fate
// explains, no refused one got any, every refusal carried an error that says why, and no descriptor
// was left open. A violation aborts (libFuzzer reports it with the input).
#include <w3tp/w3tp.hpp>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/support.hpp"

namespace {

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz_api: invariant failed at line %d: %s\n", __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

constexpr std::size_t k_max_ops = 128;
constexpr std::size_t k_slots = 6;

struct fop {
  OVERLAPPED ov{};  // first: the routine converts back
  std::atomic<int> calls{0};
  std::atomic<DWORD> error{0};
  bool accepted = false;
  bool write = false;
  int slot = -1;  // the slot it was started on (-1: a post)
  char buf[64] = {};
};

enum class kind : std::uint8_t { none, pipe, socket, file };

struct slot {
  kind k = kind::none;
  HANDLE h = nullptr;     // the end under test (may be closed: then a stale value)
  HANDLE peer = nullptr;  // the other end of a pipe or socket pair, never associated
  bool closed = false;
  bool associated = false;
};

std::atomic<long> g_delivered{0};

VOID WINAPI fuzz_routine(DWORD error, DWORD, LPOVERLAPPED ov) {
  auto* o = reinterpret_cast<fop*>(ov);
  o->error.store(error);
  o->calls.fetch_add(1);
  g_delivered.fetch_add(1);
}

std::atomic<long> g_posts_run{0};
VOID WINAPI post_routine(DWORD error, DWORD bytes, LPOVERLAPPED ov) {
  FUZZ_CHECK(error == 3u && bytes == 5u);
  if (ov != nullptr) reinterpret_cast<fop*>(ov)->calls.fetch_add(1);
  g_posts_run.fetch_add(1);
}

int count_fds() { return w3tp_test::count_open_fds(); }

// A code a routine may carry: what completion, end of file, a broken pipe, a peer's reset, a full pipe's
// reader gone, a cancel, a close or shutdown explain. ERROR_INVALID_HANDLE never (defect 1 of issue 7).
bool allowed_code(DWORD e) {
  switch (e) {
    case ERROR_SUCCESS:
    case ERROR_HANDLE_EOF:
    case ERROR_OPERATION_ABORTED:
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED: return true;
    default: return false;
  }
}

// The end of a program (closing every handle, shutdown) must not hang: a watchdog that sees it take
// longer than k_hang_limit prints what is still owed -- each accepted operation without its routine,
// with the status in its OVERLAPPED (STATUS_PENDING: no result yet, the backend still holds it; any
// other: its result is recorded and its routine never ran, the scheduler lost it) -- the pool's stats
// and the steps of the program, then aborts, so that libFuzzer saves the input with that report.
constexpr auto k_hang_limit = std::chrono::seconds(10);

class hang_watch {
 public:
  hang_watch() : thread_([this] { watch(); }) {}
  ~hang_watch() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  /// Watches until disarm(); `report` runs on the watchdog thread if the limit passes first.
  void arm(std::function<void()> report) {
    std::lock_guard lock(mu_);
    report_ = std::move(report);
    deadline_ = std::chrono::steady_clock::now() + k_hang_limit;
    armed_ = true;
    cv_.notify_all();
  }
  void disarm() {
    std::lock_guard lock(mu_);
    armed_ = false;
  }

 private:
  void watch() {
    std::unique_lock lock(mu_);
    while (!quit_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      if (cv_.wait_until(lock, deadline_, [&] { return quit_ || !armed_; })) continue;
      report_();
      std::abort();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, quit_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::function<void()> report_;
  std::thread thread_;
};

hang_watch& watchdog() {
  static hang_watch w;
  return w;
}

const char* kind_name(kind k) {
  switch (k) {
    case kind::none: return "none";
    case kind::pipe: return "pipe";
    case kind::socket: return "socket";
    case kind::file: return "file";
  }
  return "?";
}

class program {
 public:
  program(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

  void run() {
    const int fds_before = count_fds();
    g_delivered.store(0);
    g_posts_run.store(0);
    {
      w3tp::pool_options o;
      o.threads = 2;
      o.max_threads = 4;
      w3tp::thread_pool pool(o);
      pool_ = &pool;
      while (p_ < end_) step();
      // The end: every handle closed (its operations then end), the pool shut down.
      watchdog().arm([this] { report_hang(); });
      for (auto& s : slots_) close_slot(s);
      pool.shutdown();
      watchdog().disarm();
      FUZZ_CHECK(pool.post(post_routine, 3, 5, nullptr) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
      for (auto& op : ops_) {
        FUZZ_CHECK(op->calls.load() == (op->accepted ? 1 : 0));
        if (op->accepted) FUZZ_CHECK(allowed_code(op->error.load()));
      }
      FUZZ_CHECK(g_delivered.load() == accepted_);
      FUZZ_CHECK(g_posts_run.load() == posts_);
      pool_ = nullptr;
    }
    for (const auto& path : paths_) w3tp_test::remove_file(path);
    FUZZ_CHECK(count_fds() == fds_before);
  }

 private:
  std::uint8_t next() { return p_ < end_ ? *p_++ : 0; }

  void note(const std::string& what) { trace_ += what + "; "; }
  static std::string fmt_step(const char* what, long a, long b = -1) {
    std::string t = std::string(what) + " " + std::to_string(a);
    if (b >= 0) t += "," + std::to_string(b);
    return t;
  }
  int index_of(const slot& s) const { return static_cast<int>(&s - slots_); }

  void report_hang() const {
    std::fprintf(stderr, "fuzz_api: closing every handle and shutting down took over %lld s\n",
                 static_cast<long long>(k_hang_limit.count()));
    if (pool_ != nullptr) {
      const w3tp::pool_stats st = pool_->stats();
      std::fprintf(stderr, "pool: %u threads, %u busy, %llu routines owed\n", st.threads, st.busy_threads,
                   static_cast<unsigned long long>(st.pending));
    }
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      const fop& o = *ops_[i];
      if (!o.accepted || o.calls.load() != 0) continue;
      const auto status =
          static_cast<unsigned long>(std::atomic_ref<ULONG_PTR>(const_cast<ULONG_PTR&>(o.ov.Internal)).load());
      std::fprintf(stderr, "owed: op %zu, %s on slot %d (%s), status 0x%lx (%s)\n", i,
                   o.slot < 0 ? "post" : (o.write ? "write" : "read"), o.slot,
                   o.slot < 0 ? "-" : kind_name(op_kinds_[i]), status,
                   status == STATUS_PENDING ? "no result yet" : "result recorded, routine not run");
    }
    std::fprintf(stderr, "steps: %s\n", trace_.c_str());
  }

  slot& pick_slot() { return slots_[next() % k_slots]; }

  fop* new_op() {
    if (ops_.size() >= k_max_ops) return nullptr;
    ops_.push_back(std::make_unique<fop>());
    op_kinds_.push_back(kind::none);
    return ops_.back().get();
  }

  // A handle value: a slot's (live or stale), or a forged, NULL or INVALID_HANDLE_VALUE one.
  HANDLE pick_handle(bool& valid) {
    valid = false;
    std::uint8_t b = next();
    switch (b % 8) {
      case 0: return nullptr;
      case 1: return INVALID_HANDLE_VALUE;
      case 2: {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | next();
        return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v));
      }
      default: {
        slot& s = slots_[b % k_slots];
        valid = s.k != kind::none && !s.closed;
        return s.h;
      }
    }
  }

  void open_slot(slot& s, kind k) {
    close_slot(s);
    HANDLE a = nullptr, b = nullptr;
    bool ok = false;
    if (k == kind::pipe) {
      ok = w3tp_test::make_pipe(a, b);
      // Either end may be the one under test.
      if (ok && (next() & 1) != 0) std::swap(a, b);
    } else if (k == kind::socket) {
      ok = w3tp_test::make_socket_pair(a, b);
    } else {
      paths_.push_back(w3tp_test::temp_path("fuzz"));
      a = CreateFileA(paths_.back().c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                      (next() & 1) != 0 ? FILE_FLAG_OVERLAPPED : 0, nullptr);
      ok = a != INVALID_HANDLE_VALUE;
    }
    if (!ok) return;
    s = slot{k, a, b, false, false};
    note(fmt_step(kind_name(k), index_of(s)));
  }

  void close_slot(slot& s) {
    if (s.k == kind::none) return;
    if (!s.closed) FUZZ_CHECK(CloseHandle(s.h));
    if (s.peer != nullptr) FUZZ_CHECK(CloseHandle(s.peer));
    s = slot{};
  }

  void start(bool write) {
    bool valid;
    HANDLE h = pick_handle(valid);
    const DWORD len = next() % 65;
    const bool with_ov = (next() & 3) != 0;
    slot* owner = nullptr;
    for (auto& s : slots_)
      if (s.h == h && s.k != kind::none && !s.closed) owner = &s;
    // Without an OVERLAPPED, or on a handle that is not associated, the call is a blocking one: a read on
    // a stream could block forever, so those are left out; the others run and report at once.
    const bool async = with_ov && owner != nullptr && owner->associated;
    if (!async && owner != nullptr && owner->k != kind::file && !write) return;
    if (!async) {
      char buf[64] = {};
      OVERLAPPED sync_ov{};
      DWORD n = 0;
      BOOL ok = write ? WriteFile(h, buf, len, &n, with_ov ? &sync_ov : nullptr)
                      : ReadFile(h, buf, len, &n, with_ov ? &sync_ov : nullptr);
      if (!ok) FUZZ_CHECK(GetLastError() != ERROR_SUCCESS && GetLastError() != ERROR_IO_PENDING);
      if (!valid) FUZZ_CHECK(!ok && GetLastError() == ERROR_INVALID_HANDLE);
      return;
    }
    fop* o = new_op();
    if (o == nullptr) return;
    o->write = write;
    o->slot = static_cast<int>(owner - slots_);
    op_kinds_.back() = owner->k;
    o->ov.Offset = static_cast<DWORD>(next()) * 16;
    // A pipe write larger than the pipe holds stays pending: the fuzzer's writes stay small.
    ++accepted_;
    SetLastError(0);
    BOOL ok = write ? WriteFile(h, o->buf, len, nullptr, &o->ov) : ReadFile(h, o->buf, len, nullptr, &o->ov);
    DWORD e = GetLastError();
    o->accepted = ok != FALSE || e == ERROR_IO_PENDING;
    note(fmt_step(write ? "write" : "read", o->slot, len) +
         (o->accepted ? " op " + std::to_string(ops_.size() - 1) : " refused"));
    if (!o->accepted) {
      --accepted_;
      FUZZ_CHECK(e != ERROR_SUCCESS);
      if (!valid) FUZZ_CHECK(e == ERROR_INVALID_HANDLE);
    } else {
      FUZZ_CHECK(valid);
      FUZZ_CHECK(owner != nullptr && owner->associated);
    }
  }

  void step() {
    const std::uint8_t op = next();
    switch (op % 16) {
      case 0: open_slot(pick_slot(), kind::pipe); break;
      case 1: open_slot(pick_slot(), kind::socket); break;
      case 2: open_slot(pick_slot(), kind::file); break;
      case 3: {
        bool valid;
        HANDLE h = pick_handle(valid);
        HRESULT hr = pool_->associate(h, (next() & 7) != 0 ? fuzz_routine : nullptr);
        note(std::string("associate ") + (hr == S_OK ? "ok" : "refused"));
        if (hr == S_OK) {
          FUZZ_CHECK(valid);
          for (auto& s : slots_)
            if (s.h == h && !s.closed) {
              FUZZ_CHECK(!s.associated);
              s.associated = true;
            }
        } else {
          FUZZ_CHECK(FAILED(hr));
          if (!valid) FUZZ_CHECK(hr == HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
        }
        break;
      }
      case 4:
      case 5: start(false); break;
      case 6: start(true); break;
      case 7:
      case 8: {
        bool valid;
        HANDLE h = pick_handle(valid);
        OVERLAPPED* ov = nullptr;
        if (op % 16 == 7 && !ops_.empty()) ov = &ops_[next() % ops_.size()]->ov;
        if (op % 16 == 7 && (next() & 7) == 0) ov = reinterpret_cast<OVERLAPPED*>(static_cast<std::uintptr_t>(0x1000));
        SetLastError(0);
        BOOL ok = CancelIoEx(h, ov);
        note(std::string("CancelIoEx ") + (ov == nullptr ? "all" : "one") + (ok ? "" : " not found"));
        if (!ok) FUZZ_CHECK(GetLastError() == (valid ? ERROR_NOT_FOUND : ERROR_INVALID_HANDLE));
        break;
      }
      case 9: {
        bool valid;
        HANDLE h = pick_handle(valid);
        BOOL ok = CancelIo(h);
        note("CancelIo");
        FUZZ_CHECK((ok != FALSE) == valid);
        break;
      }
      case 10: {
        slot& s = pick_slot();
        if (s.k == kind::none) break;
        SetLastError(0);
        BOOL ok = CloseHandle(s.h);
        note(fmt_step("close", index_of(s)));
        FUZZ_CHECK((ok != FALSE) == !s.closed);
        if (!ok) FUZZ_CHECK(GetLastError() == ERROR_INVALID_HANDLE);
        s.closed = true;
        break;
      }
      case 11: {
        fop* o = (next() & 1) != 0 ? new_op() : nullptr;
        HRESULT hr = pool_->post(post_routine, 3, 5, o != nullptr ? &o->ov : nullptr);
        note("post");
        if (hr == S_OK) {
          ++posts_;
          if (o != nullptr) o->accepted = true;  // its routine is post_routine, which counts the call
        } else {
          FUZZ_CHECK(hr == HRESULT_FROM_WIN32(ERROR_INVALID_STATE) && shut_down_);
        }
        break;
      }
      case 12: {
        if (ops_.empty()) break;
        bool valid;
        HANDLE h = pick_handle(valid);
        fop& o = *ops_[next() % ops_.size()];
        DWORD n = 0;
        SetLastError(0);
        if (!GetOverlappedResult(h, &o.ov, &n, FALSE) && !valid) FUZZ_CHECK(GetLastError() == ERROR_INVALID_HANDLE);
        break;
      }
      case 13: {
        // Feed or end the peer of a stream, so that reads complete, see end of file or a broken pipe.
        slot& s = pick_slot();
        if (s.peer == nullptr) break;
        if ((next() & 3) == 0) {
          note(fmt_step("close peer", index_of(s)));
          FUZZ_CHECK(CloseHandle(s.peer));
          s.peer = nullptr;
        } else {
          // Never more than a pipe holds, so the blocking write returns; a peer that is a pipe's read
          // end refuses the write (access denied).
          char buf[16] = {};
          DWORD n = 0;
          WriteFile(s.peer, buf, 1 + next() % 16, &n, nullptr);
          note(fmt_step("feed", index_of(s), static_cast<long>(n)));
        }
        break;
      }
      case 14:
        if ((next() & 15) == 0) {
          pool_->shutdown();
          note("shutdown");
          shut_down_ = true;
        }
        break;
      default: {
        // Thread-count churn.
        IHttpServer& server = w3tp::http_server(*pool_);
        if ((next() & 1) != 0) {
          server.IncrementThreadCount();
          note("+thread");
        } else {
          server.DecrementThreadCount();
          note("-thread");
        }
        break;
      }
    }
  }

  const std::uint8_t* p_;
  const std::uint8_t* end_;
  w3tp::thread_pool* pool_ = nullptr;
  slot slots_[k_slots];
  std::vector<std::unique_ptr<fop>> ops_;
  std::vector<kind> op_kinds_;  // the kind of handle each op was started on
  std::string trace_;           // the steps run, for a hang's report
  std::vector<std::string> paths_;
  long accepted_ = 0;
  long posts_ = 0;
  bool shut_down_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  program(data, size).run();
  return 0;
}
