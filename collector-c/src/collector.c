// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collector.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "elf_file.h"
#include "engine_info.h"
#include "graph_assembler.h"
#include "layout.h"
#include "llama.skel.h"
#include "proc_maps.h"
#include "stream_writer.h"
#include "trace_emit.h"
#include "uprobe_attach.h"

#define PI_DEFAULT_RINGBUF_KIB (4 * 1024)
#define PI_MAX_TARGETS 64
/* (process, file) pairs looked at, engine or not. */
#define PI_MAX_MODULES 1024

struct module {
	pid_t pid;
	uint64_t dev, inode;
};

struct pending_names {
	pid_t pid;
	struct pi_engine_names names;
};

struct pi_collector {
	struct pi_collector_opts o;
	struct llama_bpf *skel;
	struct ring_buffer *rb;
	struct pi_writer *w;
	struct pi_emit *emit;
	struct pi_assembler *assembler;
	struct bpf_link **links;
	size_t n_links, cap_links;
	struct module modules[PI_MAX_MODULES];
	size_t n_modules;
	pid_t pids[PI_MAX_TARGETS];
	bool described[PI_MAX_TARGETS]; /* ProcessInfo written */
	size_t n_pids;
	pid_t rescan[PI_MAX_TARGETS]; /* targets that loaded a library */
	size_t n_rescan;
	struct pi_layout layout;
	char layout_name[64];
	bool layout_user;
	bool layout_chosen;  /* and SessionInfo written */
	bool saw_graph_uid;  /* some engine file has ggml_graph_next_uid */
	struct pending_names pending_names[PI_MAX_TARGETS]; /* until SessionInfo */
	size_t n_pending_names;
	bool layout_checked;
	unsigned n_ops;
	int op_unary, op_glu; /* ops whose function is in op_params[0]; -1: unknown */
	bool has_engine;
	bool multi; /* uprobe_multi links */
	bool finished;
	uint64_t token_seq;
	struct pi_collector_stats stats;
	uint64_t recorded[PI_EV_KIND_MAX];
	char *err;
	size_t errlen;
};

static void choose_layout_now(struct pi_collector *c);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- sink: assembled graphs go to the trace --------------------------- */

static void on_structure(void *ctx, const struct pi_structure *s)
{
	struct pi_collector *c = ctx;

	c->stats.structures++;
	/* A wrong layout reads garbage: refuse it instead of recording it. */
	if (!c->layout_checked && s->n_nodes) {
		unsigned bad = 0;

		for (uint32_t i = 0; i < s->n_nodes; i++)
			bad += s->nodes[i].tensor && !pi_layout__node_plausible(&s->nodes[i], c->n_ops);
		c->layout_checked = true;
		if (bad * 10 > s->n_nodes) {
			fprintf(stderr,
				"error: layout profile '%s' does not match this GGML: %u of %u graph nodes "
				"read as implausible (op/type out of range, bad shape or name). Pass "
				"--layout with the right profile or offsets (see --list-layouts).\n",
				c->layout_name, bad, s->n_nodes);
			c->finished = true;
		}
	}
	if (c->finished)
		return; /* never write what a wrong layout read */
	pi_emit__structure(c->emit, s, c->op_unary, c->op_glu);
}

static void on_graph(void *ctx, const struct pi_graph *g, const struct pi_structure *s)
{
	struct pi_collector *c = ctx;

	(void)s;
	c->stats.graphs++;
	pi_emit__graph(c->emit, g);
}

/* ---- ring buffer ------------------------------------------------------ */

static bool is_target(struct pi_collector *c, pid_t pid)
{
	for (size_t i = 0; i < c->n_pids; i++)
		if (c->pids[i] == pid)
			return true;
	return false;
}

/* ProcessInfo once the target runs its own program: a record from it proves
 * a launched target has exec'ed (before that /proc shows profinferd). */
