// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `profinferd --check`: one line per kernel or binary feature the collector
 * uses, whether it is there, and what a session loses without it. */
#include "system_check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "version.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef DEBUGFS_MAGIC
#define DEBUGFS_MAGIC 0x64626720
#endif

struct feature {
	const char *name;
	bool ok;
	bool essential;		 /* no session at all without it */
	char detail[160];	 /* what was found, or the error */
	const char *lost;	 /* what a session loses without it */
};

/* `r0 = 0; exit`: the smallest program the verifier accepts. */
static const struct bpf_insn return_zero[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int load_kprobe_prog(enum bpf_attach_type expected)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = expected);

	return bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", return_zero, 2, &o);
}

static void check_bpf(struct feature *f)
{
	int fd = load_kprobe_prog(0);

	f->ok = fd >= 0;
	if (fd >= 0) {
		snprintf(f->detail, sizeof(f->detail), "kprobe/uprobe programs load");
		close(fd);
	} else {
		snprintf(f->detail, sizeof(f->detail), "loading a program failed: %s%s", strerror(errno),
			 errno == EPERM	   ? " (run as root, or with CAP_BPF and CAP_PERFMON)"
			 : errno == ENOSYS ? " (no bpf syscall: a kernel without CONFIG_BPF_SYSCALL, or qemu-user)"
					   : "");
	}
}

static void check_file(struct feature *f, const char *path, const char *what)
{
	f->ok = access(path, R_OK) == 0;
	snprintf(f->detail, sizeof(f->detail), "%s %s%s%s", path, f->ok ? what : "missing",
		 f->ok ? "" : ": ", f->ok ? "" : strerror(errno));
}

/* As libbpf does: a uprobe_multi link on "/" fails with EBADF exactly when
 * the kernel knows the link type. */
static void check_uprobe_multi(struct feature *f)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	unsigned long offset = 0;
	int prog, link, err;

	prog = load_kprobe_prog(BPF_TRACE_UPROBE_MULTI);
	if (prog < 0) {
		snprintf(f->detail, sizeof(f->detail), "program load failed: %s", strerror(errno));
		return;
	}
	lo.uprobe_multi.path = "/";
	lo.uprobe_multi.offsets = &offset;
	lo.uprobe_multi.cnt = 1;
	link = bpf_link_create(prog, -1, BPF_TRACE_UPROBE_MULTI, &lo);
	err = errno;
	f->ok = link < 0 && err == EBADF;
	snprintf(f->detail, sizeof(f->detail), "%s",
		 f->ok ? "one link attaches many addresses" : "this kernel has no uprobe_multi links (< 6.6)");
	if (link >= 0)
		close(link);
	close(prog);
}

static void check_helper(struct feature *f, enum bpf_func_id helper, const char *name)
{
	int r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, helper, NULL);

	f->ok = r == 1;
	snprintf(f->detail, sizeof(f->detail), "%s %s", name, f->ok ? "available" : "not available");
}

static void check_ringbuf(struct feature *f)
{
	f->ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	snprintf(f->detail, sizeof(f->detail), "%s", f->ok ? "BPF ring buffer maps" : "no BPF ring buffer (< 5.8)");
}

static void check_btf(struct feature *f)
{
	struct btf *btf = btf__load_vmlinux_btf();

	f->ok = btf != NULL;
	if (btf) {
		snprintf(f->detail, sizeof(f->detail), "kernel BTF with %u types", btf__type_cnt(btf));
		btf__free(btf);
	} else {
		snprintf(f->detail, sizeof(f->detail), "no kernel BTF (/sys/kernel/btf/vmlinux)");
	}
}

static void check_tp_btf(struct feature *f)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_RAW_TP);
	int id = libbpf_find_vmlinux_btf_id("sched_switch", BPF_TRACE_RAW_TP), fd;

	if (id < 0) {
		snprintf(f->detail, sizeof(f->detail), "no BTF for the sched_switch tracepoint");
		return;
	}
	o.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", return_zero, 2, &o);
	f->ok = fd >= 0;
	snprintf(f->detail, sizeof(f->detail), "%s", f->ok ? "BTF-typed tracepoints load" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void check_tracefs(struct feature *f)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct statfs s;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!statfs(dirs[i], &s) && (s.f_type == TRACEFS_MAGIC || s.f_type == DEBUGFS_MAGIC)) {
			f->ok = true;
			snprintf(f->detail, sizeof(f->detail), "mounted at %s", dirs[i]);
			return;
		}
	}
	snprintf(f->detail, sizeof(f->detail), "not mounted: mount -t tracefs tracefs /sys/kernel/tracing");
}

/* A counter opens on CPU 0 for every task, as a session opens it. */
static void check_counter(struct feature *f, uint32_t type, uint64_t config)
{
	struct perf_event_attr a = { .size = sizeof(a), .type = type, .config = config, .disabled = 1 };
	int fd = syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	f->ok = fd >= 0;
	if (fd >= 0) {
		snprintf(f->detail, sizeof(f->detail), "opens");
		close(fd);
	} else {
		snprintf(f->detail, sizeof(f->detail), "%s%s", strerror(errno),
			 errno == ENOENT ? " (no hardware PMU here, e.g. a VM)" : "");
	}
}

