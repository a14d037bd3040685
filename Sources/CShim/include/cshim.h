#pragma once
// C helpers the Runtime module calls from Swift for what Glibc does not expose.
// Everything between fork and exec lives in the swiftlet-shim executable (Sources/swiftlet-shim).
#include <sys/types.h>

/// Returns the Linux kernel's page size.
long swl_page_size(void);

/// setxattr(2): sets extended attribute `name` of `path` (overlay whiteout markers).
int swl_setxattr(const char *path, const char *name, const char *value, size_t size);

/// pipe2(2) with O_CLOEXEC: both ends close-on-exec from birth, so a child another thread
/// spawns meanwhile cannot inherit them (which would keep their reader from seeing EOF).
int swl_pipe_cloexec(int fds[2]);
