// SPDX-License-Identifier: MIT
/* exit_watch.c: see exit_watch.h. */
#include "exit_watch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "proc_exit.skel.h"
#include "proc_exit_events.h"
#include "trace_emit.h"

struct pi_exit_watch {
	struct proc_exit_bpf *skel;
};

static struct proc_exit_bpf *open_and_load(bool btf, const char *btf_path, int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_path);
	struct proc_exit_bpf *skel = proc_exit_bpf__open_opts(&oo);

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	bpf_program__set_autoload(skel->progs.proc_exit_btf, btf);
	bpf_program__set_autoload(skel->progs.proc_exit_raw, !btf);
	if ((*err = proc_exit_bpf__load(skel)) || (*err = proc_exit_bpf__attach(skel))) {
		proc_exit_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

struct pi_exit_watch *pi_exit_watch__new(const char *btf_path, char *err, size_t errlen)
{
	struct pi_exit_watch *w = calloc(1, sizeof(*w));
	int e = -ENOMEM;

	if (w && !(w->skel = open_and_load(true, btf_path, &e)))
		w->skel = open_and_load(false, btf_path, &e);
	if (!w || !w->skel) {
		snprintf(err, errlen, "cannot learn the exit status of processes it did not start: %s%s",
			 strerror(-e),
			 !btf_path && access("/sys/kernel/btf/vmlinux", R_OK) ? " (no kernel BTF; --btf FILE gives one)"
									  : "");
		free(w);
		return NULL;
	}
	return w;
}

void pi_exit_watch__free(struct pi_exit_watch *w)
{
	if (!w)
		return;
	proc_exit_bpf__destroy(w->skel);
	free(w);
}

int pi_exit_watch__add(struct pi_exit_watch *w, pid_t tgid)
{
	__u32 key = tgid;
	__s32 pending = PI_EXIT_PENDING;

	if (bpf_map_update_elem(bpf_map__fd(w->skel->maps.exit_status), &key, &pending, BPF_NOEXIST) &&
	    errno != EEXIST)
		return -errno;
	return 0;
}

int pi_exit_watch__status(const struct pi_exit_watch *w, pid_t tgid, int *exit_code)
{
	__u32 key = tgid;
	__s32 status;

	if (bpf_map_lookup_elem(bpf_map__fd(w->skel->maps.exit_status), &key, &status))
		return -ENOENT;
	if (status == PI_EXIT_PENDING)
		return -EAGAIN;
	*exit_code = pi_exit_code_of(status);
	return 0;
}
