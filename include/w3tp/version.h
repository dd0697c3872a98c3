/* SPDX-License-Identifier: MIT */
/* w3tp's version, for code that must know it at compile time (C and C++). CMake checks at configure
   time that it matches the project's VERSION, so the two never disagree. */
#ifndef W3TP_VERSION_H
#define W3TP_VERSION_H

/** The major version: a change here may break the API or the ABI. */
#define W3TP_VERSION_MAJOR 0
/** The minor version: additions that keep the API. */
#define W3TP_VERSION_MINOR 1
/** The patch version: fixes only. */
#define W3TP_VERSION_PATCH 0
/** The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define W3TP_VERSION (W3TP_VERSION_MAJOR * 10000 + W3TP_VERSION_MINOR * 100 + W3TP_VERSION_PATCH)

#endif /* W3TP_VERSION_H */
