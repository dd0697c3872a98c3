// SPDX-License-Identifier: MIT
// The io_uring -> epoll fallback, tested for real: a child process installs a seccomp filter that
// makes io_uring_setup fail with EPERM (what Docker's default profile does), then checks that an
// `automatic` pool starts on epoll, says why, refuses io_uring by name with that sentence, and
// passes a smoke test (file, pipe, socket pair). The parent checks that, without the filter, the
// same build picks io_uring here, so the child's epoll is the filter's doing.
// Exit codes: 0 passed, 1 failed, 77 skipped (io_uring is unavailable even without a filter, or
// seccomp filters cannot be installed).
#include <w3tp/w3tp.hpp>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace {

int g_failures = 0;

void check(bool ok, const char* what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++g_failures;
}

#if defined(__x86_64__)
constexpr unsigned k_audit_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned k_audit_arch = AUDIT_ARCH_AARCH64;
#else
constexpr unsigned k_audit_arch = 0;
#endif

/// Installs: io_uring_setup -> EPERM, everything else allowed. False if the kernel refuses.
bool block_io_uring_setup() {
#ifndef __NR_io_uring_setup
  return false;
#else
  if (k_audit_arch == 0) return false;
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k_audit_arch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#endif
}

std::atomic<int> g_calls{0};
std::atomic<DWORD> g_error{0};  // routines of different operations may run at once
std::atomic<DWORD> g_bytes{0};

VOID CALLBACK routine(DWORD error, DWORD bytes, LPOVERLAPPED) {
  g_error = error;
  g_bytes = bytes;
  g_calls.fetch_add(1);
  g_calls.notify_all();
}

/// Waits for the n-th routine call.
void wait_calls(int n) {
  for (int v = g_calls.load(); v < n; v = g_calls.load()) g_calls.wait(v);
}

