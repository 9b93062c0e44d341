// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "trace_emit.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "intern.h"
#include "profinfer.pb.h"
#include "encode.h"
#include "stream_writer.h"
#include "version.h"

#define PI_MAX_THREADS_SEEN 65536

struct pi_emit {
	struct pi_writer *w;
	struct pi_intern *strings;
	uint8_t *buf;
	size_t cap;
	uint64_t failed;
	uint32_t *threads_seen; /* sorted tids already described */
	size_t n_threads_seen;
	/* Scratch columns for node batches, reused across graphs. */
	uint32_t *col_index, *col_fused;
	uint64_t *col_compute, *col_barrier;
	size_t col_cap;
	/* Counters per node: the id of each BPF slot, and their scratch columns. */
	uint32_t counter_ids[PI_MAX_COUNTERS];
	size_t n_counters;
	uint64_t *col_pmc;
	uint32_t *col_unmeasured;
	size_t pmc_cap;
};

struct pi_emit *pi_emit__new(struct pi_writer *w)
{
	struct pi_emit *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->w = w;
	e->strings = pi_intern__new();
	e->threads_seen = calloc(PI_MAX_THREADS_SEEN, sizeof(uint32_t));
	if (!e->strings || !e->threads_seen) {
		pi_emit__free(e);
		return NULL;
	}
	return e;
}

void pi_emit__free(struct pi_emit *e)
{
	if (!e)
		return;
	pi_intern__free(e->strings);
	free(e->buf);
	free(e->threads_seen);
	free(e->col_index);
	free(e->col_fused);
	free(e->col_compute);
	free(e->col_barrier);
	free(e->col_pmc);
	free(e->col_unmeasured);
	free(e);
}

uint64_t pi_emit__failed(const struct pi_emit *e)
{
	return e->failed;
}

static int emit_packet(struct pi_emit *e, const profinfer_v1_TracePacket *p)
{
	size_t size = 0;
	pb_ostream_t s;

	if (!pb_get_encoded_size(&size, profinfer_v1_TracePacket_fields, p))
		goto fail;
	if (size > e->cap) {
		void *nb = realloc(e->buf, size);

		if (!nb)
			goto fail;
		e->buf = nb;
		e->cap = size;
	}
	s = pb_ostream_from_buffer(e->buf, size);
	if (!pb_encode(&s, profinfer_v1_TracePacket_fields, p))
		goto fail;
	if (pi_writer__append(e->w, e->buf, s.bytes_written))
		return -EIO; /* the writer counts its own failures */
	return 0;
fail:
	e->failed++;
	if (getenv("PROFINFER_DEBUG"))
		fprintf(stderr, "debug: packet %u not encoded: %s\n", (unsigned)p->which_data,
			size ? PB_GET_ERROR(&s) : "size");
	return -EINVAL;
}

/* Interns `str`, writing an InternedStrings packet when it is new. */
static uint32_t intern(struct pi_emit *e, const char *str)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_InternedString one;
	bool is_new;
	uint32_t iid = pi_intern__get(e->strings, str, &is_new);

	if (!iid || !is_new)
		return iid;
	one.iid = iid;
	one.str = (char *)pi_intern__str(e->strings, iid);
	p.which_data = profinfer_v1_TracePacket_interned_tag;
	p.data.interned.strings_count = 1;
	p.data.interned.strings = &one;
	emit_packet(e, &p);
	return iid;
}

static void read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

