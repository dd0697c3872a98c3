// SPDX-License-Identifier: MIT
// The mixed workload (workload.hpp). Handles split in two groups: "quiet" handles are never cancelled or closed while
// the race runs, so every code they get must be a success (a file read may also reach the end): an
// ERROR_OPERATION_ABORTED there is a cancel that nobody asked for. "Busy" handles get CancelIoEx, CloseHandle and
// replacement all along; their routines may carry what those explain, never ERROR_INVALID_HANDLE.
#include <memory>
#include <vector>

#include "race/race.hpp"
#include "race/workload.hpp"

using namespace w3tp_test;

namespace {

constexpr int k_quiet_pairs = 6;  // per kind (pipe, socket)
constexpr int k_busy_pairs = 3;
constexpr int k_files = 2;
constexpr int k_max_writes = 64;  // writes in flight at once, over all handles

struct mixed;

struct stream {
  bool quiet = true;
  bool socket = false;
  bool file = false;
  std::atomic<HANDLE> rd{nullptr};  // the reading end (or the file); associated
  std::atomic<HANDLE> wr{nullptr};  // the writing end; associated (nullptr for files)
};

struct mixed_op {
  OVERLAPPED ov{};  // first: the routine converts back
  mixed* m = nullptr;
  stream* s = nullptr;
  HANDLE h = nullptr;
  bool write = false;
  bool quiet = true;  // the handle was quiet when the operation started
  DWORD len = 0;
  std::atomic<bool> in_flight{false};
  char buf[64] = {};
};
static_assert(std::is_standard_layout_v<mixed_op>, "OVERLAPPED* converts back to mixed_op*");

struct mixed {
  w3tp::thread_pool* pool = nullptr;
  std::vector<std::unique_ptr<stream>> streams;
  race::ledger ledger;
  std::atomic<bool> stop{false};
  std::atomic<int> writes_in_flight{0};
  std::atomic<long> quiet_aborts{0};  // defect 3: ERROR_OPERATION_ABORTED on a quiet handle
  std::atomic<long> bad_codes{0};     // any other code its fate does not explain
  std::atomic<long> duplicates{0};
  std::atomic<long> completed{0};
  std::atomic<long> from_routines{0};
  std::atomic<long> posts{0};
  std::atomic<long> thread_changes{0};
  race::first_problem problem;
};

bool start(mixed& m, mixed_op* o);

stream* pick(mixed& m, unsigned r) { return m.streams[r % m.streams.size()].get(); }

// Starts a write of a short message on stream s's writing end (or the file), from any thread.
void start_write(mixed& m, stream* s, unsigned r) {
  if (m.stop.load() || m.writes_in_flight.load() >= k_max_writes) return;
  HANDLE h = s->file ? s->rd.load() : s->wr.load();
  if (h == nullptr) return;
  auto* o = new mixed_op;
  o->m = &m;
  o->s = s;
  o->h = h;
  o->write = true;
  o->len = 1 + r % 32;
  std::memset(o->buf, 'm', o->len);
  if (s->file) o->ov.Offset = (r % 64) * 64;
  m.writes_in_flight.fetch_add(1);
  if (!start(m, o)) m.writes_in_flight.fetch_sub(1);
}

// Starts a read on stream s's reading end: the read chain of that handle.
void start_read(mixed& m, stream* s, mixed_op* reuse = nullptr) {
  HANDLE h = s->rd.load();
  if (h == nullptr || m.stop.load()) {
    delete reuse;
    return;
  }
  mixed_op* o = reuse != nullptr ? reuse : new mixed_op;
  std::memset(&o->ov, 0, sizeof o->ov);
  o->m = &m;
  o->s = s;
  o->h = h;
  o->write = false;
  o->len = s->file ? 64 : 1 + static_cast<DWORD>(reinterpret_cast<std::uintptr_t>(o) % 48);
  if (s->file) o->ov.Offset = static_cast<DWORD>((reinterpret_cast<std::uintptr_t>(o) >> 6) % 80) * 64;
  start(m, o);
}

// Starts o; false (and o deleted) when the call refused it.
bool start(mixed& m, mixed_op* o) {
  o->quiet = o->s->quiet;
  o->in_flight.store(true);
  m.ledger.accepted.fetch_add(1);
  SetLastError(0);
  BOOL ok =
      o->write ? WriteFile(o->h, o->buf, o->len, nullptr, &o->ov) : ReadFile(o->h, o->buf, o->len, nullptr, &o->ov);
  DWORD e = GetLastError();
  if (ok || e == ERROR_IO_PENDING) return true;
  m.ledger.accepted.fetch_sub(1);
  // A refusal is only explained by a close (a busy handle, or the end of the race) or by shutdown.
  if (o->quiet && !m.stop.load()) {
    m.bad_codes.fetch_add(1);
    m.problem("a call on a quiet handle was refused with " + std::to_string(e));
  } else if (e != static_cast<DWORD>(ERROR_INVALID_HANDLE) && e != static_cast<DWORD>(ERROR_INVALID_STATE)) {
    m.bad_codes.fetch_add(1);
    m.problem("a call on a busy handle was refused with " + std::to_string(e));
  }
  delete o;
  return false;
}

bool explained_on_busy(DWORD e) {
  switch (e) {
    case ERROR_SUCCESS:
    case ERROR_OPERATION_ABORTED:
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
    case 676:  // Wine's closesocket (API.md, "Known Wine deviations")
      return true;
    default: return false;
  }
}

VOID WINAPI mixed_routine(DWORD e, DWORD n, LPOVERLAPPED ov) {
  auto* o = reinterpret_cast<mixed_op*>(ov);
  mixed& m = *o->m;
  if (!o->in_flight.exchange(false)) m.duplicates.fetch_add(1);
  m.completed.fetch_add(1);
  const bool ended = m.stop.load();  // the race is over: every handle is being closed
  bool ok;
  if (o->s->file)
    ok = e == ERROR_SUCCESS || (!o->write && e == static_cast<DWORD>(ERROR_HANDLE_EOF));
  else if (o->write)
    ok = e == ERROR_SUCCESS && n == o->len;
  else
    ok = e == ERROR_SUCCESS && n > 0;
  if (!ok && o->quiet && !ended) {
    if (e == static_cast<DWORD>(ERROR_OPERATION_ABORTED)) {
      m.quiet_aborts.fetch_add(1);
      m.problem(std::string("a ") + (o->write ? "write" : "read") + " on a quiet " +
                (o->s->file     ? "file"
                 : o->s->socket ? "socket"
                                : "pipe") +
                " completed with ERROR_OPERATION_ABORTED although nothing cancelled it");
    } else {
      m.bad_codes.fetch_add(1);
      m.problem("a quiet handle's operation completed with " + std::to_string(e) + ", " + std::to_string(n) + " bytes");
    }
  } else if (!ok && !explained_on_busy(e)) {
    m.bad_codes.fetch_add(1);
    m.problem("an operation on a busy or closing handle completed with " + std::to_string(e));
  }
  const auto r = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(o) >> 6) + static_cast<unsigned>(n);
  if (o->write) {
    m.writes_in_flight.fetch_sub(1);
    delete o;
  } else if (e == ERROR_SUCCESS && !ended) {
    // The IIS pattern: the routine starts the next read on its handle with the same OVERLAPPED, and now
    // and then a write somewhere else, or a thread-count change around work that might block.
    if (r % 4 == 0) {
      start_write(m, pick(m, r / 4), r);
      m.from_routines.fetch_add(1);
    }
    if (r % 97 == 0) {
      IHttpServer& server = w3tp::http_server(*m.pool);
      server.IncrementThreadCount();
      server.DecrementThreadCount();
      m.thread_changes.fetch_add(2);
    }
    start_read(m, o->s, o);
  } else {
    delete o;  // the chain ends with its handle
  }
  m.ledger.delivered_one();
}

