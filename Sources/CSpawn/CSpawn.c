#define _GNU_SOURCE
#include "CSpawn.h"

short c_spawn_flag_setsid(void) {
    return POSIX_SPAWN_SETSID;
}

int c_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}
