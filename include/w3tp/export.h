/* SPDX-License-Identifier: MIT */
/**
 * @file w3tp/export.h
 * W3TP_API marks the symbols that w3tp exports. The library is built with hidden
 * visibility, so only these are part of its ABI. On Windows a shared build
 * (W3TP_SHARED, set by the w3tp::w3tp target) uses dllexport/dllimport.
 */
#ifndef W3TP_EXPORT_H
#define W3TP_EXPORT_H

#if defined(_WIN32)
#if defined(W3TP_SHARED)
#if defined(W3TP_BUILDING)
#define W3TP_API __declspec(dllexport)
#else
#define W3TP_API __declspec(dllimport)
#endif
#else
#define W3TP_API
#endif
#else
/** Marks w3tp's exported functions and classes (visibility on POSIX, dllexport/dllimport on Windows). */
#define W3TP_API __attribute__((visibility("default")))
#endif

#endif /* W3TP_EXPORT_H */
