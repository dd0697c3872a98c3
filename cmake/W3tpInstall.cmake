# SPDX-License-Identifier: MIT
# Install rules and the CMake package (placeholder: completed with config, version file and .pc).
