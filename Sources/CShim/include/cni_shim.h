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