static void describe_target(struct pi_collector *c, pid_t pid)
{
	for (size_t i = 0; i < c->n_pids; i++)
		if (c->pids[i] == pid && !c->described[i] && c->layout_chosen) {
			c->described[i] = true;
			pi_emit__process(c->emit, pid);
		}
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct pi_collector *c = ctx;
	struct pi_hdr hdr;
	int err = 0;

	if (size < sizeof(hdr))
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	c->stats.events++;
	if (hdr.kind != PI_EV_LIB_LOADED)
		choose_layout_now(c); /* the engine runs: SessionInfo must precede its records */
	describe_target(c, hdr.tgid);
	if (hdr.kind < PI_EV_KIND_MAX)
		c->recorded[hdr.kind]++;

#define RECORD(type, var)                                  \
	type var;                                          \
	if (size < sizeof(var))                            \
		return 0;                                  \
	memcpy(&var, data, sizeof(var))

	switch (hdr.kind) {
	case PI_EV_TOKEN: {
		RECORD(struct pi_token_event, e);
		c->stats.tokens++;
		pi_emit__token(c->emit, &e, ++c->token_seq, c->o.level >= PI_LEVEL_NODE);
		break;
	}
	case PI_EV_GRAPH_BEGIN: {
		RECORD(struct pi_graph_begin_event, e);
		err = pi_assembler__graph_begin(c->assembler, &e);
		break;
	}
	case PI_EV_GRAPH_END: {
		RECORD(struct pi_graph_end_event, e);
		err = pi_assembler__graph_end(c->assembler, &e);
		if (err == -ENOENT)
			err = 0; /* its begin was lost (and counted) */
		break;
	}
	case PI_EV_NODE: {
		RECORD(struct pi_node_event, e);
		err = pi_assembler__node(c->assembler, &e);
		break;
	}
	case PI_EV_NODE_END: {
		RECORD(struct pi_node_end_event, e);
		err = pi_assembler__node_end(c->assembler, &e);
		break;
	}
	case PI_EV_STRUCT_NODE: {
		RECORD(struct pi_struct_node_event, e);
		err = pi_assembler__struct_node(c->assembler, &e);
		break;
	}
	case PI_EV_STRUCT_SRC: {
		RECORD(struct pi_struct_src_event, e);
		err = pi_assembler__struct_src(c->assembler, &e);
		break;
	}
	case PI_EV_THREAD: {
		RECORD(struct pi_thread_event, e);
		char name[sizeof(e.comm) + 1];

		memcpy(name, e.comm, sizeof(e.comm));
		name[sizeof(e.comm)] = '\0';
		pi_emit__thread_named(c->emit, e.hdr.tgid, e.hdr.tid, name);
		break;
	}
	case PI_EV_LIB_LOADED:
		if (c->n_rescan < PI_MAX_TARGETS && is_target(c, hdr.tgid)) {
			bool queued = false;

			for (size_t i = 0; i < c->n_rescan; i++)
				queued |= c->rescan[i] == (pid_t)hdr.tgid;
			if (!queued)
				c->rescan[c->n_rescan++] = hdr.tgid;
		}
		break;
	default:
		break;
	}
#undef RECORD
	if (err && c->o.verbose)
		fprintf(stderr, "debug: record kind %u: %s\n", hdr.kind, strerror(-err));
	if (err == -ENOMEM)
		return err;
	return 0;
}

/* ---- attach ----------------------------------------------------------- */

static struct bpf_program *program_for(struct pi_collector *c, enum pi_probe_kind k)
{
	switch (k) {
	case PI_PROBE_TOKEN_ENTER: return c->skel->progs.token_enter;
	case PI_PROBE_TOKEN_EXIT: return c->skel->progs.token_exit;
	case PI_PROBE_GRAPH_ENTER: return c->skel->progs.graph_enter;
	case PI_PROBE_GRAPH_EXIT: return c->skel->progs.graph_exit;
	case PI_PROBE_NODE_DISPATCH: return c->skel->progs.node_dispatch;
	case PI_PROBE_NODE_FUSED: return c->skel->progs.node_fused;
	case PI_PROBE_NODE_BARRIER: return c->skel->progs.node_barrier;
	case PI_PROBE_LIB_LOADED: return c->skel->progs.lib_loaded;
	case PI_PROBE_NODE_LOOP_BARRIER: return c->skel->progs.node_loop_barrier;
	default: return NULL;
	}
}

