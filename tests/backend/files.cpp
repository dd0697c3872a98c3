// SPDX-License-Identifier: MIT
// API.md behaviour 3 (files: positions, end of file, a full disk) and CreateFile's dispositions and errors.
#include <cstdio>

#include "backend/common.hpp"

using namespace w3tp_test;

namespace {

HANDLE open_file(const std::string& path, DWORD access, DWORD disposition, DWORD flags = FILE_FLAG_OVERLAPPED) {
  return CreateFileA(path.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, disposition,
                     FILE_ATTRIBUTE_NORMAL | flags, nullptr);
}

// Makes a file with the given content (synchronous handle), for the disposition tests.
void make_file(const std::string& path, const std::string& content) {
  HANDLE h = open_file(path, GENERIC_WRITE, CREATE_ALWAYS, 0);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  DWORD n = 0;
  REQUIRE(WriteFile(h, content.data(), static_cast<DWORD>(content.size()), &n, nullptr));
  REQUIRE(CloseHandle(h));
}

}  // namespace

TEST_CASE("files: Offset and OffsetHigh give the position", "[files]") {
  fixture f;
  temp_file tf("offsets");
  HANDLE h = f.file(tf.path);
  op w1, w2;
  write_all(f, h, w1, "ABCDEFGHIJ", 0);
  write_all(f, h, w2, "xyz", 20);  // leaves a hole of zeros from 10 to 20
  op r1(4, 3), r2(8, 8), r3(3, 20);
  REQUIRE(start_read(f.t, h, r1));
  REQUIRE(start_read(f.t, h, r2));
  REQUIRE(start_read(f.t, h, r3));
  REQUIRE(f.t.wait_delivered(f.t.accepted.load()));
  CHECK(r1.text() == "DEFG");
  CHECK(r2.text() == std::string("IJ") + std::string(6, '\0'));
  CHECK(r3.text() == "xyz");
  f.finish();
  CHECK(file_size(tf.path) == 23);
}

TEST_CASE("files: a position past 4 GiB uses OffsetHigh (sparse file)", "[files]") {
  fixture f;
  temp_file tf("sparse");
  HANDLE h = f.file(tf.path, false);
  REQUIRE(make_sparse(h));  // on Windows, so that NTFS does not write 5 GiB of zeros
  REQUIRE(f.p().associate(h, record_routine) == S_OK);
  const unsigned long long far_off = (5ull << 30) + 7;
  op wr;
  write_all(f, h, wr, "far away", far_off);
  CHECK(file_size(tf.path) == static_cast<long long>(far_off + 8));
  op rd(8, far_off), low(8, far_off & 0xFFFFFFFFull), tail(16, far_off + 4);
  REQUIRE(start_read(f.t, h, rd));
  REQUIRE(start_read(f.t, h, low));
  REQUIRE(start_read(f.t, h, tail));
  REQUIRE(f.t.wait_delivered(f.t.accepted.load()));
  CHECK(rd.text() == "far away");
  CHECK(low.text() == std::string(8, '\0'));  // the low 32 bits alone point into the hole
  CHECK(tail.error.load() == 0u);
  CHECK(tail.text() == "away");  // a read across the end gives what is there
  f.finish();
}

TEST_CASE("files: a read at or past the end completes with ERROR_HANDLE_EOF and 0 bytes", "[files]") {
  fixture f;
  temp_file tf("eof");
  HANDLE h = f.file(tf.path);
  op wr;
  write_all(f, h, wr, "0123456789", 0);
  op at_end(16, 10), past(16, 1000), far_off(16, 1ull << 33);
  for (op* o : {&at_end, &past, &far_off}) {
    start_read(f.t, h, *o);
#ifdef _WIN32
    // Windows may fail the call at once with ERROR_HANDLE_EOF (then no routine runs).
    if (!o->accepted) {
      CHECK(o->start_error == static_cast<DWORD>(ERROR_HANDLE_EOF));
      continue;
    }
#else
    // On POSIX w3tp always reports it through the routine (API.md behaviour 3).
    REQUIRE(o->accepted);
#endif
    REQUIRE(f.t.wait_op(*o));
    CHECK(o->error.load() == static_cast<DWORD>(ERROR_HANDLE_EOF));
    CHECK(o->bytes.load() == 0u);
    DWORD n = 77;
    SetLastError(0);
    CHECK(GetOverlappedResult(h, &o->ov, &n, FALSE) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_HANDLE_EOF));
    CHECK(n == 0u);
  }
  // An empty read inside the file is not end of file.
  op inside(16, 4);
  REQUIRE(start_read(f.t, h, inside, 3));
  REQUIRE(f.t.wait_op(inside));
  CHECK(inside.error.load() == 0u);
  CHECK(inside.text() == "456");
  f.finish();
}

