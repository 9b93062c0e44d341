// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* profinferd: the ProfInfer collector's command line. Parses arguments,
 * starts or finds the target, and drives the collector core (collector.h)
 * until the target exits or a signal arrives. Signals only flip a flag. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collector.h"
#include "trace_emit.h"
#include "perf_counters.h"
#include "elf_file.h"
#include "layout.h"
#include "backend_probes.h"
#include "probe_plan.h"
#include "session_config.h"
#include "serve.h"
#include "system_check.h"
#include "version.h"
#include <linux/types.h>
#include "profinfer_events.h"

static volatile sig_atomic_t exiting;
/* SIGUSR1: down to graph level, SIGUSR2: back to the session's level. */
static volatile sig_atomic_t level_signal;

static void on_level_signal(int sig)
{
	level_signal = sig;
}

static void on_signal(int sig)
{
	exiting = sig;
}

static const char usage_text[] =
	"Usage: profinferd record -o TRACE [options] (--pid PID | -- COMMAND [ARGS...])\n"
	"       profinferd probes [--level L] [--node-probes M] FILE...   show where probes would go\n"
	"       profinferd serve [--listen HOST:PORT] [--unix PATH] [--trace-dir DIR] ...\n"
	"                        the device service (see profinferd serve --help)\n"
	"       profinferd --check [--json]   what this kernel and binary support\n"
	"       profinferd --version | --list-layouts | --help\n"
	"\n"
	"Profiles an unmodified llama.cpp / GGML process with eBPF uprobes and writes a\n"
	"ProfInfer v1 trace: every llama_decode (token), every graph compute, and every\n"
	"node of every graph on every thread, with its barrier wait.\n"
	"\n"
	"record options:\n"
	"  -o, --output TRACE     trace file to write (required)\n"
	"  -p, --pid PID          attach to a running process\n"
	"  -l, --level LEVEL      token | graph | node (default: node)\n"
	"      --no-structure     do not capture graph structure (graph level only)\n"
	"      --layout SPEC      GGML struct layout: a profile name, or key=offset,...\n"
	"                         overrides (default: auto; see --list-layouts)\n"
	"      --ringbuf-kib N    ring buffer size (default 4096)\n"
	"      --node-probes M    node level: auto (default) | one | two probes per node\n"
	"                         and thread; one reads GGML's loop counter at its\n"
	"                         barrier calls (x86-64), auto falls back to two\n"
	"      --sched            also record sched_switch / sched_waking of the target's\n"
	"                         threads: when each runs, waits runnable or sleeps, and\n"
	"                         who preempted it (analyze shows a threads section)\n"
	"      --btf FILE         BTF of this kernel for --sched where it has none of its\n"
	"                         own (/sys/kernel/btf/vmlinux): its vmlinux, or BTFHub's\n"
	"      --moe              also record MoE expert routing: the expert ids every\n"
	"                         MUL_MAT_ID node chose for each token (ExpertRouting;\n"
	"                         analyze shows an experts section). Off by default: it\n"
	"                         probes the dispatcher call of every node on every\n"
	"                         thread (at graph level too), as two-probe node level\n"
	"                         does; implies graph structure\n"
	"      --counters LIST    also count events per node and thread, e.g.\n"
	"                         task-clock,page-faults,context-switches or cycles,\n"
	"                         instructions,cache-misses (generic perf names),\n"
	"                         raw:0x11 (a raw PMU code), armv8:l3d_cache_refill,\n"
	"                         mem_access_wr, stall_backend (ARMv8 PMUv3 names);\n"
	"                         at most 8. One perf event per CPU and counter, read\n"
	"                         by the node probes. A counter that cannot be opened\n"
	"                         (no hardware PMU in a VM: cycles) is reported and\n"
	"                         left out; a row whose thread moved CPU or was\n"
	"                         switched out gets no value rather than a wrong one\n"
	"      --probe LIB:FUNC:ARG[:BACKEND]\n"
	"                         node-level probe for a non-CPU backend: entry and\n"
	"                         return of FUNC in libraries matching LIB (file name\n"
	"                         or glob; * any; also ones dlopen'ed later), the\n"
	"                         ggml_tensor * in argument ARG (0-based); rows get\n"
	"                         op/name/shape read from the tensor and BACKEND\n"
	"                         (default FUNC). Repeatable (at most 8). Built in,\n"
	"                         wherever the function exists: OpenCL's\n"
	"                         ggml_cl_compute_forward:1, the Rockchip NPU's\n"
	"                         ggml_rk_compute_forward:1, CUDA's\n"
	"                         ggml_cuda_compute_forward:1 (needs its .symtab).\n"
	"                         Graphs of every backend are named from its guid\n"
	"                         (ggml_backend_graph_compute_async, graph level)\n"
	"      --backend-probes   warn when none of the built-in backend functions\n"
	"                         was found in the target\n"
	"      --config FILE      session configuration: a SessionConfig as JSON\n"
	"                         (proto3 JSON names: level, counters, sampleEveryNTokens,\n"
	"                         qosRule {minTokensPerS, resumeTokensPerS, windowTokens,\n"
	"                         degradedLevel}, ...); every field is checked before\n"
	"                         anything is attached; flags given too override it\n"
	"      --qos-min-tps X    QoS rule: drop node-level probes (detach them) while\n"
	"                         decoding runs below X tokens/s over the window...\n"
	"      --qos-resume-tps Y ...and attach them again at Y tokens/s or more\n"
	"                         (default X; the trace gets LevelChange and QosSample)\n"
	"      --qos-window N     decode tokens in the sliding window (default 16)\n"
	"      --sample-every N   node level on one llama_decode call in N (calls N,\n"
	"                         2N, ...): node probes are attached only around them\n"
	"  -v, --verbose          print libbpf diagnostics (and level switching costs)\n"
	"While recording: kill -USR1 lowers node level to graph (its probes are\n"
	"detached), kill -USR2 restores the level asked for; the trace records both.\n"
	"\n"
	"Examples:\n"
	"  profinferd record -o run.pftrace -- llama-simple -m model.gguf -n 32 \"Hello\"\n"
	"  profinferd record -o run.pftrace --level graph --pid 4242\n"
	"  profinferd record -o run.pftrace --sched -- llama-cli -m model.gguf -t 2 -p Hi\n"
	"  profinferd record -o moe.pftrace --moe -- llama-simple -m moe.gguf -n 8 Hi\n"
	"  profinferd record -o run.pftrace --qos-min-tps 5 --qos-resume-tps 6 -- llama-cli ...\n"
	"  profinferd record --config session.json -- llama-simple -m model.gguf -n 64 Hi\n"
	"  profinfer-host summary run.pftrace\n";

