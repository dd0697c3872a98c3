// SPDX-License-Identifier: MIT
// SIGPIPE and SIGXFSZ discipline: Windows has neither signal, so no w3tp operation may raise one.
#pragma once

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

namespace w3tp::posix {

/// Discards a SIGPIPE or SIGXFSZ that a write on this thread left pending (the thread has it blocked).
inline void drain_signal(int sig) noexcept {
  sigset_t pending;
  sigpending(&pending);
  if (!sigismember(&pending, sig)) return;
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  const struct timespec zero = {0, 0};
  ::sigtimedwait(&one, nullptr, &zero);
}

/// On a thread that keeps SIGPIPE and SIGXFSZ blocked (a pool thread), after a write failed with errno
/// err: discards the signal that the failure raised (EPIPE: SIGPIPE, EFBIG: SIGXFSZ), if any.
inline void drain_write_signal(int err) noexcept {
  if (err == EPIPE) drain_signal(SIGPIPE);
  if (err == EFBIG) drain_signal(SIGXFSZ);
}

/// Blocks SIGPIPE and SIGXFSZ on an application thread for the duration of one write, and discards
/// such a signal that the write raised, so that the write reports EPIPE / EFBIG instead.
class quiet_signals {
 public:
  quiet_signals() noexcept {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    sigaddset(&block, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &block, &old_);
    sigpending(&pending_before_);
  }
  ~quiet_signals() {
    for (int sig : {SIGPIPE, SIGXFSZ})
      if (!sigismember(&pending_before_, sig)) drain_signal(sig);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  quiet_signals(const quiet_signals&) = delete;
  quiet_signals& operator=(const quiet_signals&) = delete;

 private:
  sigset_t old_;
  sigset_t pending_before_;
};

}  // namespace w3tp::posix
