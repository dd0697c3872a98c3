// SPDX-License-Identifier: MIT
#include "backend/support.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#ifdef _WIN32
#include <winioctl.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace w3tp_test {

namespace {
std::atomic<unsigned> g_counter{0};
}

std::wstring widen(const std::string& ascii) { return std::wstring(ascii.begin(), ascii.end()); }

#ifndef _WIN32

std::string temp_path(const char* tag) {
  const char* dir = std::getenv("TMPDIR");
  std::string base = (dir != nullptr && *dir != '\0') ? dir : "/tmp";
  return base + "/w3tp-test-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter.fetch_add(1)) + "-" + tag;
}

void remove_file(const std::string& path) { ::unlink(path.c_str()); }

bool make_directory(const std::string& path) { return ::mkdir(path.c_str(), 0700) == 0; }

void remove_directory(const std::string& path) { ::rmdir(path.c_str()); }

long long file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_size);
}

namespace {

// Wraps a descriptor in a handle, or closes it.
HANDLE adopt(int fd) {
  HANDLE h = w3tp::adopt_fd(fd);
  if (h == INVALID_HANDLE_VALUE) ::close(fd);
  return h;
}

}  // namespace

bool make_pipe(HANDLE& read_end, HANDLE& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end = adopt(fds[0]);
  write_end = adopt(fds[1]);
  if (read_end == INVALID_HANDLE_VALUE || write_end == INVALID_HANDLE_VALUE) {
    if (read_end != INVALID_HANDLE_VALUE) CloseHandle(read_end);
    if (write_end != INVALID_HANDLE_VALUE) CloseHandle(write_end);
    return false;
  }
  return true;
}

bool make_socket_pair(HANDLE& a, HANDLE& b) {
  // A real TCP connection on 127.0.0.1 (not socketpair(2)): resets, FIN and SO_LINGER behave as on the
  // wire, and Windows can make the same pair.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int client = -1, server = -1;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listener);
    return false;
  }
  client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (client >= 0) ::close(client);
    ::close(listener);
    return false;
  }
  server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(listener);
  if (server < 0) {
    ::close(client);
    return false;
  }
  int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  a = adopt(client);
  b = adopt(server);
  if (a == INVALID_HANDLE_VALUE || b == INVALID_HANDLE_VALUE) {
    if (a != INVALID_HANDLE_VALUE) CloseHandle(a);
    if (b != INVALID_HANDLE_VALUE) CloseHandle(b);
    return false;
  }
  return true;
}

bool abort_socket(HANDLE s) {
  int fd = w3tp::native_fd(s);
  if (fd < 0) return false;
  linger lg{};
  lg.l_onoff = 1;
  lg.l_linger = 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return false;
  return CloseHandle(s) != FALSE;
}

bool make_refused_datagram_socket(HANDLE& s) {
  s = INVALID_HANDLE_VALUE;
  // A port that was free a moment ago: bound, looked up and closed again.
  int probe = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = ::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(probe);
  if (!ok) return false;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return false;
  }
  s = adopt(fd);
  return s != INVALID_HANDLE_VALUE;
}

int count_open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

long long descriptor_of(HANDLE h) { return w3tp::native_fd(h); }

