// SPDX-License-Identifier: MIT
// Windows' other two pool-I/O APIs on POSIX, with Windows' signatures, on w3tp's default pool:
// BindIoCompletionCallback (Windows 2000's) and the thread-pool I/O objects (Vista's CreateThreadpoolIo
// family). Both are associations with a routine that the front end already has; a TP_IO adds the count
// of expected callbacks that StartThreadpoolIo / CancelThreadpoolIo keep and WaitForThreadpoolIoCallbacks
// waits on. Nothing here touches an engine.
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>

#include "posix/errors.hpp"
#include "w3tp/w3tp.hpp"

// The opaque types of <w3tp/win32.h>, defined in the global namespace where the header declares them.
struct _TP_CALLBACK_INSTANCE {
  int unused;
};

/// A thread-pool I/O object. Two references: the application's (CloseThreadpoolIo drops it) and the
/// association's (dropped when the handle is closed and its last operation has completed), so that a
/// callback never runs on a freed object whichever comes first.
struct _TP_IO {
  _TP_IO(PTP_WIN32_IO_CALLBACK f, PVOID ctx) noexcept : fn(f), context(ctx) {}
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // Runs (or drops) one completion's callback; `self` is this object as the callback receives it.
  void complete(DWORD error, DWORD bytes, OVERLAPPED* ov) noexcept;

  const PTP_WIN32_IO_CALLBACK fn;
  const PVOID context;
  std::atomic<long> refs{2};
  std::mutex mu;
  std::condition_variable cv;
  long expected = 0;      // StartThreadpoolIo calls not yet matched by a callback or CancelThreadpoolIo (mu)
  unsigned droppers = 0;  // WaitForThreadpoolIoCallbacks(TRUE) calls in progress (mu)
};

namespace w3tp::posix {
namespace {

thread_local _TP_CALLBACK_INSTANCE t_instance{};

/// The Win32 error inside an HRESULT from associate() (S_OK, FACILITY_WIN32 or E_*).
DWORD win32_from_hresult(HRESULT hr) noexcept {
  if (SUCCEEDED(hr)) return ERROR_SUCCESS;
  if (((static_cast<unsigned long>(hr) >> 16) & 0x1FFF) == FACILITY_WIN32) return static_cast<DWORD>(hr) & 0xFFFF;
  return hr == E_OUTOFMEMORY ? static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY) : static_cast<DWORD>(ERROR_GEN_FAILURE);
}

/// Associates h with the default pool; ERROR_SUCCESS or the Win32 error. The default pool may fail to
/// start (W3TP_BACKEND names no backend, say): that is an error here, not an exception.
template <class Routine>
DWORD associate_with_default_pool(HANDLE h, Routine&& routine) noexcept {
  try {
    return win32_from_hresult(default_pool().associate(h, std::forward<Routine>(routine)));
  } catch (const std::bad_alloc&) {
    return ERROR_NOT_ENOUGH_MEMORY;
  } catch (...) {
    return ERROR_NOT_SUPPORTED;
  }
}

/// The association's routine: holds the object's second reference.
struct tp_io_routine {
  explicit tp_io_routine(_TP_IO* io) noexcept : io_(io) {}
  tp_io_routine(tp_io_routine&& other) noexcept : io_(other.io_) { other.io_ = nullptr; }
  tp_io_routine(const tp_io_routine&) = delete;
  tp_io_routine& operator=(const tp_io_routine&) = delete;
  tp_io_routine& operator=(tp_io_routine&&) = delete;
  ~tp_io_routine() {
    if (io_ != nullptr) io_->release();
  }
  void operator()(DWORD error, DWORD bytes, OVERLAPPED* ov) const noexcept { io_->complete(error, bytes, ov); }

 private:
  _TP_IO* io_;
};

}  // namespace
}  // namespace w3tp::posix

void _TP_IO::complete(DWORD error, DWORD bytes, OVERLAPPED* ov) noexcept {
  {
    std::lock_guard lock(mu);
    if (droppers != 0) {
      // Due but not started while WaitForThreadpoolIoCallbacks(TRUE) runs: dropped, and counted as done.
      --expected;
      cv.notify_all();
      return;
    }
  }
  fn(&w3tp::posix::t_instance, context, ov, error, bytes, this);
  std::lock_guard lock(mu);
  --expected;
  cv.notify_all();
}

extern "C" {

W3TP_API BOOL WINAPI BindIoCompletionCallback(HANDLE FileHandle, LPOVERLAPPED_COMPLETION_ROUTINE Function,
                                              ULONG Flags) {
  using namespace w3tp::posix;
  if (Flags != 0 || Function == nullptr) {
    set_last_error(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  const DWORD error = associate_with_default_pool(FileHandle, Function);
  if (error != ERROR_SUCCESS) {
    set_last_error(error);
    return FALSE;
  }
  return TRUE;
}

W3TP_API PTP_IO WINAPI CreateThreadpoolIo(HANDLE fl, PTP_WIN32_IO_CALLBACK pfnio, PVOID pv, PTP_CALLBACK_ENVIRON pcbe) {
  using namespace w3tp::posix;
  if (pfnio == nullptr) {
    set_last_error(ERROR_INVALID_PARAMETER);
    return nullptr;
  }
  if (pcbe != nullptr && (pcbe->Pool != nullptr || pcbe->CleanupGroup != nullptr)) {
    set_last_error(ERROR_NOT_SUPPORTED);  // only the default environment (docs/porting notes in win32.h)
    return nullptr;
  }
  auto* io = new (std::nothrow) _TP_IO(pfnio, pv);
  if (io == nullptr) {
    set_last_error(ERROR_NOT_ENOUGH_MEMORY);
    return nullptr;
  }
  // associate() takes the routine (and with it the second reference) in every case: a refused
  // association destroys it, which drops that reference.
  const DWORD error = associate_with_default_pool(fl, tp_io_routine(io));
  if (error != ERROR_SUCCESS) {
    io->release();  // the application's reference: the object goes
    set_last_error(error);
    return nullptr;
  }
  return io;
}

W3TP_API VOID WINAPI StartThreadpoolIo(PTP_IO pio) {
  if (pio == nullptr) return w3tp::posix::set_last_error(ERROR_INVALID_PARAMETER);
  std::lock_guard lock(pio->mu);
  ++pio->expected;
}

W3TP_API VOID WINAPI CancelThreadpoolIo(PTP_IO pio) {
  if (pio == nullptr) return w3tp::posix::set_last_error(ERROR_INVALID_PARAMETER);
  std::lock_guard lock(pio->mu);
  --pio->expected;
  pio->cv.notify_all();
}

W3TP_API VOID WINAPI WaitForThreadpoolIoCallbacks(PTP_IO pio, BOOL fCancelPendingCallbacks) {
  if (pio == nullptr) return w3tp::posix::set_last_error(ERROR_INVALID_PARAMETER);
  std::unique_lock lock(pio->mu);
  if (fCancelPendingCallbacks) ++pio->droppers;
  pio->cv.wait(lock, [&] { return pio->expected <= 0; });
  if (fCancelPendingCallbacks) --pio->droppers;
}

W3TP_API VOID WINAPI CloseThreadpoolIo(PTP_IO pio) {
  if (pio == nullptr) return w3tp::posix::set_last_error(ERROR_INVALID_PARAMETER);
  pio->release();
}

}  // extern "C"
