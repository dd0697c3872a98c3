// SPDX-License-Identifier: MIT
// Platform helpers for the behaviour suite and the stress test. The test bodies use only the Win32 API
// and w3tp's API; everything that needs the platform's own calls (temporary paths, making pipes and
// connected sockets, resetting a connection, counting descriptors, running code in a child process)
// lives here. support.cpp has a POSIX and a Windows implementation.
#pragma once

#include <w3tp/w3tp.hpp>

#include <string>

namespace w3tp_test {

/// A fresh path in the temporary directory that does not exist yet; `tag` makes it readable in logs.
std::string temp_path(const char* tag);

/// The same path as a wide string (ASCII paths only: the temporary directory is ASCII here).
std::wstring widen(const std::string& ascii);

/// Deletes a file if it exists (never fails a test).
void remove_file(const std::string& path);

/// Makes a directory (for the "a directory is not a file" test); true on success.
bool make_directory(const std::string& path);

/// Removes an empty directory.
void remove_directory(const std::string& path);

/// Marks a file that is not associated yet as sparse where the file system needs to be told (Windows:
/// FSCTL_SET_SPARSE); POSIX files are sparse by themselves. True on success.
bool make_sparse(HANDLE file);

/// The current size of a file, or -1.
long long file_size(const std::string& path);

/// A pipe as two overlapped HANDLEs (read end, write end), neither associated yet. False on failure.
bool make_pipe(HANDLE& read_end, HANDLE& write_end);

/// A connected TCP loopback socket pair as two overlapped HANDLEs, neither associated yet.
bool make_socket_pair(HANDLE& a, HANDLE& b);

/// Closes a socket so that its peer sees a reset (SO_LINGER with a zero timeout, then CloseHandle).
bool abort_socket(HANDLE s);

#ifndef _WIN32
/// A UDP socket on 127.0.0.1 connected to a port where nothing listens, as an overlapped HANDLE (not
/// associated): a datagram it sends comes back as ICMP port unreachable, which leaves ECONNREFUSED
/// pending on it (POLLERR without POLLIN). POSIX only.
bool make_refused_datagram_socket(HANDLE& s);
#endif

/// Waits (bounded by `ms`) until the far end of a pipe or socket whose other end was closed sees that
/// close: a socket's end of file, a pipe writer's broken pipe, a pipe reader's hang-up. True when it did;
/// also true where this cannot be observed without I/O of the test's own (Windows).
bool peer_sees_close(HANDLE peer, int ms);

/// The number of open descriptors (handles) of this process, or -1 where it cannot be counted.
int count_open_fds();

/// The platform's descriptor number behind a handle, or -1 (POSIX: w3tp::native_fd).
long long descriptor_of(HANDLE h);

/// True when the process runs with the privileges that ignore file permissions (root on POSIX).
bool privileged();

/// Runs fn() in a child process (POSIX fork) and returns its exit code, 128 + the signal number when
/// a signal ended it, or -1 where child processes are not supported (the test then skips).
int run_in_child(int (*fn)());

/// Limits the size of the files this process may write (RLIMIT_FSIZE); for use inside run_in_child.
bool limit_file_size(unsigned long long bytes);

/// True when SIGPIPE (if the platform has it) is at its default action, so that a stray one kills
/// the test process. The test main sets that up.
bool sigpipe_is_default();

/// Puts SIGPIPE (if the platform has it) at its default action.
void reset_sigpipe();

/// Wine's version when the tests run under Wine (ntdll's wine_get_version), else nullptr.
const char* wine_version();

/// True when the tests run under Wine, where CHECK_TODO_WINE (common.hpp) reports instead of counting.
inline bool running_under_wine() { return wine_version() != nullptr; }

}  // namespace w3tp_test
