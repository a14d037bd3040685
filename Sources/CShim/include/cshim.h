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

/// cgroup v2 device control: loads `count` eBPF instructions (`struct bpf_insn`, 8 bytes each)
/// as a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to the cgroup directory
/// `cgroup_dir` (BPF_CGROUP_DEVICE, no flags: attaching again replaces it). Returns 0, or -1
/// with errno set and a message (with the verifier's log when it refused) in `err`.
int swl_cgroup_device_filter(const char *cgroup_dir, const void *insns, unsigned count, char *err, size_t errlen);

/// malloc_trim(3): returns the heap's free pages to the kernel (all arenas). Returns 1 when
/// memory was released.
int swl_malloc_trim(void);

/// mallopt(3) for a long-running process that should stay small: at most `arenas` malloc
/// arenas (glibc's default is 8 per core, each keeping its own free memory) and fixed
/// mmap/trim thresholds of 128 KiB. Returns 1 when every setting was accepted.
int swl_malloc_small_footprint(int arenas);
