#define _GNU_SOURCE
#include "cni_shim.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
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

int swl_cni_spawn(const char *netns_path, const char *path, char *const argv[], char *const envp[],
                  int in, int out, int err) {
    int self = -1, target = -1;
    if (netns_path) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0) return -errno;
        target = open(netns_path, O_RDONLY | O_CLOEXEC);
        if (target < 0) { int e = errno; close(self); return -e; }
        if (setns(target, CLONE_NEWNET) != 0) { int e = errno; close(target); close(self); return -e; }
        close(target);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in, 0);
    posix_spawn_file_actions_adddup2(&actions, out, 1);
    posix_spawn_file_actions_adddup2(&actions, err, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (self >= 0) {
        if (setns(self, CLONE_NEWNET) != 0) _exit(70); /* the thread would stay in the wrong namespace */
        close(self);
    }
    return rc == 0 ? pid : -rc;
}

int swl_cni_pidfd_open(int pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}
