#pragma once
// Opens a NETLINK_NETFILTER socket inside a network namespace without moving the caller:
// a short-lived pthread does setns(2) and socket(2), and the socket stays in that namespace.

/// Returns a close-on-exec NETLINK_NETFILTER socket created in the network namespace at
/// `netns_path` (e.g. /run/netns/<name>), or -1 with errno set.
int swl_netlink_socket_in_netns(const char *netns_path, int protocol);
