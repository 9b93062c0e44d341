// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sched_tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include "encode.h"
#include "intern.h"
#include "profinfer.pb.h"
#include "sched.skel.h"
#include "sched_encode.h"
#include "sched_events.h"
#include "stream_writer.h"
#include "trace_emit.h"

#define PI_SCHED_DEFAULT_RING_KIB 2048
/* A batch is written once this many rows wait on its CPU, or after a second. */
#define PI_SCHED_FLUSH_ROWS 1024
#define PI_SCHED_FLUSH_AGE_NS 1000000000ull

struct switch_rows {
	size_t n, cap;
	uint64_t first_ns; /* when the oldest waiting row arrived (collector clock) */
	uint64_t *ts;
	uint32_t *prev_tid, *next_tid, *next_comm_iid;
	int64_t *prev_state;
	int32_t *next_prio;
};

struct wakeup_rows {
	size_t n, cap;
	uint64_t first_ns;
	uint64_t *ts;
	uint32_t *tid, *target_cpu, *waker_tid;
};

struct thread_desc {
	uint32_t tgid, tid;
	char comm[PI_SCHED_COMM_LEN + 1];
};

struct pi_sched_tracer {
	struct sched_bpf *skel;
	struct pi_writer *w;
	struct pi_emit *emit;
	bool btf;
	int ncpu;
	struct switch_rows *sw;	 /* per CPU */
	struct wakeup_rows *wk;	 /* per CPU */
	struct pi_intern *comms;
	uint32_t comms_written;	 /* local iids 1..comms_written are in the trace */
	uint32_t *known_tids;	 /* open addressing, 0 = empty */
	size_t known_cap, known_n;
	struct thread_desc *pending; /* target threads to describe at the next flush */
	size_t n_pending, cap_pending;
	uint8_t *buf;
	size_t cap;
	uint64_t *scratch;
	uint64_t recorded, dropped; /* dropped: bad records, out of memory, not encoded */
	bool detached;
	uint32_t targets[1024];	 /* tgids, as in the BPF map */
	size_t n_targets;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- growable columns ------------------------------------------------- */

#define GROW(arr, cap) ({                                              \
	void *__p = realloc((arr), (cap) * sizeof(*(arr)));            \
	if (__p)                                                       \
		(arr) = __p;                                           \
	__p != NULL;                                                   \
})