static void os_release(char *buf, size_t cap)
{
	char text[4096], *p;

	snprintf(buf, cap, "unknown");
	read_small_file("/etc/os-release", text, sizeof(text));
	p = strstr(text, "PRETTY_NAME=");
	if (!p)
		return;
	p += 12;
	if (*p == '"')
		p++;
	snprintf(buf, cap, "%.*s", (int)strcspn(p, "\"\n"), p);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int pi_emit__session(struct pi_emit *e, const struct pi_session_desc *d)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_SessionInfo *s = &p.data.session;
	const struct pi_layout *l = d->layout;
	uint32_t pids[64];
	char osrel[256], model[256];
	struct utsname u;

	uname(&u);
	os_release(osrel, sizeof(osrel));
	read_small_file("/sys/firmware/devicetree/base/model", model, sizeof(model));
	if (!model[0])
		read_small_file("/sys/devices/virtual/dmi/id/product_name", model, sizeof(model));
	model[strcspn(model, "\n")] = '\0';
	for (size_t i = 0; i < d->n_pids && i < 64; i++)
		pids[i] = d->pids[i];

	p.which_data = profinfer_v1_TracePacket_session_tag;
	s->session_id = (char *)d->session_id;
	s->collector_version = PI_VERSION;
	s->libbpf_version = (char *)libbpf_version_string();
	s->build_target = PI_BUILD_TARGET;
	s->hostname = u.nodename;
	s->device_model = model;
	s->os_release = osrel;
	s->kernel_release = u.release;
	s->arch = u.machine;
	s->cpu_count = sysconf(_SC_NPROCESSORS_ONLN);
	s->clock_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	s->clock_realtime_ns = clock_ns(CLOCK_REALTIME);
	s->clock = "CLOCK_MONOTONIC";
	s->has_config = true;
	s->config.level = d->level;
	s->config.structure = d->structure;
	s->config.ring_buffer_kib = d->ring_buffer_kib;
	s->config.sample_every_n_tokens = d->sample_every_n_tokens;
	s->config.sched = d->sched;
	s->config.moe = d->moe;
	for (size_t i = 0; i < d->n_op_filter && i < sizeof(s->config.op_filter) / sizeof(s->config.op_filter[0]); i++)
		snprintf(s->config.op_filter[s->config.op_filter_count++], sizeof(s->config.op_filter[0]), "%s",
			 d->op_filter[i]);
	if (d->qos && d->qos->min_tokens_per_s > 0) {
		s->config.has_qos_rule = true;
		s->config.qos_rule.min_tokens_per_s = d->qos->min_tokens_per_s;
		s->config.qos_rule.resume_tokens_per_s = d->qos->resume_tokens_per_s;
		s->config.qos_rule.window_tokens = d->qos->window_tokens;
		s->config.qos_rule.degraded_level = (profinfer_v1_TraceLevel)d->qos->degraded_level;
	}
	for (size_t i = 0; i < d->n_counters && i < sizeof(s->config.counters) / sizeof(s->config.counters[0]); i++)
		snprintf(s->config.counters[s->config.counters_count++], sizeof(s->config.counters[0]), "%s",
			 d->counters[i]);
	snprintf(s->config.layout_profile, sizeof(s->config.layout_profile), "%s", d->layout_name);
	s->has_layout = true;
	snprintf(s->layout.name, sizeof(s->layout.name), "%s", d->layout_name);
	s->layout.user_override = d->layout_override;
	s->layout.tensor_type_offset = l->tensor_type;
	s->layout.tensor_ne_offset = l->tensor_ne;
	s->layout.tensor_op_offset = l->tensor_op;
	s->layout.tensor_op_params_offset = l->tensor_op_params;
	s->layout.tensor_flags_offset = l->tensor_flags;
	s->layout.tensor_src_offset = l->tensor_src;
	s->layout.max_src = l->max_src;
	s->layout.tensor_view_src_offset = l->tensor_view_src;
	s->layout.tensor_data_offset = l->tensor_data;
	s->layout.tensor_name_offset = l->tensor_name;
	s->layout.max_name = PI_MAX_NAME;
	s->layout.cgraph_n_nodes_offset = l->cgraph_n_nodes;
	s->layout.cgraph_nodes_offset = l->cgraph_nodes;
	s->target_pids_count = d->n_pids < 64 ? d->n_pids : 64;
	s->target_pids = pids;
	return emit_packet(e, &p);
}