#ifndef _WIN32
// POSIX only: on Windows ERROR_DISK_FULL comes from the system's WriteFile, and there is no per-process
// file size limit to provoke it with.
namespace {

// Runs in a child process with RLIMIT_FSIZE at 4096 and SIGXFSZ at its default action (so that a
// signal raised by a w3tp write would kill the child and show): a write across the limit completes
// with ERROR_DISK_FULL and the bytes that fit, a write past it with ERROR_DISK_FULL and 0 bytes.
int disk_full_child() {
  const std::string path = temp_path("diskfull");
  if (!limit_file_size(4096)) return 10;
  int rc = 0;
  {
    w3tp::thread_pool pool(test_options());
    tracker t;
    t.pool = &pool;
    HANDLE h = CreateFileA(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED,
                           nullptr);
    if (h == INVALID_HANDLE_VALUE) return 11;
    if (pool.associate(h, record_routine) != S_OK) return 12;
    op across(0, 0);
    if (!start_write(t, h, across, std::string(8192, 'd'))) rc = 13;
    if (rc == 0 && !t.wait_op(across)) rc = 14;
    if (rc == 0 && across.error.load() != static_cast<DWORD>(ERROR_DISK_FULL)) {
      std::fprintf(stderr, "write across the limit: error %u bytes %u\n", static_cast<unsigned>(across.error.load()),
                   static_cast<unsigned>(across.bytes.load()));
      rc = 15;
    }
    if (rc == 0 && across.bytes.load() > 4096u) rc = 16;
    op beyond(0, 8192);
    if (rc == 0 && !start_write(t, h, beyond, std::string(100, 'e'))) rc = 17;
    if (rc == 0 && !t.wait_op(beyond)) rc = 18;
    if (rc == 0 && (beyond.error.load() != static_cast<DWORD>(ERROR_DISK_FULL) || beyond.bytes.load() != 0u)) {
      std::fprintf(stderr, "write past the limit: error %u bytes %u\n", static_cast<unsigned>(beyond.error.load()),
                   static_cast<unsigned>(beyond.bytes.load()));
      rc = 19;
    }
    CloseHandle(h);
    pool.shutdown();
    if (rc == 0 && t.accepted.load() != t.delivered.load()) rc = 20;
  }
  remove_file(path);
  return rc;
}

}  // namespace

TEST_CASE("files: a write that hits the size limit completes with ERROR_DISK_FULL", "[files][diskfull]") {
  int rc = run_in_child(disk_full_child);
  REQUIRE(rc >= 0);
  INFO("child exit " << rc << " (128 + n: killed by signal n; 153 is SIGXFSZ)");
  CHECK(rc == 0);
}
#endif