static int switch_reserve(struct switch_rows *r)
{
	size_t cap = r->cap ? r->cap * 2 : 256;

	if (r->n < r->cap)
		return 0;
	if (!GROW(r->ts, cap) || !GROW(r->prev_tid, cap) || !GROW(r->next_tid, cap) ||
	    !GROW(r->next_comm_iid, cap) || !GROW(r->prev_state, cap) || !GROW(r->next_prio, cap))
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

static int wakeup_reserve(struct wakeup_rows *r)
{
	size_t cap = r->cap ? r->cap * 2 : 256;

	if (r->n < r->cap)
		return 0;
	if (!GROW(r->ts, cap) || !GROW(r->tid, cap) || !GROW(r->target_cpu, cap) || !GROW(r->waker_tid, cap))
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

/* Row index for a record at `ts`: the end, unless a nested context on the
 * same CPU reserved its record out of time order (kept sorted: the wire's
 * deltas are unsigned). Opens a gap there. */
#define MAKE_ROOM(r, ts_, i, ...) do {                                            \
	i = (r)->n;                                                               \
	while (i > 0 && (r)->ts[i - 1] > (ts_))                                   \
		i--;                                                              \
	if (i < (r)->n) {                                                         \
		size_t __m = (r)->n - i;                                          \
		__VA_ARGS__                                                       \
	}                                                                         \
	(r)->n++;                                                                 \
} while (0)
#define SHIFT(col) memmove(&col[i + 1], &col[i], __m * sizeof(*col));

/* ---- target threads --------------------------------------------------- */

/* Whether `tid` was new (and is now known). */
static bool learn_tid(struct pi_sched_tracer *t, uint32_t tid)
{
	size_t k;

	if (t->known_n * 2 >= t->known_cap) {
		size_t cap = t->known_cap ? t->known_cap * 2 : 256;
		uint32_t *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return false;
		for (size_t j = 0; j < t->known_cap; j++) {
			uint32_t v = t->known_tids[j];

			if (!v)
				continue;
			for (k = (v * 2654435761u) & (cap - 1); tab[k]; k = (k + 1) & (cap - 1))
				;
			tab[k] = v;
		}
		free(t->known_tids);
		t->known_tids = tab;
		t->known_cap = cap;
	}
	for (k = (tid * 2654435761u) & (t->known_cap - 1); t->known_tids[k]; k = (k + 1) & (t->known_cap - 1))
		if (t->known_tids[k] == tid)
			return false;
	t->known_tids[k] = tid;
	t->known_n++;
	return true;
}

static void note_target_thread(struct pi_sched_tracer *t, uint32_t tgid, uint32_t tid, const char *comm)
{
	struct thread_desc *d;

	bool target = false;

	for (size_t i = 0; i < t->n_targets && !target; i++)
		target = t->targets[i] == tgid;
	if (!target || !tid || !learn_tid(t, tid))
		return;
	if (t->n_pending == t->cap_pending) {
		size_t cap = t->cap_pending ? t->cap_pending * 2 : 64;

		if (!GROW(t->pending, cap))
			return;
		t->cap_pending = cap;
	}
	d = &t->pending[t->n_pending++];
	d->tgid = tgid;
	d->tid = tid;
	memcpy(d->comm, comm, PI_SCHED_COMM_LEN);
	d->comm[PI_SCHED_COMM_LEN] = '\0';
}

/* The thread's name now, from /proc: the record's comm may predate exec
 * (a launched target is a fork of profinferd until it execs). */
static void describe_threads(struct pi_sched_tracer *t)
{
	for (size_t i = 0; i < t->n_pending; i++) {
		struct thread_desc *d = &t->pending[i];
		char path[96], comm[64];
		ssize_t n = -1;
		int fd;

		snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", d->tgid, d->tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, comm, sizeof(comm) - 1);
			close(fd);
		}
		if (n > 0) {
			comm[n] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
		}
		pi_emit__thread_named(t->emit, d->tgid, d->tid, n > 0 ? comm : d->comm);
	}
	t->n_pending = 0;
}

/* ---- records ---------------------------------------------------------- */

static uint32_t comm_iid(struct pi_sched_tracer *t, const char *raw)
{
	char comm[PI_SCHED_COMM_LEN + 1];
	bool is_new;
	uint32_t iid;

	memcpy(comm, raw, PI_SCHED_COMM_LEN);
	comm[PI_SCHED_COMM_LEN] = '\0';
	iid = pi_intern__get(t->comms, comm, &is_new);
	return iid ? PI_SCHED_IID_BASE + iid : 0;
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct pi_sched_tracer *t = ctx;
	struct pi_sched_event e;
	uint64_t now = mono_ns();
	size_t i;

	if (size < sizeof(e)) {
		t->dropped++;
		return 0;
	}
	memcpy(&e, data, sizeof(e));
	if (e.cpu >= (uint32_t)t->ncpu) {
		t->dropped++;
		return 0;
	}
	if (e.kind == PI_SCHED_SWITCH) {
		struct switch_rows *r = &t->sw[e.cpu];
		uint32_t iid = comm_iid(t, e.b_comm);

		if (switch_reserve(r)) {
			t->dropped++;
			return 0;
		}
		if (!r->n)
			r->first_ns = now;
		MAKE_ROOM(r, e.ts_ns, i, SHIFT(r->ts) SHIFT(r->prev_tid) SHIFT(r->next_tid)
			  SHIFT(r->next_comm_iid) SHIFT(r->prev_state) SHIFT(r->next_prio));
		r->ts[i] = e.ts_ns;
		r->prev_tid[i] = e.a_tid;
		r->prev_state[i] = e.prev_state;
		r->next_tid[i] = e.b_tid;
		r->next_prio[i] = e.b_prio;
		r->next_comm_iid[i] = iid;
		t->recorded++;
	} else if (e.kind == PI_SCHED_WAKING) {
		struct wakeup_rows *r = &t->wk[e.cpu];

		if (wakeup_reserve(r)) {
			t->dropped++;
			return 0;
		}
		if (!r->n)
			r->first_ns = now;
		MAKE_ROOM(r, e.ts_ns, i, SHIFT(r->ts) SHIFT(r->tid) SHIFT(r->target_cpu) SHIFT(r->waker_tid));
		r->ts[i] = e.ts_ns;
		r->tid[i] = e.b_tid;
		r->target_cpu[i] = e.target_cpu;
		r->waker_tid[i] = e.a_tid;
		t->recorded++;
	} else {
		t->dropped++;
		return 0;
	}
	/* Which side is the target is not on the wire: ThreadInfo says (it
	 * is written for target threads only). */
	if (e.kind == PI_SCHED_SWITCH)
		note_target_thread(t, e.a_tgid, e.a_tid, e.a_comm);
	note_target_thread(t, e.b_tgid, e.b_tid, e.b_comm);
	return 0;
}

