// SPDX-License-Identifier: MIT
// async_copy: copies a file with overlapped ReadFile/WriteFile, several chunks in flight, each chunk
// chained from routine to routine (read done -> write it -> read the next chunk) on the pool's threads.
//
//   async_copy SOURCE DESTINATION       copy a file, with a progress line
//   async_copy --self-test DIRECTORY    make a 4 MiB file in DIRECTORY, copy it, compare
//   async_copy --help
#include <w3tp/w3tp.hpp>

#include "../common/example.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr DWORD kChunk = 64 * 1024;
constexpr int kInFlight = 8;

struct copy_job;

/// One chunk in flight. The OVERLAPPED is first so that the routine's pointer leads back to the chunk.
struct chunk {
  OVERLAPPED overlapped = {};
  copy_job* job = nullptr;
  std::uint64_t offset = 0;
  bool writing = false;
  std::vector<char> buffer = std::vector<char>(kChunk);
};

struct copy_job {
  HANDLE source = INVALID_HANDLE_VALUE;
  HANDLE destination = INVALID_HANDLE_VALUE;
  std::atomic<std::uint64_t> next_offset{0};
  std::atomic<std::uint64_t> copied{0};
  std::atomic<DWORD> error{ERROR_SUCCESS};
  std::atomic<int> active{0};  // chunks still running; the copy is over when it reaches 0
  // Waited for with a condition variable, not std::atomic::wait, which can miss a notification with
  // MinGW-w64's libstdc++ 12 (its wait without futexes checks the value outside its mutex).
  std::mutex mutex;
  std::condition_variable finished;
  chunk chunks[kInFlight];
};

void set_offset(OVERLAPPED& ov, std::uint64_t offset) {
  ov = {};
  ov.Offset = static_cast<DWORD>(offset);
  ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
}

void finish_chunk(copy_job& job) {
  if (job.active.fetch_sub(1) == 1) {
    // Notified under the lock: the waiter destroys the job (and this condition variable) as soon as
    // it sees active == 0, so the notification must be over before it can take the lock.
    std::lock_guard<std::mutex> lock(job.mutex);
    job.finished.notify_all();
  }
}

/// Starts the read of the next unclaimed chunk, or retires this chunk when the file is done.
void start_read(chunk& c) {
  copy_job& job = *c.job;
  if (job.error.load() != ERROR_SUCCESS) return finish_chunk(job);
  c.offset = job.next_offset.fetch_add(kChunk);
  c.writing = false;
  set_offset(c.overlapped, c.offset);
  if (!ReadFile(job.source, c.buffer.data(), kChunk, NULL, &c.overlapped) && GetLastError() != ERROR_IO_PENDING) {
    // Windows may fail a read at the end of the file at once instead of through the routine.
    if (GetLastError() != ERROR_HANDLE_EOF) job.error.store(GetLastError());
    finish_chunk(job);
  }
}

VOID CALLBACK on_io(DWORD error, DWORD bytes, LPOVERLAPPED overlapped) {
  chunk& c = *reinterpret_cast<chunk*>(overlapped);
  copy_job& job = *c.job;
  if (c.writing) {
    if (error != ERROR_SUCCESS) job.error.store(error);
    job.copied.fetch_add(bytes);
    return start_read(c);
  }
  if (error == ERROR_HANDLE_EOF || (error == ERROR_SUCCESS && bytes == 0)) return finish_chunk(job);
  if (error != ERROR_SUCCESS) {
    job.error.store(error);
    return finish_chunk(job);
  }
  c.writing = true;
  set_offset(c.overlapped, c.offset);
  if (!WriteFile(job.destination, c.buffer.data(), bytes, NULL, &c.overlapped) && GetLastError() != ERROR_IO_PENDING) {
    job.error.store(GetLastError());
    finish_chunk(job);
  }
}

/// The size of an open file, or -1 (a synchronous query; the handle need not be associated yet).
long long size_of(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return -1;
  long long size = std::fseek(f, 0, SEEK_END) == 0 ? static_cast<long long>(std::ftell(f)) : -1;
  std::fclose(f);
  return size;
}

/// Prints "copied X of Y MiB (Z%)" over itself on stderr while the copy runs (when stderr is where a
/// user looks: always here, so that the example shows it).
void show_progress(std::uint64_t done, long long total, bool last) {
  const double mib = 1024.0 * 1024.0;
  if (total > 0)
    std::fprintf(stderr, "\rcopied %.1f of %.1f MiB (%3.0f%%)%s", done / mib, total / mib,
                 100.0 * static_cast<double>(done) / static_cast<double>(total), last ? "\n" : "");
  else
    std::fprintf(stderr, "\rcopied %.1f MiB%s", done / mib, last ? "\n" : "");
  std::fflush(stderr);
}