static int usage(FILE *to, int code)
{
	fputs(usage_text, to);
	return code;
}

static int parse_level(const char *s, enum pi_level *out)
{
	if (!strcmp(s, "token"))
		*out = PI_LEVEL_TOKEN;
	else if (!strcmp(s, "graph"))
		*out = PI_LEVEL_GRAPH;
	else if (!strcmp(s, "node"))
		*out = PI_LEVEL_NODE;
	else
		return -EINVAL;
	return 0;
}

static int parse_node_probes(const char *s, enum pi_node_probes *out)
{
	if (!pi_node_probes__parse(s, out))
		return 0;
	fprintf(stderr, "error: --node-probes must be auto, one or two, not '%s'\n", s);
	return -EINVAL;
}

/* The default of --node-probes; PROFINFER_NODE_PROBES overrides it (bench/). */
static enum pi_node_probes default_node_probes(void)
{
	enum pi_node_probes m = PI_NODE_PROBES_AUTO;
	const char *env = getenv("PROFINFER_NODE_PROBES");

	if (env && *env && pi_node_probes__parse(env, &m))
		fprintf(stderr, "warning: ignoring PROFINFER_NODE_PROBES='%s' (auto, one or two)\n", env);
	return m;
}

/* ---- probes: a dry run of probe planning ------------------------------- */

static void print_counter(uint64_t cookie)
{
	static const char *const regs[] = { "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10",
					    "r9",  "r8",  "rax", "rcx", "rdx", "rsi", "rdi" };
	unsigned loc = (cookie >> PI_NLB_LOC_SHIFT) & 0xff, reg = (cookie >> PI_NLB_REG_SHIFT) & 0xff;
	unsigned params = cookie >> PI_NLB_PARAMS_SHIFT;

	if (loc == PI_NLB_STACK)
		printf("  node_n+1 at [rsp%s0x%x]", (int32_t)cookie < 0 ? "-" : "+", (int32_t)cookie < 0 ? -(unsigned)(int32_t)cookie : (unsigned)cookie);
	else if (loc == PI_NLB_REG)
		printf("  node_n+1 in %s", reg < 15 ? regs[reg] : "?");
	else
		printf("  after the loop");
	if (params)
		printf(", params at [rsp+0x%x]", params - 1);
}