static void json_string(FILE *to, const char *s)
{
	fputc('"', to);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(to, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(to, "\\u%04x", *s);
		else
			fputc(*s, to);
	}
	fputc('"', to);
}

int pi_system_check(FILE *to, bool json)
{
	struct feature f[] = {
		{ "bpf", .essential = true, .lost = "everything: no probe can be loaded" },
		{ "uprobes", .essential = true,
		  .lost = "everything: llama.cpp is probed with uprobes (CONFIG_UPROBE_EVENTS)" },
		{ "ringbuf", .essential = true, .lost = "everything: events travel through a BPF ring buffer" },
		{ "uprobe_multi", .lost = "nothing recorded; attach falls back to one uprobe per address (slower, more fds)" },
		{ "bpf_loop", .lost = "graph structure (op, shape, sources per node): node rows are not named" },
		{ "attach_cookie", .lost = "one probe per node: falls back to two probes per node (about twice the cost)" },
		{ "btf", .lost = "scheduler tracing (--sched) unless --btf FILE names this kernel's BTF; uprobes need none" },
		{ "tp_btf", .lost = "scheduler tracing (--sched)" },
		{ "tracefs", .lost = "nothing with uprobe_multi or perf-event uprobes; older kernels may need it" },
		{ "counter:cycles", .lost = "hardware counters per node (cycles, instructions, cache misses)" },
		{ "counter:instructions", .lost = "instructions per node (IPC in the verdicts)" },
		{ "counter:cache-misses", .lost = "cache misses per node" },
		{ "counter:page-faults", .lost = "page faults per node" },
		{ "counter:task-clock", .lost = "CPU time per node from the kernel's clock" },
		{ "counter:context-switches", .lost = "context switches per node" },
	};
	size_t n = sizeof(f) / sizeof(f[0]);
	struct utsname u = {};
	bool usable = true;

	libbpf_set_print(NULL);
	uname(&u);
	check_bpf(&f[0]);
	check_file(&f[1], "/sys/bus/event_source/devices/uprobe/type", "present");
	check_btf(&f[6]);
	if (f[0].ok) {
		check_ringbuf(&f[2]);
		check_uprobe_multi(&f[3]);
		check_helper(&f[4], BPF_FUNC_loop, "bpf_loop");
		check_helper(&f[5], BPF_FUNC_get_attach_cookie, "bpf_get_attach_cookie");
		check_tp_btf(&f[7]);
	} else {
		/* Probing them needs a loadable program: say so, do not guess. */
		for (int i = 2; i <= 7; i++)
			if (i != 6)
				snprintf(f[i].detail, sizeof(f[i].detail), "not checked: BPF programs cannot be loaded");
	}
	check_tracefs(&f[8]);
	check_counter(&f[9], PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
	check_counter(&f[10], PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS);
	check_counter(&f[11], PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES);
	check_counter(&f[12], PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS);
	check_counter(&f[13], PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK);
	check_counter(&f[14], PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES);
	for (size_t i = 0; i < n; i++)
		usable &= f[i].ok || !f[i].essential;

	if (json) {
		fprintf(to, "{\"collector_version\":\"%s\",\"build_target\":\"%s\",\"libbpf_version\":\"%s\","
			    "\"kernel_release\":",
			PI_VERSION, PI_BUILD_TARGET, libbpf_version_string());
		json_string(to, u.release);
		fprintf(to, ",\"arch\":");
		json_string(to, u.machine);
		fprintf(to, ",\"euid\":%u,\"usable\":%s,\"features\":[", (unsigned)geteuid(), usable ? "true" : "false");
		for (size_t i = 0; i < n; i++) {
			fprintf(to, "%s{\"name\":\"%s\",\"ok\":%s,\"essential\":%s,\"detail\":", i ? "," : "",
				f[i].name, f[i].ok ? "true" : "false", f[i].essential ? "true" : "false");
			json_string(to, f[i].detail);
			fprintf(to, ",\"lost_without\":");
			json_string(to, f[i].lost);
			fputc('}', to);
		}
		fprintf(to, "]}\n");
		return usable ? 0 : 1;
	}

	fprintf(to, "profinferd %s (%s, libbpf %s) on Linux %s %s%s\n\n", PI_VERSION, PI_BUILD_TARGET,
		libbpf_version_string(), u.release, u.machine, geteuid() ? ", not root" : "");
	for (size_t i = 0; i < n; i++) {
		fprintf(to, "  %-4s %-24s %s\n", f[i].ok ? "ok" : (f[i].essential ? "FAIL" : "no"), f[i].name,
			f[i].detail);
		if (!f[i].ok)
			fprintf(to, "       %-24s without it: %s\n", "", f[i].lost);
	}
	fprintf(to, "\n%s\n",
		usable ? "This system can run profinferd sessions."
		       : "profinferd cannot record here: fix the FAIL lines above (root, a kernel with BPF and uprobes).");
	return usable ? 0 : 1;
}
