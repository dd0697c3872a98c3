// SPDX-License-Identifier: MIT
// hello_write: the sample of Microsoft's documentation of IHttpServer::AssociateWithThreadPool, made
// correct and runnable without IIS.
//
// The documented sample opens a file with CREATE_ALWAYS | FILE_FLAG_OVERLAPPED, associates it with
// IIS's thread pool and writes "Hello" with an overlapped WriteFile whose completion routine closes
// the handle. It has two bugs that this version fixes:
//   - its OVERLAPPED lives on the stack of the function that starts the write, so the system writes
//     the result into a dead stack frame when the write completes later; here it is owned by a
//     request object that lives until the routine has run;
//   - it passes the OVERLAPPED by value where WriteFile needs its address; here &request.overlapped.
// The routine reports the error code, the byte count and the thread it ran on, then closes the
// handle, and the program waits for it instead of hoping it ran.
//
//   hello_write [FILE]      write "Hello" to FILE (default hello_write.txt) and read it back
//   hello_write --self-test the same with a file in the temporary directory, removed afterwards
//   hello_write --help
#include <w3tp/httpserv.h>
#include <w3tp/w3tp.hpp>

#include "../common/example.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

/// One asynchronous write: the OVERLAPPED comes first so that the routine's LPOVERLAPPED leads back
/// to the whole request (the usual IOCP idiom, safe because it is a standard-layout struct).
struct write_request {
  OVERLAPPED overlapped = {};
  HANDLE file = INVALID_HANDLE_VALUE;
  DWORD starter_thread = 0;
  // Filled in by the completion routine.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  DWORD error = 0;
  DWORD bytes = 0;
  DWORD routine_thread = 0;
};

VOID CALLBACK MyCompletionRoutine(DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered, LPOVERLAPPED lpOverlapped) {
  auto* request = reinterpret_cast<write_request*>(lpOverlapped);
  // The sample's routine closes the file: the write is over, so nothing else needs the handle.
  CloseHandle(request->file);
  std::lock_guard<std::mutex> lock(request->mu);
  request->error = dwErrorCode;
  request->bytes = dwNumberOfBytesTransfered;
  request->routine_thread = GetCurrentThreadId();
  request->done = true;
  request->cv.notify_one();
}

/// The body of the sample's OnSendResponse: create the file, associate it, start the write.
HRESULT StartHelloWrite(IHttpServer* pServer, const char* path, write_request* request) {
  request->file =
      CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
  if (request->file == INVALID_HANDLE_VALUE) return HRESULT_FROM_WIN32(GetLastError());

  HRESULT hr = pServer->AssociateWithThreadPool(request->file, MyCompletionRoutine);
  if (FAILED(hr)) {
    CloseHandle(request->file);
    return hr;
  }

  static const char kText[] = "Hello";
  request->starter_thread = GetCurrentThreadId();
  if (!WriteFile(request->file, kText, sizeof(kText) - 1, NULL, &request->overlapped) &&
      GetLastError() != ERROR_IO_PENDING) {
    // Failed at once: no routine will run, so the handle is still ours to close.
    DWORD error = GetLastError();
    CloseHandle(request->file);
    return HRESULT_FROM_WIN32(error);
  }
  // TRUE or ERROR_IO_PENDING: either way the routine runs exactly once on a pool thread.
  return S_OK;
}

constexpr char kUsage[] = "usage: hello_write [FILE] | hello_write --self-test | hello_write --help";

int run(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && argv[1][0] == '-' && std::strcmp(argv[1], "--help") != 0 &&
                   std::strcmp(argv[1], "--self-test") != 0))
    example::fail("hello_write", std::string("bad arguments\n") + kUsage);
  if (argc == 2 && std::strcmp(argv[1], "--help") == 0) {
    std::printf(
        "%s\n\nWrites \"Hello\" to FILE with an overlapped WriteFile on a handle associated with w3tp's "
        "default pool\n(IHttpServer::AssociateWithThreadPool), waits for the completion routine, then reads "
        "the file back.\nW3TP_BACKEND (auto, io_uring, epoll, iocp) chooses the backend. Exit status 0 when "
        "the file holds \"Hello\",\n1 with a sentence on stderr otherwise.\n",
        kUsage);
    return 0;
  }
  const bool self_test = argc == 2 && std::strcmp(argv[1], "--self-test") == 0;
  const std::string path = self_test  ? example::temp_dir() + "/hello_write_self_test.txt"
                           : argc > 1 ? argv[1]
                                      : "hello_write.txt";
  w3tp::thread_pool& pool = w3tp::default_pool();
  std::printf("w3tp pool: backend %s, %u threads\n", std::string(w3tp::to_string(pool.active_backend())).c_str(),
              pool.thread_count());
  if (!pool.fallback_reason().empty())
    std::printf("  (fell back: %.*s)\n", static_cast<int>(pool.fallback_reason().size()),
                pool.fallback_reason().data());

  write_request request;
  HRESULT hr = StartHelloWrite(&w3tp::http_server(pool), path.c_str(), &request);
  if (FAILED(hr))
    example::fail("hello_write", "could not start the write to " + path + ": " + example::describe_hresult(hr));
  std::printf("WriteFile(\"Hello\") started on thread %lu\n", static_cast<unsigned long>(request.starter_thread));

  {
    std::unique_lock<std::mutex> lock(request.mu);
    request.cv.wait(lock, [&] { return request.done; });
  }
  std::printf("MyCompletionRoutine ran on pool thread %lu: dwErrorCode=%lu, dwNumberOfBytesTransfered=%lu\n",
              static_cast<unsigned long>(request.routine_thread), static_cast<unsigned long>(request.error),
              static_cast<unsigned long>(request.bytes));
  if (request.error != ERROR_SUCCESS)
    example::fail("hello_write", "the write to " + path + " failed: " + example::describe_error(request.error));

  // Read the file back with a plain synchronous ReadFile (no OVERLAPPED, no association).
  HANDLE file =
      CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  char text[64] = {};
  DWORD read = 0;
  if (file == INVALID_HANDLE_VALUE || !ReadFile(file, text, sizeof(text) - 1, &read, NULL))
    example::fail("hello_write", "reading " + path + " back failed: " + example::describe_error(GetLastError()));
  CloseHandle(file);
  std::printf("%s now holds %lu bytes: \"%s\"\n", path.c_str(), static_cast<unsigned long>(read), text);
  if (self_test) std::remove(path.c_str());
  if (request.bytes != 5 || std::string(text, read) != "Hello")
    example::fail("hello_write", path + " does not hold \"Hello\"");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::guarded_main("hello_write", [&] { return run(argc, argv); });
}
