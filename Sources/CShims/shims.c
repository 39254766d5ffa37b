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
