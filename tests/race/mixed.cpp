// SPDX-License-Identifier: MIT
// The mixed workload as a race (workload.cpp): quiet handles, which nobody cancels or closes, must get
// no ERROR_OPERATION_ABORTED while busy handles are cancelled, closed and replaced beside them and the
// thread count goes up and down.
#include "race/race.hpp"
#include "race/workload.hpp"

// POSIX only. On Windows the workload's closes and replacements would start I/O on handle values that
// the system has already given to other objects (it reuses them at once; API.md, "On Windows"), and
// under Wine 8 its application writers were seen blocked inside the system's WriteFile; the close,
// cancel, shutdown and wake-up races run there.
#ifndef _WIN32
TEST_CASE("race: mixed workload with thread-count churn; no cancel means no ERROR_OPERATION_ABORTED", "[race][mixed]") {
  w3tp::thread_pool pool(w3tp_test::test_options(2, 16));
  const race::workload_result r = race::run_workload(pool, race::budget());
  pool.shutdown();
  INFO(r.completed << " operations completed (" << r.from_routines << " writes started by routines), " << r.posts
                   << " posts, " << r.cancels << " cancels, " << r.closes << " closes, " << r.thread_changes
                   << " thread-count changes; " << r.first_problem);
  CHECK(r.all_delivered);
  CHECK(r.quiet_aborts == 0);
  CHECK(r.bad_codes == 0);
  CHECK(r.duplicates == 0);
  CHECK(r.accepted == r.delivered);
  CHECK(r.completed > 10000);
  WARN("mixed: " << r.completed << " operations, " << r.posts << " posts, " << r.cancels << " cancels, " << r.closes
                 << " closes, " << r.thread_changes << " thread-count changes");
}
#endif