int pi_emit__process(struct pi_emit *e, pid_t pid)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	char path[64], cmdline[4096], exe[4096], stat[1024], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline) - 1) : 0;
	if (fd >= 0)
		close(fd);
	n = n > 0 ? n : 0;
	for (ssize_t i = 0; i < n; i++)
		if (!cmdline[i])
			cmdline[i] = ' ';
	while (n > 0 && cmdline[n - 1] == ' ')
		n--;
	cmdline[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	read_small_file(path, stat, sizeof(stat));
	rp = strrchr(stat, ')');

	p.which_data = profinfer_v1_TracePacket_process_tag;
	p.data.process.pid = pid;
	p.data.process.ppid = rp ? (uint32_t)strtoul(rp + 4, NULL, 10) : 0;
	p.data.process.cmdline = cmdline;
	p.data.process.exe = exe;
	return emit_packet(e, &p);
}

static bool thread_seen(struct pi_emit *e, uint32_t tid)
{
	size_t lo = 0, hi = e->n_threads_seen;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->threads_seen[mid] == tid)
			return true;
		if (e->threads_seen[mid] < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (e->n_threads_seen < PI_MAX_THREADS_SEEN) {
		memmove(e->threads_seen + lo + 1, e->threads_seen + lo,
			(e->n_threads_seen - lo) * sizeof(uint32_t));
		e->threads_seen[lo] = tid;
		e->n_threads_seen++;
	}
	return false;
}

int pi_emit__thread_named(struct pi_emit *e, uint32_t tgid, uint32_t tid, const char *name)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	if (thread_seen(e, tid))
		return 0;
	p.which_data = profinfer_v1_TracePacket_thread_tag;
	p.data.thread.pid = tgid;
	p.data.thread.tid = tid;
	p.data.thread.name = (char *)name;
	return emit_packet(e, &p);
}

int pi_emit__thread(struct pi_emit *e, uint32_t tgid, uint32_t tid)
{
	char path[96], comm[64];

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", tgid, tid);
	read_small_file(path, comm, sizeof(comm));
	comm[strcspn(comm, "\n")] = '\0';
	return pi_emit__thread_named(e, tgid, tid, comm);
}

int pi_emit__module(struct pi_emit *e, pid_t pid, const char *path, const char *build_id,
		    const struct pi_probe_plan *plan, const char *how, uint64_t attached_at_ns)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_AttachedProbe *probes = calloc(plan->n ? plan->n : 1, sizeof(*probes));
	profinfer_v1_MissingSymbol missing[8];
	int err;

	if (!probes)
		return -ENOMEM;
	for (size_t i = 0; i < plan->n; i++) {
		probes[i].name = (char *)pi_probe_kind__name(plan->probes[i].kind);
		probes[i].symbol = (char *)plan->probes[i].symbol;
		probes[i].offset = plan->probes[i].offset;
		probes[i].how = (char *)(pi_probe_plan__how(plan, &plan->probes[i]) ?: how);
	}
	for (size_t i = 0; i < plan->n_missing; i++) {
		missing[i].symbol = (char *)plan->missing[i].symbol;
		missing[i].detail_lost = (char *)plan->missing[i].detail_lost;
	}
	p.which_data = profinfer_v1_TracePacket_module_tag;
	p.data.module.pid = pid;
	p.data.module.path = (char *)path;
	p.data.module.build_id = (char *)build_id;
	p.data.module.probes_count = plan->n;
	p.data.module.probes = probes;
	p.data.module.missing_count = plan->n_missing;
	p.data.module.missing = missing;
	p.data.module.attached_at_ns = attached_at_ns;
	err = emit_packet(e, &p);
	free(probes);
	return err;
}

int pi_emit__engine(struct pi_emit *e, pid_t pid, char *const *op_names, size_t n_ops,
		    char *const *unary_names, size_t n_unary, char *const *glu_names, size_t n_glu)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_engine_tag;
	p.data.engine.pid = pid;
	p.data.engine.op_names_count = n_ops;
	p.data.engine.op_names = (char **)op_names;
	p.data.engine.unary_op_names_count = n_unary;
	p.data.engine.unary_op_names = (char **)unary_names;
	p.data.engine.glu_op_names_count = n_glu;
	p.data.engine.glu_op_names = (char **)glu_names;
	return emit_packet(e, &p);
}