// Makes (or replaces) a stream's handles and starts its read chain. Runs on the test's own threads too,
// so it reports through m.problem rather than the test framework (which is not thread-safe).
void open_stream(mixed& m, stream& s) {
  HANDLE a = nullptr, b = nullptr;
  if (!(s.socket ? make_socket_pair(a, b) : make_pipe(a, b))) {
    m.bad_codes.fetch_add(1);
    m.problem("a pipe or socket pair could not be made");
    return;
  }
  if (m.pool->associate(a, mixed_routine) != S_OK || m.pool->associate(b, mixed_routine) != S_OK) {
    m.bad_codes.fetch_add(1);
    m.problem("a new pair could not be associated");
  }
  s.rd.store(a);
  s.wr.store(b);
  start_read(m, &s);
}

void close_stream(stream& s) {
  HANDLE a = s.rd.exchange(nullptr), b = s.wr.exchange(nullptr);
  if (a != nullptr) CloseHandle(a);
  if (b != nullptr) CloseHandle(b);
}

// A post's routine: counts itself and, as an IIS module's would, starts a write somewhere.
VOID WINAPI post_routine(DWORD error, DWORD bytes, LPOVERLAPPED ov) {
  auto* m = reinterpret_cast<mixed*>(ov);
  if (error != 7u || bytes != 11u) {
    m->bad_codes.fetch_add(1);
    m->problem("a post ran with other arguments");
  }
  m->posts.fetch_add(1);
  const auto r = static_cast<unsigned>(m->posts.load());
  if (r % 2 == 0) start_write(*m, pick(*m, r), r);
  m->ledger.delivered_one();
}

}  // namespace

