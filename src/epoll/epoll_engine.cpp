// SPDX-License-Identifier: MIT
// The epoll backend. Sockets, pipes and other pollable streams work by readiness: an operation is tried
// when it is started (its result still goes through the pool, never inline) and waits in its handle's
// FIFO (one per direction) only when the descriptor would block. Regular files cannot be polled: a read
// is tried with preadv2(RWF_NOWAIT) (a page-cache hit completes at once), everything else runs as a
// blocking call on a pool thread, which then runs the routine itself (one hop).
//
// One epoll instance serves every worker; registrations are edge-triggered and all I/O on a stream
// happens under its handle's lock, so readiness seen by two workers at once is harmless and a routine
// never sees EAGAIN.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

#include <fmt/format.h>

#include "posix/core.hpp"
#include "posix/results.hpp"
#include "posix/signals.hpp"

namespace w3tp::posix {

namespace {

// epoll tags below 2^32 are the engine's own descriptors; handles always carry a generation above.
constexpr std::uint64_t k_tag_wake = 1;
constexpr std::uint64_t k_tag_stop = 2;
constexpr std::uint64_t k_tag_timer = 3;
constexpr DWORD k_again = 0xFFFFFFFFu;  // "would block": wait for readiness
constexpr int k_max_events = 64;

// handle_slot::backend_flags
constexpr std::uint8_t bf_no_nowait_read = 1u << 0;  // preadv2(RWF_NOWAIT) unsupported on this file
constexpr std::uint8_t bf_pollable = 1u << 1;        // registered with epoll: served by readiness
constexpr std::uint8_t bf_nowait_off = 1u << 2;      // RWF_NOWAIT unsupported here: O_NONBLOCK was set

/// A stream's operations waiting for readiness, one FIFO per direction, kept in the handle slot itself
/// (handle_slot::backend_q; no allocation per handle): a circular list through next_ of which the slot
/// holds the tail (tail->next_ is the head). The handle's lock guards it.
class slot_fifo {
 public:
  explicit slot_fifo(queue_node*& tail) noexcept : tail_(tail) {}
  bool empty() const noexcept { return tail_ == nullptr; }
  queue_node* front() const noexcept { return tail_ == nullptr ? nullptr : tail_->next_; }
  void push(queue_node* n) noexcept {
    if (tail_ == nullptr) {
      n->next_ = n;
    } else {
      n->next_ = tail_->next_;
      tail_->next_ = n;
    }
    tail_ = n;
  }
  queue_node* pop() noexcept {
    queue_node* head = front();
    if (head == nullptr) return nullptr;
    if (head == tail_)
      tail_ = nullptr;
    else
      tail_->next_ = head->next_;
    head->next_ = nullptr;
    return head;
  }
  /// Removes n if it is queued; O(n).
  bool remove(queue_node* n) noexcept {
    if (tail_ == nullptr) return false;
    queue_node* prev = tail_;
    do {
      queue_node* it = prev->next_;
      if (it == n) {
        if (it == prev) {
          tail_ = nullptr;  // the only one
        } else {
          prev->next_ = it->next_;
          if (it == tail_) tail_ = prev;
        }
        it->next_ = nullptr;
        return true;
      }
      prev = it;
    } while (prev != tail_);
    return false;
  }

 private:
  queue_node*& tail_;
};

slot_fifo read_queue(handle_slot& h) noexcept { return slot_fifo(h.backend_q[0]); }
slot_fifo write_queue(handle_slot& h) noexcept { return slot_fifo(h.backend_q[1]); }

std::system_error sys_error(int err, const char* what) {
  return std::system_error(err, std::generic_category(), fmt::format("epoll backend: {} failed", what));
}

class epoll_engine final : public engine {
 public:
  explicit epoll_engine(pool_impl& pool) : pool_(pool) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw sys_error(errno, "epoll_create1");
    // A semaphore eventfd, level-triggered: n wake-ups stay visible until n waiters each took one, so
    // two quick wake-ups wake two threads (an edge-triggered one could merge them into one).
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (wake_fd_ < 0 || stop_fd_ < 0 || timer_fd_ < 0) {
      int err = errno;
      close_all();
      throw sys_error(err, "eventfd/timerfd");
    }
    // Wakes and watchdog ticks are edge-triggered (one waiter each); the stop signal is level-triggered
    // so that it reaches every waiter.
    if (!add(wake_fd_, EPOLLIN, k_tag_wake) || !add(stop_fd_, EPOLLIN, k_tag_stop) ||
        !add(timer_fd_, EPOLLIN | EPOLLET, k_tag_timer)) {
      int err = errno;
      close_all();
      throw sys_error(err, "epoll_ctl");
    }
  }
  ~epoll_engine() override { close_all(); }