static int keep_link(void *ctx, struct bpf_link *l)
{
	struct pi_collector *c = ctx;

	if (c->n_links == c->cap_links) {
		size_t cap = c->cap_links ? c->cap_links * 2 : 64;
		void *p = realloc(c->links, cap * sizeof(*c->links));

		if (!p)
			return -ENOMEM;
		c->links = p;
		c->cap_links = cap;
	}
	c->links[c->n_links++] = l;
	return 0;
}

static bool is_return_probe(enum pi_probe_kind k)
{
	return k == PI_PROBE_TOKEN_EXIT || k == PI_PROBE_GRAPH_EXIT;
}

/* One attach per probe kind, with all of its addresses in this file. */
static int attach_plan(struct pi_collector *c, pid_t pid, const char *path,
		       const struct pi_probe_plan *plan, char *err, size_t errlen)
{
	unsigned long offsets[64];
	__u64 cookies[64];

	for (int k = 0; k < PI_PROBE_KIND_COUNT; k++) {
		const char *symbol = NULL;
		size_t n = 0;
		int e;

		for (size_t i = 0; i < plan->n && n < 64; i++)
			if (plan->probes[i].kind == (enum pi_probe_kind)k) {
				cookies[n] = plan->probes[i].cookie;
				offsets[n++] = plan->probes[i].offset;
				symbol = plan->probes[i].symbol;
			}
		if (!n)
			continue;
		e = pi_uprobe__attach(program_for(c, k), c->multi, is_return_probe(k), pid, path, offsets,
				      k == PI_PROBE_NODE_LOOP_BARRIER ? cookies : NULL, n, keep_link, c);
		if (e) {
			set_err(err, errlen, "failed to attach %s (%s) in %s: %s", pi_probe_kind__name(k),
				symbol, path, strerror(-e));
			return e;
		}
	}
	return 0;
}

static struct module *find_module(struct pi_collector *c, pid_t pid, uint64_t dev, uint64_t inode)
{
	for (size_t i = 0; i < c->n_modules; i++)
		if (c->modules[i].pid == pid && c->modules[i].dev == dev && c->modules[i].inode == inode)
			return &c->modules[i];
	return NULL;
}

/* GGML's op names of this engine file, once per process. */
static void emit_engine_names(struct pi_collector *c, pid_t pid, const struct pi_elf_file *f)
{
	struct pi_engine_names names;
	int e = pi_engine_info__read(f, &names);

	if (e == -ENOENT)
		return;
	if (e) {
		fprintf(stderr, "warning: could not read GGML's op names from %s: %s; ops will be shown by "
				"number\n", f->path, strerror(-e));
		return;
	}
	c->n_ops = names.n_ops;
	pi_assembler__set_op_names(c->assembler, (const char *const *)names.ops, names.n_ops);
	for (size_t i = 0; i < names.n_ops; i++) {
		if (!strcmp(names.ops[i], "UNARY"))
			c->op_unary = i;
		else if (!strcmp(names.ops[i], "GLU"))
			c->op_glu = i;
	}
	if (c->layout_chosen) {
		pi_emit__engine(c->emit, pid, names.ops, names.n_ops, names.unary, names.n_unary,
				names.glu, names.n_glu);
		pi_engine_info__free(&names);
	} else if (c->n_pending_names < PI_MAX_TARGETS) {
		c->pending_names[c->n_pending_names++] = (struct pending_names){ pid, names };
	} else {
		pi_engine_info__free(&names);
	}
}

static void write_session(struct pi_collector *c);

/* The layout profile is decided when the CPU backend's file is attached (or at the first record),
 * unless the user chose a profile: GGML with a graph uid has
 * ggml_graph_next_uid (in ggml-base, loaded before any backend). SessionInfo,
 * which names the profile, is then written, and what waited for it. */