/* ---- writing ---------------------------------------------------------- */

static void write_packet(struct pi_sched_tracer *t, int err, size_t len, size_t rows)
{
	if (err) {
		t->dropped += rows;
		if (getenv("PROFINFER_DEBUG"))
			fprintf(stderr, "debug: sched batch not encoded: %s\n", strerror(-err));
		return;
	}
	if (pi_writer__append(t->w, t->buf, len))
		t->dropped += rows; /* the writer counts the packet too (EVENT_KIND_OUTPUT) */
}

static void write_comms(struct pi_sched_tracer *t)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_InternedString one;
	size_t len;

	/* One packet per string, as trace_emit.c does. */
	for (; pi_intern__str(t->comms, t->comms_written + 1); t->comms_written++) {
		one.iid = PI_SCHED_IID_BASE + t->comms_written + 1;
		one.str = (char *)pi_intern__str(t->comms, t->comms_written + 1);
		p.which_data = profinfer_v1_TracePacket_interned_tag;
		p.data.interned.strings_count = 1;
		p.data.interned.strings = &one;
		if (!pi_encode_packet(&p, t->buf, t->cap, &len))
			pi_writer__append(t->w, t->buf, len);
	}
}

static void flush_switches(struct pi_sched_tracer *t, uint32_t cpu, struct switch_rows *r)
{
	for (size_t off = 0; off < r->n; off += PI_SCHED_BATCH_MAX) {
		size_t n = r->n - off < PI_SCHED_BATCH_MAX ? r->n - off : PI_SCHED_BATCH_MAX, len = 0;
		struct pi_sched_switch_rows rows = {
			.cpu = cpu, .n = n, .ts_ns = r->ts + off, .prev_tid = r->prev_tid + off,
			.prev_state = r->prev_state + off, .next_tid = r->next_tid + off,
			.next_prio = r->next_prio + off, .next_comm_iid = r->next_comm_iid + off,
		};

		int err = pi_encode_sched_switch(&rows, t->scratch, t->buf, t->cap, &len);

		write_packet(t, err, len, n);
	}
	r->n = 0;
}

static void flush_wakeups(struct pi_sched_tracer *t, uint32_t cpu, struct wakeup_rows *r)
{
	for (size_t off = 0; off < r->n; off += PI_SCHED_BATCH_MAX) {
		size_t n = r->n - off < PI_SCHED_BATCH_MAX ? r->n - off : PI_SCHED_BATCH_MAX, len = 0;
		struct pi_sched_wakeup_rows rows = {
			.cpu = cpu, .n = n, .ts_ns = r->ts + off, .tid = r->tid + off,
			.target_cpu = r->target_cpu + off, .waker_tid = r->waker_tid + off,
		};

		int err = pi_encode_sched_wakeup(&rows, t->scratch, t->buf, t->cap, &len);

		write_packet(t, err, len, n);
	}
	r->n = 0;
}

