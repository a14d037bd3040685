#pragma once
// C helpers for the CNI module: sockets opened inside another network namespace,
// and the rtnetlink/veth/bridge constants Swift's Glibc module does not expose.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/if.h>

/// Opens socket(domain, type, protocol) inside the network namespace at `netns_path`
/// (setns on the calling thread only, restored before returning). Returns the fd or -errno.
int swl_cni_socket_in_netns(const char *netns_path, int domain, int type, int protocol);

/// flock(2) exclusive on fd, blocking. Returns 0 or -errno.
int swl_cni_flock_ex(int fd);

/// posix_spawn(path, argv, envp) with `in`, `out`, `err` as the child's descriptors 0, 1, 2, an
/// empty signal mask and default signal dispositions; inside the network namespace at
/// `netns_path` when it is not NULL (setns on the calling thread, restored before returning).
/// Returns the child's pid or -errno.
int swl_cni_spawn(const char *netns_path, const char *path, char *const argv[], char *const envp[],
                  int in, int out, int err);

/// pidfd_open(2): a descriptor that polls readable once `pid` has exited. Returns it or -errno.
int swl_cni_pidfd_open(int pid);
