// SPDX-License-Identifier: MIT
// What the examples share: Win32 errors and HRESULTs as sentences a user can act on, and a main()
// wrapper that turns an exception (the pool could not start) into such a sentence and exit status 1.
// Copy it along with an example; it needs only <w3tp/w3tp.hpp> and the standard library.
#pragma once

#include <w3tp/w3tp.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace example {

/// The symbolic name of a Win32 error code ("ERROR_PATH_NOT_FOUND"), or "" for one not listed.
inline const char* error_name(DWORD e) {
  switch (e) {
    case 0: return "ERROR_SUCCESS";
    case 2: return "ERROR_FILE_NOT_FOUND";
    case 3: return "ERROR_PATH_NOT_FOUND";
    case 4: return "ERROR_TOO_MANY_OPEN_FILES";
    case 5: return "ERROR_ACCESS_DENIED";
    case 6: return "ERROR_INVALID_HANDLE";
    case 8: return "ERROR_NOT_ENOUGH_MEMORY";
    case 14: return "ERROR_OUTOFMEMORY";
    case 19: return "ERROR_WRITE_PROTECT";
    case 32: return "ERROR_SHARING_VIOLATION";
    case 38: return "ERROR_HANDLE_EOF";
    case 39: return "ERROR_HANDLE_DISK_FULL";
    case 50: return "ERROR_NOT_SUPPORTED";
    case 64: return "ERROR_NETNAME_DELETED";
    case 80: return "ERROR_FILE_EXISTS";
    case 87: return "ERROR_INVALID_PARAMETER";
    case 109: return "ERROR_BROKEN_PIPE";
    case 112: return "ERROR_DISK_FULL";
    case 123: return "ERROR_INVALID_NAME";
    case 183: return "ERROR_ALREADY_EXISTS";
    case 206: return "ERROR_FILENAME_EXCED_RANGE";
    case 232: return "ERROR_NO_DATA";
    case 267: return "ERROR_DIRECTORY";
    case 995: return "ERROR_OPERATION_ABORTED";
    case 997: return "ERROR_IO_PENDING";
    case 998: return "ERROR_NOACCESS";
    case 1117: return "ERROR_IO_DEVICE";
    case 1168: return "ERROR_NOT_FOUND";
    case 1225: return "ERROR_CONNECTION_REFUSED";
    case 1236: return "ERROR_CONNECTION_ABORTED";
    case 1450: return "ERROR_NO_SYSTEM_RESOURCES";
    case 5023: return "ERROR_INVALID_STATE";
    case 10054: return "WSAECONNRESET";
    case 10061: return "WSAECONNREFUSED";
    default: return "";
  }
}

/// A Win32 error as "ERROR_PATH_NOT_FOUND (3)" (or "error 12345" for one not listed).
inline std::string describe_error(DWORD e) {
  const char* name = error_name(e);
  return *name != '\0' ? std::string(name) + " (" + std::to_string(e) + ")" : "error " + std::to_string(e);
}

/// An HRESULT as "HRESULT 0x80070003, ERROR_PATH_NOT_FOUND (3)": the Win32 error inside one of
/// FACILITY_WIN32, the bare value otherwise.
inline std::string describe_hresult(HRESULT hr) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08lX", static_cast<unsigned long>(static_cast<std::uint32_t>(hr)));
  std::string text = std::string("HRESULT ") + hex;
  if (((static_cast<std::uint32_t>(hr) >> 16) & 0x1FFF) == FACILITY_WIN32)
    text += ", " + describe_error(static_cast<DWORD>(hr) & 0xFFFF);
  else if (hr == E_INVALIDARG)
    text += ", E_INVALIDARG";
  else if (hr == E_OUTOFMEMORY)
    text += ", E_OUTOFMEMORY";
  return text;
}

/// The temporary directory: TMPDIR, TEMP or TMP, else /tmp (the current directory on Windows).
inline std::string temp_dir() {
  for (const char* name : {"TMPDIR", "TEMP", "TMP"})
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
#ifdef _WIN32
  return ".";
#else
  return "/tmp";
#endif
}

/// Prints "PROGRAM: SENTENCE" on stderr and exits with status 1.
[[noreturn]] inline void fail(const char* program, const std::string& sentence) {
  std::fprintf(stderr, "%s: %s\n", program, sentence.c_str());
  std::exit(1);
}

/// Runs an example's body; an exception that escapes it (a thread_pool that cannot start, because
/// W3TP_BACKEND names no backend or the one it names cannot run here) becomes a sentence and status 1.
template <class Body>
int guarded_main(const char* program, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    fail(program, e.what());
  }
}

}  // namespace example