void pi_sched_tracer__flush(struct pi_sched_tracer *t, uint64_t now_ns, bool all)
{
	describe_threads(t);
	write_comms(t);
	for (int cpu = 0; cpu < t->ncpu; cpu++) {
		struct switch_rows *s = &t->sw[cpu];
		struct wakeup_rows *w = &t->wk[cpu];

		if (s->n && (all || s->n >= PI_SCHED_FLUSH_ROWS || now_ns - s->first_ns >= PI_SCHED_FLUSH_AGE_NS))
			flush_switches(t, cpu, s);
		if (w->n && (all || w->n >= PI_SCHED_FLUSH_ROWS || now_ns - w->first_ns >= PI_SCHED_FLUSH_AGE_NS))
			flush_wakeups(t, cpu, w);
	}
}

/* ---- lifecycle -------------------------------------------------------- */

/* btf_path: an external BTF file for CO-RE on kernels without their own
 * (/sys/kernel/btf/vmlinux); NULL: the kernel's. */
static struct sched_bpf *open_and_load(bool btf, uint32_t kib, const char *btf_path, int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_path);
	struct sched_bpf *skel = sched_bpf__open_opts(&oo);

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	bpf_map__set_max_entries(skel->maps.sched_events, kib * 1024);
	skel->rodata->wakeup_bytes = (uint64_t)kib * 1024 / 4;
	bpf_program__set_autoload(skel->progs.sched_switch_btf, btf);
	bpf_program__set_autoload(skel->progs.sched_waking_btf, btf);
	bpf_program__set_autoload(skel->progs.sched_wakeup_new_btf, btf);
	bpf_program__set_autoload(skel->progs.sched_switch_raw, !btf);
	bpf_program__set_autoload(skel->progs.sched_waking_raw, !btf);
	bpf_program__set_autoload(skel->progs.sched_wakeup_new_raw, !btf);
	if ((*err = sched_bpf__load(skel))) {
		sched_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

int pi_sched_tracer__new(struct ring_buffer *rb, struct pi_writer *w, struct pi_emit *emit,
			 uint32_t ring_buffer_kib, const char *btf_path, struct pi_sched_tracer **out, char *err,
			 size_t errlen)
{
	struct pi_sched_tracer *t = calloc(1, sizeof(*t));
	uint32_t kib = ring_buffer_kib ? ring_buffer_kib : PI_SCHED_DEFAULT_RING_KIB;
	int e;

	if (!t)
		return -ENOMEM;
	while (kib & (kib - 1)) /* a power of two number of pages */
		kib &= kib - 1;
	if (kib < 64)
		kib = 64;
	t->w = w;
	t->emit = emit;
	t->ncpu = libbpf_num_possible_cpus();
	if (t->ncpu <= 0) {
		e = t->ncpu ? t->ncpu : -EINVAL;
		set_err(err, errlen, "failed to count the CPUs: %s", strerror(-e));
		goto fail;
	}
	t->sw = calloc(t->ncpu, sizeof(*t->sw));
	t->wk = calloc(t->ncpu, sizeof(*t->wk));
	t->comms = pi_intern__new();
	t->cap = pi_sched_batch_max_size(PI_SCHED_BATCH_MAX);
	t->buf = malloc(t->cap);
	t->scratch = calloc(PI_SCHED_BATCH_MAX, sizeof(*t->scratch));
	if (!t->sw || !t->wk || !t->comms || !t->buf || !t->scratch) {
		e = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	/* PROFINFER_SCHED_RAW_TP=1 skips tp_btf (tests of the fallback). */
	t->btf = !getenv("PROFINFER_SCHED_RAW_TP");
	t->skel = t->btf ? open_and_load(true, kib, btf_path, &e) : NULL;
	if (!t->skel) {
		t->btf = false; /* raw_tp: CO-RE needs only a BTF, the kernel's or btf_path */
		t->skel = open_and_load(false, kib, btf_path, &e);
	}
	if (!t->skel) {
		if (btf_path && access(btf_path, R_OK))
			set_err(err, errlen, "cannot read the BTF file %s (--btf): %s", btf_path, strerror(errno));
		else
			set_err(err, errlen, "failed to load the scheduler programs (--sched): %s%s", strerror(-e),
				!btf_path && access("/sys/kernel/btf/vmlinux", R_OK)
					? "; this kernel has no BTF (/sys/kernel/btf/vmlinux): pass --btf FILE, a BTF "
					  "file for this kernel (its vmlinux, or one from BTFHub)"
					: "");
		goto fail;
	}
	if ((e = sched_bpf__attach(t->skel))) {
		set_err(err, errlen, "failed to attach to sched_switch / sched_waking / sched_wakeup_new (--sched): %s",
			strerror(-e));
		goto fail;
	}
	if ((e = ring_buffer__add(rb, bpf_map__fd(t->skel->maps.sched_events), handle_record, t))) {
		set_err(err, errlen, "failed to read the scheduler ring buffer: %s", strerror(-e));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	pi_sched_tracer__free(t);
	return e;
}

int pi_sched_tracer__add_target(struct pi_sched_tracer *t, pid_t tgid)
{
	__u32 key = tgid;
	__u8 one = 1;

	for (size_t i = 0; i < t->n_targets; i++)
		if (t->targets[i] == key)
			return 0;
	if (t->n_targets == sizeof(t->targets) / sizeof(t->targets[0]))
		return -E2BIG;
	t->targets[t->n_targets++] = key;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.sched_targets), &key, &one, BPF_ANY))
		return -errno;
	return 0;
}