  backend kind() const noexcept override { return backend::epoll; }

  DWORD attach(handle_slot& h) noexcept override {
    if (h.kind == object_kind::file) return ERROR_SUCCESS;
    h.backend_q[0] = h.backend_q[1] = nullptr;
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = reinterpret_cast<std::uintptr_t>(h.value());
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, h.fd, &ev) != 0) {
      int err = errno;
      // Not pollable (e.g. a character device without poll): served like a file, by blocking calls
      // on pool threads.
      if (err == EPERM) return ERROR_SUCCESS;
      return win32_from_errno(err, h.kind);
    }
    h.set_backend(bf_pollable);
    return ERROR_SUCCESS;
  }

  void detach(handle_slot& h) noexcept override {
    if (!h.has_backend(bf_pollable)) return;
    if (h.fd >= 0 && !stopped_.load(std::memory_order_acquire)) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, h.fd, nullptr);
    h.backend_q[0] = h.backend_q[1] = nullptr;
  }

  bool close_early(handle_slot& h) noexcept override {
    // A stream's I/O happens only under its lock, and every pending operation was just cancelled, so
    // the descriptor can be closed now: the peer sees the close at once, not when the last routine ran.
    if (!h.has_backend(bf_pollable) || h.fd < 0) return false;
    if (!stopped_.load(std::memory_order_acquire)) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, h.fd, nullptr);
    ::close(h.fd);
    h.fd = -1;
    return true;
  }

  void submit(op_record& op) noexcept override {
    handle_slot& h = *op.h;
    if (h.has_backend(bf_pollable)) {
      DWORD result;
      {
        small_lock lock(h.lock);
        if (op.cancel_requested()) {
          result = ERROR_OPERATION_ABORTED;
        } else {
          queue_node** q = fifo_of(h, op.code());
          result = q == nullptr ? k_not_io_error : slot_fifo(*q).empty() ? attempt(h, op) : k_again;
          if (result == k_again) {
            slot_fifo(*q).push(&op);
            return;
          }
        }
        finish_locked(op, result);
      }
      make_due(op);
      return;
    }
    if (op.cancel_requested()) {
      finish(op, ERROR_OPERATION_ABORTED);
      make_due(op);
      return;
    }
    // A file read that try_at_once could not serve from the page cache (or any other file operation):
    // a blocking call on a pool thread.
    op.kind_ = k_item_file_io;
    pool_.sched().push(&op);
  }

  // A file read served by the page cache ends inside ReadFile, at pread's cost and before it is linked
  // anywhere (no lock taken); its routine still runs through the pool. Anything else goes to submit().
  bool try_at_once(op_record& op) noexcept override {
    handle_slot& h = *op.h;
    if (op.code() != op_code::read || h.kind != object_kind::file || h.has_backend(bf_no_nowait_read)) return false;
    struct iovec iov = {op.buf, op.len};
    ssize_t n = ::preadv2(h.fd, &iov, 1, static_cast<off_t>(op.offset()), RWF_NOWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP || errno == EINTR)) {
      if (errno == EOPNOTSUPP) h.set_backend(bf_no_nowait_read);
      return false;
    }
    op.error = read_result(h, op, n);
    return true;
  }

  void cancel(op_record& op) noexcept override {
    // Called with the handle's lock held. A stream operation waiting for readiness is taken out of its
    // FIFO and completes now; a file operation completes when a pool thread reaches it (soon).
    handle_slot& h = *op.h;
    if (!h.has_backend(bf_pollable)) return;
    if (queue_node** q = fifo_of(h, op.code()); q != nullptr && slot_fifo(*q).remove(&op)) {
      finish_locked(op, ERROR_OPERATION_ABORTED);
      op.kind_ = k_item_done;
      pool_.sched().push(&op);
    }
  }

  bool poll(worker& w, bool block) noexcept override {
    struct epoll_event events[k_max_events];
    // One shared eventfd cannot wake a chosen thread, so DecrementThreadCount's wake may reach a base
    // thread instead of the extra one that should retire: extra threads (added by
    // IncrementThreadCount) look again every 20 ms while idle, so that they do leave.
    int n = ::epoll_wait(epfd_, events, k_max_events, !block ? 0 : (w.extra ? 20 : -1));
    if (n <= 0) return false;
    done_chain done;  // the batch's completions, in order
    for (int i = 0; i < n; ++i) {
      std::uint64_t tag = events[i].data.u64;
      if (tag == k_tag_stop) continue;
      if (tag == k_tag_wake) {
        std::uint64_t one;
        // EAGAIN: another thread took it. A wake-up is not addressed: this thread, busy or idle, may have
        // taken one sent to another (scheduler::wake_taken gives that one's claim back).
        if (::read(wake_fd_, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) pool_.sched().wake_taken(w);
        continue;
      }
      if (tag == k_tag_timer) {
        std::uint64_t ticks;
        [[maybe_unused]] ssize_t r = ::read(timer_fd_, &ticks, sizeof ticks);
        watchdog_armed_.store(false, std::memory_order_release);
        continue;
      }
      // A stale event for a handle closed since (even in this batch) finds nothing.
      handle_slot* h = acquire_handle(reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(tag)));
      if (h == nullptr) continue;
      {
        small_lock lock(h->lock);
        if (h->has_backend(bf_pollable) && h->fd >= 0) {
          std::uint32_t e = events[i].events;
          if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) drain(*h, read_queue(*h), done);
          if ((e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) drain(*h, write_queue(*h), done);
        }
      }
      release_handle(h);
    }
    // The whole batch is due here, as one chain: one lock and at most one wake-up for all of it. An idle
    // thread steals half of what waits behind a routine of this thread (scheduler::run wakes one), so
    // none of it waits for a routine that blocks (API.md, behaviour 9). Before, every completion after
    // the first went to the global queue, each with its lock, its read-modify-write and its wake-up.
    if (done.count == 0) return false;
    pool_.sched().push_local_chain(w, done.first, done.last, done.count);
    return true;
  }

  void wake(worker*) noexcept override {
    std::uint64_t one = 1;
    int fd = pool_.sched().stopping() ? stop_fd_ : wake_fd_;
    if (fd >= 0) [[maybe_unused]]
      ssize_t r = ::write(fd, &one, sizeof one);
  }

  void arm_watchdog() noexcept override {
    if (watchdog_armed_.exchange(true, std::memory_order_acq_rel)) return;
    struct itimerspec its = {};
    its.it_value.tv_nsec = 1'000'000;  // 1 ms
    ::timerfd_settime(timer_fd_, 0, &its, nullptr);
  }

  void run_item(worker&, queue_node* n) noexcept override {
    // k_item_file_io: a blocking file (or unpollable stream) operation, then its routine, on this thread.
    auto& op = *static_cast<op_record*>(n);
    DWORD result = op.cancel_requested() ? ERROR_OPERATION_ABORTED : blocking_io(*op.h, op);
    finish(op, result);
    deliver(op);
  }

  // An epoll descriptor is readable while events wait in it: poll() looks without taking them. Wake-up
  // tokens are no work, and one can be left with no claim behind it (a claimed thread that found work
  // before it slept; DecrementThreadCount's wake_extras): the starvation gate, which asks this while
  // every thread is in a routine, read one as a completion and added a thread with nothing due (seen
  // once under ASan in CI). So the tokens are taken out while epoll is asked (its poll re-checks each
  // ready descriptor) and put back after: a thread that meanwhile finds none sleeps until they are
  // back, microseconds later, and one that found its own gone only stays awake.
  bool completions_waiting() noexcept override {
    std::uint64_t taken = 0, one = 0;
    while (::read(wake_fd_, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) ++taken;  // EFD_SEMAPHORE
    struct pollfd p = {epfd_, POLLIN, 0};
    const bool ready = ::poll(&p, 1, 0) > 0;
    if (taken != 0) {
      [[maybe_unused]] ssize_t r = ::write(wake_fd_, &taken, sizeof taken);
    }
    return ready;
  }

  // The descriptors stay open until the engine is destroyed (with the pool's last reference): a thread
  // whose call raced shutdown may still write a wake-up after its operation ran.
  void stop() noexcept override { stopped_.store(true, std::memory_order_release); }

  // Closing the child's copy of the epoll descriptor leaves the parent's instance and its registrations
  // as they are (they belong to the open files, which the parent still holds).
  void forget_in_child() noexcept override {
    stopped_.store(true, std::memory_order_relaxed);
    close_all();
  }

 private:
  bool add(int fd, std::uint32_t events, std::uint64_t tag) noexcept {
    struct epoll_event ev = {};
    ev.events = events;
    ev.data.u64 = tag;
    return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void close_all() noexcept {
    for (int* fd : {&timer_fd_, &stop_fd_, &wake_fd_, &epfd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  void make_due(op_record& op) noexcept {
    op.kind_ = k_item_done;
    pool_.sched().push(&op);
  }

  /// Finished operations, linked through next_ as items due (k_item_done), oldest first.
  struct done_chain {
    queue_node* first = nullptr;
    queue_node* last = nullptr;
    unsigned count = 0;
  };

  // Finishes the operations at the head of a FIFO that no longer block; appends them to `done`.
  void drain(handle_slot& h, slot_fifo q, done_chain& done) noexcept {
    while (!q.empty()) {
      auto& op = *static_cast<op_record*>(q.front());
      DWORD result = attempt(h, op);
      if (result == k_again) return;
      q.pop();
      finish_locked(op, result);
      op.kind_ = k_item_done;
      op.next_ = nullptr;
      if (done.last != nullptr)
        done.last->next_ = &op;
      else
        done.first = &op;
      done.last = &op;
      ++done.count;
    }
  }

  // The FIFO where a stream operation waits for readiness (one per direction); nullptr for a code that
  // is no I/O.
  static queue_node** fifo_of(handle_slot& h, op_code code) noexcept {
    switch (code) {
      case op_code::read: return &h.backend_q[0];
      case op_code::write: return &h.backend_q[1];
      case op_code::post: return nullptr;
    }
    return nullptr;
  }

  // A read's syscall returned n (bytes, or -1 with errno): its Win32 error (op.done set to the bytes).
  static DWORD read_result(const handle_slot& h, op_record& op, ssize_t n) noexcept {
    if (n > 0) op.done = static_cast<std::uint32_t>(n);
    return read_error(h.kind, op.len, n >= 0 ? static_cast<long>(n) : -static_cast<long>(errno));
  }

  // One non-blocking try of a stream operation, under the handle's lock: a result, or k_again. (A
  // cancelled operation never gets here: cancel() takes it out of its FIFO under the same lock.)
  DWORD attempt(handle_slot& h, op_record& op) noexcept {
    switch (op.code()) {
      case op_code::read: return attempt_read(h, op);
      case op_code::write: return attempt_write(h, op);
      case op_code::post: return k_not_io_error;
    }
    return k_not_io_error;
  }

  static DWORD attempt_read(handle_slot& h, op_record& op) noexcept {
    if (op.len == 0) return zero_byte_read(h);
    for (;;) {
      ssize_t n;
      if (h.kind == object_kind::socket) {
        n = ::recv(h.fd, op.buf, op.len, MSG_DONTWAIT);
      } else if (!h.has_backend(bf_nowait_off)) {
        struct iovec iov = {op.buf, op.len};
        n = ::preadv2(h.fd, &iov, 1, -1, RWF_NOWAIT);
        if (n < 0 && errno == EOPNOTSUPP) {
          make_nonblocking(h);
          continue;
        }
      } else {
        n = ::read(h.fd, op.buf, op.len);
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return k_again;
      return read_result(h, op, n);
    }
  }

  static DWORD attempt_write(handle_slot& h, op_record& op) noexcept {
    while (op.done < op.len) {
      ssize_t n;
      char* p = op.buf + op.done;
      std::size_t left = op.len - op.done;
      if (h.kind == object_kind::socket) {
        n = ::send(h.fd, p, left, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else {
        // A pipe with no reader raises SIGPIPE in the writing thread: pool threads keep it blocked,
        // an application thread blocks it around this write.
        if (on_any_pool_thread()) {
          n = pipe_write(h, p, left);
          if (n < 0) drain_write_signal(errno);
        } else {
          quiet_signals quiet;
          n = pipe_write(h, p, left);
        }
        if (n < 0 && errno == EOPNOTSUPP) {
          make_nonblocking(h);
          continue;
        }
      }
      if (n > 0) {
        op.done += static_cast<std::uint32_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return k_again;
      return write_error(h.kind, n == 0 ? 0 : -static_cast<long>(errno));
    }
    return ERROR_SUCCESS;  // all written (a write of 0 bytes makes no call)
  }

  static ssize_t pipe_write(handle_slot& h, const char* p, std::size_t left) noexcept {
    if (h.has_backend(bf_nowait_off)) return ::write(h.fd, p, left);
    struct iovec iov = {const_cast<char*>(p), left};
    return ::pwritev2(h.fd, &iov, 1, -1, RWF_NOWAIT);
  }

  // RWF_NOWAIT is not supported on this descriptor: fall back to O_NONBLOCK (which, unlike RWF_NOWAIT,
  // is shared with every process that holds the same open file description).
  static void make_nonblocking(handle_slot& h) noexcept {
    int fl = ::fcntl(h.fd, F_GETFL);
    if (fl >= 0) ::fcntl(h.fd, F_SETFL, fl | O_NONBLOCK);
    h.set_backend(bf_nowait_off);
  }

  // A zero-byte read waits for readability without consuming data (the IOCP idiom for sockets).
  static DWORD zero_byte_read(handle_slot& h) noexcept {
    struct pollfd p = {h.fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return k_again;
    return zero_byte_read_error(h.kind, static_cast<unsigned short>(p.revents), h.fd);
  }

  // A file operation (or one on a stream that cannot be polled), as a blocking call on a pool thread.
  // A cancel asked for while it ran wins over a result without data, as on io_uring (after_cancel).
  static DWORD blocking_io(handle_slot& h, op_record& op) noexcept {
    switch (op.code()) {
      case op_code::read: return blocking_read(h, op);
      case op_code::write: return blocking_write(h, op);
      case op_code::post: return k_not_io_error;
    }
    return k_not_io_error;
  }

  static DWORD blocking_read(handle_slot& h, op_record& op) noexcept {
    for (;;) {
      ssize_t n = h.kind == object_kind::file ? ::pread(h.fd, op.buf, op.len, static_cast<off_t>(op.offset()))
                                              : ::read(h.fd, op.buf, op.len);
      if (n < 0 && errno == EINTR) continue;
      return after_cancel(read_result(h, op, n), n, op);
    }
  }

  static DWORD blocking_write(handle_slot& h, op_record& op) noexcept {
    const bool positioned = h.kind == object_kind::file;
    while (op.done < op.len) {
      ssize_t n = positioned
                      ? ::pwrite(h.fd, op.buf + op.done, op.len - op.done, static_cast<off_t>(op.offset() + op.done))
                      : ::write(h.fd, op.buf + op.done, op.len - op.done);
      if (n > 0) {
        op.done += static_cast<std::uint32_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      const long res = n == 0 ? 0 : -static_cast<long>(errno);
      if (res < 0) drain_write_signal(static_cast<int>(-res));  // a pool thread: both signals are blocked
      return after_cancel(write_error(h.kind, res), res, op);
    }
    return ERROR_SUCCESS;
  }

  pool_impl& pool_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  int stop_fd_ = -1;
  int timer_fd_ = -1;
  std::atomic<bool> watchdog_armed_{false};
  std::atomic<bool> stopped_{false};
};

static_assert(backend_engine<epoll_engine>, "the epoll engine models the backend interface");

}  // namespace

std::unique_ptr<engine> make_epoll_engine(pool_impl& pool) { return std::make_unique<epoll_engine>(pool); }

}  // namespace w3tp::posix
