#ifndef SRE_DIAGNOSE_CSHIMS_H
#define SRE_DIAGNOSE_CSHIMS_H

#include <spawn.h>
#include <sys/types.h>

/// pipe2(2) with O_CLOEXEC, which Swift's Glibc module does not expose (_GNU_SOURCE).
int sre_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np(3): the child closes every descriptor >= `from`,
/// so a tool never inherits sockets or pipes it has no business with.
int sre_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);

/// posix_spawnattr_init(3) for a child that inherits no signal state: every signal at its default
/// disposition (ignored ones, such as SIGPIPE in our processes, would survive exec) and an empty
/// mask; with `own_group` non-zero, a process group of its own from its first instruction.
/// Returns 0 or an error number; the caller destroys the attributes.
int sre_spawnattr_init_clean(posix_spawnattr_t *attributes, int own_group);

/// The owning uid of the local TCP socket `local_addr:local_port` connected to
/// `remote_addr:remote_port`, asked of the kernel through NETLINK_SOCK_DIAG (inet_diag, an exact
/// lookup as `ss` does; no privileges needed). For a loopback connection the daemon passes the
/// client's end (its peer address as local, its own address as remote) and learns which local
/// account opened it, as SO_PEERCRED tells for a Unix socket.
/// `family` is AF_INET (addresses of 4 bytes) or AF_INET6 (16). Returns 0 and sets `uid`, or -1.
int sre_tcp_socket_uid(int family, const unsigned char *local_addr, unsigned short local_port,
                       const unsigned char *remote_addr, unsigned short remote_port, unsigned int *uid);

/// socket(2) created with the file-system uid `fsuid` (setfsuid(2) is per thread, and a TCP
/// socket's owner is the fsuid at creation): lets a root test open a connection that the kernel
/// attributes to another local account. Returns the descriptor or -1.
int sre_socket_as_uid(int domain, int type, unsigned int fsuid);

#endif
