// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "proc_maps.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

int pi_proc_maps__exec_files(pid_t pid, struct pi_mapped_file **out, size_t *n)
{
	struct pi_mapped_file *files = NULL;
	size_t count = 0, cap = 0;
	char path[64], line[4608];
	FILE *fp;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char perms[8], file[4096];
		unsigned int major, minor;
		uint64_t inode, dev;
		bool seen = false;

		file[0] = '\0';
		if (sscanf(line, "%*" SCNx64 "-%*" SCNx64 " %7s %*" SCNx64 " %x:%x %" SCNu64 " %4095[^\n]",
			   perms, &major, &minor, &inode, file) < 4)
			continue;
		if (perms[2] != 'x' || !inode || file[0] != '/')
			continue;
		dev = makedev(major, minor); /* as stat(2) reports st_dev */
		for (size_t i = 0; i < count && !seen; i++)
			seen = files[i].inode == inode && files[i].dev == dev;
		if (seen)
			continue;
		if (count == cap) {
			void *p = realloc(files, (cap = cap ? cap * 2 : 32) * sizeof(*files));

			if (!p) {
				free(files);
				fclose(fp);
				return -ENOMEM;
			}
			files = p;
		}
		snprintf(files[count].path, sizeof(files[count].path), "%s", file);
		files[count].dev = dev;
		files[count].inode = inode;
		count++;
	}
	fclose(fp);
	*out = files;
	*n = count;
	return 0;
}