static void choose_layout_now(struct pi_collector *c)
{
	const struct pi_layout_profile *p;

	if (!c->layout_user && !c->layout_chosen) {
		p = pi_layout__auto(c->saw_graph_uid);
		c->layout = p->layout;
		snprintf(c->layout_name, sizeof(c->layout_name), "%s", p->name);
	}
	if (!c->layout_chosen) {
		c->skel->bss->layout = c->layout;
		c->layout_chosen = true;
		write_session(c);
		for (size_t i = 0; i < c->n_pending_names; i++) {
			struct pending_names *pn = &c->pending_names[i];

			pi_emit__engine(c->emit, pn->pid, pn->names.ops, pn->names.n_ops, pn->names.unary,
					pn->names.n_unary, pn->names.glu, pn->names.n_glu);
			pi_engine_info__free(&pn->names);
		}
		c->n_pending_names = 0;
	}
}

/* Plans and attaches the probes of one file for one target. */
static int attach_file(struct pi_collector *c, pid_t pid, const char *path, uint64_t dev,
		       uint64_t inode, char *err, size_t errlen)
{
	struct pi_probe_plan plan;
	struct pi_elf_file *f = NULL;
	struct module *m;
	char *dbg;
	int e;

	if (find_module(c, pid, dev, inode))
		return 0;
	if (c->n_modules == PI_MAX_MODULES)
		return -E2BIG;
	m = &c->modules[c->n_modules++];
	*m = (struct module){ .pid = pid, .dev = dev, .inode = inode };

	if (pi_elf_file__open(path, pi_probe_plan__symbol_prefixes, &f))
		return 0; /* not an ELF file we can read: nothing of ours in it */
	if (!f->has_symtab && (dbg = pi_elf_file__find_debug_file(f))) {
		pi_elf_file__add_debug_file(f, dbg);
		free(dbg);
	}
	c->saw_graph_uid |= pi_elf_file__find(f, "ggml_graph_next_uid") != NULL;
	e = pi_probe_plan__build(f, c->o.level, c->o.node_probes, &plan);
	if (e) {
		set_err(err, errlen, "failed to plan probes for %s: %s", path, strerror(-e));
		pi_elf_file__free(f);
		return e;
	}
	if (plan.n) {
		bool engine = plan.has_token || plan.has_graph;

		if (plan.has_graph)
			choose_layout_now(c);
		e = attach_plan(c, pid, path, &plan, err, errlen);
		if (!e && engine) {
			c->has_engine = true;
			c->stats.modules_attached++;
			pi_emit__module(c->emit, pid, path, f->build_id, &plan, c->multi ? "uprobe_multi" : "uprobe",
					now_ns());
			for (size_t i = 0; i < plan.n_missing; i++)
				fprintf(stderr, "warning: %s: no %s: %s\n", path, plan.missing[i].symbol,
					plan.missing[i].detail_lost);
			if (c->o.level >= PI_LEVEL_NODE && plan.has_graph && !plan.has_node)
				fprintf(stderr, "warning: %s: node level unavailable, recording graphs only\n",
					path);
			if (plan.has_node && plan.node_one_failed &&
			    (c->o.node_probes == PI_NODE_PROBES_ONE || c->o.verbose))
				fprintf(stderr, "%s: %s: two probes per node: %s\n",
					c->o.node_probes == PI_NODE_PROBES_ONE ? "warning" : "debug", path,
					plan.node_one_failed);
		}
	}
	if (!e)
		emit_engine_names(c, pid, f);
	pi_probe_plan__free(&plan);
	pi_elf_file__free(f);
	return e;
}

static int scan_pid(struct pi_collector *c, pid_t pid, char *err, size_t errlen)
{
	struct pi_mapped_file *files;
	size_t n;
	int e;

	if ((e = pi_proc_maps__exec_files(pid, &files, &n))) {
		set_err(err, errlen, "failed to read the mappings of process %d: %s", (int)pid,
			strerror(-e));
		return e;
	}
	for (size_t i = 0; i < n && !e; i++)
		e = attach_file(c, pid, files[i].path, files[i].dev, files[i].inode, err, errlen);
	free(files);
	return e;
}

