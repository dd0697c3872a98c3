// SPDX-License-Identifier: MIT
// API.md behaviour 8: post runs the routine once, on a pool thread, with the given arguments.
#include "backend/common.hpp"

using namespace w3tp_test;

namespace {
std::atomic<int> g_null_ov_calls{0};
std::atomic<DWORD> g_null_ov_error{0};
VOID WINAPI null_ov_routine(DWORD err, DWORD, LPOVERLAPPED ov) {
  if (ov == nullptr) g_null_ov_error = err;
  g_null_ov_calls.fetch_add(1);
}
}  // namespace

TEST_CASE("post: runs the routine once on a pool thread with the given arguments", "[post]") {
  fixture f;
  op o1, o2;
  o1.owner = o2.owner = &f.t;
  f.t.accepted.fetch_add(2);
  CHECK(f.p().post(record_routine, 7, 42, &o1.ov) == S_OK);
  CHECK(f.p().post(record_routine, ERROR_OPERATION_ABORTED, 0xFFFFFFF0u, &o2.ov) == S_OK);
  REQUIRE(f.t.wait_delivered(2));
  CHECK(o1.error.load() == 7u);
  CHECK(o1.bytes.load() == 42u);
  CHECK(o1.seen.load() == &o1.ov);
  CHECK(o1.on_pool.load());
  CHECK(o1.thread.load() != GetCurrentThreadId());
  CHECK(o2.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  CHECK(o2.bytes.load() == 0xFFFFFFF0u);
  f.finish();
  CHECK(o1.calls.load() == 1);
  CHECK(o2.calls.load() == 1);
}

TEST_CASE("post: a NULL OVERLAPPED is passed through", "[post]") {
  fixture f;
  g_null_ov_calls = 0;
  CHECK(f.p().post(null_ov_routine, 5, 0, nullptr) == S_OK);
  REQUIRE(f.t.eventually([] { return g_null_ov_calls.load() == 1; }));
  CHECK(g_null_ov_error.load() == 5u);
  f.finish();
  CHECK(g_null_ov_calls.load() == 1);
}

TEST_CASE("post: many posts from many threads each run once", "[post]") {
  fixture f(test_options(3));
  constexpr int k_threads = 4, k_each = 500;
  std::vector<std::unique_ptr<op>> ops;
  for (int i = 0; i < k_threads * k_each; ++i) {
    ops.push_back(std::make_unique<op>(0));
    ops.back()->owner = &f.t;
  }
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_each; ++i) {
        op& o = *ops[static_cast<std::size_t>(t * k_each + i)];
        f.t.accepted.fetch_add(1);
        if (f.p().post(record_routine, static_cast<DWORD>(t), static_cast<DWORD>(i), &o.ov) != S_OK) {
          refused.fetch_add(1);
          f.t.accepted.fetch_sub(1);
        }
      }
    });
  for (auto& th : threads) th.join();
  CHECK(refused.load() == 0);
  REQUIRE(f.t.wait_delivered(k_threads * k_each));
  f.finish();
  for (int t = 0; t < k_threads; ++t)
    for (int i = 0; i < k_each; ++i) {
      op& o = *ops[static_cast<std::size_t>(t * k_each + i)];
      if (o.calls.load() != 1 || o.error.load() != static_cast<DWORD>(t) || o.bytes.load() != static_cast<DWORD>(i)) {
        FAIL_CHECK("post " << t << "/" << i << ": calls " << o.calls.load());
      }
    }
}

TEST_CASE("post: a NULL routine gives E_INVALIDARG and after shutdown ERROR_INVALID_STATE", "[post][shutdown]") {
  fixture f;
  op o;
  o.owner = &f.t;
  CHECK(f.p().post(nullptr, 0, 0, &o.ov) == E_INVALIDARG);
  f.p().shutdown();
  CHECK(f.p().post(record_routine, 0, 0, &o.ov) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  f.finish();
  CHECK(o.calls.load() == 0);
}
