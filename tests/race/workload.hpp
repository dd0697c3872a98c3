// SPDX-License-Identifier: MIT
// The mixed workload (workload.cpp): pipes, loopback sockets and files shared by application threads
// and by routines that start new I/O, with posts, cancels, closes and thread-count changes going on
// beside it. The race suite runs it for its budget; the soak test runs it for a minute.
#pragma once

#include <w3tp/w3tp.hpp>

#include <chrono>
#include <string>

namespace race {

struct workload_result {
  long completed = 0;      // routines of I/O operations
  long from_routines = 0;  // writes that routines started
  long posts = 0;          // posts whose routine ran
  long cancels = 0;
  long closes = 0;          // handle pairs closed and replaced
  long thread_changes = 0;  // IncrementThreadCount / DecrementThreadCount calls
  long accepted = 0;        // operations and posts accepted
  long delivered = 0;       // routines run for them
  long quiet_aborts = 0;    // ERROR_OPERATION_ABORTED on a handle nobody cancelled or closed
  long bad_codes = 0;       // any other code that the operation's fate does not explain
  long duplicates = 0;      // a second routine for one operation
  bool all_delivered = false;
  std::string first_problem;
};

/// Runs the workload on `pool` (which needs max_threads above its threads for the thread-count churn)
/// for `duration`, then closes every handle and waits (bounded) for every routine.
workload_result run_workload(w3tp::thread_pool& pool, std::chrono::milliseconds duration);

}  // namespace race
