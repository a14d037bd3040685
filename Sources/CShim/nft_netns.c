#define _GNU_SOURCE
#include "nft_netns.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

struct swl_netns_job {
    const char *path;
    int protocol;
    int fd;
    int err;
};

static void *swl_netns_thread(void *arg) {
    struct swl_netns_job *job = arg;
    int ns = open(job->path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) { job->err = errno; return NULL; }
    // This thread only: it ends right after, so no other code runs in the namespace.
    if (setns(ns, CLONE_NEWNET) != 0) { job->err = errno; close(ns); return NULL; }
    close(ns);
    job->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, job->protocol);
    if (job->fd < 0) job->err = errno;
    return NULL;
}

int swl_netlink_socket_in_netns(const char *netns_path, int protocol) {
    struct swl_netns_job job = { netns_path, protocol, -1, 0 };
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, swl_netns_thread, &job);
    if (rc != 0) { errno = rc; return -1; }
    pthread_join(thread, NULL);
    if (job.fd < 0) { errno = job.err; return -1; }
    return job.fd;
}
