// SPDX-License-Identifier: MIT
// Races on one shared file handle: CloseHandle and CancelIoEx against reads started by two application
// threads and by routines. A file's pending operations are not on its handle's own list but on lists
// of the threads that started them (docs/PROTOCOL.md), so closing and cancelling have to find them
// there: every read is refused at its call with ERROR_INVALID_HANDLE, or accepted and ended exactly
// once with its data or ERROR_OPERATION_ABORTED.
#include <memory>
#include <vector>

#include "race/race.hpp"

using namespace w3tp_test;

namespace {

constexpr DWORD k_file_size = 256 * 1024;
constexpr int k_app_ops = 8;       // per application thread and round
constexpr int k_routine_ops = 32;  // started by routines, per round

struct file_round;

/// A read of the race, with the round it belongs to.
struct file_op {
  race::op op;  // first: the routine converts OVERLAPPED* back
  file_round* round = nullptr;
};
static_assert(std::is_standard_layout_v<file_op>, "OVERLAPPED* converts back to file_op*");

struct file_round {
  race::ledger* ledger = nullptr;
  HANDLE h = nullptr;
  std::atomic<bool> cancel_all{false};  // CancelIoEx(h, NULL) may have been called this round
  file_op app[2][k_app_ops];
  file_op after_close[2];  // one read per application thread once the close has returned: refused
  file_op chained[k_routine_ops];
  std::atomic<int> next_chained{0};
  std::atomic<long> bad_codes{0};
  std::atomic<long> bad_refusals{0};
  race::first_problem* problem = nullptr;
};

bool start_read(file_round& r, file_op& o, unsigned long long offset);

/// The routine checks the code, and half of the reads that got data start another from the routine.
VOID WINAPI file_routine(DWORD error, DWORD bytes, LPOVERLAPPED ov) {
  auto* o = reinterpret_cast<file_op*>(ov);
  file_round& r = *o->round;
  const bool ok_data = error == ERROR_SUCCESS && bytes > 0;
  if (!ok_data && error != static_cast<DWORD>(ERROR_OPERATION_ABORTED)) {
    r.bad_codes.fetch_add(1);
    (*r.problem)("a read ended with error " + std::to_string(error) + " and " + std::to_string(bytes) + " bytes");
  }
  const bool chain = ok_data && (reinterpret_cast<std::uintptr_t>(ov) >> 6) % 2 == 0;
  if (chain) {
    const int i = r.next_chained.fetch_add(1);
    if (i < k_routine_ops) start_read(r, r.chained[i], static_cast<unsigned long long>(i) * 4096);
  }
  race::record(error, bytes, ov);  // o and r may be gone after this
}

/// Starts one read; a refusal must be ERROR_INVALID_HANDLE (the handle was closed).
bool start_read(file_round& r, file_op& o, unsigned long long offset) {
  o.op.reset();
  o.op.owner = r.ledger;
  o.round = &r;
  o.op.ov.Offset = static_cast<DWORD>(offset % k_file_size);
  r.ledger->accepted.fetch_add(1);  // first, so that delivered never overtakes accepted
  SetLastError(0xDEAD);
  BOOL ok = ReadFile(r.h, o.op.buf, sizeof o.op.buf, nullptr, &o.op.ov);
  o.op.start_error = GetLastError();
  o.op.accepted = ok != FALSE || o.op.start_error == ERROR_IO_PENDING;
  if (!o.op.accepted) {
    r.ledger->accepted.fetch_sub(1);
    if (o.op.start_error != static_cast<DWORD>(ERROR_INVALID_HANDLE)) {
      r.bad_refusals.fetch_add(1);
      (*r.problem)("a read was refused with " + std::to_string(o.op.start_error));
    }
  }
  return o.op.accepted;
}

}  // namespace

