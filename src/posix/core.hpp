// SPDX-License-Identifier: MIT
// The POSIX front end, by role: handles (handle.hpp), work items and operation records (operation.hpp),
// the backend interface (engine.hpp), the worker threads and their scheduler (scheduler.hpp) and the
// pool (pool.hpp). This header includes them all, in that order; backends (src/epoll, src/uring) and
// the front end's sources include it.
#pragma once

#include "posix/engine.hpp"
#include "posix/handle.hpp"
#include "posix/operation.hpp"
#include "posix/pool.hpp"
#include "posix/scheduler.hpp"
