// SPDX-License-Identifier: MIT
// The io_uring backend: one ring per pool thread.
//
// A pool thread reaps a batch of completions from its own ring into its local queue and runs their
// routines; I/O started by a routine goes into the same ring and is submitted once per loop.
//
// Who may submit on a ring: io_uring cancels a thread's requests when that thread exits, and a
// submission sends every request queued in the ring's SQ, whoever prepared it. So only pool threads
// ever call io_uring_submit, and no pool thread exits before the pool stops (one that leaves the pool
// parks, see scheduler::park). Application threads talk to a ring without touching it: an operation
// started outside the pool becomes an item on the pool's global queue that a pool thread turns into a
// request; a wake-up is a write to the ring's eventfd, on which the ring's owner keeps a read pending;
// a cancel from outside becomes an item that a pool thread submits on the operation's home ring (a
// cancel is only found on the ring that has the request).
//
// Rule 9 of API.md: when a pool thread is busy in a routine while its ring holds completions that are
// due (or requests it prepared but has not submitted), an idle worker is woken by a 1 ms watchdog
// (an IORING_OP_TIMEOUT on its own ring) and submits or reaps on the busy thread's behalf. Rings are
// created without COOP_TASKRUN or DEFER_TASKRUN so that a busy thread's task_work still runs (and
// posts its completions) without that thread's help.
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "posix/core.hpp"
#include "posix/results.hpp"
#include "posix/signals.hpp"

// W3TP_TSAN comes from posix/platform.hpp.
#ifdef W3TP_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace w3tp::posix {

