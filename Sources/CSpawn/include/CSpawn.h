#ifndef C_SPAWN_H
#define C_SPAWN_H

#include <spawn.h>

/// posix_spawn's GNU extensions, which Swift's Glibc module does not import
/// (they need _GNU_SOURCE): a new session for the child, and closing every
/// inherited descriptor from `lowest` up.

/// POSIX_SPAWN_SETSID: the child starts a new session (setsid), so it outlives
/// the terminal and the shell that launched it.
short c_spawn_flag_setsid(void);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+).
int c_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

#endif