void smoke(w3tp::thread_pool& pool) {
  int expected = 0;
  // A file: write, read back, read past the end.
  std::string path = "seccomp_fallback_" + std::to_string(getpid()) + ".txt";
  HANDLE f =
      CreateFileA(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, NULL);
  check(f != INVALID_HANDLE_VALUE && pool.associate(f, routine) == S_OK, "file created and associated");
  OVERLAPPED ov = {};
  char buf[16] = {};
  BOOL r = WriteFile(f, "Hello", 5, NULL, &ov);
  check(r || GetLastError() == ERROR_IO_PENDING, "file write accepted");
  wait_calls(++expected);
  check(g_error == ERROR_SUCCESS && g_bytes == 5, "file write completed with 5 bytes");
  ov = {};
  r = ReadFile(f, buf, sizeof buf, NULL, &ov);
  check(r || GetLastError() == ERROR_IO_PENDING, "file read accepted");
  wait_calls(++expected);
  check(g_error == ERROR_SUCCESS && g_bytes == 5 && std::memcmp(buf, "Hello", 5) == 0, "file read gave \"Hello\"");
  ov = {};
  ov.Offset = 5;
  r = ReadFile(f, buf, sizeof buf, NULL, &ov);
  if (r || GetLastError() == ERROR_IO_PENDING) {
    wait_calls(++expected);
    check(g_error == ERROR_HANDLE_EOF && g_bytes == 0, "read at the end gave ERROR_HANDLE_EOF");
  } else {
    check(false, "read at the end accepted");
  }
  CloseHandle(f);
  unlink(path.c_str());

  // A pipe: a pending read completes when data comes, then ERROR_BROKEN_PIPE after the writer closes.
  int p[2];
  check(pipe(p) == 0, "pipe created");
  HANDLE rd = w3tp::adopt_fd(p[0]), wr = w3tp::adopt_fd(p[1]);
  check(pool.associate(rd, routine) == S_OK && pool.associate(wr, routine) == S_OK, "pipe ends associated");
  OVERLAPPED rov = {}, wov = {};
  r = ReadFile(rd, buf, sizeof buf, NULL, &rov);
  check(!r && GetLastError() == ERROR_IO_PENDING, "pipe read pending");
  r = WriteFile(wr, "ping", 4, NULL, &wov);
  check(r || GetLastError() == ERROR_IO_PENDING, "pipe write accepted");
  wait_calls(expected += 2);
  check(rov.InternalHigh == 4 && std::memcmp(buf, "ping", 4) == 0, "pipe read got \"ping\"");
  rov = {};
  r = ReadFile(rd, buf, sizeof buf, NULL, &rov);
  CloseHandle(wr);
  wait_calls(++expected);
  check(g_error == ERROR_BROKEN_PIPE, "pipe read after the writer closed gave ERROR_BROKEN_PIPE");
  CloseHandle(rd);

  // A socket pair: a pending read is cancelled by CancelIoEx.
  int sv[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socket pair created");
  HANDLE a = w3tp::adopt_fd(sv[0]), b = w3tp::adopt_fd(sv[1]);
  check(pool.associate(a, routine) == S_OK, "socket associated");
  rov = {};
  r = ReadFile(a, buf, sizeof buf, NULL, &rov);
  check(!r && GetLastError() == ERROR_IO_PENDING, "socket read pending");
  check(CancelIoEx(a, &rov) == TRUE, "CancelIoEx accepted");
  wait_calls(++expected);
  check(g_error == ERROR_OPERATION_ABORTED, "cancelled read gave ERROR_OPERATION_ABORTED");
  CloseHandle(a);
  CloseHandle(b);
}

int child() {
  if (!block_io_uring_setup()) {
    std::printf("SKIP: cannot install a seccomp filter here\n");
    return 77;
  }
  // The filter is real: the raw system call now fails with EPERM.
#ifdef __NR_io_uring_setup
  long raw = syscall(__NR_io_uring_setup, 4, nullptr);
  check(raw == -1 && errno == EPERM, "raw io_uring_setup fails with EPERM under the filter");
#endif
  {
    w3tp::thread_pool pool;
    std::string reason(pool.fallback_reason());
    std::printf("  automatic pool: backend %s, fallback_reason \"%s\"\n",
                std::string(w3tp::to_string(pool.active_backend())).c_str(), reason.c_str());
    check(pool.active_backend() == w3tp::backend::epoll, "automatic fell back to epoll");
    check(reason.find("io_uring_setup") != std::string::npos &&
              reason.find("Operation not permitted") != std::string::npos &&
              reason.find("seccomp") != std::string::npos,
          "fallback_reason says io_uring_setup was not permitted (seccomp)");
    smoke(pool);
  }
  try {
    w3tp::pool_options options;
    options.preferred = w3tp::backend::io_uring;
    w3tp::thread_pool pool(options);
    check(false, "asking for io_uring by name throws");
  } catch (const std::system_error& e) {
    std::printf("  io_uring by name: std::system_error \"%s\"\n", e.what());
    check(std::string(e.what()).find("Operation not permitted") != std::string::npos,
          "asking for io_uring by name throws std::system_error saying why");
  }
  return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main() {
  // W3TP_BACKEND would override `automatic`; this test is about the automatic choice.
  unsetenv("W3TP_BACKEND");
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    std::printf("child (io_uring_setup blocked by seccomp):\n");
    int rc = child();
    std::fflush(stdout);
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  int child_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

  std::printf("parent (no filter):\n");
  w3tp::thread_pool pool;
  std::printf("  automatic pool: backend %s\n", std::string(w3tp::to_string(pool.active_backend())).c_str());
  if (pool.active_backend() != w3tp::backend::io_uring) {
    std::printf("SKIP: io_uring is unavailable here even without a filter (%.*s)\n",
                static_cast<int>(pool.fallback_reason().size()), pool.fallback_reason().data());
    return 77;
  }
  if (child_rc == 77) return 77;
  std::printf("child exit code %d\n", child_rc);
  return child_rc == 0 ? 0 : 1;
}