static int cmd_probes(int argc, char **argv)
{
	enum pi_level level = PI_LEVEL_NODE;
	enum pi_node_probes node_probes = default_node_probes();
	int rc = 0, opt;
	static const struct option opts[] = {
		{ "level", required_argument, NULL, 'l' },
		{ "node-probes", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};

	while ((opt = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		if (opt == 'l' && !parse_level(optarg, &level))
			continue;
		if (opt == 'N') {
			if (parse_node_probes(optarg, &node_probes))
				return 2;
			continue;
		}
		return usage(opt == 'h' ? stdout : stderr, opt == 'h' ? 0 : 2);
	}
	if (optind >= argc)
		return usage(stderr, 2);
	for (int i = optind; i < argc; i++) {
		struct pi_elf_file *f;
		struct pi_probe_plan plan;
		char *dbg;
		int err = pi_elf_file__open(argv[i], pi_probe_plan__symbol_prefixes, &f);

		if (err) {
			fprintf(stderr, "error: cannot read %s as an ELF file: %s\n", argv[i], strerror(-err));
			rc = 1;
			continue;
		}
		if (!f->has_symtab && (dbg = pi_elf_file__find_debug_file(f))) {
			pi_elf_file__add_debug_file(f, dbg);
			printf("%s: symbols from %s\n", argv[i], dbg);
			free(dbg);
		}
		if ((err = pi_probe_plan__build(f, level, node_probes, &plan))) {
			fprintf(stderr, "error: failed to plan probes for %s: %s\n", argv[i], strerror(-err));
			pi_elf_file__free(f);
			rc = 1;
			continue;
		}
		printf("%s (build id %s%s):\n", argv[i], f->build_id[0] ? f->build_id : "none",
		       f->has_symtab ? "" : ", no .symtab");
		for (size_t k = 0; k < plan.n; k++) {
			const struct pi_probe *p = &plan.probes[k];

			printf("  %-14s %s+0x%llx%s%s  file offset 0x%llx  %s", pi_probe_kind__name(p->kind),
			       p->symbol, (unsigned long long)(p->vaddr - pi_elf_file__find(f, p->symbol)->vaddr),
			       p->site ? " call " : "", p->site ? p->site : "", (unsigned long long)p->offset,
			       p->cheap ? "emulated" : "single-stepped (slow)");
			if (p->kind == PI_PROBE_NODE_LOOP_BARRIER)
				print_counter(p->cookie);
			printf("\n");
		}
		if (plan.has_node)
			printf("  node level: %s%s%s\n",
			       plan.node_one ? "one probe per node and thread (call-site+counter)"
					     : "two probes per node and thread (dispatch + barrier)",
			       plan.node_one_failed ? ": " : "", plan.node_one_failed ? plan.node_one_failed : "");
		for (size_t k = 0; k < plan.n_missing; k++)
			printf("  missing %s: %s\n", plan.missing[k].symbol, plan.missing[k].detail_lost);
		if (!plan.has_token && !plan.has_graph)
			printf("  no llama.cpp / GGML entry points in this file\n");
		pi_probe_plan__free(&plan);
		pi_elf_file__free(f);
	}
	return rc;
}

/* ---- record ------------------------------------------------------------ */

/* The executable execvp would run for `name`. */
static int resolve_command(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		if (access(name, X_OK))
			return -errno;
		snprintf(out, len, "%s", name);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
		if (!access(out, X_OK))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* Starts COMMAND stopped before exec, so probes are attached before it
 * runs. Returns the child pid; `go` releases it, `exec_err` reports an
 * exec failure (close-on-exec pipe). */
static pid_t spawn_held(char **argv, int *go, int *exec_err)
{
	int hold[2], report[2];
	pid_t pid;

	if (pipe2(hold, O_CLOEXEC) || pipe2(report, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char b;
		int e;

		close(hold[1]);
		close(report[0]);
		if (read(hold[0], &b, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(report[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(hold[0]);
	close(report[1]);
	*go = hold[1];
	*exec_err = report[0];
	return pid;
}

static bool pid_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void print_summary(const struct pi_collector_stats *s, const char *out, const char *why)
{
	char sched[64] = "";
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	if (s->sched_events || s->sched_lost)
		snprintf(sched, sizeof(sched), ", %llu scheduler events", (unsigned long long)s->sched_events);
	fprintf(stderr,
		"profinferd: %s. Recorded %llu tokens, %llu graphs, %llu node events (%llu structures)%s; "
		"lost %llu; %.2f MB written to %s; peak RSS %.1f MB, CPU %.2f s\n",
		why, (unsigned long long)s->tokens, (unsigned long long)s->graphs,
		(unsigned long long)s->node_rows, (unsigned long long)s->structures, sched,
		(unsigned long long)pi_collector_stats__lost(s),
		s->bytes_written / 1e6, out, ru.ru_maxrss / 1024.0,
		ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (s->backend_graphs || s->cpu_graphs_by_guid || s->backend_nodes)
		fprintf(stderr, "profinferd: backends: %llu CPU graphs named from their backend's guid, %llu "
				"graphs of other backends, %llu backend probe calls (%llu without a readable "
				"tensor)\n",
			(unsigned long long)s->cpu_graphs_by_guid, (unsigned long long)s->backend_graphs,
			(unsigned long long)s->backend_nodes, (unsigned long long)s->backend_nodes_unread);
}

/* Reads `--config FILE` (a SessionConfig as JSON) into `o` before the
 * flags are parsed; every field is checked before anything is attached.
 * Returns 0, or 2 after printing why. */
static int load_config(int argc, char **argv, struct pi_collector_opts *o, const char **output)
{
	static profinfer_v1_SessionConfig cfg; /* the options point into both */
	static struct pi_session_opts so;
	const char *path = NULL;
	char err[1024];

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
	}
	if (!path)
		return 0;
	if (pi_session_config__read_file(path, &cfg, err, sizeof(err)) ||
	    pi_session_config__to_opts(&cfg, path, &so, err, sizeof(err))) {
		fprintf(stderr, "error: %s\n", err);
		return 2;
	}
	so.opts.node_probes = o->node_probes;
	*o = so.opts;
	if (so.output_path)
		*output = so.output_path;
	return 0;
}

static int cmd_record(int argc, char **argv)
{
	struct pi_collector_opts o = { .level = PI_LEVEL_NODE, .structure = true,
				       .node_probes = default_node_probes() };
	const char *output = NULL;
	char err[1024] = "", session_id[40], exe[4096];
	struct pi_collector *c = NULL;
	struct pi_collector_stats st;
	pid_t pid = 0, child = 0;
	bool own_child = false;
	int go = -1, exec_err = -1, status = 0, opt, rc = 1, e, fd = -1;
	const char *why = "target exited";
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ "level", required_argument, NULL, 'l' },
		{ "no-structure", no_argument, NULL, 'S' },
		{ "layout", required_argument, NULL, 'L' },
		{ "ringbuf-kib", required_argument, NULL, 'R' },
		{ "node-probes", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "sched", no_argument, NULL, 1001 },
		{ "btf", required_argument, NULL, 1004 },
		{ "moe", no_argument, NULL, 1002 },
		{ "counters", required_argument, NULL, 1003 },
		{ "config", required_argument, NULL, 1101 },
		{ "qos-min-tps", required_argument, NULL, 1102 },
		{ "qos-resume-tps", required_argument, NULL, 1103 },
		{ "qos-window", required_argument, NULL, 1104 },
		{ "sample-every", required_argument, NULL, 1105 },
		{ "probe", required_argument, NULL, 1106 },
		{ "backend-probes", no_argument, NULL, 1107 },
		{},
	};
	static struct pi_probe_spec specs[8]; /* --config's, then --probe's */
	size_t n_specs = 0;

	/* --config FILE first, whatever its place: the flags override it. */
	if ((e = load_config(argc, argv, &o, &output)))
		return e;
	for (size_t i = 0; i < o.n_probes && n_specs < 8; i++)
		specs[n_specs++] = o.probes[i];

	while ((opt = getopt_long(argc, argv, "+o:p:l:vh", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'o': output = optarg; break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "error: --pid wants a process id, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'l':
			if (parse_level(optarg, &o.level)) {
				fprintf(stderr, "error: --level must be token, graph or node, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S': o.structure = false; break;
		case 'L': o.layout = optarg; break;
		case 'R':
			o.ring_buffer_kib = strtoul(optarg, &end, 10);
			if (*end || o.ring_buffer_kib < 64 || o.ring_buffer_kib > (1u << 21)) {
				fprintf(stderr, "error: --ringbuf-kib must be 64..2097152, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'N':
			if (parse_node_probes(optarg, &o.node_probes))
				return 2;
			break;
		case 'v': o.verbose = true; break;
		case 1001: o.sched = true; break;
		case 1002: o.moe = true; break;
		case 1003: o.counters = optarg; break;
		case 1004: o.btf_path = optarg; break;
		case 1101: break; /* read above */
		case 1102:
		case 1103: {
			double v = strtod(optarg, &end);

			if (*end || !(v >= 0 && v < 1e6)) {
				fprintf(stderr, "error: --%s wants tokens per second, not '%s'\n",
					opt == 1102 ? "qos-min-tps" : "qos-resume-tps", optarg);
				return 2;
			}
			*(opt == 1102 ? &o.qos.min_tokens_per_s : &o.qos.resume_tokens_per_s) = v;
			break;
		}
		case 1104:
		case 1105: {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !*optarg || v > 1000000) {
				fprintf(stderr, "error: --%s wants a number of tokens, not '%s'\n",
					opt == 1104 ? "qos-window" : "sample-every", optarg);
				return 2;
			}
			*(opt == 1104 ? &o.qos.window_tokens : &o.sample_every_n_tokens) = v;
			break;
		}
		case 1106:
			if (n_specs == 8) {
				fprintf(stderr, "error: --probe: at most 8 probe specs\n");
				return 2;
			}
			if (pi_probe_spec__parse(optarg, &specs[n_specs], err, sizeof(err))) {
				fprintf(stderr, "error: %s\n", err);
				return 2;
			}
			n_specs++;
			break;
		case 1107: o.backend_probes = true; break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, 2);
		}
	}
	o.probes = specs;
	o.n_probes = n_specs;
	if (n_specs && o.level < PI_LEVEL_NODE) {
		fprintf(stderr, "error: --probe adds node-level probes: use it with --level node\n");
		return 2;
	}
	if (o.sample_every_n_tokens > 1 && o.level < PI_LEVEL_NODE) {
		fprintf(stderr, "error: --sample-every samples node level: use it with --level node\n");
		return 2;
	}
	if (o.qos.min_tokens_per_s > 0) {
		struct pi_qos check;

		if (!o.qos.degraded_level)
			o.qos.degraded_level = PI_LEVEL_GRAPH;
		if (o.qos.degraded_level >= o.level) {
			fprintf(stderr, "error: a QoS rule lowers the level to graph: record at node level\n");
			return 2;
		}
		if (pi_qos__init(&check, &o.qos, o.level, err, sizeof(err))) {
			fprintf(stderr, "error: %s\n", err);
			return 2;
		}
	}
	if (o.counters) {
		/* A bad name is an error before anything is opened or attached. */
		struct pi_counter_set check;

		if (pi_counters__parse(o.counters, &check, err, sizeof(err))) {
			fprintf(stderr, "error: %s\n", err);
			return 2;
		}
	}
	if (!output) {
		fprintf(stderr, "error: pass -o TRACE, the trace file to write\n");
		return 2;
	}
	if (!pid == (optind >= argc)) {
		fprintf(stderr, "error: pass either --pid PID or -- COMMAND [ARGS...]\n");
		return 2;
	}
	if (pid && !pid_alive(pid)) {
		fprintf(stderr, "error: no process with PID %d: check the PID (pgrep -f llama)\n", (int)pid);
		return 1;
	}
	if (!pid && (e = resolve_command(argv[optind], exe, sizeof(exe)))) {
		fprintf(stderr, "error: cannot run '%s': %s\n", argv[optind], strerror(-e));
		return 1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "error: profinferd needs root to load BPF programs: run it with sudo\n");
		return 1;
	}
	fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "error: cannot write %s: %s\n", output, strerror(errno));
		return 1;
	}
	snprintf(session_id, sizeof(session_id), "%llx-%d", (unsigned long long)time(NULL), (int)getpid());
	o.out_fd = fd;
	o.session_id = session_id;
	if ((e = pi_collector__new(&o, &c, err, sizeof(err)))) {
		fprintf(stderr, "error: %s\n", err);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_level_signal);
	signal(SIGUSR2, on_level_signal);
	signal(SIGPIPE, SIG_IGN);

	if (pid) {
		if ((e = pi_collector__add_pid(c, pid, err, sizeof(err)))) {
			fprintf(stderr, "error: %s\n", err);
			goto out;
		}
		if (!pi_collector__has_engine(c)) {
			fprintf(stderr,
				"error: process %d has no llama.cpp / GGML code mapped (no llama_decode or "
				"ggml_graph_compute in any of its files): pass the PID of the process that runs "
				"inference, after it has loaded its model\n", (int)pid);
			goto out;
		}
	} else {
		child = spawn_held(argv + optind, &go, &exec_err);
		own_child = child > 0;
		if (child < 0) {
			fprintf(stderr, "error: failed to start %s: %s\n", argv[optind], strerror(errno));
			goto out;
		}
		pid = child;
		if ((e = pi_collector__add_pid_before_exec(c, child, exe, err, sizeof(err)))) {
			fprintf(stderr, "error: %s\n", err);
			kill(child, SIGKILL);
			goto out;
		}
		if (write(go, "g", 1) != 1) {
			fprintf(stderr, "error: failed to release %s\n", argv[optind]);
			goto out;
		}
		close(go);
		if (read(exec_err, &e, sizeof(e)) == sizeof(e)) {
			fprintf(stderr, "error: cannot run '%s': %s\n", argv[optind], strerror(e));
			waitpid(child, NULL, 0);
			child = 0;
			goto out;
		}
		close(exec_err);
	}

	fprintf(stderr, "profinferd: recording process %d at %s level to %s (Ctrl-C stops)\n", (int)pid,
		o.level == PI_LEVEL_NODE ? "node" : o.level == PI_LEVEL_GRAPH ? "graph" : "token", output);
	while (!exiting) {
		if (level_signal) {
			enum pi_level want = level_signal == SIGUSR1 && o.level > PI_LEVEL_GRAPH ? PI_LEVEL_GRAPH : o.level;

			level_signal = 0;
			if ((e = pi_collector__set_level(c, want, "signal")))
				fprintf(stderr, "warning: cannot change the level: %s\n", strerror(-e));
		}
		e = pi_collector__poll(c, 100);
		if (e < 0 && e != -EINTR) {
			why = e == -ECANCELED ? "stopped: wrong struct layout" : "stopped: ring buffer error";
			break;
		}
		if (child) {
			pid_t w = waitpid(child, &status, WNOHANG);

			if (w == child) {
				child = 0;
				break;
			}
		} else if (!pid_alive(pid)) {
			break;
		}
	}
	if (exiting)
		why = exiting == SIGINT ? "interrupted" : "terminated";
	/* Our child: waited for. A --pid target: what the kernel told the
	 * collector (unknown while it runs, i.e. when we were interrupted). */
	pi_collector__finish(c, why,
			     own_child ? pi_exit_code_of(status) : pi_collector__target_exit_code(c));
	pi_collector__stats(c, &st);
	if (pi_collector__failed(c))
		why = "stopped: wrong struct layout";
	print_summary(&st, output, why);
	if (!pi_collector__has_engine(c)) {
		struct pi_elf_file *f = NULL;
		bool stripped = !pi_elf_file__open(exe, pi_probe_plan__symbol_prefixes, &f) && !f->has_symtab;

		pi_elf_file__free(f);
		fprintf(stderr, "error: no llama.cpp / GGML code was found in %s or the libraries it loaded: "
				"is it a llama.cpp program?%s\n",
			argv[optind],
			stripped ? " It is stripped (no .symtab): if it is one, install its debug file "
				   "(/usr/lib/debug/.build-id, or .gnu_debuglink) or use an unstripped build"
				 : "");
		goto out;
	}
	rc = pi_collector__failed(c) || !strncmp(why, "stopped", 7) ? 1 : 0;
out:
	pi_collector__free(c);
	if (fd >= 0)
		close(fd);
	if (child > 0)
		waitpid(child, NULL, 0);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("profinferd %s (%s, libbpf %s, protocol %d)\n", PI_VERSION, PI_BUILD_TARGET,
		       libbpf_version_string(), PI_PROTOCOL_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--check") || !strcmp(argv[1], "check"))
		return pi_system_check(stdout, argc > 2 && !strcmp(argv[2], "--json"));
	if (!strcmp(argv[1], "--list-layouts")) {
		pi_layout__list();
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout, 0);
	if (!strcmp(argv[1], "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return pi_serve__main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probes"))
		return cmd_probes(argc - 1, argv + 1);
	fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
	return usage(stderr, 2);
}