TEST_CASE("CreateFile: dispositions on new and existing files", "[files][createfile]") {
  temp_file tf("disp");
  const DWORD rw = GENERIC_READ | GENERIC_WRITE;

  SECTION("CREATE_NEW") {
    SetLastError(1234);
    HANDLE h = open_file(tf.path, rw, CREATE_NEW);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == 0u);
    CloseHandle(h);
    SetLastError(0);
    CHECK(open_file(tf.path, rw, CREATE_NEW) == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_FILE_EXISTS));
  }
  SECTION("OPEN_EXISTING") {
    SetLastError(0);
    CHECK(open_file(tf.path, rw, OPEN_EXISTING) == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_FILE_NOT_FOUND));
    make_file(tf.path, "keep");
    SetLastError(1234);
    HANDLE h = open_file(tf.path, rw, OPEN_EXISTING);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == 0u);
    CloseHandle(h);
    CHECK(file_size(tf.path) == 4);
  }
  SECTION("CREATE_ALWAYS") {
    SetLastError(1234);
    HANDLE h = open_file(tf.path, rw, CREATE_ALWAYS);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == 0u);
    CloseHandle(h);
    make_file(tf.path, "old content");
    SetLastError(0);
    h = open_file(tf.path, rw, CREATE_ALWAYS);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_ALREADY_EXISTS));  // and it succeeded
    CloseHandle(h);
    CHECK(file_size(tf.path) == 0);  // truncated
  }
  SECTION("OPEN_ALWAYS") {
    SetLastError(1234);
    HANDLE h = open_file(tf.path, rw, OPEN_ALWAYS);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == 0u);
    CloseHandle(h);
    make_file(tf.path, "old content");
    SetLastError(0);
    h = open_file(tf.path, rw, OPEN_ALWAYS);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_ALREADY_EXISTS));
    CloseHandle(h);
    CHECK(file_size(tf.path) == 11);  // kept
  }
  SECTION("TRUNCATE_EXISTING") {
    SetLastError(0);
    CHECK(open_file(tf.path, rw, TRUNCATE_EXISTING) == INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_FILE_NOT_FOUND));
    make_file(tf.path, "old content");
    SetLastError(1234);
    HANDLE h = open_file(tf.path, rw, TRUNCATE_EXISTING);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(GetLastError() == 0u);
    CloseHandle(h);
    CHECK(file_size(tf.path) == 0);
  }
}