void pi_sched_tracer__detach(struct pi_sched_tracer *t)
{
	if (t->detached)
		return;
	sched_bpf__detach(t->skel);
	t->detached = true;
}

/* Runs the kernel skipped because a program was already running on that
 * CPU (a waking in an interrupt during another): lost, not recorded. */
static uint64_t recursion_misses(struct bpf_program *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(p);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_prog_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

void pi_sched_tracer__counts(struct pi_sched_tracer *t, uint64_t *recorded, uint64_t *lost)
{
	uint64_t sum = t->dropped, *vals = calloc(t->ncpu, sizeof(*vals));

	for (__u32 k = 0; vals && k < PI_SCHED_LOST_SLOTS; k++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.sched_lost), &k, vals))
			continue;
		for (int i = 0; i < t->ncpu; i++)
			sum += vals[i];
	}
	free(vals);
	if (t->btf)
		sum += recursion_misses(t->skel->progs.sched_switch_btf) +
		       recursion_misses(t->skel->progs.sched_waking_btf) +
		       recursion_misses(t->skel->progs.sched_wakeup_new_btf);
	else
		sum += recursion_misses(t->skel->progs.sched_switch_raw) +
		       recursion_misses(t->skel->progs.sched_waking_raw) +
		       recursion_misses(t->skel->progs.sched_wakeup_new_raw);
	*recorded = t->recorded;
	*lost = sum;
}

const char *pi_sched_tracer__how(const struct pi_sched_tracer *t)
{
	return t->btf ? "tp_btf" : "raw_tp";
}

void pi_sched_tracer__free(struct pi_sched_tracer *t)
{
	if (!t)
		return;
	sched_bpf__destroy(t->skel);
	for (int i = 0; t->sw && i < t->ncpu; i++) {
		struct switch_rows *s = &t->sw[i];

		free(s->ts), free(s->prev_tid), free(s->next_tid), free(s->next_comm_iid);
		free(s->prev_state), free(s->next_prio);
	}
	for (int i = 0; t->wk && i < t->ncpu; i++) {
		struct wakeup_rows *w = &t->wk[i];

		free(w->ts), free(w->tid), free(w->target_cpu), free(w->waker_tid);
	}
	free(t->sw);
	free(t->wk);
	pi_intern__free(t->comms);
	free(t->known_tids);
	free(t->pending);
	free(t->buf);
	free(t->scratch);
	free(t);
}