TEST_CASE("race: CloseHandle and CancelIoEx racing file reads from application threads and routines",
          "[race][close][file]") {
  if (w3tp_test::running_under_wine()) {
    // Wine 8 drops the completion packet of a file read that finishes after its handle was closed:
    // ReadFile said ERROR_IO_PENDING, the OVERLAPPED then holds STATUS_SUCCESS, and no routine ever runs
    // (seen within 30 rounds in every run). Windows queues it, since the port belongs to the file object,
    // which the pending read keeps alive. Reported, not counted as passed.
    WARN("skipped under Wine: it loses the completions of file reads that outlive CloseHandle (see the comment)");
    return;
  }
  temp_file tf("race_file_close");
  {
    HANDLE w = CreateFileA(tf.path.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
    REQUIRE(w != INVALID_HANDLE_VALUE);
    write_known_bytes(w, k_file_size);
    REQUIRE(CloseHandle(w));
  }
  w3tp::thread_pool pool(test_options(2));
  race::ledger ledger;
  ledger.pool = &pool;
  race::first_problem problem;
  auto r = std::make_unique<file_round>();

  std::atomic<long> go{0};
  std::atomic<int> finished{0};
  std::atomic<int> started{0};      // reads started by the submitters in this round
  std::atomic<bool> closed{false};  // the closer's CloseHandle has returned in this round
  std::atomic<bool> quit{false};
  auto wait_go = [&](long& seen) {
    if (!race::spin_until([&] { return go.load() != seen || quit.load(); }, std::chrono::hours(1))) return false;
    seen = go.load();
    return !quit.load();
  };
  auto submitter = [&](int who) {
    std::mt19937 rng(static_cast<unsigned>(10 + who));
    for (long seen = 0; wait_go(seen);) {
      for (auto& o : r->app[who]) {
        race::jitter(rng, 100);
        start_read(*r, o, (rng() % 64) * 4096ull);
        started.fetch_add(1);
      }
      // However the threads were scheduled (under TSan every read came before the close in all 1,000
      // rounds once), one read per thread meets a closed handle.
      race::spin_until([&] { return closed.load(); });
      start_read(*r, r->after_close[who], 0);
      finished.fetch_add(1);
    }
  };
  std::thread s0(submitter, 0), s1(submitter, 1);
  std::thread closer([&] {
    std::mt19937 rng(3);
    for (long seen = 0; wait_go(seen);) {
      // The close races the rest of the round's reads, not an empty handle: under load the submitters
      // could otherwise start after it in every round (seen once in ctest -j2: nothing accepted).
      race::spin_until([&] { return started.load() > 0; });
      race::jitter(rng, 1500);
      if (rng() % 4 == 0) {
        r->cancel_all.store(true);
        SetLastError(0);
        if (!CancelIoEx(r->h, nullptr) && GetLastError() != static_cast<DWORD>(ERROR_NOT_FOUND))
          problem("CancelIoEx(h, NULL) failed with " + std::to_string(GetLastError()));
        race::jitter(rng, 500);
      }
      if (!CloseHandle(r->h)) problem("CloseHandle failed with " + std::to_string(GetLastError()));
      closed.store(true);
      finished.fetch_add(1);
    }
  });

  long rounds_run = 0, accepted = 0, refused = 0, aborted = 0, lost = 0;
  race::rounds budget(1000, 20000);
  for (long n = 0; budget.next(); ++n) {
    r->h = CreateFileA(tf.path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
    REQUIRE(r->h != INVALID_HANDLE_VALUE);
    REQUIRE(pool.associate(r->h, file_routine) == S_OK);
    r->ledger = &ledger;
    r->problem = &problem;
    r->cancel_all.store(false);
    r->next_chained.store(0);
    finished.store(0);
    started.store(0);
    closed.store(false);
    go.store(n + 1);
    REQUIRE(race::spin_until([&] { return finished.load() == 3; }));
    ++rounds_run;
    if (!ledger.wait_all(5s)) {
      ++lost;
      std::string states;
      auto state = [&](const char* who, file_op& o) {
        if (o.op.accepted && o.op.calls.load() == 0)
          states += std::string(" ") + who + ": start error " + std::to_string(o.op.start_error) + ", Internal " +
                    std::to_string(std::atomic_ref<ULONG_PTR>(o.op.ov.Internal).load()) + ";";
      };
      for (auto& row : r->app)
        for (auto& o : row) state("application thread", o);
      for (int i = 0, m = std::min(r->next_chained.load(), k_routine_ops); i < m; ++i) state("routine", r->chained[i]);
      problem("round " + std::to_string(n) + ": an accepted read got no routine after CloseHandle returned:" + states);
      break;
    }
    auto count = [&](file_op& o) {
      if (!o.op.accepted) {
        ++refused;
        return;
      }
      ++accepted;
      if (o.op.calls.load() != 1) problem("a read had " + std::to_string(o.op.calls.load()) + " routines");
      if (o.op.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED)) ++aborted;
    };
    for (auto& row : r->app)
      for (auto& o : row) count(o);
    for (auto& o : r->after_close) {
      if (o.op.accepted) problem("a read after CloseHandle returned was accepted");
      count(o);
    }
    for (int i = 0, m = std::min(r->next_chained.load(), k_routine_ops); i < m; ++i) count(r->chained[i]);
  }
  quit.store(true);
  go.fetch_add(1);
  s0.join();
  s1.join();
  closer.join();
  pool.shutdown();
  INFO(rounds_run << " rounds: " << accepted << " reads accepted (" << aborted << " aborted), " << refused
                  << " refused; " << problem.text());
  CHECK(lost == 0);
  CHECK(problem.text().empty());
  CHECK(r->bad_codes.load() == 0);
  CHECK(r->bad_refusals.load() == 0);
  CHECK(ledger.duplicates.load() == 0);
  CHECK(ledger.off_pool.load() == 0);
  CHECK(ledger.accepted.load() == ledger.delivered.load());
  CHECK(rounds_run >= 1000);
  CHECK(accepted > 0);
  CHECK(refused > 0);
  WARN("file close race: " << rounds_run << " rounds, " << accepted << " accepted (" << aborted << " aborted), "
                           << refused << " refused");
}
