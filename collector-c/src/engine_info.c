// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include "engine_info.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define PI_MAX_TABLE 1024
#define PI_MAX_OP_NAME 64

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/* Where file offset `off` of `path` is mapped in `pid`, from /proc/PID/maps. */
static int runtime_addr(pid_t pid, const char *path, uint64_t off, uint64_t *addr)
{
	char maps[64], line[4608];
	struct stat want;
	FILE *fp;
	int err = -ENOENT;

	if (stat(path, &want))
		return -errno;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	if (!(fp = fopen(maps, "re")))
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		uint64_t start, end, foff, inode;
		unsigned major, minor;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %x:%x %" SCNu64, &start, &end,
			   &foff, &major, &minor, &inode) != 6 || inode != want.st_ino)
			continue;
		if (off >= foff && off < foff + (end - start)) {
			*addr = start + (off - foff);
			err = 0;
			break;
		}
	}
	fclose(fp);
	return err;
}

static int read_table(pid_t pid, const struct pi_elf_file *f, const char *sym, char ***out,
		      size_t *n)
{
	const struct pi_elf_sym *s = pi_elf_file__find_object(f, sym);
	uint64_t addr, *ptrs;
	int64_t off;
	size_t count;
	char **names;
	int err;

	*out = NULL;
	*n = 0;
	if (!s || !s->size || s->size % 8)
		return -ENOENT;
	count = s->size / 8;
	if (count > PI_MAX_TABLE)
		return -E2BIG;
	if ((off = pi_elf_file__file_offset(f, s->vaddr)) < 0)
		return -ERANGE;
	if ((err = runtime_addr(pid, f->path, off, &addr)))
		return err;
	ptrs = calloc(count, sizeof(*ptrs));
	names = calloc(count, sizeof(*names));
	if (!ptrs || !names) {
		free(ptrs);
		free(names);
		return -ENOMEM;
	}
	if ((err = read_mem(pid, addr, ptrs, count * 8)))
		goto fail;
	for (size_t i = 0; i < count; i++) {
		char buf[PI_MAX_OP_NAME] = "";

		/* A string may end near a page end: read byte runs defensively. */
		if (read_mem(pid, ptrs[i], buf, sizeof(buf)))
			for (size_t k = 0; k < sizeof(buf) - 1 && !read_mem(pid, ptrs[i] + k, buf + k, 1) && buf[k]; k++)
				;
		buf[sizeof(buf) - 1] = '\0';
		if (!(names[i] = strdup(buf))) {
			err = -ENOMEM;
			goto fail;
		}
	}
	free(ptrs);
	*out = names;
	*n = count;
	return 0;
fail:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	free(ptrs);
	return err;
}

int pi_engine_info__read(pid_t pid, const struct pi_elf_file *f, struct pi_engine_names *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = read_table(pid, f, "GGML_OP_NAME", &out->ops, &out->n_ops)))
		return err;
	read_table(pid, f, "GGML_UNARY_OP_NAME", &out->unary, &out->n_unary);
	read_table(pid, f, "GGML_GLU_OP_NAME", &out->glu, &out->n_glu);
	return 0;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void pi_engine_info__free(struct pi_engine_names *n)
{
	free_list(n->ops, n->n_ops);
	free_list(n->unary, n->n_unary);
	free_list(n->glu, n->n_glu);
	memset(n, 0, sizeof(*n));
}
