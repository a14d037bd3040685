#define _GNU_SOURCE
#include <malloc.h>
#include "cshim.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

long swl_page_size(void) { return sysconf(_SC_PAGESIZE); }

int swl_setxattr(const char *path, const char *name, const char *value, size_t size) {
    return setxattr(path, name, value, size, 0);
}

int swl_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

static int bpf_call(int cmd, union bpf_attr *attr) { return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr); }

int swl_cgroup_device_filter(const char *cgroup_dir, const void *insns, unsigned count, char *err, size_t errlen) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insn_cnt = count;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
    int prog = bpf_call(BPF_PROG_LOAD, &attr); // fds from bpf(2) are close-on-exec
    if (prog < 0) {
        int e = errno;
        // again, for the verifier's reason
        size_t size = 16384;
        char *log = calloc(1, size);
        if (log) {
            attr.log_level = 1;
            attr.log_size = (uint32_t)size;
            attr.log_buf = (uint64_t)(uintptr_t)log;
            int again = bpf_call(BPF_PROG_LOAD, &attr);
            if (again >= 0) close(again);
        }
        snprintf(err, errlen, "BPF_PROG_LOAD (device filter for %s): %s%s%s", cgroup_dir, strerror(e), log && *log ? ": " : "",
                 log ? log : "");
        free(log);
        errno = e;
        return -1;
    }
    int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        int e = errno;
        close(prog);
        snprintf(err, errlen, "open %s: %s", cgroup_dir, strerror(e));
        errno = e;
        return -1;
    }
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cg;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = 0;
    int rc = bpf_call(BPF_PROG_ATTACH, &attr);
    int e = errno;
    close(cg);
    close(prog); // the attachment keeps the program alive until the cgroup goes away
    if (rc < 0) {
        snprintf(err, errlen, "BPF_PROG_ATTACH (device filter) to %s: %s", cgroup_dir, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

int swl_malloc_trim(void) {
    return malloc_trim(0);
}

int swl_malloc_small_footprint(int arenas) {
    int ok = mallopt(M_ARENA_MAX, arenas);
    // Setting the thresholds also turns off glibc's dynamic raising of them (a freed 1 MiB
    // block would otherwise move big allocations into the arenas and stop them shrinking).
    ok &= mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    ok &= mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    return ok;
}