int pi_emit__token(struct pi_emit *e, const struct pi_token_event *t, uint64_t seq, bool node_level)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	pi_emit__thread(e, t->hdr.tgid, t->hdr.tid);
	p.which_data = profinfer_v1_TracePacket_token_tag;
	p.data.token.pid = t->hdr.tgid;
	p.data.token.tid = t->hdr.tid;
	p.data.token.start_ns = t->start_ns;
	p.data.token.duration_ns = t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0;
	p.data.token.n_tokens = t->n_tokens > 0 ? (uint32_t)t->n_tokens : 0;
	p.data.token.context_id = t->ctx;
	p.data.token.result = t->result;
	p.data.token.seq = seq;
	p.data.token.node_level = node_level;
	return emit_packet(e, &p);
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, PI_MAX_NAME);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int pi_emit__structure(struct pi_emit *e, const struct pi_structure *s, int op_unary, int op_glu)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_GraphNode *nodes = calloc(s->n_nodes ? s->n_nodes : 1, sizeof(*nodes));
	profinfer_v1_TensorInfo *inputs = calloc(s->n_srcs ? s->n_srcs : 1, sizeof(*inputs));
	char name[PI_MAX_NAME + 1];
	size_t n_inputs = 0;
	int err;

	if (!nodes || !inputs) {
		free(nodes);
		free(inputs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct pi_struct_node_event *sn = &s->nodes[i];
		profinfer_v1_GraphNode *n = &nodes[i];

		n->tensor_id = sn->tensor;
		n->op = sn->op;
		n->type = sn->type;
		n->ne_count = 4;
		memcpy(n->ne, sn->ne, sizeof(n->ne));
		copy_name(name, sizeof(name), sn->name);
		n->name_iid = sn->tensor ? intern(e, name) : 0;
		n->src_tensor_ids_count = PI_STRUCT_SRCS;
		memcpy(n->src_tensor_ids, sn->src, sizeof(sn->src));
		while (n->src_tensor_ids_count && !n->src_tensor_ids[n->src_tensor_ids_count - 1])
			n->src_tensor_ids_count--;
		n->flags = sn->flags;
		n->view_src_id = sn->view_src;
		n->op_params_count = PI_STRUCT_OP_PARAMS;
		memcpy(n->op_params, sn->op_params, sizeof(sn->op_params));
		if ((int)sn->op == op_unary || (int)sn->op == op_glu)
			n->sub_op = sn->op_params[0];
	}
	/* Inputs: sources that no node of this graph produces. */
	for (size_t i = 0; i < s->n_srcs; i++) {
		const struct pi_struct_src_event *src = &s->srcs[i];
		profinfer_v1_TensorInfo *t;

		if (pi_structure__node_index(s, src->tensor, NULL))
			continue;
		t = &inputs[n_inputs++];
		t->tensor_id = src->tensor;
		t->type = src->type;
		t->ne_count = 4;
		memcpy(t->ne, src->ne, sizeof(t->ne));
		copy_name(name, sizeof(name), src->name);
		t->name_iid = intern(e, name);
		t->op = src->op;
		t->data_addr = src->data;
	}
	p.which_data = profinfer_v1_TracePacket_graph_structure_tag;
	p.data.graph_structure.structure_id = s->id;
	p.data.graph_structure.pid = s->tgid;
	p.data.graph_structure.nodes_count = s->n_nodes;
	p.data.graph_structure.nodes = nodes;
	p.data.graph_structure.inputs_count = n_inputs;
	p.data.graph_structure.inputs = inputs;
	p.data.graph_structure.cgraph_addr = s->cgraph;
	err = emit_packet(e, &p);
	free(nodes);
	free(inputs);
	return err;
}

