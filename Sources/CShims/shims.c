#define _GNU_SOURCE
#include "CShims.h"
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

int sre_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int sre_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

#include <signal.h>

int sre_spawnattr_init_clean(posix_spawnattr_t *attributes, int own_group) {
    int status = posix_spawnattr_init(attributes);
    if (status != 0) return status;
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(attributes, &all);
    posix_spawnattr_setsigmask(attributes, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (own_group) {
        posix_spawnattr_setpgroup(attributes, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    return posix_spawnattr_setflags(attributes, flags);
}

#include <errno.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

int sre_tcp_socket_uid(int family, const unsigned char *local_addr, unsigned short local_port,
                       const unsigned char *remote_addr, unsigned short remote_port, unsigned int *uid) {
    size_t length = family == AF_INET ? 4 : (family == AF_INET6 ? 16 : 0);
    if (length == 0) { errno = EAFNOSUPPORT; return -1; }
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    struct timeval timeout = { .tv_sec = 1, .tv_usec = 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.header.nlmsg_seq = 1;
    message.request.sdiag_family = (unsigned char)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0U;
    message.request.id.idiag_sport = htons(local_port);
    message.request.id.idiag_dport = htons(remote_port);
    memcpy(message.request.id.idiag_src, local_addr, length);
    memcpy(message.request.id.idiag_dst, remote_addr, length);
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    long buffer[2048];
    ssize_t received = recv(fd, buffer, sizeof buffer, 0);
    int saved = errno;
    close(fd);
    if (received < 0) { errno = saved; return -1; }
    for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, (size_t)received);
         header = NLMSG_NEXT(header, received)) {
        if (header->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *error = NLMSG_DATA(header);
            errno = error->error < 0 ? -error->error : ENOENT;
            return -1;
        }
        if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
        struct inet_diag_msg *diag = NLMSG_DATA(header);
        // The kernel answered for exactly this 4-tuple; check it anyway, and never take a
        // listening socket for a connection.
        if (diag->id.idiag_sport != htons(local_port) || diag->id.idiag_dport != htons(remote_port)) continue;
        if (memcmp(diag->id.idiag_src, local_addr, length) != 0 || memcmp(diag->id.idiag_dst, remote_addr, length) != 0) continue;
        if (diag->idiag_state == 10 /* TCP_LISTEN */) continue;
        *uid = diag->idiag_uid;
        return 0;
    }
    errno = ENOENT;
    return -1;
}

int sre_socket_as_uid(int domain, int type, unsigned int fsuid) {
    unsigned int previous = (unsigned int)setfsuid(fsuid);
    int fd = socket(domain, type, 0);
    int saved = errno;
    setfsuid(previous);
    errno = saved;
    return fd;
}
