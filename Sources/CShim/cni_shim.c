#define _GNU_SOURCE
#include "cni_shim.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

int swl_cni_socket_in_netns(const char *netns_path, int domain, int type, int protocol) {
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return -errno;
    int target = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (target < 0) { int e = errno; close(self); return -e; }
    if (setns(target, CLONE_NEWNET) != 0) { int e = errno; close(target); close(self); return -e; }
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    int saved = fd < 0 ? errno : 0;
    if (setns(self, CLONE_NEWNET) != 0) {
        /* Cannot return to our namespace: the thread is unusable; fail loudly. */
        _exit(70);
    }
    close(target);
    close(self);
    return fd < 0 ? -saved : fd;
}

int swl_cni_flock_ex(int fd) {
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) return -errno;
    }
    return 0;
}
