// SPDX-License-Identifier: MIT
// async_copy: copies a file with overlapped ReadFile/WriteFile, several chunks in flight, each chunk
// chained from routine to routine (read done -> write it -> read the next chunk) on the pool's threads.
//
//   async_copy SOURCE DESTINATION       copy a file
//   async_copy --self-test DIRECTORY    make a 4 MiB file in DIRECTORY, copy it, compare
#include <w3tp/w3tp.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
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

/// Copies source to destination; returns the Win32 error (ERROR_SUCCESS on success).
DWORD copy_file(w3tp::thread_pool& pool, const std::string& source, const std::string& destination,
                std::uint64_t* copied) {
  copy_job job;
  job.source =
      CreateFileA(source.c_str(), GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  if (job.source == INVALID_HANDLE_VALUE) return GetLastError();
  job.destination = CreateFileA(destination.c_str(), GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, NULL);
  if (job.destination == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    CloseHandle(job.source);
    return error;
  }
  HRESULT hr = pool.associate(job.source, on_io);
  if (SUCCEEDED(hr)) hr = pool.associate(job.destination, on_io);
  if (FAILED(hr)) {
    CloseHandle(job.source);
    CloseHandle(job.destination);
    return static_cast<DWORD>(hr) & 0xFFFF;
  }
  job.active.store(kInFlight);
  for (chunk& c : job.chunks) {
    c.job = &job;
    start_read(c);
  }
  {
    std::unique_lock<std::mutex> lock(job.mutex);
    job.finished.wait(lock, [&] { return job.active.load() == 0; });
  }
  CloseHandle(job.source);
  CloseHandle(job.destination);
  *copied = job.copied.load();
  return job.error.load();
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: async_copy SOURCE DESTINATION | async_copy --self-test DIRECTORY\n");
    return 2;
  }
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
    if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size()) return 1;
    std::fclose(f);
  }
  w3tp::thread_pool pool;
  std::uint64_t copied = 0;
  DWORD error = copy_file(pool, source, destination, &copied);
  std::printf("async_copy (%s): %llu bytes copied, error %lu\n",
              std::string(w3tp::to_string(pool.active_backend())).c_str(), static_cast<unsigned long long>(copied),
              static_cast<unsigned long>(error));
  if (error != ERROR_SUCCESS) return 1;
  if (self_test) {
    bool same = read_all(source) == read_all(destination);
    std::printf("copy %s the source\n", same ? "matches" : "DIFFERS FROM");
    return same ? 0 : 1;
  }
  return 0;
}