bool peer_sees_close(HANDLE peer, int ms) {
  int fd = w3tp::native_fd(peer);
  if (fd < 0) return false;
  // POLLERR (a writer whose reader is gone), POLLHUP (a reader whose writers are gone) and POLLRDHUP (a
  // socket whose peer shut its side down) are what a closed far end looks like.
  pollfd p{fd, POLLRDHUP, 0};
  int r;
  while ((r = ::poll(&p, 1, ms)) < 0 && errno == EINTR) {
  }
  return r > 0 && (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0;
}

bool privileged() { return ::geteuid() == 0; }

int run_in_child(int (*fn)()) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int rc = 99;
    try {
      rc = fn();
    } catch (...) {
      rc = 98;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

bool limit_file_size(unsigned long long bytes) {
  rlimit rl{};
  rl.rlim_cur = bytes;
  rl.rlim_max = bytes;
  return ::setrlimit(RLIMIT_FSIZE, &rl) == 0;
}

bool sigpipe_is_default() {
  struct sigaction sa {};
  if (::sigaction(SIGPIPE, nullptr, &sa) != 0) return false;
  return sa.sa_handler == SIG_DFL;
}

void reset_sigpipe() {
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

const char* wine_version() { return nullptr; }

bool make_sparse(HANDLE) { return true; }

#else  // _WIN32

std::string temp_path(const char* tag) {
  char dir[MAX_PATH + 1];
  DWORD n = GetTempPathA(sizeof dir, dir);
  std::string base = (n > 0 && n < sizeof dir) ? std::string(dir, n) : std::string(".\\");
  return base + "w3tp-test-" + std::to_string(GetCurrentProcessId()) + "-" + std::to_string(g_counter.fetch_add(1)) +
         "-" + tag;
}

void remove_file(const std::string& path) {
  SetFileAttributesA(path.c_str(), FILE_ATTRIBUTE_NORMAL);  // a read-only file cannot be deleted
  DeleteFileA(path.c_str());
}

bool make_directory(const std::string& path) { return CreateDirectoryA(path.c_str(), nullptr) != FALSE; }

void remove_directory(const std::string& path) { RemoveDirectoryA(path.c_str()); }

long long file_size(const std::string& path) {
  WIN32_FILE_ATTRIBUTE_DATA data;
  if (!GetFileAttributesExA(path.c_str(), GetFileExInfoStandard, &data)) return -1;
  return (static_cast<long long>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
}

bool make_sparse(HANDLE file) {
  // The handle is overlapped: wait for the control call through an event (not associated yet, so no
  // completion packet goes anywhere).
  OVERLAPPED ov{};
  ov.hEvent = CreateEventA(nullptr, TRUE, FALSE, nullptr);
  if (ov.hEvent == nullptr) return false;
  DWORD n = 0;
  BOOL ok = DeviceIoControl(file, FSCTL_SET_SPARSE, nullptr, 0, nullptr, 0, &n, &ov);
  if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(file, &ov, &n, TRUE);
  CloseHandle(ov.hEvent);
  return ok != FALSE;
}

bool make_pipe(HANDLE& read_end, HANDLE& write_end) {
  // Anonymous pipes cannot do overlapped I/O: a uniquely named pipe whose server end reads and whose
  // client end writes, both opened for overlapped I/O.
  read_end = write_end = INVALID_HANDLE_VALUE;
  std::string name =
      "\\\\.\\pipe\\w3tp-test-" + std::to_string(GetCurrentProcessId()) + "-" + std::to_string(g_counter.fetch_add(1));
  HANDLE r = CreateNamedPipeA(name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                              PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 65536, 65536, 0, nullptr);
  if (r == INVALID_HANDLE_VALUE) return false;
  HANDLE w = CreateFileA(name.c_str(), GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  if (w == INVALID_HANDLE_VALUE) {
    CloseHandle(r);
    return false;
  }
  read_end = r;
  write_end = w;
  return true;
}

namespace {
bool winsock_started() {
  static const bool started = [] {
    WSADATA data;
    return WSAStartup(MAKEWORD(2, 2), &data) == 0;
  }();
  return started;
}
}  // namespace

bool make_socket_pair(HANDLE& a, HANDLE& b) {
  a = b = INVALID_HANDLE_VALUE;
  if (!winsock_started()) return false;
  SOCKET l = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
  if (l == INVALID_SOCKET) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int len = sizeof addr;
  SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
  if (bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(l, 1) == 0 &&
      getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    c = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (c != INVALID_SOCKET && connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      s = accept(l, nullptr, nullptr);
  }
  closesocket(l);
  if (s == INVALID_SOCKET) {
    if (c != INVALID_SOCKET) closesocket(c);
    return false;
  }
  a = reinterpret_cast<HANDLE>(c);
  b = reinterpret_cast<HANDLE>(s);
  return true;
}

bool abort_socket(HANDLE s) {
  linger lg{1, 0};
  SOCKET sock = reinterpret_cast<SOCKET>(s);
  return setsockopt(sock, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&lg), sizeof lg) == 0 &&
         closesocket(sock) == 0;
}

int count_open_fds() {
  DWORD n = 0;
  return GetProcessHandleCount(GetCurrentProcess(), &n) ? static_cast<int>(n) : -1;
}

long long descriptor_of(HANDLE h) { return static_cast<long long>(reinterpret_cast<std::intptr_t>(h)); }

bool peer_sees_close(HANDLE, int) { return true; }  // the system's own close; not observable without I/O

bool privileged() { return false; }

int run_in_child(int (*)()) { return -1; }

bool limit_file_size(unsigned long long) { return false; }

bool sigpipe_is_default() { return true; }  // Windows has no SIGPIPE

void reset_sigpipe() {}

const char* wine_version() {
  // Wine's ntdll exports wine_get_version; Windows' does not (how Wine's own tests tell them apart).
  static const char* const version = []() -> const char* {
    using fn = const char*(CDECL*)();
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    FARPROC f = ntdll != nullptr ? GetProcAddress(ntdll, "wine_get_version") : nullptr;
    return f != nullptr ? reinterpret_cast<fn>(reinterpret_cast<void (*)()>(f))() : nullptr;
  }();
  return version;
}

#endif

}  // namespace w3tp_test