static int grow_columns(struct pi_emit *e, size_t n)
{
	size_t cap = e->col_cap ? e->col_cap : 256;
	void *a, *b, *c, *d;

	if (n <= e->col_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	a = realloc(e->col_index, cap * sizeof(uint32_t));
	if (a)
		e->col_index = a;
	b = realloc(e->col_fused, cap * sizeof(uint32_t));
	if (b)
		e->col_fused = b;
	c = realloc(e->col_compute, cap * sizeof(uint64_t));
	if (c)
		e->col_compute = c;
	d = realloc(e->col_barrier, cap * sizeof(uint64_t));
	if (d)
		e->col_barrier = d;
	if (!a || !b || !c || !d)
		return -ENOMEM;
	e->col_cap = cap;
	return 0;
}

int pi_emit__set_counters(struct pi_emit *e, const uint32_t *id_by_slot, size_t n)
{
	if (n > PI_MAX_COUNTERS)
		return -EINVAL;
	memcpy(e->counter_ids, id_by_slot, n * sizeof(*id_by_slot));
	e->n_counters = n;
	return 0;
}

int pi_emit__counter(struct pi_emit *e, uint32_t id, const char *name, const char *kind,
		     uint32_t perf_type, uint64_t perf_config, bool live, const char *error)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_counter_tag;
	p.data.counter.counter_id = id;
	p.data.counter.name = (char *)name;
	p.data.counter.kind = (char *)kind;
	p.data.counter.perf_type = perf_type;
	p.data.counter.perf_config = perf_config;
	p.data.counter.live = live;
	p.data.counter.error = live ? NULL : (char *)error;
	return emit_packet(e, &p);
}

/* One column per live counter: the measured rows' deltas, and the rows
 * without one (never a zero in their place). */
static int counter_columns(struct pi_emit *e, const struct pi_graph *g,
			   const struct pi_thread_rows *tr, struct pi_counter_rows *cols)
{
	size_t n = tr->n, need = e->n_counters * (n ? n : 1);

	if (need > e->pmc_cap) {
		void *a = realloc(e->col_pmc, need * sizeof(*e->col_pmc));
		void *b;

		if (a)
			e->col_pmc = a;
		b = realloc(e->col_unmeasured, need * sizeof(*e->col_unmeasured));
		if (b)
			e->col_unmeasured = b;
		if (!a || !b)
			return -ENOMEM;
		e->pmc_cap = need;
	}
	for (size_t k = 0; k < e->n_counters; k++) {
		uint64_t *delta = e->col_pmc + k * n;
		uint32_t *missing = e->col_unmeasured + k * n;
		size_t n_delta = 0, n_missing = 0;

		for (size_t i = 0; i < n; i++) {
			if (tr->row_pmc[i].valid & (1u << k))
				delta[n_delta++] = tr->row_pmc[i].delta[k];
			else
				missing[n_missing++] = i;
		}
		cols[k] = (struct pi_counter_rows){
			.counter_id = e->counter_ids[k], .delta = delta, .n_unmeasured = n_missing,
			.unmeasured = missing, .includes_previous_barrier = g->counter_spans_barrier,
		};
	}
	return 0;
}