/// Copies source to destination; on failure, fails the program with a sentence naming the file and
/// the Win32 error. Returns the bytes copied.
std::uint64_t copy_file(w3tp::thread_pool& pool, const std::string& source, const std::string& destination) {
  copy_job job;
  job.source =
      CreateFileA(source.c_str(), GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  if (job.source == INVALID_HANDLE_VALUE)
    example::fail("async_copy", "could not open " + source + ": " + example::describe_error(GetLastError()));
  job.destination = CreateFileA(destination.c_str(), GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, NULL);
  if (job.destination == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    CloseHandle(job.source);
    example::fail("async_copy", "could not create " + destination + ": " + example::describe_error(error));
  }
  HRESULT hr = pool.associate(job.source, on_io);
  if (SUCCEEDED(hr)) hr = pool.associate(job.destination, on_io);
  if (FAILED(hr)) {
    CloseHandle(job.source);
    CloseHandle(job.destination);
    example::fail("async_copy", "could not associate the files with the pool: " + example::describe_hresult(hr));
  }
  const long long total = size_of(source);
  job.active.store(kInFlight);
  for (chunk& c : job.chunks) {
    c.job = &job;
    start_read(c);
  }
  {
    // The routines do the copy; this thread only shows how far it got, ten times a second.
    std::unique_lock<std::mutex> lock(job.mutex);
    while (!job.finished.wait_for(lock, std::chrono::milliseconds(100), [&] { return job.active.load() == 0; }))
      show_progress(job.copied.load(), total, false);
  }
  show_progress(job.copied.load(), total, true);
  CloseHandle(job.source);
  CloseHandle(job.destination);
  if (job.error.load() != ERROR_SUCCESS)
    example::fail("async_copy",
                  "copying " + source + " to " + destination + " failed: " + example::describe_error(job.error.load()));
  return job.copied.load();
}

std::vector<char> read_all(const std::string& path) {
  std::vector<char> data;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buffer[65536];
    for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0;) data.insert(data.end(), buffer, buffer + n);
    std::fclose(f);
  }
  return data;
}

constexpr char kUsage[] = "usage: async_copy SOURCE DESTINATION | async_copy --self-test DIRECTORY | async_copy --help";

int run(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--help") == 0) {
    std::printf(
        "%s\n\nCopies SOURCE to DESTINATION with overlapped ReadFile/WriteFile on a w3tp pool, %d chunks of "
        "%lu KiB in flight,\neach chained from routine to routine; a progress line on stderr. --self-test "
        "makes a 4 MiB file in\nDIRECTORY, copies it and compares. W3TP_BACKEND (auto, io_uring, epoll, iocp) "
        "chooses the backend.\nExit status 1, with a sentence, on failure.\n",
        kUsage, kInFlight, static_cast<unsigned long>(kChunk / 1024));
    return 0;
  }
  if (argc != 3 || (argv[1][0] == '-' && std::strcmp(argv[1], "--self-test") != 0))
    example::fail("async_copy", std::string("bad arguments\n") + kUsage);
  std::string source = argv[1], destination = argv[2];
  const bool self_test = source == "--self-test";
  if (self_test) {
    std::string dir = argv[2];
    source = dir + "_source.bin";
    destination = dir + "_copy.bin";
    // 4 MiB and 123 bytes, so that the last chunk is a short one.
    std::vector<char> data(4 * 1024 * 1024 + 123);
    std::uint32_t x = 2463534242u;
    for (char& b : data) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      b = static_cast<char>(x);
    }
    FILE* f = std::fopen(source.c_str(), "wb");
    if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size())
      example::fail("async_copy", "could not write the self-test's source file " + source);
    std::fclose(f);
  }
  // The pool's messages (its backend, a fallback, thread changes, starvation) go to stderr.
  w3tp::pool_options options;
  options.on_log = [](w3tp::log_level level, std::string_view text) {
    const char* tag = level == w3tp::log_level::error     ? "error"
                      : level == w3tp::log_level::warning ? "warning"
                                                          : "info";
    std::fprintf(stderr, "w3tp %s: %.*s\n", tag, static_cast<int>(text.size()), text.data());
  };
  w3tp::thread_pool pool(std::move(options));
  const std::uint64_t copied = copy_file(pool, source, destination);
  std::printf("async_copy (%s): %llu bytes copied\n", std::string(w3tp::to_string(pool.active_backend())).c_str(),
              static_cast<unsigned long long>(copied));
  const w3tp::pool_stats stats = pool.stats();
  std::printf("pool: %u threads (%u busy, %u added for starvation), %llu completions, %llu posts, %llu pending\n",
              stats.threads, stats.busy_threads, stats.starvation_threads,
              static_cast<unsigned long long>(stats.completions), static_cast<unsigned long long>(stats.posts),
              static_cast<unsigned long long>(stats.pending));
  if (self_test) {
    bool same = read_all(source) == read_all(destination);
    std::printf("copy %s the source\n", same ? "matches" : "DIFFERS FROM");
    if (!same) example::fail("async_copy", "the copy differs from the source");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::guarded_main("async_copy", [&] { return run(argc, argv); });
}
