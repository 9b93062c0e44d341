/* The executable file mappings of a process (/proc/PID/maps). */
#ifndef PI_PROC_MAPS_H
#define PI_PROC_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pi_mapped_file {
	char path[4096];
	uint64_t dev, inode;
};

/* Lists each executable file mapped by `pid` once. Returns 0 or -errno;
 * *out is malloc'ed. */
int pi_proc_maps__exec_files(pid_t pid, struct pi_mapped_file **out, size_t *n);

#endif