/* Node rows take the hand-written columnar encoder (encode.h): the hot path. */
static int emit_node_rows(struct pi_emit *e, const struct pi_graph *g, const struct pi_thread_rows *tr)
{
	struct pi_counter_rows cols[PI_MAX_COUNTERS];
	struct pi_node_rows rows = {
		.pid = g->tgid, .tid = tr->tid, .thread_index = tr->ith, .graph_id = g->graph_id,
		.start_ns = tr->rows[0].start_ns, .n_rows = tr->n,
		.compute_ns = tr->compute_ns, .barrier_ns = tr->barrier_ns,
	};
	size_t need, len;
	bool any_fused = false;
	int err;

	if (grow_columns(e, tr->n))
		return -ENOMEM;
	if (e->n_counters && tr->row_pmc) {
		if (counter_columns(e, g, tr, cols))
			return -ENOMEM;
		rows.n_counters = e->n_counters;
		rows.counters = cols;
	}
	need = pi_node_events_max_size(tr->n, rows.n_counters);
	for (size_t i = 0; i < tr->n; i++) {
		e->col_index[i] = tr->rows[i].node_index;
		e->col_fused[i] = tr->rows[i].fused;
		any_fused |= tr->rows[i].fused != 0;
	}
	rows.node_index = e->col_index;
	rows.fused = any_fused ? e->col_fused : NULL;
	if (need > e->cap) {
		void *nb = realloc(e->buf, need);

		if (!nb)
			return -ENOMEM;
		e->buf = nb;
		e->cap = need;
	}
	if ((err = pi_encode_node_events(&rows, e->buf, e->cap, &len))) {
		e->failed++;
		if (getenv("PROFINFER_DEBUG"))
			fprintf(stderr, "debug: node rows not encoded: %s (%zu rows)\n", strerror(-err), tr->n);
		return err;
	}
	return pi_writer__append(e->w, e->buf, len) ? -EIO : 0;
}

int pi_emit__graph(struct pi_emit *e, const struct pi_graph *g)
{
	return pi_emit__graph_on(e, g, "CPU");
}

int pi_emit__graph_on(struct pi_emit *e, const struct pi_graph *g, const char *backend)
{
	profinfer_v1_TracePacket p;
	int err = 0;

	for (size_t t = 0; t < g->n_threads; t++) {
		if (!g->threads[t].n)
			continue;
		pi_emit__thread(e, g->tgid, g->threads[t].tid);
		err = emit_node_rows(e, g, &g->threads[t]) ?: err;
	}
	memset(&p, 0, sizeof(p));
	p.which_data = profinfer_v1_TracePacket_graph_tag;
	p.data.graph.pid = g->tgid;
	p.data.graph.tid = g->tid;
	p.data.graph.graph_id = g->graph_id;
	p.data.graph.start_ns = g->start_ns;
	p.data.graph.duration_ns = g->end_ns > g->start_ns ? g->end_ns - g->start_ns : 0;
	p.data.graph.n_nodes = g->n_nodes > 0 ? g->n_nodes : 0;
	p.data.graph.backend_iid = intern(e, backend);
	p.data.graph.structure_id = g->structure_id;
	p.data.graph.cgraph_addr = g->cgraph;
	p.data.graph.n_threads = g->n_threads;
	pi_emit__thread(e, g->tgid, g->tid);
	return emit_packet(e, &p) ?: err;
}

int pi_emit__backend_node(struct pi_emit *e, const struct pi_backend_node_event *n, const char *backend,
			  const char *function, const char *op_name)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	char name[PI_MAX_NAME + 1];

	p.which_data = profinfer_v1_TracePacket_backend_node_tag;
	p.data.backend_node.pid = n->hdr.tgid;
	p.data.backend_node.tid = n->hdr.tid;
	p.data.backend_node.graph_id = n->graph_id;
	p.data.backend_node.start_ns = n->start_ns;
	p.data.backend_node.duration_ns = n->end_ns > n->start_ns ? n->end_ns - n->start_ns : 0;
	p.data.backend_node.backend_iid = intern(e, backend);
	p.data.backend_node.function_iid = intern(e, function);
	p.data.backend_node.tensor_addr = n->tensor;
	if (op_name) { /* the tensor was read and its op is one of the engine's */
		memcpy(name, n->name, PI_MAX_NAME);
		name[PI_MAX_NAME] = '\0';
		p.data.backend_node.op_iid = intern(e, op_name);
		p.data.backend_node.name_iid = name[0] ? intern(e, name) : 0;
		p.data.backend_node.type = n->type;
		p.data.backend_node.ne_count = 4;
		memcpy(p.data.backend_node.ne, n->ne, sizeof(p.data.backend_node.ne));
	}
	pi_emit__thread(e, n->hdr.tgid, n->hdr.tid);
	return emit_packet(e, &p);
}