namespace race {

workload_result run_workload(w3tp::thread_pool& pool, std::chrono::milliseconds duration) {
  mixed m;
  m.pool = &pool;
  m.ledger.pool = &pool;
  std::vector<std::unique_ptr<temp_file>> files;
  for (bool quiet : {true, false}) {
    const int pairs = quiet ? k_quiet_pairs : k_busy_pairs;
    for (int i = 0; i < 2 * pairs; ++i) {
      auto s = std::make_unique<stream>();
      s->quiet = quiet;
      s->socket = i % 2 == 1;
      m.streams.push_back(std::move(s));
    }
  }
  for (int i = 0; i < k_files; ++i) {
    files.push_back(std::make_unique<temp_file>("mixed"));
    auto s = std::make_unique<stream>();
    s->file = true;
    HANDLE h = CreateFileA(files.back()->path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                           nullptr, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    REQUIRE(pool.associate(h, mixed_routine) == S_OK);
    s->rd.store(h);
    m.streams.push_back(std::move(s));
  }
  for (auto& s : m.streams) {
    if (!s->file) open_stream(m, *s);
    if (s->file) start_read(m, s.get());
  }

  // Application threads write to every handle, quiet and busy alike, and post.
  auto writer = [&](unsigned seed) {
    std::mt19937 rng(seed);
    while (!m.stop.load()) {
      if (m.writes_in_flight.load() >= k_max_writes) {
        std::this_thread::yield();
        continue;
      }
      unsigned r = rng();
      if (r % 8 == 0) {
        m.ledger.accepted.fetch_add(1);
        if (pool.post(post_routine, 7, 11, reinterpret_cast<LPOVERLAPPED>(&m)) != S_OK) {
          m.ledger.accepted.fetch_sub(1);
          m.bad_codes.fetch_add(1);
          m.problem("post refused while the pool runs");
        }
        continue;
      }
      start_write(m, pick(m, r), r >> 8);
    }
  };
  std::thread w1(writer, 11u), w2(writer, 12u);
  // The busy handles' troubles: cancels, closes and replacements; and thread-count churn.
  long cancels = 0, closes = 0;
  std::thread busy([&] {
    std::mt19937 rng(13);
    while (!m.stop.load()) {
      stream* s = pick(m, rng());
      if (s->quiet || s->file) continue;
      const unsigned action = rng() % 16;
      HANDLE h = s->rd.load();
      if (action < 10 && h != nullptr) {
        CancelIoEx(h, nullptr);
        ++cancels;
      } else if (action < 11) {
        close_stream(*s);
        open_stream(m, *s);
        ++closes;
      } else if (action < 14) {
        w3tp::http_server(pool).IncrementThreadCount();
        m.thread_changes.fetch_add(1);
      } else {
        w3tp::http_server(pool).DecrementThreadCount();
        m.thread_changes.fetch_add(1);
      }
      if (rng() % 8 == 0) std::this_thread::yield();
    }
  });
  std::this_thread::sleep_for(duration);  // the workload runs for its duration
  m.stop.store(true);
  w1.join();
  w2.join();
  busy.join();
  workload_result res;
  for (auto& s : m.streams) close_stream(*s);
  res.all_delivered = m.ledger.wait_all(20s);
  res.completed = m.completed.load();
  res.from_routines = m.from_routines.load();
  res.posts = m.posts.load();
  res.cancels = cancels;
  res.closes = closes;
  res.thread_changes = m.thread_changes.load();
  res.accepted = m.ledger.accepted.load();
  res.delivered = m.ledger.delivered.load();
  res.quiet_aborts = m.quiet_aborts.load();
  res.bad_codes = m.bad_codes.load();
  res.duplicates = m.duplicates.load() + m.ledger.duplicates.load();
  res.first_problem = m.problem.text();
  return res;
}

}  // namespace race