/* ---- lifecycle -------------------------------------------------------- */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static int libbpf_print_verbose(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int choose_layout(struct pi_collector *c, char *err, size_t errlen)
{
	const struct pi_layout_profile *p;
	const char *spec = c->o.layout;

	/* Every GGML with a graph uid exports ggml_graph_next_uid; without a
	 * process to look at yet, start from the newest profile. */
	p = pi_layout__auto(true);
	if (spec && *spec && strcmp(spec, "auto")) {
		const char *comma = strchr(spec, ',');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(comma ? (size_t)(comma - spec) : strlen(spec)), spec);
		if (strchr(name, '=')) {
			comma = spec - 1; /* overrides only, on the default profile */
		} else if (!(p = pi_layout__find(name))) {
			set_err(err, errlen, "unknown layout profile '%s' (see --list-layouts)", name);
			return -EINVAL;
		}
		c->layout = p->layout;
		c->layout_user = true;
		if (comma && pi_layout__parse_override(comma + 1, &c->layout, err, errlen))
			return -EINVAL;
		snprintf(c->layout_name, sizeof(c->layout_name), "%s%s", p->name, comma ? "+override" : "");
		return 0;
	}
	c->layout = p->layout;
	snprintf(c->layout_name, sizeof(c->layout_name), "%s", p->name);
	return 0;
}

int pi_collector__new(const struct pi_collector_opts *o, struct pi_collector **out, char *err,
		      size_t errlen)
{
	struct pi_assembler_sink sink;
	struct pi_collector *c = calloc(1, sizeof(*c));
	uint32_t kib;
	int e;

	if (!c)
		return -ENOMEM;
	c->o = *o;
	c->op_unary = c->op_glu = -1;
	if (c->o.node_probes != PI_NODE_PROBES_TWO && !pi_uprobe_cookie__supported()) {
		if (c->o.node_probes == PI_NODE_PROBES_ONE)
			fprintf(stderr, "warning: this kernel has no BPF cookies for uprobes: two probes per "
					"node\n");
		c->o.node_probes = PI_NODE_PROBES_TWO;
	}
	if (!c->o.structure && c->o.level >= PI_LEVEL_NODE)
		c->o.structure = true; /* node rows are placed by their structure */
	libbpf_set_print(o->verbose ? libbpf_print_verbose : libbpf_print);
	if ((e = choose_layout(c, err, errlen)))
		goto fail;

	c->skel = llama_bpf__open();
	if (!c->skel) {
		e = -errno;
		set_err(err, errlen, "failed to open the BPF programs: %s", strerror(-e));
		goto fail;
	}
	kib = o->ring_buffer_kib ? o->ring_buffer_kib : PI_DEFAULT_RINGBUF_KIB;
	/* A power of two number of pages, as the ring buffer requires. */
	while (kib & (kib - 1))
		kib &= kib - 1;
	if (kib < 64)
		kib = 64;
	c->o.ring_buffer_kib = kib;
	bpf_map__set_max_entries(c->skel->maps.events, kib * 1024);
	c->multi = pi_uprobe_multi__supported();
	for (int k = 0; k < PI_PROBE_KIND_COUNT; k++)
		pi_uprobe__prepare(program_for(c, k), c->multi);
	/* bpf_get_attach_cookie would not load here: leave the program out. */
	if (c->o.node_probes == PI_NODE_PROBES_TWO)
		bpf_program__set_autoload(c->skel->progs.node_loop_barrier, false);
	c->skel->rodata->capture_structure = c->o.structure;
	c->skel->rodata->wakeup_bytes = (uint64_t)kib * 1024 / 4;
	c->skel->bss->trap_only = getenv("PROFINFER_TRAP_ONLY") != NULL; /* bench/ only */
	e = llama_bpf__load(c->skel);
	if (e) {
		set_err(err, errlen, "failed to load the BPF programs: %s%s", strerror(-e),
			e == -EPERM ? " (run as root, or grant CAP_BPF and CAP_PERFMON)" : "");
		goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), handle_event, c, NULL);
	if (!c->rb) {
		e = -errno;
		set_err(err, errlen, "failed to create the ring buffer reader: %s", strerror(-e));
		goto fail;
	}
	c->w = pi_writer__new_fd(o->out_fd);
	c->emit = c->w ? pi_emit__new(c->w) : NULL;
	sink = (struct pi_assembler_sink){ .ctx = c, .structure = on_structure, .graph = on_graph };
	c->assembler = pi_assembler__new(&sink);
	if (!c->w || !c->emit || !c->assembler) {
		e = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	pi_collector__free(c);
	return e;
}

