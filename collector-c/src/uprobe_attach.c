// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "uprobe_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <unistd.h>

/* The same test libbpf uses internally: a uprobe_multi link on "/" fails
 * with EBADF where the link type exists, EINVAL where it does not. */
bool pi_uprobe_multi__supported(void)
{
	static int cached = -1;
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, load, .expected_attach_type = BPF_TRACE_UPROBE_MULTI);
	LIBBPF_OPTS(bpf_link_create_opts, link);
	unsigned long offset = 0;
	int prog_fd, link_fd, err;

	if (cached >= 0)
		return cached;
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &load);
	if (prog_fd < 0)
	{
		cached = 0;
		return false;
	}
	link.uprobe_multi.path = "/";
	link.uprobe_multi.offsets = &offset;
	link.uprobe_multi.cnt = 1;
	link_fd = bpf_link_create(prog_fd, -1, BPF_TRACE_UPROBE_MULTI, &link);
	err = -errno;
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	cached = link_fd < 0 && err == -EBADF;
	return cached;
}

int pi_uprobe__prepare(struct bpf_program *prog, bool multi)
{
	return multi ? bpf_program__set_expected_attach_type(prog, BPF_TRACE_UPROBE_MULTI) : 0;
}

bool pi_uprobe_cookie__supported(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie, NULL) == 1;
	return cached;
}

int pi_uprobe__attach(struct bpf_program *prog, bool multi, bool retprobe, pid_t pid,
		      const char *path, const unsigned long *offsets, const __u64 *cookies, size_t n,
		      int (*keep)(void *ctx, struct bpf_link *l), void *ctx)
{
	struct bpf_link *l;
	int err;

	if (multi) {
		LIBBPF_OPTS(bpf_uprobe_multi_opts, mo, .offsets = offsets, .cookies = cookies, .cnt = n,
			    .retprobe = retprobe);

		l = bpf_program__attach_uprobe_multi(prog, pid, path, NULL, &mo);
		if (!l)
			return -errno;
		if ((err = keep(ctx, l)))
			bpf_link__destroy(l);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = retprobe,
			    .bpf_cookie = cookies ? cookies[i] : 0);

		l = bpf_program__attach_uprobe_opts(prog, pid, path, offsets[i], &uo);
		if (!l)
			return -errno;
		if ((err = keep(ctx, l))) {
			bpf_link__destroy(l);
			return err;
		}
	}
	return 0;
}
