// SPDX-License-Identifier: MIT
// A module image that exports no RegisterModule: the host must refuse it by name.
extern "C" __attribute__((visibility("default"))) int w3tp_not_a_module(void) { return 42; }