static void write_session(struct pi_collector *c)
{
	struct pi_session_desc d = {
		.session_id = c->o.session_id ? c->o.session_id : "",
		.level = c->o.level,
		.structure = c->o.structure,
		.layout_name = c->layout_name,
		.layout = &c->layout,
		.layout_override = c->layout_user,
		.pids = c->pids,
		.n_pids = c->n_pids,
		.ring_buffer_kib = c->o.ring_buffer_kib,
	};

	pi_emit__session(c->emit, &d);
}

static int add_target(struct pi_collector *c, pid_t pid, char *err, size_t errlen)
{
	if (is_target(c, pid))
		return 0;
	if (c->n_pids == PI_MAX_TARGETS) {
		set_err(err, errlen, "too many target processes (at most %d)", PI_MAX_TARGETS);
		return -E2BIG;
	}
	c->pids[c->n_pids++] = pid;
	return 0;
}

int pi_collector__add_pid(struct pi_collector *c, pid_t pid, char *err, size_t errlen)
{
	int e = add_target(c, pid, err, errlen);

	if (!e)
		e = scan_pid(c, pid, err, errlen);
	describe_target(c, pid); /* running already: /proc describes it */
	return e;
}

int pi_collector__add_pid_before_exec(struct pi_collector *c, pid_t pid, const char *exe, char *err,
				      size_t errlen)
{
	struct pi_elf_file *f = NULL;
	struct stat st;
	int e;

	if ((e = add_target(c, pid, err, errlen)))
		return e;
	if (stat(exe, &st)) {
		e = -errno;
		set_err(err, errlen, "cannot read %s: %s", exe, strerror(-e));
		return e;
	}
	if ((e = attach_file(c, pid, exe, st.st_dev, st.st_ino, err, errlen)))
		return e;
	/* The dynamic loader announces every library it maps (DT_NEEDED at
	 * start-up and dlopen later) through _dl_debug_state. */
	if (!pi_elf_file__open(exe, pi_probe_plan__symbol_prefixes, &f)) {
		char interp[4096];

		if (!pi_elf_file__interpreter(f, interp, sizeof(interp)) && !stat(interp, &st))
			e = attach_file(c, pid, interp, st.st_dev, st.st_ino, err, errlen);
		pi_elf_file__free(f);
	}
	return e;
}

bool pi_collector__has_engine(const struct pi_collector *c)
{
	return c->has_engine;
}

bool pi_collector__failed(const struct pi_collector *c)
{
	return c->finished;
}

static void read_lost(struct pi_collector *c)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	c->stats.lost_total = 0;
	for (uint32_t k = 0; k < PI_LOST_SLOTS; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.lost), &k, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
		c->stats.lost[k] = sum;
		c->stats.lost_total += sum;
	}
	free(vals);
}

int pi_collector__poll(struct pi_collector *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	if (n < 0)
		return n;
	/* Libraries loaded since: attach before their code runs. */
	while (c->n_rescan) {
		pid_t pid = c->rescan[--c->n_rescan];
		char err[512];

		if (scan_pid(c, pid, err, sizeof(err)) && c->o.verbose)
			fprintf(stderr, "warning: %s\n", err);
	}
	/* Whole packets reach the file at every poll: a reader (or a crash)
	 * sees at most one poll interval less than was recorded. */
	pi_writer__flush(c->w);
	if (c->finished)
		return -ECANCELED;
	return n;
}