int pi_emit__expert_routing(struct pi_emit *e, uint32_t pid, uint64_t graph_id, uint32_t node_index,
			    int32_t layer, uint32_t n_expert_used, uint32_t n_tokens,
			    const int32_t *ids, uint64_t ts_ns)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	uint64_t n = (uint64_t)n_expert_used * n_tokens;

	if (n > (pb_size_t)~0) {
		e->failed++;
		return -E2BIG;
	}
	p.which_data = profinfer_v1_TracePacket_expert_routing_tag;
	p.data.expert_routing.pid = pid;
	p.data.expert_routing.graph_id = graph_id;
	p.data.expert_routing.node_index = node_index;
	p.data.expert_routing.layer = layer;
	p.data.expert_routing.n_expert_used = n_expert_used;
	p.data.expert_routing.n_tokens = n_tokens;
	p.data.expert_routing.expert_ids_count = n;
	p.data.expert_routing.expert_ids = (int32_t *)ids;
	p.data.expert_routing.ts_ns = ts_ns;
	return emit_packet(e, &p);
}

static void fill_loss(profinfer_v1_LossStats *l, uint64_t ts_ns, const uint64_t *lost,
		      const uint64_t *recorded, size_t n)
{
	l->ts_ns = ts_ns;
	for (size_t k = 1; k < n && k < 16; k++) {
		if (lost[k])
			l->lost[l->lost_count++] = (profinfer_v1_LossCount){ .kind = k, .count = lost[k] };
		if (recorded[k])
			l->recorded[l->recorded_count++] =
				(profinfer_v1_LossCount){ .kind = k, .count = recorded[k] };
	}
}

int pi_emit__loss(struct pi_emit *e, uint64_t ts_ns, const uint64_t *lost, const uint64_t *recorded,
		  size_t n)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_loss_tag;
	fill_loss(&p.data.loss, ts_ns, lost, recorded, n);
	return emit_packet(e, &p);
}

int pi_emit__level_change(struct pi_emit *e, uint64_t ts_ns, enum pi_level from, enum pi_level to,
			  const char *reason, uint64_t first_complete_token_seq)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_level_change_tag;
	p.data.level_change.ts_ns = ts_ns;
	p.data.level_change.from_level = (profinfer_v1_TraceLevel)from;
	p.data.level_change.to_level = (profinfer_v1_TraceLevel)to;
	p.data.level_change.reason = (char *)reason;
	p.data.level_change.first_complete_token_seq = first_complete_token_seq;
	return emit_packet(e, &p);
}

int pi_emit__qos(struct pi_emit *e, const struct pi_qos_sample *q)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_qos_tag;
	p.data.qos.ts_ns = q->ts_ns;
	p.data.qos.tokens_per_s = q->tokens_per_s;
	p.data.qos.ttft_ms = q->ttft_ms;
	p.data.qos.tpot_ms = q->tpot_ms;
	p.data.qos.level = (profinfer_v1_TraceLevel)q->level;
	p.data.qos.events_per_s = q->events_per_s;
	p.data.qos.lost_events = q->lost_events;
	return emit_packet(e, &p);
}

int pi_emit__end(struct pi_emit *e, uint64_t ts_ns, const char *reason, int exit_code,
		 const uint64_t *lost, const uint64_t *recorded, size_t n)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_session_end_tag;
	p.data.session_end.ts_ns = ts_ns;
	p.data.session_end.reason = (char *)reason;
	if (exit_code == PI_EXIT_CODE_UNKNOWN)
		p.data.session_end.target_exit_code_unknown = true;
	else
		p.data.session_end.target_exit_code = exit_code;
	p.data.session_end.has_totals = true;
	fill_loss(&p.data.session_end.totals, ts_ns, lost, recorded, n);
	return emit_packet(e, &p);
}