TEST_CASE("CreateFile: missing directories, directories and denied access", "[files][createfile]") {
  const std::string dir = temp_path("dir");
  SetLastError(0);
  CHECK(open_file(dir + "/missing/file", GENERIC_READ, OPEN_EXISTING) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_PATH_NOT_FOUND));
  SetLastError(0);
  CHECK(open_file(dir + "/missing/file", GENERIC_WRITE, CREATE_ALWAYS) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_PATH_NOT_FOUND));

  REQUIRE(make_directory(dir));
  SetLastError(0);
  CHECK(open_file(dir + "/absent", GENERIC_READ, OPEN_EXISTING) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_FILE_NOT_FOUND));
  // A directory is not a file (Windows without FILE_FLAG_BACKUP_SEMANTICS: ERROR_ACCESS_DENIED).
  SetLastError(0);
  CHECK(open_file(dir, GENERIC_READ, OPEN_EXISTING) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_ACCESS_DENIED));
  SetLastError(0);
  CHECK(open_file(dir, GENERIC_READ | GENERIC_WRITE, OPEN_ALWAYS) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_ACCESS_DENIED));

  // A read-only file opened for writing (permissions do not stop a privileged process: skipped then).
  const std::string ro = dir + "/readonly";
  {
    HANDLE h = CreateFileA(ro.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_READONLY, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CloseHandle(h);
  }
  if (!privileged()) {
    SetLastError(0);
    HANDLE opened = open_file(ro, GENERIC_WRITE, OPEN_EXISTING);
    const DWORD error = GetLastError();
    if (opened != INVALID_HANDLE_VALUE) CloseHandle(opened);
    if (k_windows) {
      CHECK_TODO_WINE((opened == INVALID_HANDLE_VALUE && error == static_cast<DWORD>(ERROR_ACCESS_DENIED)),
                      "Wine keeps FILE_ATTRIBUTE_READONLY as Unix permissions, which root ignores");
    } else {
      CHECK(opened == INVALID_HANDLE_VALUE);
      CHECK(error == static_cast<DWORD>(ERROR_ACCESS_DENIED));
    }
  }
  HANDLE h = open_file(ro, GENERIC_READ, OPEN_EXISTING);
  CHECK(h != INVALID_HANDLE_VALUE);
  CloseHandle(h);
  remove_file(ro);  // (on Windows remove_file clears FILE_ATTRIBUTE_READONLY first)
  remove_directory(dir);

  // Bad arguments.
  SetLastError(0);
  CHECK(CreateFileA(nullptr, GENERIC_READ, 0, nullptr, OPEN_EXISTING, 0, nullptr) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() != 0u);
  SetLastError(0);
  CHECK(open_file(temp_path("bad-disp"), GENERIC_READ, 77) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
}

TEST_CASE("CreateFile: a handle opened for reading refuses writes, and the reverse", "[files][createfile]") {
  fixture f;
  temp_file tf("access");
  make_file(tf.path, "data");
  HANDLE ro = f.associated(open_file(tf.path, GENERIC_READ, OPEN_EXISTING));
  HANDLE wo = f.associated(open_file(tf.path, GENERIC_WRITE, OPEN_EXISTING));
  op w1, r1;
  CHECK_FALSE(start_write(f.t, ro, w1, "x"));
  CHECK(w1.start_error == static_cast<DWORD>(ERROR_ACCESS_DENIED));
  CHECK_FALSE(start_read(f.t, wo, r1));
  CHECK(r1.start_error == static_cast<DWORD>(ERROR_ACCESS_DENIED));
  f.finish();
}

TEST_CASE("CreateFileW: wide paths name the same file as their UTF-8 form", "[files][createfile]") {
  fixture f;
  const std::string base = temp_path("wide");
  // "-\u00e9\u4e2d\U0001F600" in UTF-8 and as wide characters.
  [[maybe_unused]] const std::string utf8 = base + "-\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";
  const std::wstring wide = widen(base) + L"-\u00e9\u4e2d\U0001F600";
  SetLastError(1234);
  HANDLE hw = CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                          CREATE_NEW, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(hw != INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == 0u);
  f.associated(hw);
  op wr;
  write_all(f, hw, wr, "wide", 0);
#ifdef _WIN32
  // On Windows the A form takes the ANSI code page, not UTF-8 (UTF-8 is the POSIX A form): the file is
  // opened again by its wide name, and its size read through that handle.
  HANDLE ha = CreateFileW(wide.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                          FILE_FLAG_OVERLAPPED, nullptr);
  CHECK(ha != INVALID_HANDLE_VALUE);
  LARGE_INTEGER size{};
  if (ha != INVALID_HANDLE_VALUE) {
    CHECK(GetFileSizeEx(ha, &size));
    CloseHandle(ha);
  }
  CHECK(size.QuadPart == 4);
#else
  CHECK(file_size(utf8) == 4);
  HANDLE ha = CreateFileA(utf8.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                          FILE_FLAG_OVERLAPPED, nullptr);
  CHECK(ha != INVALID_HANDLE_VALUE);
  if (ha != INVALID_HANDLE_VALUE) CloseHandle(ha);
#endif
  SetLastError(0);
  CHECK(CreateFileW(wide.c_str(), GENERIC_READ, 0, nullptr, CREATE_NEW, 0, nullptr) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_FILE_EXISTS));
  SetLastError(0);
  CHECK(CreateFileW((widen(base) + L"-absent").c_str(), GENERIC_READ, 0, nullptr, OPEN_EXISTING, 0, nullptr) ==
        INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_FILE_NOT_FOUND));
#ifndef _WIN32
  // A lone surrogate has no UTF-8 form (on Windows it is a valid, if odd, file name).
  std::wstring bad = widen(base) + L"-";
  bad.push_back(static_cast<wchar_t>(0xD800));
  SetLastError(0);
  CHECK(CreateFileW(bad.c_str(), GENERIC_READ, 0, nullptr, CREATE_ALWAYS, 0, nullptr) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
#endif
  f.finish();
#ifdef _WIN32
  DeleteFileW(wide.c_str());
#else
  remove_file(utf8);
#endif
}