/* The collector's loss accounting uses the trace's EventKind numbering. */
static void to_event_kinds(const uint64_t *by_bpf_kind, uint64_t *out)
{
	memset(out, 0, 9 * sizeof(*out));
	out[1] = by_bpf_kind[PI_EV_TOKEN];
	out[2] = by_bpf_kind[PI_EV_GRAPH_BEGIN] + by_bpf_kind[PI_EV_GRAPH_END];
	out[3] = by_bpf_kind[PI_EV_NODE] + by_bpf_kind[PI_EV_NODE_END];
	out[4] = by_bpf_kind[PI_EV_STRUCT_NODE] + by_bpf_kind[PI_EV_STRUCT_SRC];
}

/* Whether a target thread is inside llama_decode (map `threads`). */
static bool token_in_flight(struct pi_collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct pi_thread_state st;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char path[64];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &st) || !st.token_start_ns)
			continue;
		snprintf(path, sizeof(path), "/proc/%u", key);
		if (!access(path, F_OK))
			return true; /* a dead thread's token never ends */
	}
	return false;
}

/* Ends recording on a token boundary: no token starts any more, and the
 * ones in flight may finish (for at most `timeout_ms`). */
static void stop_at_token_boundary(struct pi_collector *c, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;

	c->skel->bss->stopping = true;
	while (token_in_flight(c) && now_ns() < deadline)
		ring_buffer__poll(c->rb, 10);
}

int pi_collector__finish(struct pi_collector *c, const char *reason, int exit_code)
{
	const struct pi_assembler_stats *as;
	uint64_t lost[9], recorded[9];

	choose_layout_now(c);
	stop_at_token_boundary(c, 2000);
	for (size_t i = 0; i < c->n_pids; i++)
		describe_target(c, c->pids[i]);
	/* Detach so nothing new arrives, then drain. */
	for (size_t i = 0; i < c->n_links; i++)
		bpf_link__destroy(c->links[i]);
	c->n_links = 0;
	ring_buffer__consume(c->rb);
	pi_assembler__flush(c->assembler, now_ns());
	read_lost(c);
	as = pi_assembler__stats(c->assembler);
	to_event_kinds(c->stats.lost, lost);
	to_event_kinds(c->recorded, recorded);
	lost[3] += as->node_unattributed + as->node_unresolved;
	recorded[3] = as->node_rows;
	recorded[2] = as->graphs;
	lost[8] = pi_emit__failed(c->emit) + pi_writer__stats(c->w).packets_failed;
	if (c->o.verbose) {
		for (int k = 1; k < PI_EV_KIND_MAX; k++)
			fprintf(stderr, "debug: kind %d: %llu records, %llu lost in BPF\n", k,
				(unsigned long long)c->recorded[k], (unsigned long long)c->stats.lost[k]);
		fprintf(stderr, "debug: unattributed %llu unresolved %llu graphs %llu, threads with derived ith %llu\n",
			(unsigned long long)as->node_unattributed, (unsigned long long)as->node_unresolved,
			(unsigned long long)as->graphs, (unsigned long long)as->node_ith_derived);
	}
	if (c->finished)
		reason = "stopped: wrong struct layout";
	pi_emit__loss(c->emit, now_ns(), lost, recorded, 9);
	pi_emit__end(c->emit, now_ns(), reason, exit_code, lost, recorded, 9);
	pi_writer__flush(c->w);
	return 0;
}

void pi_collector__stats(const struct pi_collector *c, struct pi_collector_stats *s)
{
	const struct pi_assembler_stats *as = pi_assembler__stats(c->assembler);

	*s = c->stats;
	s->node_rows = as->node_rows;
	s->unattributed = as->node_unattributed + as->node_unresolved;
	s->bytes_written = pi_writer__stats(c->w).bytes_written;
}

void pi_collector__free(struct pi_collector *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_links; i++)
		bpf_link__destroy(c->links[i]);
	free(c->links);
	for (size_t i = 0; i < c->n_pending_names; i++)
		pi_engine_info__free(&c->pending_names[i].names);
	ring_buffer__free(c->rb);
	llama_bpf__destroy(c->skel);
	pi_assembler__free(c->assembler);
	pi_emit__free(c->emit);
	if (c->w)
		pi_writer__free(c->w);
	free(c);
}
