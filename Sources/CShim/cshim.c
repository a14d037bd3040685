#define _GNU_SOURCE
#include "cshim.h"
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

long swl_page_size(void) { return sysconf(_SC_PAGESIZE); }

int swl_setxattr(const char *path, const char *name, const char *value, size_t size) {
    return setxattr(path, name, value, size, 0);
}

int swl_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
