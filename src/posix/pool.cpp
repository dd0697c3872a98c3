// SPDX-License-Identifier: MIT
// The POSIX pool: backend selection, owed-routine accounting, shutdown, the scheduler that runs the
// pool's threads, and thread_pool's members.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <new>
#include <system_error>

#include <fmt/format.h>

#include "common/common.hpp"
#include "posix/core.hpp"

namespace w3tp::posix {

namespace {
thread_local worker* t_worker = nullptr;
}

// ---------------------------------------------------------------------------------------------
// Operations

std::atomic<unsigned> overlapped_waiters{0};

namespace {
file_list g_file_lists[k_file_lists];

// The head of the pending list that op is on.
op_record*& pending_head(op_record& op) noexcept {
  return on_file_lists(*op.h) ? file_list_at(op.starter % k_file_lists).head : op.h->pending;
}
}  // namespace

file_list& file_list_at(unsigned i) noexcept { return g_file_lists[i]; }

void reset_file_lists_in_child() noexcept {
  for (file_list& l : g_file_lists) {
    l.lock.~small_mutex();
    new (&l.lock) small_mutex();
    l.head = nullptr;
  }
}

void link_pending(op_record& op) noexcept {
  op_record*& head = pending_head(op);
  op.hprev = nullptr;
  op.hnext = head;
  if (head != nullptr) head->hprev = &op;
  head = &op;
}

void finish_locked(op_record& op, DWORD error) noexcept {
  if (op.hprev != nullptr)
    op.hprev->hnext = op.hnext;
  else
    pending_head(op) = op.hnext;
  if (op.hnext != nullptr) op.hnext->hprev = op.hprev;
  op.hprev = op.hnext = nullptr;
  record_result(op, error);
}

void record_result(op_record& op, DWORD error) noexcept {
  op.error = error;
  OVERLAPPED* ov = op.ov;
  ov->InternalHigh = op.done;
  std::atomic_ref<ULONG_PTR> status(ov->Internal);
  status.store(status_from_win32(error), std::memory_order_release);
  // Wake GetOverlappedResult(..., TRUE) callers only when there are some: notify_all on an
  // address shares a hashed waiter table with every other atomic wait in the process, so calling
  // it per operation costs a futex system call whenever anything else waits anywhere. A Dekker pair
  // with the waiter, which counts itself and then reads the status: the light fence here, the heavy
  // one there (platform::light_fence).
  platform::light_fence();
  if (overlapped_waiters.load(std::memory_order_relaxed) != 0) status.notify_all();
}

void finish(op_record& op, DWORD error) noexcept {
  small_lock lock(pending_lock(op));
  finish_locked(op, error);
}

void finish_batch(op_record* const* ops, const DWORD* errors, unsigned n) noexcept {
  for (unsigned i = 0; i < n;) {
    small_mutex& m = pending_lock(*ops[i]);
    small_lock lock(m);
    for (; i < n && &pending_lock(*ops[i]) == &m; ++i) {
      finish_locked(*ops[i], errors[i]);
      ops[i]->kind_ = k_item_done;
      ops[i]->next_ = i + 1 < n ? ops[i + 1] : nullptr;
    }
  }
}

handle_slot* acquire_handle_for_io(HANDLE h) noexcept {
  if (worker* w = t_worker; w != nullptr && w->held_refs != 0) {
    handle_slot* s = w->held;
    // The reference held keeps the slot's generation: one load tells whether h is this slot and open.
    if (s->value() == h && (s->state.load(std::memory_order_acquire) & k_closed_bit) == 0) {
      --w->held_refs;
      return s;
    }
  }
  return acquire_handle(h);
}

void deliver(op_record& op) noexcept {
  handle_slot* h = op.h;
  pool_impl* pool = h->pool.load(std::memory_order_relaxed);
  worker* w = t_worker;
  DWORD error = op.error;
  DWORD bytes = op.done;
  OVERLAPPED* ov = op.ov;
  const bool callable = h->has(hf_callable);
  // The references held from earlier routines of another handle go before this routine runs (it may
  // block); those of this handle stay held: this operation's own reference keeps the handle alive
  // until the routine has returned anyway, so holding them longer delays nothing.
  if (w != nullptr && w->held != h) {
    w->drop_held();
    w->held = h;
  }
  // A function routine's operation hands its reference to the thread before the routine runs, so that
  // the read the routine starts on its own handle takes it over (acquire_handle_for_io: no atomic on
  // the slot even when every routine is of another handle). Nothing of the slot is used after such a
  // routine. A callable stays with its operation's reference until it returns: the last reference
  // deletes it.
  if (w != nullptr && !callable) ++w->held_refs;
  if (w != nullptr) w->begin_routine();
  if (callable) {
    detail::routine_base* r = h->callable;
    pool->guarded([&] { r->invoke(error, bytes, ov); });
  } else {
    LPOVERLAPPED_COMPLETION_ROUTINE fn = h->fn;
    pool->guarded([&] { fn(error, bytes, ov); });
  }
  free_op(&op);
  // The pool outlives this call: the worker thread running it holds a reference.
  if (w != nullptr) {
    w->end_routine();
    worker::count(w->completions);
    if (callable) {
      // The routine may have run other routines on this thread (shutdown() from a routine helps).
      if (w->held != h) {
        w->drop_held();
        w->held = h;
      }
      ++w->held_refs;
    }
  } else {
    release_handle(h);
  }
  pool->pay_routine();
}

// ---------------------------------------------------------------------------------------------
// Scheduler

scheduler::scheduler(pool_impl& pool, unsigned base_threads, unsigned max_threads)
    : pool_(pool), base_(base_threads), max_(max_threads), workers_(new worker[max_threads]) {}

scheduler::~scheduler() = default;

void scheduler::start(engine& e) {
  engine_ = &e;
  std::lock_guard lock(threads_mu_);
  target_.store(base_, std::memory_order_relaxed);
  for (unsigned i = 0; i < base_; ++i) spawn(i, false);
  if (max_ > base_) gate_ = std::thread([this] { gate(); });
}

void scheduler::spawn(unsigned slot, bool extra) {
  worker& w = workers_[slot];
  if (w.thread.joinable()) w.thread.join();
  w.sched = this;
  w.index = slot;
  w.extra = extra;
  w.in_routine.store(false, std::memory_order_relaxed);
  w.rest.store(worker::rest_busy, std::memory_order_relaxed);
  w.exited.store(false, std::memory_order_relaxed);
  active_.fetch_add(1, std::memory_order_relaxed);
  unsigned used = slots_used_.load(std::memory_order_relaxed);
  while (used < slot + 1 && !slots_used_.compare_exchange_weak(used, slot + 1, std::memory_order_release)) {
  }
  pool_.retain();
  try {
    w.thread = std::thread([this, &w] {
      // w3tp's threads never take SIGPIPE or SIGXFSZ: Windows has neither, and a write to a pipe with
      // no reader or past RLIMIT_FSIZE must complete with an error instead (EPIPE / EFBIG).
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      sigaddset(&set, SIGXFSZ);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      char name[16];
      std::snprintf(name, sizeof name, "w3tp-worker-%u", w.index);
      platform::set_thread_name(name);
      pool_impl& pool = pool_;
      run(w);
      pool.release();
    });
  } catch (...) {
    active_.fetch_sub(1, std::memory_order_relaxed);
    w.exited.store(true, std::memory_order_relaxed);
    pool_.release();
    throw;
  }
}

bool on_any_pool_thread() noexcept { return t_worker != nullptr; }

worker* scheduler::current() const noexcept {
  worker* w = t_worker;
  return (w != nullptr && w->sched == this) ? w : nullptr;
}

// local_size has one writer at a time (whoever holds the worker's lock), so its updates are plain stores,
// not read-modify-writes. The unlock that follows each (an exchange) orders it before the idle count's
// load below, against a thread that counts itself idle and then reads local_size (work_visible).
void scheduler::push_local(worker& w, queue_node* n) noexcept {
  unsigned size;
  {
    small_lock lock(w.lock);
    w.local.push(n);
    size = w.local_size.load(std::memory_order_relaxed) + 1;
    w.local_size.store(size, std::memory_order_relaxed);
  }
  if (idle_.load(std::memory_order_seq_cst) == 0) return;
  if (size > 1) {
    // More than one item is due here and a thread is idle: let it take some now.
    wake_idle();
  } else if (w.in_routine.load(std::memory_order_relaxed)) {
    // Due behind a routine that may run long: make sure an idle thread looks soon.
    engine_->arm_watchdog();
  }
}

void scheduler::push_local_chain(worker& w, queue_node* first, queue_node* last, unsigned n) noexcept {
  unsigned size;
  {
    small_lock lock(w.lock);
    w.local.push_chain(first, last);
    size = w.local_size.load(std::memory_order_relaxed) + n;
    w.local_size.store(size, std::memory_order_relaxed);
  }
  if (idle_.load(std::memory_order_seq_cst) == 0) return;
  if (size > 1)
    wake_idle();
  else if (w.in_routine.load(std::memory_order_relaxed))
    engine_->arm_watchdog();
}

void scheduler::push(queue_node* n) noexcept {
  if (worker* w = current(); w != nullptr && !w->exited.load(std::memory_order_relaxed)) {
    push_local(*w, n);
    return;
  }
  push_global(n);
}

void scheduler::push_global(queue_node* n) noexcept {
  {
    small_lock lock(global_mu_);
    global_.push(n);
    global_size_.fetch_add(1, std::memory_order_seq_cst);
  }
  wake_idle();
}

worker* scheduler::idle_worker() noexcept {
  unsigned used = slots_used_.load(std::memory_order_acquire);
  for (unsigned i = 0; i < used; ++i)
    if (workers_[i].rest.load(std::memory_order_relaxed) == worker::rest_idle) return &workers_[i];
  return nullptr;
}

void scheduler::wake_taken(worker& w) noexcept {
  // Its own: w is awake now, and no other thread's wake-up may give its claim back (a claim given back
  // to a worker that already woke would leave a sleeping one claimed with no wake-up on its way).
  std::uint8_t s = worker::rest_claimed;
  if (w.rest.compare_exchange_strong(s, worker::rest_busy, std::memory_order_seq_cst)) return;
  // Another's: a busy thread looking for I/O without blocking, or an unclaimed idle one, took it.
  for (unsigned i = 0, used = slots_used_.load(std::memory_order_acquire); i < used; ++i) {
    worker& v = workers_[i];
    s = worker::rest_claimed;
    if (&v != &w && v.rest.compare_exchange_strong(s, worker::rest_idle, std::memory_order_seq_cst)) return;
  }
}

void scheduler::wake_idle() noexcept {
  if (idle_.load(std::memory_order_seq_cst) == 0) return;
  // Claim the idle worker (clear its flag) so that the next wake-up goes to another one: several
  // items made due at once must wake several threads, not the same one several times.
  unsigned used = slots_used_.load(std::memory_order_acquire);
  for (unsigned i = 0; i < used; ++i) {
    std::uint8_t s = worker::rest_idle;
    if (workers_[i].rest.load(std::memory_order_relaxed) == s &&
        workers_[i].rest.compare_exchange_strong(s, worker::rest_claimed, std::memory_order_acq_rel)) {
      engine_->wake(&workers_[i]);
      return;
    }
  }
  // Every idle worker is already being woken: it will find this item when it looks.
}

queue_node* scheduler::pop_local(worker& w) noexcept {
  if (w.local_size.load(std::memory_order_relaxed) == 0) return nullptr;
  small_lock lock(w.lock);
  queue_node* n = w.local.pop();
  // Every writer of local_size holds the lock: a plain store will do.
  if (n != nullptr) w.local_size.store(w.local_size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return n;
}

queue_node* scheduler::pop_global() noexcept {
  if (global_size_.load(std::memory_order_seq_cst) == 0) return nullptr;
  queue_node* n;
  unsigned left;
  {
    small_lock lock(global_mu_);
    n = global_.pop();
    if (n == nullptr) return nullptr;
    left = global_size_.fetch_sub(1, std::memory_order_seq_cst) - 1;
  }
  // Several items came in from outside: wake the next idle thread too (each wake wakes one).
  if (left > 0) wake_idle();
  return n;
}

queue_node* scheduler::steal(worker& self) noexcept {
  unsigned used = slots_used_.load(std::memory_order_acquire);
  for (unsigned k = 1; k <= used; ++k) {
    worker& v = workers_[(self.index + k) % used];
    if (&v == &self || v.local_size.load(std::memory_order_relaxed) == 0) continue;
    if (!v.lock.try_lock()) continue;
    // Half of the victim's queue (rounded up), oldest first: taking one item at a time made an idle
    // thread come back for every item, and with I/O routines each stolen item became a request
    // submitted on its own (measured: most io_uring_enter calls of the file workload submitted one).
    const unsigned size = v.local_size.load(std::memory_order_relaxed);
    queue_node *first, *last;
    const unsigned taken = v.local.pop_front(size - size / 2, first, last);
    if (taken != 0) v.local_size.store(size - taken, std::memory_order_relaxed);
    v.lock.unlock();
    if (taken == 0) continue;
    // What stays behind waits for a victim that may be blocked in a routine: another idle thread comes
    // for it (API.md behaviour 9; without this, of three items due on one busy thread, the third waited
    // for a routine to return while a thread slept).
    if (size > taken) wake_idle();
    if (taken > 1) {
      // Keep the rest here: this thread runs them next, and others may steal them from here.
      small_lock lock(self.lock);
      self.local.push_chain(first->next_, last);
      self.local_size.store(self.local_size.load(std::memory_order_relaxed) + taken - 1, std::memory_order_relaxed);
    }
    first->next_ = nullptr;
    return first;
  }
  return nullptr;
}

bool scheduler::work_visible(const worker& self) const noexcept {
  if (global_size_.load(std::memory_order_seq_cst) != 0) return true;
  unsigned used = slots_used_.load(std::memory_order_acquire);
  for (unsigned i = 0; i < used; ++i)
    if (&workers_[i] != &self && workers_[i].local_size.load(std::memory_order_seq_cst) != 0) return true;
  return self.local_size.load(std::memory_order_relaxed) != 0;
}

void scheduler::run_item(worker& w, queue_node* n) noexcept {
  switch (n->kind_) {
    case k_item_task: {
      auto* op = static_cast<op_record*>(n);
      detail::task_base* t = op->task;
      free_op(op);
      w.begin_routine();
      pool_.guarded([t] { t->complete_(t, true); });
      w.end_routine();
      worker::count(w.posts);
      pool_.pay_routine();
      break;
    }
    case k_item_post: {
      auto* op = static_cast<op_record*>(n);
      LPOVERLAPPED_COMPLETION_ROUTINE fn = op->post_fn;
      DWORD error = op->error, bytes = op->done;
      OVERLAPPED* ov = op->ov;
      free_op(op);
      w.begin_routine();
      pool_.guarded([&] { fn(error, bytes, ov); });
      w.end_routine();
      worker::count(w.posts);
      pool_.pay_routine();
      break;
    }
    case k_item_done: deliver(*static_cast<op_record*>(n)); break;
    default: engine_->run_item(w, n); break;
  }
}

void scheduler::run(worker& w) {
  t_worker = &w;
  engine_->worker_start(w);
  unsigned tick = 0;
  for (;;) {
    queue_node* n = pop_local(w);
    if (n == nullptr) n = pop_global();
    if (n == nullptr && engine_->poll(w, false)) n = pop_local(w);
    if (n == nullptr) n = steal(w);
    if (n != nullptr) {
      // This thread may have consumed a wake-up meant for work it is not taking (epoll's wake is not
      // addressed to one thread), and the routine it is about to run may block: while work is visible
      // and a thread idles, pass the wake on; while requests are in flight that only one thread's ring
      // reaps (its own, or a busy thread's that this one may have been watching until now), ask an
      // idle thread to watch them (the engine's watchdog). API.md, behaviour 9.
      if (idle_.load(std::memory_order_seq_cst) != 0) {
        if (global_size_.load(std::memory_order_seq_cst) != 0 || w.local_size.load(std::memory_order_relaxed) != 0)
          wake_idle();
        else if (engine_->needs_watch(w))
          engine_->arm_watchdog();
      } else if (gate_asleep_.load(std::memory_order_seq_cst)) {
        wake_gate();  // no thread is idle any more: the gate watches for starvation
      }
      if (n->kind_ != k_item_done) w.drop_held();
      run_item(w, n);
      // Under a steady stream of local work, still reap I/O now and then.
      if ((++tick & 63u) == 0) engine_->poll(w, false);
      continue;
    }
    w.drop_held();  // nothing due here: this thread may sleep, park or leave
    if (stop_.load(std::memory_order_acquire)) break;
    // Not while work is visible: this thread's last poll may have taken a wake-up sent for that work to
    // a sleeping thread (epoll's wake-ups reach any thread; wake_taken then gave that thread's claim
    // back), so it must not park on it. Seen: an item posted to an idle pool never ran.
    if (w.extra && !work_visible(w) && engine_->can_retire(w)) {
      // DecrementThreadCount: an extra thread leaves the pool once it is idle.
      unsigned a = active_.load(std::memory_order_relaxed);
      if (a > wanted() && active_.compare_exchange_strong(a, a - 1, std::memory_order_acq_rel)) {
        if (!park(w)) break;
        continue;
      }
    }
    w.rest.store(worker::rest_idle, std::memory_order_seq_cst);
    idle_.fetch_add(1, std::memory_order_seq_cst);
    // DecrementThreadCount may have lowered the target after this extra thread's check above and before
    // its idle flag was visible to that call's wake-ups: look again now that it is (both sides seq_cst).
    const bool retire_due = w.extra && active_.load(std::memory_order_seq_cst) > wanted();
    if (!retire_due && !work_visible(w) && !stop_.load(std::memory_order_seq_cst)) {
      engine_->poll(w, true);
    }
    idle_.fetch_sub(1, std::memory_order_seq_cst);
    w.rest.store(worker::rest_busy, std::memory_order_seq_cst);
  }
  w.drop_held();
  w.engine_state.store(nullptr, std::memory_order_release);
  t_worker = nullptr;
}

bool scheduler::park(worker& w) {
  // A retired thread does not exit until the pool stops: the kernel cancels the io_uring requests that a
  // thread submitted when it exits, and a pool thread may have submitted other threads' requests (any
  // submission sends every request queued in that ring). Parked, it costs a stack and no CPU, and the
  // next IncrementThreadCount (or starvation) reuses it before it spawns a thread.
  std::unique_lock lock(threads_mu_);
  w.parked.store(true, std::memory_order_relaxed);
  park_cv_.wait(lock,
                [&] { return !w.parked.load(std::memory_order_relaxed) || stop_.load(std::memory_order_acquire); });
  if (w.parked.load(std::memory_order_relaxed)) {
    w.parked.store(false, std::memory_order_relaxed);
    return false;  // the pool stops
  }
  return true;
}

bool scheduler::grow(bool starvation) noexcept {
  std::lock_guard lock(threads_mu_);
  if (stop_.load(std::memory_order_acquire)) return false;
  const unsigned t = target_.load(std::memory_order_relaxed);
  const unsigned st = starved_.load(std::memory_order_relaxed);
  if (starvation ? t + st >= max_ : t >= max_) return false;
  if (!starvation && t + st >= max_) {
    // Every slot is taken: IncrementThreadCount keeps one of the gate's threads instead.
    starved_.store(st - 1, std::memory_order_relaxed);
    target_.store(t + 1, std::memory_order_relaxed);
    return true;
  }
  // Counted before the thread starts, so that it does not see itself as one too many and retire.
  auto count = [&](unsigned by) {
    if (starvation)
      starved_.store(st + by, std::memory_order_seq_cst);
    else
      target_.store(t + by, std::memory_order_seq_cst);
  };
  // A parked thread first (see park()).
  for (unsigned i = 0, used = slots_used_.load(std::memory_order_relaxed); i < used; ++i) {
    worker& w = workers_[i];
    if (!w.parked.load(std::memory_order_relaxed)) continue;
    count(1);
    active_.fetch_add(1, std::memory_order_relaxed);
    w.parked.store(false, std::memory_order_relaxed);
    park_cv_.notify_all();
    return true;
  }
  // A slot never used (or one whose thread could not be started).
  for (unsigned i = 0; i < max_; ++i) {
    worker& w = workers_[i];
    bool free_slot = (i >= slots_used_.load(std::memory_order_relaxed)) ||
                     (w.exited.load(std::memory_order_acquire) && w.sched != nullptr);
    if (!free_slot) continue;
    count(1);
    try {
      spawn(i, true);
    } catch (...) {
      count(0);
      return false;
    }
    return true;
  }
  return false;
}

void scheduler::remove_thread() noexcept {
  std::lock_guard lock(threads_mu_);
  unsigned t = target_.load(std::memory_order_relaxed);
  if (t <= base_) return;
  target_.store(t - 1, std::memory_order_seq_cst);
  wake_extras();
  detail::log_format(pool_.options(), log_level::info, "DecrementThreadCount: {} threads wanted", t - 1);
}

void scheduler::wake_extras() noexcept {
  unsigned used = slots_used_.load(std::memory_order_acquire);
  for (unsigned i = 0; i < used; ++i)
    if (workers_[i].extra && workers_[i].rest.load(std::memory_order_seq_cst) != worker::rest_busy)
      engine_->wake(&workers_[i]);
}

namespace {
// The gate's clock (API.md addition 12, README "Starvation"): a pool whose every thread has been inside
// one and the same routine for a whole tick while completions wait gets one more thread, so a due
// completion waits 50-100 ms; the n-th thread added while the pool stays starved needs n stuck ticks
// (so CPU-bound routines with work queued do not grow the pool by 20 threads a second), never past
// max_threads. A thread added so retires after the pool has had an idle thread for k_retire_ticks; the
// gate sleeps after k_sleep_ticks of calm and wakes when a thread finds no other thread idle.
constexpr auto k_gate_tick = std::chrono::milliseconds(50);
constexpr unsigned k_retire_ticks = 10;
constexpr unsigned k_sleep_ticks = 20;
}  // namespace

void scheduler::wake_gate() noexcept {
  if (!gate_asleep_.exchange(false, std::memory_order_seq_cst)) return;
  std::lock_guard lock(gate_mu_);
  gate_cv_.notify_one();
}

void scheduler::gate() noexcept {
  platform::set_thread_name("w3tp-gate");
  std::vector<std::uint32_t> seen(max_, 0);
  std::vector<char> was_busy(max_, 0);
  unsigned calm = 0, stuck_ticks = 0;
  std::unique_lock lock(gate_mu_);
  while (!stop_.load(std::memory_order_acquire)) {
    gate_cv_.wait_for(lock, k_gate_tick, [&] { return stop_.load(std::memory_order_acquire); });
    if (stop_.load(std::memory_order_acquire)) break;
    // Starved: every live thread is in the routine it was in at the last tick.
    bool stuck = true;
    unsigned live = 0;
    for (unsigned i = 0, used = slots_used_.load(std::memory_order_acquire); i < used; ++i) {
      worker& w = workers_[i];
      if (w.parked.load(std::memory_order_relaxed) || w.exited.load(std::memory_order_acquire)) continue;
      ++live;
      const bool busy = w.in_routine.load(std::memory_order_acquire);
      const std::uint32_t r = w.routines.load(std::memory_order_relaxed);
      if (!busy || was_busy[i] == 0 || r != seen[i]) stuck = false;
      was_busy[i] = busy ? 1 : 0;
      seen[i] = r;
    }
    if (stuck && live > 0 && (work_visible(workers_[0]) || engine_->completions_waiting())) {
      calm = 0;
      if (++stuck_ticks > starved_.load(std::memory_order_relaxed)) {
        stuck_ticks = 0;
        if (grow(true))
          detail::log_format(pool_.options(), log_level::warning,
                             "starvation: every thread has been inside one routine for a tick while work waits; "
                             "a thread added ({} added so far, at most {} threads)",
                             starved_.load(std::memory_order_relaxed), max_);
      }
      continue;
    }
    stuck_ticks = 0;
    calm = idle_.load(std::memory_order_seq_cst) != 0 ? calm + 1 : 0;
    if (calm >= k_retire_ticks && starved_.load(std::memory_order_relaxed) != 0) {
      {
        std::lock_guard tl(threads_mu_);
        starved_.fetch_sub(1, std::memory_order_seq_cst);
        wake_extras();
      }
      detail::log_message(pool_.options(), log_level::info, "starvation over: an added thread retires");
      calm = 0;
    }
    if (calm >= k_sleep_ticks && starved_.load(std::memory_order_relaxed) == 0) {
      // Sleep until a thread finds no other idle (see run()); look again after announcing it, so that
      // a thread that checked just before does not leave the gate asleep on a busy pool.
      gate_asleep_.store(true, std::memory_order_seq_cst);
      if (idle_.load(std::memory_order_seq_cst) == 0) {
        gate_asleep_.store(false, std::memory_order_seq_cst);
      } else {
        gate_cv_.wait(lock, [&] {
          return stop_.load(std::memory_order_acquire) || !gate_asleep_.load(std::memory_order_seq_cst);
        });
      }
      calm = 0;
      std::fill(was_busy.begin(), was_busy.end(), 0);
    }
  }
}

void scheduler::stop() noexcept {
  stop_.store(true, std::memory_order_seq_cst);
  unsigned used;
  {
    // After this, grow() sees stop_ and spawns nothing: the joins below need no lock (and must not
    // hold it: parked threads take it to leave park()).
    std::lock_guard lock(threads_mu_);
    park_cv_.notify_all();
    used = slots_used_.load(std::memory_order_acquire);
  }
  {
    std::lock_guard lock(gate_mu_);
    gate_cv_.notify_all();
  }
  if (gate_.joinable()) {
    if (gate_.get_id() == std::this_thread::get_id())
      gate_.detach();
    else
      gate_.join();
  }
  for (unsigned i = 0; i < used; ++i) engine_->wake(&workers_[i]);
  for (unsigned i = 0; i < used; ++i) {
    worker& w = workers_[i];
    if (!w.thread.joinable()) continue;
    if (w.thread.get_id() == std::this_thread::get_id())
      w.thread.detach();  // shutdown from a routine: this thread leaves when the routine returns
    else
      w.thread.join();
  }
}

}  // namespace w3tp::posix

// =============================================================================================
namespace w3tp::detail {

using namespace w3tp::posix;

namespace {

/// One backend of this platform: its kind, whether it can start here, and how to start it.
struct engine_backend {
  backend kind;
  /// "" when the backend can start in this process, else a sentence saying why not (cached by the
  /// backend); nullptr when there is nothing to probe.
  const std::string& (*unavailable)();
  /// Starts the engine, or throws std::system_error with a sentence; nullptr when this build lacks it.
  std::unique_ptr<engine> (*make)(pool_impl& pool, unsigned base_threads, unsigned max_threads);
};

#ifndef W3TP_HAVE_IO_URING
const std::string& uring_not_built() {
  static const std::string why = "this w3tp was built without the io_uring backend (W3TP_WITH_IO_URING=OFF)";
  return why;
}
#endif

/// The Linux backends, best first: `automatic` takes the first that starts, and notes why it passed over
/// the others in fallback_reason. Adding a backend is one row here plus its folder (src/CMakeLists.txt).
constexpr engine_backend k_backends[] = {
#ifdef W3TP_HAVE_IO_URING
    {backend::io_uring, uring_unavailable_reason, make_uring_engine},
#else
    {backend::io_uring, uring_not_built, nullptr},
#endif
    {backend::epoll, nullptr, [](pool_impl& pool, unsigned, unsigned) { return make_epoll_engine(pool); }},
};

std::unique_ptr<engine> make_engine(pool_impl& pool, unsigned threads, unsigned max_threads, backend requested,
                                    std::string& fallback_reason) {
  if (requested != backend::automatic) {
    for (const engine_backend& b : k_backends) {
      if (b.kind != requested) continue;
      if (b.make == nullptr) throw std::system_error(ENOTSUP, std::generic_category(), b.unavailable());
      return b.make(pool, threads, max_threads);
    }
    std::string ours;
    for (const engine_backend& b : k_backends)
      ours += fmt::format("{}{}", ours.empty() ? "" : " or ", to_string(b.kind));
    throw std::system_error(
        ENOTSUP, std::generic_category(),
        fmt::format("the {} backend {}; on Linux use {}", to_string(requested),
                    requested == backend::iocp ? "exists only on Windows" : "does not exist", ours));
  }
  auto passed_over = [&](const std::string& why) {
    if (!fallback_reason.empty()) fallback_reason += "; ";
    fallback_reason += why;
  };
  for (const engine_backend& b : k_backends) {
    if (b.unavailable != nullptr) {
      if (const std::string& why = b.unavailable(); !why.empty()) {
        passed_over(why);
        continue;
      }
    }
    if (&b == &k_backends[std::size(k_backends) - 1]) return b.make(pool, threads, max_threads);  // last resort
    try {
      return b.make(pool, threads, max_threads);
    } catch (const std::system_error& e) {
      passed_over(e.what());
    }
  }
  throw std::system_error(ENOTSUP, std::generic_category(), "no backend can start here: " + fallback_reason);
}

}  // namespace

pool_impl::pool_impl(thread_pool& owner, pool_options options) : options_(std::move(options)), http_(owner) {
  posix::platform::init_fences();
  const thread_counts counts = thread_counts_for(options_);
  engine_ = make_engine(*this, counts.base, counts.max, requested_backend(options_), fallback_reason_);
  sched_ = std::make_unique<scheduler>(*this, counts.base, counts.max);
  try {
    sched_->start(*engine_);
    register_pool(this);
  } catch (...) {
    sched_->stop();
    engine_->stop();
    throw;
  }
  detail::log_format(options_, log_level::info, "w3tp pool: backend {}, {} threads (at most {})", to_string(kind()),
                     counts.base, counts.max);
  if (!fallback_reason_.empty())
    detail::log_format(options_, log_level::warning, "w3tp pool: not the first choice of backend: {}",
                       fallback_reason_);
}

pool_impl::~pool_impl() { unregister_pool(this); }

// The count against shutdown is a Dekker pair: these two write a shard and then read the shutdown
// state, shutdown writes the state and then reads every shard, with a light fence here and a heavy one there (see
// platform::light_fence). A worker's shard is written by its own thread only, so a plain store will do;
// threads outside the pool share external_owed_ and add to it.
void pool_impl::add_owed(std::int64_t by) noexcept {
  worker* w = t_worker;
  if (w != nullptr && w->sched == sched_.get())
    w->owed.store(w->owed.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  else
    external_owed_.fetch_add(by, std::memory_order_relaxed);
  posix::platform::light_fence();
}

bool pool_impl::owe_routine() noexcept {
  add_owed(1);
  if (stop_.running() && !stale()) return true;
  pay_routine();
  return false;
}

void pool_impl::pay_routine() noexcept {
  add_owed(-1);
  if (!stop_.running()) {
    owed_epoch_.fetch_add(1, std::memory_order_seq_cst);
    owed_epoch_.notify_all();
  }
}

std::int64_t pool_impl::owed_total() noexcept {
  posix::platform::heavy_fence();  // the rare side of the pair (see add_owed)
  std::int64_t total = external_owed_.load(std::memory_order_relaxed);
  for (unsigned i = 0, n = sched_->slots(); i < n; ++i)
    total += sched_->worker_at(i).owed.load(std::memory_order_relaxed);
  return total;
}

void pool_impl::add_thread() noexcept {
  if (stale()) return;
  sched_->add_thread();
  detail::log_format(options_, log_level::info, "IncrementThreadCount: {} threads", sched_->thread_count());
}

pool_stats pool_impl::stats() const noexcept {
  pool_stats s;
  s.active_backend = engine_->kind();
  if (stale()) return s;
  s.threads = sched_->thread_count();
  s.starvation_threads = sched_->starvation_threads();
  std::int64_t owed = external_owed_.load(std::memory_order_relaxed);
  for (unsigned i = 0, n = sched_->slots(); i < n; ++i) {
    const worker& w = sched_->worker_at(i);
    if (w.in_routine.load(std::memory_order_relaxed) && !w.exited.load(std::memory_order_relaxed)) ++s.busy_threads;
    owed += w.owed.load(std::memory_order_relaxed);
    s.completions += w.completions.load(std::memory_order_relaxed);
    s.posts += w.posts.load(std::memory_order_relaxed);
  }
  // The shards are read without the heavy fence shutdown uses: a snapshot, never negative.
  s.pending = owed > 0 ? static_cast<std::uint64_t>(owed) : 0;
  return s;
}

void pool_impl::on_exception(std::exception_ptr e) noexcept { handle_routine_exception(options_, e); }

HRESULT pool_impl::associate(HANDLE h, LPOVERLAPPED_COMPLETION_ROUTINE fn, routine_base* callable) noexcept {
  std::unique_ptr<routine_base> owned(callable);
  handle_ref ref(h);
  if (!ref) return HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
  if (fn == nullptr && callable == nullptr) return E_INVALIDARG;
  if (!ref->has(hf_overlapped)) return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
  if (!accepting()) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
  handle_slot& s = *ref.get();
  // Already associated (looked at before the lock too: in a child of fork() the lock of a parent's
  // handle may be held by a thread that does not exist there).
  if (s.pool.load(std::memory_order_acquire) != nullptr) return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
  small_lock lock(s.lock);
  if (s.pool.load(std::memory_order_relaxed) != nullptr) return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
  if (DWORD err = engine_->attach(s); err != ERROR_SUCCESS) return HRESULT_FROM_WIN32(err);
  if (callable != nullptr) {
    s.callable = owned.release();
    s.set(hf_callable);
  } else {
    s.fn = fn;
  }
  retain();
  s.pool.store(this, std::memory_order_release);
  return S_OK;
}

HRESULT pool_impl::post(LPOVERLAPPED_COMPLETION_ROUTINE fn, DWORD error, DWORD bytes, OVERLAPPED* ov) noexcept {
  if (fn == nullptr) return E_INVALIDARG;
  if (!owe_routine()) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
  op_record* op = alloc_op();
  if (op == nullptr) {
    pay_routine();
    return E_OUTOFMEMORY;
  }
  op->kind_ = k_item_post;
  op->set_code(op_code::post);
  op->post_fn = fn;
  op->error = error;
  op->done = bytes;
  op->ov = ov;
  sched_->push(op);
  return S_OK;
}

void pool_impl::submit_task(task_base* t) noexcept {
  if (!owe_routine()) {
    t->complete_(t, false);  // a pool that is shut down destroys work without running it
    return;
  }
  // The task rides in an operation record (a per-thread free list, no allocation), so that the public
  // header needs no queue type.
  op_record* op = alloc_op();
  if (op == nullptr) {
    pay_routine();
    t->complete_(t, false);
    guarded([] { throw std::bad_alloc(); });  // the pool's exception policy hears of the lost task
    return;
  }
  op->kind_ = k_item_task;
  op->task = t;
  sched_->push(op);
}

void pool_impl::shutdown() {
  // A parent's pool in a child of fork(): no threads to stop, and its locks may be held by threads that
  // do not exist here (src/posix/fork.cpp).
  if (stale()) return;
  worker* self = sched_->current();
  // A second call waits for the first, except from a pool thread: the first call is waiting for that
  // thread's routine to return.
  if (!stop_.begin(self == nullptr)) return;
  // Cancel what would never finish by itself: pending operations on pipes, sockets and other streams.
  for_each_handle([this](handle_slot* h) {
    if (h->pool.load(std::memory_order_acquire) != this || h->kind == object_kind::file) return;
    for_each_pending(*h, [this](op_record& op) {
      if ((op.flags.fetch_or(of_cancel, std::memory_order_seq_cst) & of_cancel) == 0) engine_->cancel(op);
    });
  });
  // Wait until every owed routine has run (the calling routine itself excepted).
  std::int64_t own = (self != nullptr && self->in_routine.load(std::memory_order_relaxed)) ? 1 : 0;
  for (;;) {
    std::uint32_t epoch = owed_epoch_.load(std::memory_order_seq_cst);
    if (owed_total() <= own) break;
    if (self == nullptr) {
      owed_epoch_.wait(epoch, std::memory_order_seq_cst);
      continue;
    }
    // Called from a routine: completions may be due on this very thread's ring or queue, which it
    // cannot serve while it waits here. Ask an idle thread to look at busy threads' work (the
    // engine's watchdog), and look again shortly; this is the rare path of a routine that shuts its
    // own pool down.
    engine_->arm_watchdog();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  sched_->stop();
  // From a routine, this thread goes back to its worker loop (to leave it) after this call: the engine
  // stays up until the pool's last reference goes (~pool_impl), which is after that.
  if (self == nullptr) engine_->stop();
  stop_.finish();
}

}  // namespace w3tp::detail
