#ifndef SRE_DIAGNOSE_CSHIMS_H
#define SRE_DIAGNOSE_CSHIMS_H

#include <spawn.h>
#include <sys/types.h>

/// pipe2(2) with O_CLOEXEC, which Swift's Glibc module does not expose (_GNU_SOURCE).
int sre_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np(3): the child closes every descriptor >= `from`,
/// so a tool never inherits sockets or pipes it has no business with.
int sre_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);

#endif