namespace {

// The kernel orders everything the submitting thread wrote to an operation before the completion
// that another thread reaps (the SQ tail is stored with release, the CQ tail read with acquire), but
// ThreadSanitizer cannot see an edge that passes through the kernel. These two tell it, and cost
// nothing in other builds.
inline void kernel_handoff_release([[maybe_unused]] void* op) noexcept {
#ifdef W3TP_TSAN
  __tsan_release(op);
#endif
}
inline void kernel_handoff_acquire([[maybe_unused]] void* op) noexcept {
#ifdef W3TP_TSAN
  __tsan_acquire(op);
#endif
}

constexpr unsigned k_ring_entries = 256;
constexpr unsigned k_reap_batch = 64;
// user_data values below 4096 are the engine's own requests; operations are op_record pointers.
constexpr std::uint64_t k_tag_wake = 1;
constexpr std::uint64_t k_tag_cancel = 3;
constexpr std::uint64_t k_tag_timer = 4;                   // a 1 ms look at busy threads (help(), arm_watchdog())
constexpr std::uint8_t k_item_submit = k_item_engine + 1;  // an operation to turn into a request
constexpr std::uint8_t k_item_cancel = k_item_engine + 2;  // a cancel_item

// Cache-line aligned (and so a multiple of 64 bytes): two rings' states allocated side by side shared a
// line, and each thread's per-request in_flight update hit the line the other ring's owner was writing
// (perf: reap_locked 2.3% of the 2-thread file run, 80% of it on that one locked decrement).
struct alignas(64) ring_state {
  struct io_uring ring;
  small_mutex sq_mu;  // get_sqe / submit
  small_mutex cq_mu;  // reaping
  // Operations in flight (prepared, submitted or not, and not reaped yet) are prepared - reaped. Each
  // counter has one writer at a time, so neither needs a read-modify-write: `prepared` is written only
  // by the ring's owner (only it prepares requests on its ring), `reaped` only under cq_mu.
  std::atomic<unsigned> prepared{0};
  std::atomic<unsigned> reaped{0};
  // `reaped` first: whatever it counts was prepared before, so the difference never wraps.
  unsigned in_flight() const noexcept {
    const unsigned r = reaped.load(std::memory_order_acquire);
    return prepared.load(std::memory_order_acquire) - r;
  }
  bool ok = false;
  int wake_fd = -1;                      // written by wake(); the ring keeps a read pending on it
  std::uint64_t wake_value = 0;          // that read's buffer
  std::atomic<bool> timer_armed{false};  // a k_tag_timer request is pending on this ring (one at a time)
  std::atomic<bool> wake_armed{false};   // the read on wake_fd is queued or pending
  // The owner's routine count (worker::routines) when a helper last found it busy (see help()).
  std::atomic<std::uint32_t> help_seen{0};
};

/// A cancel asked for by a thread that must not submit on rings (not a pool thread): a pool thread submits it.
struct cancel_item : queue_node {
  handle_slot* h = nullptr;  // holds a reference
  op_record* op = nullptr;   // looked up again in h's pending list before use
};

std::string describe_setup_error(int err) {
  const char* why = "";
  switch (err) {
    case EPERM: why = " (blocked by seccomp or kernel.io_uring_disabled)"; break;
    case ENOSYS: why = " (this kernel has no io_uring)"; break;
    case ENOMEM: why = " (locked-memory limit too low: raise RLIMIT_MEMLOCK)"; break;
    case EINVAL: why = " (setup flags or sizes unknown to this kernel)"; break;
    default: break;
  }
  return fmt::format("io_uring_setup: {}{}", std::strerror(err), why);
}

// Sets up a ring; 0 or a negative errno.
int setup_ring(struct io_uring& ring, unsigned entries) {
  struct io_uring_params p = {};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 4;
  int r = io_uring_queue_init_params(entries, &ring, &p);
  if (r == -EINVAL) {
    // An old kernel without CQSIZE: the plain set-up (completions overflow into the kernel's list).
    std::memset(&p, 0, sizeof p);
    r = io_uring_queue_init_params(entries, &ring, &p);
  }
  if (r == 0 && (p.features & IORING_FEAT_NODROP) == 0) {
    io_uring_queue_exit(&ring);
    return -EOPNOTSUPP;
  }
  return r;
}

/// Why io_uring cannot be used, and the errno that says so (0 and "" when it can).
struct probe_result {
  int error = 0;
  std::string why;
};

probe_result probe_uring() {
  struct io_uring ring;
  int r = setup_ring(ring, 8);
  if (r == -EOPNOTSUPP)
    return {EOPNOTSUPP, "io_uring: this kernel can drop completions (no IORING_FEAT_NODROP; Linux 5.5+ needed)"};
  if (r < 0) return {-r, describe_setup_error(-r)};
  std::string why;
  struct io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    why = "io_uring: the kernel cannot be probed for opcodes (Linux 5.6+ needed)";
  } else {
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_READ, "READ"},
        {IORING_OP_WRITE, "WRITE"},
        {IORING_OP_RECV, "RECV"},
        {IORING_OP_SEND, "SEND"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        {IORING_OP_POLL_ADD, "POLL_ADD"},
        {IORING_OP_NOP, "NOP"},
        {IORING_OP_TIMEOUT, "TIMEOUT"},
    };
    for (auto [op, name] : needed) {
      if (!io_uring_opcode_supported(probe, op)) {
        why = fmt::format("io_uring: the kernel lacks IORING_OP_{} (Linux 5.6+ needed)", name);
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  return {why.empty() ? 0 : EOPNOTSUPP, why};
}

const probe_result& probe_once() {
  static const probe_result result = probe_uring();
  return result;
}

class uring_engine final : public engine {
 public:
  uring_engine(pool_impl& pool, unsigned base_threads, unsigned max_threads) : pool_(pool) {
    // The system_error carries the probe's errno (EPERM under seccomp) and its sentence.
    if (const probe_result& probe = probe_once(); probe.error != 0)
      throw std::system_error(probe.error, std::generic_category(), probe.why);
    // The base threads' rings are made here, so that a failure (a memlock limit reached by the
    // n-th ring, say) is the constructor's exception, not a thread's.
    // One slot per possible thread, never resized: other threads index it without a lock.
    slot_count_ = std::max(base_threads, max_threads);
    rings_.resize(slot_count_);
    live_ = std::make_unique<std::atomic<ring_state*>[]>(slot_count_);
    for (unsigned i = 0; i < base_threads; ++i) {
      auto& slot = rings_[i];
      int err = 0;
      slot = make_ring(err);
      if (!slot) {
        stop();
        throw std::system_error(err, std::generic_category(),
                                err == EMFILE || err == ENFILE
                                    ? std::string("io_uring backend: no descriptor for a ring")
                                    : describe_setup_error(err));
      }
    }
  }
  ~uring_engine() override {
    stop();
    for (auto& rs : rings_) {
      if (rs && rs->wake_fd >= 0) ::close(rs->wake_fd);
      if (rs) rs->wake_fd = -1;
    }
  }

  backend kind() const noexcept override { return backend::io_uring; }

  DWORD attach(handle_slot&) noexcept override { return ERROR_SUCCESS; }
  void detach(handle_slot&) noexcept override {}
  // Requests hold their own reference to the file: the descriptor is closed once every cancelled
  // request has completed (its final release), which is what sends a socket's FIN.
  bool close_early(handle_slot&) noexcept override { return false; }

  void submit(op_record& op) noexcept override {
    worker* w = pool_.sched().current();
    ring_state* rs = w != nullptr ? static_cast<ring_state*>(w->engine_state.load(std::memory_order_acquire)) : nullptr;
    if (rs == nullptr) {
      // Not a pool thread (or one without a ring): a pool thread makes the request.
      op.kind_ = k_item_submit;
      pool_.sched().push_global(&op);
      return;
    }
    prepare(*w, *rs, op);
  }

  void cancel(op_record& op) noexcept override {
    // Called with op's pending-list lock held, after of_cancel was set by a read-modify-write of the flags. A
    // request is only found on the ring that has it. prepare() stores `home` and then sets of_request by
    // a read-modify-write of the same flags (release), which also reads of_cancel: whichever of the two
    // came second in the flags' order sees the other, and a cancel that sees of_request sees `home`.
    if ((op.flags.load(std::memory_order_acquire) & of_request) == 0) return;  // prepare() sees of_cancel
    const std::uint16_t home = op.home.load(std::memory_order_relaxed);
    worker* w = pool_.sched().current();
    if (w == nullptr && hand_over_cancel(op)) return;
    // Out of memory for the hand-over: submit from here after all. A ring that takes nothing now gets
    // the cancel again through a hand-over.
    if (!submit_cancel(*rings_[home], op)) hand_over_cancel(op);
  }

  void worker_start(worker& w) override {
    ring_state* rs;
    {
      std::lock_guard lock(rings_mu_);
      if (w.index >= rings_.size()) return;  // cannot happen: one slot per possible thread
      if (!rings_[w.index]) {
        int err = 0;
        rings_[w.index] = make_ring(err);
        if (!rings_[w.index]) return;  // an extra thread without a ring still runs routines; others make its requests
      }
      rs = rings_[w.index].get();
    }
    // The wake-up read is this thread's own request (submitted by its first poll).
    {
      small_lock lock(rs->sq_mu);
      arm_wake(*rs);
    }
    w.engine_state.store(rs, std::memory_order_release);
    live_[w.index].store(rs, std::memory_order_release);  // for other threads' help()
  }

  bool poll(worker& w, bool block) noexcept override {
    auto* rs = static_cast<ring_state*>(w.engine_state.load(std::memory_order_acquire));
    if (rs == nullptr) return help(w);
    flush(*rs);
    bool reaped = reap(w, *rs);
    if (reaped || !block) return reaped;
    if (help(w)) return true;
    // Sleep until a completion is posted. Not io_uring_wait_cqe: it reads the CQ head without
    // synchronisation, and helpers advance it (under cq_mu) from other threads.
    if (!rs->wake_armed.load(std::memory_order_relaxed)) {
      small_lock lock(rs->sq_mu);
      arm_wake(*rs);
      if (rs->wake_armed.load(std::memory_order_relaxed)) io_uring_submit(&rs->ring);
    }
    if (cq_pending(*rs) == 0) {
      if (!rs->wake_armed.load(std::memory_order_relaxed)) {
        // No wake-up read on the ring (the kernel took no request): look again in a millisecond.
        struct pollfd p = {rs->ring.ring_fd, POLLIN, 0};
        ::poll(&p, 1, 1);
        return reap(w, *rs);
      }
      int r = io_uring_enter(rs->ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS, nullptr);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) return false;
    }
    return reap(w, *rs);
  }

  void wake(worker* w) noexcept override {
    if (w != nullptr) {
      if (auto* rs = static_cast<ring_state*>(w->engine_state.load(std::memory_order_acquire))) signal(*rs);
      return;
    }
    // Nobody in particular (shutdown): every ring.
    std::lock_guard lock(rings_mu_);
    for (auto& r : rings_)
      if (r) signal(*r);
  }

  void arm_watchdog() noexcept override {
    worker* self = pool_.sched().current();
    if (self == nullptr) {
      // An application thread does not submit on a ring: it wakes an idle worker at once.
      wake(pool_.sched().idle_worker());
      return;
    }
    // A timer on an idle thread's ring, unless one is pending there already (that thread then wakes
    // within a millisecond anyway). Nobody idle: a thread that goes idle later looks at the busy
    // rings before it sleeps. An idle thread whose timer is pending may get busy before it fires: it
    // asks again then, before its own routine (scheduler::run, needs_watch).
    worker* idle = pool_.sched().idle_worker();
    auto* rs = idle != nullptr ? static_cast<ring_state*>(idle->engine_state.load(std::memory_order_acquire)) : nullptr;
    if (rs != nullptr) arm_timer(*rs, idle);
  }

  // Puts a 1 ms timer on rs (whose owner is w, or nullptr for this thread), unless one is pending.
  void arm_timer(ring_state& rs, worker* w) noexcept {
    if (rs.timer_armed.load(std::memory_order_relaxed) || rs.timer_armed.exchange(true, std::memory_order_acq_rel))
      return;
    static struct __kernel_timespec ts = {0, 1'000'000};
    small_lock lock(rs.sq_mu);
    struct io_uring_sqe* sqe = get_sqe(rs);
    if (sqe == nullptr) {
      rs.timer_armed.store(false, std::memory_order_release);  // the next one may try again
      if (w != nullptr) wake(w);
      return;
    }
    io_uring_prep_timeout(sqe, &ts, 0, 0);
    io_uring_sqe_set_data64(sqe, k_tag_timer);
    io_uring_submit(&rs.ring);
  }

  void run_item(worker& w, queue_node* n) noexcept override {
    if (n->kind_ == k_item_cancel) return run_cancel(static_cast<cancel_item*>(n));
    auto& op = *static_cast<op_record*>(n);
    auto* rs = static_cast<ring_state*>(w.engine_state.load(std::memory_order_acquire));
    if (rs == nullptr) {
      pool_.sched().push_global(&op);  // a thread without a ring cannot make the request
      return;
    }
    prepare(w, *rs, op);
  }

  bool needs_watch(worker& w) noexcept override {
    // in_flight counts prepared requests too, submitted or not.
    auto has_requests = [](ring_state* rs) { return rs != nullptr && (rs->in_flight() != 0 || cq_pending(*rs) != 0); };
    if (has_requests(static_cast<ring_state*>(w.engine_state.load(std::memory_order_acquire)))) return true;
    // Another busy thread's ring, which w may have been the one to watch (see help()).
    const scheduler& s = pool_.sched();
    for (unsigned i = 0, used = std::min(s.slots(), slot_count_); i < used; ++i) {
      std::uint32_t seq = 0;
      if (i != w.index && s.in_routine(i, seq) && has_requests(live_[i].load(std::memory_order_acquire))) return true;
    }
    return false;
  }

  bool can_retire(worker& w) noexcept override {
    // Its own queued requests go in first (the wake-up read re-armed by its last reap, say); then it
    // may leave if none of its operations is in flight. The pending wake-up read is cancelled by the
    // kernel when the thread exits, and whoever next owns this slot's ring reaps that.
    auto* rs = static_cast<ring_state*>(w.engine_state.load(std::memory_order_acquire));
    if (rs == nullptr) return true;
    flush(*rs);
    return rs->in_flight() == 0;
  }

  // Only operations count: a ring's own requests (wake-up reads, timers) are no work for a thread.
  bool completions_waiting() noexcept override {
    std::lock_guard lock(rings_mu_);
    for (auto& rs : rings_) {
      if (!rs || !rs->ok) continue;
      bool found = false;
      if (cq_pending(*rs) != 0 && rs->cq_mu.try_lock()) {
        const unsigned mask = rs->ring.cq.ring_mask;
        const unsigned tail = __atomic_load_n(rs->ring.cq.ktail, __ATOMIC_ACQUIRE);
        for (unsigned i = *rs->ring.cq.khead; i != tail && !found; ++i)
          found = rs->ring.cq.cqes[i & mask].user_data >= 4096;
        rs->cq_mu.unlock();
      }
      if (!found && rs->sq_mu.try_lock()) {
        const unsigned mask = rs->ring.sq.ring_mask;
        for (unsigned i = rs->ring.sq.sqe_head; i != rs->ring.sq.sqe_tail && !found; ++i)
          found = rs->ring.sq.sqes[i & mask].user_data >= 4096;
        rs->sq_mu.unlock();
      }
      if (found) return true;
    }
    return false;
  }

  // Unmapping the child's copy of a ring and closing its descriptor leaves the parent's ring as it is.
  // No lock: rings_mu_ may be held by a parent thread that does not exist in the child.
  void forget_in_child() noexcept override {
    for (auto& rs : rings_) {
      if (!rs) continue;
      if (rs->ok) io_uring_queue_exit(&rs->ring);
      rs->ok = false;
      if (rs->wake_fd >= 0) ::close(rs->wake_fd);
      rs->wake_fd = -1;
    }
  }

  // The rings go now; the wake-up eventfds stay open until the engine is destroyed (with the pool's
  // last reference): a thread whose call raced shutdown may still signal one after its operation ran.
  void stop() noexcept override {
    std::lock_guard lock(rings_mu_);
    for (auto& rs : rings_) {
      if (rs && rs->ok) {
        io_uring_queue_exit(&rs->ring);
        rs->ok = false;
      }
    }
  }

 private:
  /// A free SQE of rs (sq_mu held), submitting what is queued to make room; nullptr when the kernel
  /// takes nothing after a few tries (then the caller fails or retries what it was about to queue).
  static struct io_uring_sqe* get_sqe(ring_state& rs) noexcept {
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (struct io_uring_sqe* sqe = io_uring_get_sqe(&rs.ring)) return sqe;
      int r = io_uring_submit(&rs.ring);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) break;
    }
    return io_uring_get_sqe(&rs.ring);
  }

  /// Completions waiting in rs's CQ. Unlike io_uring_cq_ready, both indexes are read atomically: other
  /// threads advance the head (under cq_mu) while this one looks without the lock.
  static unsigned cq_pending(ring_state& rs) noexcept {
    unsigned tail = __atomic_load_n(rs.ring.cq.ktail, __ATOMIC_ACQUIRE);
    unsigned head = __atomic_load_n(rs.ring.cq.khead, __ATOMIC_ACQUIRE);
    return tail - head;
  }

  /// A ring with its wake-up eventfd; nullptr (and err) when either cannot be made.
  static std::unique_ptr<ring_state> make_ring(int& err) noexcept {
    auto rs = std::unique_ptr<ring_state>(new (std::nothrow) ring_state);
    if (!rs) {
      err = ENOMEM;
      return nullptr;
    }
    rs->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rs->wake_fd < 0) {
      err = errno;
      return nullptr;
    }
    if (int r = setup_ring(rs->ring, k_ring_entries); r < 0) {
      err = -r;
      ::close(rs->wake_fd);
      return nullptr;
    }
    rs->ok = true;
    return rs;
  }

  /// Queues the read on the wake-up eventfd (sq_mu held); it completes at the next signal(). When no
  /// SQE can be had, wake_armed stays false and the owner sleeps in short steps until it is re-armed.
  static void arm_wake(ring_state& rs) noexcept {
    struct io_uring_sqe* sqe = get_sqe(rs);
    rs.wake_armed.store(sqe != nullptr, std::memory_order_relaxed);
    if (sqe == nullptr) return;
    io_uring_prep_read(sqe, rs.wake_fd, &rs.wake_value, sizeof rs.wake_value, 0);
    io_uring_sqe_set_data64(sqe, k_tag_wake);
  }

  /// Wakes the ring's owner from io_uring_wait_cqe without touching the ring.
  static void signal(ring_state& rs) noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(rs.wake_fd, &one, sizeof one);
    (void)r;  // EAGAIN: the counter is full, so a wake-up is pending anyway
  }

  /// Submits a cancel of op on rs; false when the ring takes no request now (the caller retries).
  static bool submit_cancel(ring_state& rs, op_record& op) noexcept {
    small_lock lock(rs.sq_mu);
    struct io_uring_sqe* sqe = get_sqe(rs);
    if (sqe == nullptr) return false;
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(&op), 0);
    io_uring_sqe_set_data64(sqe, k_tag_cancel);
    io_uring_submit(&rs.ring);
    return true;
  }

  /// Hands a cancel of op to a pool thread (op's pending-list lock held): the caller may not submit on rings,
  /// or the ring took no request. False when out of memory.
  bool hand_over_cancel(op_record& op) noexcept {
    auto* item = new (std::nothrow) cancel_item;
    if (item == nullptr) return false;
    retain_handle(op.h);
    item->h = op.h;
    item->op = &op;
    item->kind_ = k_item_cancel;
    pool_.sched().push_global(item);
    return true;
  }

  /// A cancel handed over by a thread that may not submit: the operation is looked up again (it may
  /// have completed, and its record may serve another operation by now).
  void run_cancel(cancel_item* item) noexcept {
    bool again = false;
    for_each_pending(*item->h, [&](op_record& p) {
      if (&p != item->op) return;
      const std::uint8_t f = p.flags.load(std::memory_order_acquire);
      // The ring takes no request now: try again after what is queued ahead of it.
      if ((f & of_cancel) != 0 && (f & of_request) != 0 &&
          !submit_cancel(*rings_[p.home.load(std::memory_order_relaxed)], p))
        again = true;
    });
    if (again) {
      pool_.sched().push_global(item);
      return;
    }
    release_handle(item->h);
    delete item;
  }

  static void flush(ring_state& rs) noexcept {
    small_lock lock(rs.sq_mu);  // the SQ tail is written by other threads too (cancels, wake re-arms)
    if (io_uring_sq_ready(&rs.ring) != 0) io_uring_submit(&rs.ring);
  }

  void make_due(worker& w, op_record& op) noexcept {
    op.kind_ = k_item_done;
    pool_.sched().push_local(w, &op);
  }

  // Turns an accepted operation into a request on worker w's ring (w is the calling thread). The
  // handle's lock is not needed: the operation holds a reference (the descriptor stays open until its
  // last release), and the race with cancel() is settled by `home` and the cancel flag (see cancel()).
  void prepare(worker& w, ring_state& rs, op_record& op) noexcept {
    handle_slot& h = *op.h;
    if (op.code() == op_code::write && op.len == 0) {
      finish(op, ERROR_SUCCESS);
      make_due(w, op);
      return;
    }
    op.home.store(static_cast<std::uint16_t>(w.index), std::memory_order_relaxed);
    bool queued = false, refused = false;
    {
      small_lock sl(rs.sq_mu);
      // One read-modify-write publishes `home` (of_request) and reads of_cancel (see cancel()).
      if ((op.flags.fetch_or(of_request, std::memory_order_acq_rel) & of_cancel) == 0) {
        struct io_uring_sqe* sqe = get_sqe(rs);
        if (sqe == nullptr) {
          refused = true;
        } else {
          prep_sqe(sqe, h, op);
          io_uring_sqe_set_data(sqe, &op);
          kernel_handoff_release(&op);
          rs.prepared.store(rs.prepared.load(std::memory_order_relaxed) + 1, std::memory_order_release);
          queued = true;
        }
      }
    }
    if (!queued) {
      // Cancelled before it became a request, or the kernel takes no request on this ring now.
      finish(op, refused ? ERROR_NO_SYSTEM_RESOURCES : ERROR_OPERATION_ABORTED);
      make_due(w, op);
      return;
    }
    // A routine that blocks after starting I/O must not keep it unsubmitted while a thread is idle.
    if (w.in_routine.load(std::memory_order_relaxed) && pool_.sched().idle_count() > 0) arm_watchdog();
  }

  // One request per operation code; a new code that is not handled here fails the build (-Wswitch).
  static void prep_sqe(struct io_uring_sqe* sqe, const handle_slot& h, const op_record& op) noexcept {
    switch (op.code()) {
      case op_code::read: prep_read(sqe, h, op); return;
      case op_code::write: prep_write(sqe, h, op); return;
      case op_code::post: io_uring_prep_nop(sqe); return;  // never submitted; complete() fails it
    }
  }

  static void prep_read(struct io_uring_sqe* sqe, const handle_slot& h, const op_record& op) noexcept {
    if (op.len == 0 && h.kind != object_kind::file)
      io_uring_prep_poll_add(sqe, h.fd, POLLIN | POLLRDHUP);  // a zero-byte read waits for data
    else if (h.kind == object_kind::socket)
      io_uring_prep_recv(sqe, h.fd, op.buf, op.len, 0);
    else
      io_uring_prep_read(sqe, h.fd, op.buf, op.len, h.kind == object_kind::file ? op.offset() : ~std::uint64_t{0});
  }

  // The rest of a write (op.done bytes went already, see write_result).
  static void prep_write(struct io_uring_sqe* sqe, const handle_slot& h, const op_record& op) noexcept {
    char* p = op.buf + op.done;
    unsigned left = op.len - op.done;
    if (h.kind == object_kind::socket)
      io_uring_prep_send(sqe, h.fd, p, left, MSG_NOSIGNAL);
    else
      io_uring_prep_write(sqe, h.fd, p, left, h.kind == object_kind::file ? op.offset() + op.done : ~std::uint64_t{0});
  }

  // Reaps rs's completions into worker w's local queue.
  bool reap(worker& w, ring_state& rs) noexcept {
    if (cq_pending(rs) == 0) return false;
    small_lock lock(rs.cq_mu);
    return reap_locked(w, rs) != 0;
  }

  // Completes a batch of rs's completions on worker w; the caller holds rs.cq_mu. The operations are
  // finished together (one lock per run on one handle) and made due here as one chain.
  unsigned reap_locked(worker& w, ring_state& rs) noexcept {
    struct io_uring_cqe* cqes[k_reap_batch];
    op_record* ops[k_reap_batch];
    DWORD errors[k_reap_batch];
    unsigned n = io_uring_peek_batch_cqe(&rs.ring, cqes, k_reap_batch), done = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (op_record* op = complete(w, rs, cqes[i]->user_data, cqes[i]->res, errors[done])) ops[done++] = op;
    }
    io_uring_cq_advance(&rs.ring, n);
    if (done != 0) {
      finish_batch(ops, errors, done);
      pool_.sched().push_local_chain(w, ops[0], ops[done - 1], done);
    }
    return n;
  }

  // One completion: the engine's own requests are handled here (nullptr); an operation that has ended
  // is returned with its result in `error`, to be finished by the caller; a short write goes on.
  op_record* complete(worker& w, ring_state& rs, std::uint64_t tag, int res, DWORD& error) noexcept {
    if (tag < 4096) {
      if (tag == k_tag_timer) rs.timer_armed.store(false, std::memory_order_release);
      if (tag == k_tag_wake) {
        rs.wake_armed.store(false, std::memory_order_relaxed);
        if (!pool_.sched().stopping()) {
          // Whoever reaped it re-arms it (any pool thread: none of them exits before the pool stops).
          small_lock lock(rs.sq_mu);
          arm_wake(rs);
        }
      }
      return nullptr;
    }
    rs.reaped.store(rs.reaped.load(std::memory_order_relaxed) + 1, std::memory_order_release);  // cq_mu held
    auto& op = *reinterpret_cast<op_record*>(static_cast<std::uintptr_t>(tag));
    kernel_handoff_acquire(&op);
    error = k_not_io_error;
    switch (op.code()) {
      case op_code::read: error = read_result(op, res); break;
      case op_code::write:
        if (!write_result(w, op, res, error)) return nullptr;  // the rest went on as a new request
        break;
      case op_code::post: break;  // posts never become requests
    }
    // CloseHandle or CancelIoEx got there first: an operation that ended without data (end of file, a
    // broken pipe after the close, the cancel itself) reports the cancel, as the call that asked for
    // it promised (the cancel may reach the ring after the close of another descriptor ended it).
    error = after_cancel(error, res, op);
    return &op;
  }

  // A read's completion: its Win32 error (op.done set to the bytes read).
  static DWORD read_result(op_record& op, int res) noexcept {
    const handle_slot& h = *op.h;
    if (op.len == 0 && h.kind != object_kind::file) {
      // The zero-byte read's poll result (its descriptor stays open while the operation holds h).
      return res > 0 ? zero_byte_read_error(h.kind, static_cast<unsigned>(res), h.fd) : read_error(h.kind, 0, res);
    }
    if (res > 0) op.done = static_cast<std::uint32_t>(res);
    return read_error(h.kind, op.len, res);
  }

  // A write's completion: false when the rest of a short write went on as a new request (no result
  // yet), else true with its Win32 error. The routine never sees a short success.
  bool write_result(worker& w, op_record& op, int res, DWORD& error) noexcept {
    if (res > 0) {
      op.done += static_cast<std::uint32_t>(res);
      if (op.done >= op.len) {
        error = ERROR_SUCCESS;
        return true;
      }
      auto* own = static_cast<ring_state*>(w.engine_state.load(std::memory_order_acquire));
      if (own != nullptr && !op.cancel_requested()) {
        prepare(w, *own, op);
        return false;
      }
      error = op.cancel_requested() ? ERROR_OPERATION_ABORTED : ERROR_IO_DEVICE;
      return true;
    }
    drain_write_signal(-res);  // this thread keeps both signals blocked
    error = write_error(op.h->kind, res);
    return true;
  }

  // Submits and reaps on behalf of threads that are busy in a routine. True if it reaped anything.
  bool help(worker& self) noexcept {
    bool reaped = false;
    bool still_busy = false;
    const scheduler& s = pool_.sched();
    for (unsigned i = 0, used = std::min(s.slots(), slot_count_); i < used; ++i) {
      std::uint32_t seq = 0;
      if (i == self.index || !s.in_routine(i, seq)) continue;
      ring_state* rs = live_[i].load(std::memory_order_acquire);
      if (rs == nullptr) continue;
      // Help only a routine that was already running when this thread last looked (a millisecond
      // ago at most, see the timer below): routines that return at once need no help, and submitting
      // their rings' requests one by one from here broke the owners' batches (measured: a third of
      // the io_uring_enter calls of the file workload submitted a single request).
      if (rs->help_seen.load(std::memory_order_relaxed) != seq) {
        rs->help_seen.store(seq, std::memory_order_relaxed);
      } else {
        // Pool threads never exit before the pool stops, so one may submit on another's behalf.
        if (rs->sq_mu.try_lock()) {
          if (io_uring_sq_ready(&rs->ring) != 0) io_uring_submit(&rs->ring);
          rs->sq_mu.unlock();
        }
        if (cq_pending(*rs) != 0 && rs->cq_mu.try_lock()) {
          reaped = reap_locked(self, *rs) != 0 || reaped;
          rs->cq_mu.unlock();
        }
      }
      if (rs->in_flight() != 0) still_busy = true;
    }
    // Keep looking every millisecond while a busy thread still has requests in flight: this thread is
    // about to sleep on its own ring, so the timer goes there (no one else has to be found idle).
    if (still_busy && !reaped) {
      if (auto* own = static_cast<ring_state*>(self.engine_state.load(std::memory_order_acquire)))
        arm_timer(*own, nullptr);
    }
    return reaped;
  }

  pool_impl& pool_;
  std::mutex rings_mu_;
  std::vector<std::unique_ptr<ring_state>> rings_;
  // rings_[i] once a thread of slot i has set it up, for threads that read it without rings_mu_ (help):
  // the engine's own view of which rings have owners, rather than the scheduler's workers.
  unsigned slot_count_ = 0;
  std::unique_ptr<std::atomic<ring_state*>[]> live_;
};

static_assert(backend_engine<uring_engine>, "the io_uring engine models the backend interface");

}  // namespace

const std::string& uring_unavailable_reason() { return probe_once().why; }

std::unique_ptr<engine> make_uring_engine(pool_impl& pool, unsigned base_threads, unsigned max_threads) {
  return std::make_unique<uring_engine>(pool, base_threads, max_threads);
}

}  // namespace w3tp::posix
