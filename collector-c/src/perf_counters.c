// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "perf_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct named_event {
	const char *name;
	uint32_t type;
	uint64_t config;
};

/* perf's generic names (tools/perf/util/parse-events.c), with its aliases. */
static const struct named_event generic[] = {
	{ "cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	{ "cpu-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	{ "instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
	{ "cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES },
	{ "cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
	{ "branch-instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	{ "branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	{ "branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
	{ "bus-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BUS_CYCLES },
	{ "stalled-cycles-frontend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_FRONTEND },
	{ "stalled-cycles-backend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_BACKEND },
	{ "ref-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_REF_CPU_CYCLES },
	{ "cpu-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK },
	{ "task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
	{ "page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
	{ "faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
	{ "minor-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN },
	{ "major-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ },
	{ "context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
	{ "cs", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
	{ "cpu-migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
	{ "migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
	{ "alignment-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_ALIGNMENT_FAULTS },
	{ "emulation-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_EMULATION_FAULTS },
};

/* ARMv8 PMUv3 common events (Arm ARM D17.10 "PMU events and event
 * numbers"), plus the recommended IMPLEMENTATION DEFINED ones in the
 * kernel's include/linux/perf/arm_pmuv3.h (ARMV8_IMPDEF_PERFCTR_*). */
static const struct named_event armv8[] = {
	{ "sw_incr", PERF_TYPE_RAW, 0x00 },
	{ "l1i_cache_refill", PERF_TYPE_RAW, 0x01 },
	{ "l1i_tlb_refill", PERF_TYPE_RAW, 0x02 },
	{ "l1d_cache_refill", PERF_TYPE_RAW, 0x03 },
	{ "l1d_cache", PERF_TYPE_RAW, 0x04 },
	{ "l1d_tlb_refill", PERF_TYPE_RAW, 0x05 },
	{ "ld_retired", PERF_TYPE_RAW, 0x06 },
	{ "st_retired", PERF_TYPE_RAW, 0x07 },
	{ "inst_retired", PERF_TYPE_RAW, 0x08 },
	{ "exc_taken", PERF_TYPE_RAW, 0x09 },
	{ "exc_return", PERF_TYPE_RAW, 0x0a },
	{ "cid_write_retired", PERF_TYPE_RAW, 0x0b },
	{ "pc_write_retired", PERF_TYPE_RAW, 0x0c },
	{ "br_immed_retired", PERF_TYPE_RAW, 0x0d },
	{ "br_return_retired", PERF_TYPE_RAW, 0x0e },
	{ "unaligned_ldst_retired", PERF_TYPE_RAW, 0x0f },
	{ "br_mis_pred", PERF_TYPE_RAW, 0x10 },
	{ "cpu_cycles", PERF_TYPE_RAW, 0x11 },
	{ "br_pred", PERF_TYPE_RAW, 0x12 },
	{ "mem_access", PERF_TYPE_RAW, 0x13 },
	{ "l1i_cache", PERF_TYPE_RAW, 0x14 },
	{ "l1d_cache_wb", PERF_TYPE_RAW, 0x15 },
	{ "l2d_cache", PERF_TYPE_RAW, 0x16 },
	{ "l2d_cache_refill", PERF_TYPE_RAW, 0x17 },
	{ "l2d_cache_wb", PERF_TYPE_RAW, 0x18 },
	{ "bus_access", PERF_TYPE_RAW, 0x19 },
	{ "memory_error", PERF_TYPE_RAW, 0x1a },
	{ "inst_spec", PERF_TYPE_RAW, 0x1b },
	{ "ttbr_write_retired", PERF_TYPE_RAW, 0x1c },
	{ "bus_cycles", PERF_TYPE_RAW, 0x1d },
	{ "l1d_cache_allocate", PERF_TYPE_RAW, 0x1f },
	{ "l2d_cache_allocate", PERF_TYPE_RAW, 0x20 },
	{ "br_retired", PERF_TYPE_RAW, 0x21 },
	{ "br_mis_pred_retired", PERF_TYPE_RAW, 0x22 },
	{ "stall_frontend", PERF_TYPE_RAW, 0x23 },
	{ "stall_backend", PERF_TYPE_RAW, 0x24 },
	{ "l1d_tlb", PERF_TYPE_RAW, 0x25 },
	{ "l1i_tlb", PERF_TYPE_RAW, 0x26 },
	{ "l2i_cache", PERF_TYPE_RAW, 0x27 },
	{ "l2i_cache_refill", PERF_TYPE_RAW, 0x28 },
	{ "l3d_cache_allocate", PERF_TYPE_RAW, 0x29 },
	{ "l3d_cache_refill", PERF_TYPE_RAW, 0x2a },
	{ "l3d_cache", PERF_TYPE_RAW, 0x2b },
	{ "l3d_cache_wb", PERF_TYPE_RAW, 0x2c },
	{ "l2d_tlb_refill", PERF_TYPE_RAW, 0x2d },
	{ "l2i_tlb_refill", PERF_TYPE_RAW, 0x2e },
	{ "l2d_tlb", PERF_TYPE_RAW, 0x2f },
	{ "l2i_tlb", PERF_TYPE_RAW, 0x30 },
	{ "remote_access", PERF_TYPE_RAW, 0x31 },
	{ "ll_cache", PERF_TYPE_RAW, 0x32 },
	{ "ll_cache_miss", PERF_TYPE_RAW, 0x33 },
	{ "dtlb_walk", PERF_TYPE_RAW, 0x34 },
	{ "itlb_walk", PERF_TYPE_RAW, 0x35 },
	{ "ll_cache_rd", PERF_TYPE_RAW, 0x36 },
	{ "ll_cache_miss_rd", PERF_TYPE_RAW, 0x37 },
	{ "remote_access_rd", PERF_TYPE_RAW, 0x38 },
	{ "l1d_cache_lmiss_rd", PERF_TYPE_RAW, 0x39 },
	{ "op_retired", PERF_TYPE_RAW, 0x3a },
	{ "op_spec", PERF_TYPE_RAW, 0x3b },
	{ "stall", PERF_TYPE_RAW, 0x3c },
	{ "stall_slot_backend", PERF_TYPE_RAW, 0x3d },
	{ "stall_slot_frontend", PERF_TYPE_RAW, 0x3e },
	{ "stall_slot", PERF_TYPE_RAW, 0x3f },
	{ "l1d_cache_rd", PERF_TYPE_RAW, 0x40 },
	{ "l1d_cache_wr", PERF_TYPE_RAW, 0x41 },
	{ "l1d_cache_refill_rd", PERF_TYPE_RAW, 0x42 },
	{ "l1d_cache_refill_wr", PERF_TYPE_RAW, 0x43 },
	{ "l2d_cache_rd", PERF_TYPE_RAW, 0x50 },
	{ "l2d_cache_wr", PERF_TYPE_RAW, 0x51 },
	{ "l2d_cache_refill_rd", PERF_TYPE_RAW, 0x52 },
	{ "l2d_cache_refill_wr", PERF_TYPE_RAW, 0x53 },
	{ "bus_access_rd", PERF_TYPE_RAW, 0x60 },
	{ "bus_access_wr", PERF_TYPE_RAW, 0x61 },
	{ "mem_access_rd", PERF_TYPE_RAW, 0x66 },
	{ "mem_access_wr", PERF_TYPE_RAW, 0x67 },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char pi_counters__valid_forms[] =
	"hardware: cycles instructions cache-references cache-misses branch-instructions "
	"branch-misses bus-cycles stalled-cycles-frontend stalled-cycles-backend ref-cycles; "
	"software: task-clock cpu-clock page-faults minor-faults major-faults context-switches "
	"cpu-migrations alignment-faults emulation-faults; raw:0xCODE; ARMv8 PMUv3 names, "
	"with or without 'armv8:' (l1d_cache_refill l2d_cache_refill l3d_cache_refill mem_access "
	"mem_access_rd mem_access_wr stall_frontend stall_backend inst_retired cpu_cycles "
	"bus_access ...)";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct named_event *find(const struct named_event *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(t[i].name, name))
			return &t[i];
	return NULL;
}

/* One entry of the list into c; returns 0 or -EINVAL. */
static int parse_one(const char *name, struct pi_counter *c)
{
	const struct named_event *ev;

	if (!strncmp(name, "raw:", 4)) {
		const char *num = name + 4;
		char *end;

		if (!*num || *num == '-' || !isxdigit((unsigned char)*num))
			return -EINVAL;
		errno = 0;
		c->perf_config = strtoull(num, &end, 0);
		if (errno || *end)
			return -EINVAL;
		c->perf_type = PERF_TYPE_RAW;
		c->kind = "raw";
		return 0;
	}
	if ((ev = find(generic, ARRAY_LEN(generic), name))) {
		c->perf_type = ev->type;
		c->perf_config = ev->config;
		c->kind = ev->type == PERF_TYPE_HARDWARE ? "hardware" : "software";
		return 0;
	}
	if (!strncasecmp(name, "armv8:", 6))
		name += 6;
	if ((ev = find(armv8, ARRAY_LEN(armv8), name))) {
		c->perf_type = ev->type;
		c->perf_config = ev->config;
		c->kind = "armv8";
		return 0;
	}
	return -EINVAL;
}

int pi_counters__parse(const char *list, struct pi_counter_set *set, char *err, size_t errlen)
{
	const char *p = list;

	memset(set, 0, sizeof(*set));
	if (!list || !*list) {
		set_err(err, errlen, "--counters needs a comma-separated list of counters (%s)",
			pi_counters__valid_forms);
		return -EINVAL;
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		struct pi_counter *c;
		char name[64];

		while (len && isspace((unsigned char)*p))
			p++, len--;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (!len || len >= sizeof(name)) {
			set_err(err, errlen, "bad --counters entry '%.*s' (empty or too long); valid: %s",
				(int)(len > 60 ? 60 : len), p, pi_counters__valid_forms);
			return -EINVAL;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (set->n == PI_MAX_COUNTERS) {
			set_err(err, errlen, "too many counters: at most %d per session ('%s' is number %zu)",
				PI_MAX_COUNTERS, name, set->n + 1);
			return -E2BIG;
		}
		c = &set->counters[set->n];
		memset(c, 0, sizeof(*c));
		if (parse_one(name, c)) {
			set_err(err, errlen, "unknown counter '%s' in --counters; valid: %s", name,
				pi_counters__valid_forms);
			return -EINVAL;
		}
		for (size_t i = 0; i < set->n; i++)
			if (set->counters[i].perf_type == c->perf_type &&
			    set->counters[i].perf_config == c->perf_config) {
				set_err(err, errlen, "counter '%s' is listed twice in --counters (as '%s')",
					name, set->counters[i].name);
				return -EINVAL;
			}
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->id = set->n + 1;
		c->slot = -1;
		set->n++;
		p += comma ? (size_t)(comma - p) + 1 : strlen(p);
		if (comma && !*p) {
			set_err(err, errlen, "bad --counters list '%s': it ends with a comma", list);
			return -EINVAL;
		}
	}
	return 0;
}

static int perf_open(uint32_t type, uint64_t config, int cpu)
{
	struct perf_event_attr a = {
		.size = sizeof(a),
		.type = type,
		.config = config,
	};

	return syscall(__NR_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* What to do about an errno of perf_event_open, for the user. */
static const char *advice(int e, const struct pi_counter *c)
{
	switch (e) {
	case ENOENT:
	case ENODEV:
		return c->perf_type == PERF_TYPE_SOFTWARE
			       ? "this kernel has no such software event"
			       : "no hardware PMU event for it on this CPU (a VM has none; on ARM boards "
				 "check the core's PMU): use software counters such as task-clock, "
				 "page-faults, context-switches";
	case EOPNOTSUPP:
		return "the PMU cannot count it per CPU: choose another event";
	case EACCES:
	case EPERM:
		return "not permitted: run as root or lower /proc/sys/kernel/perf_event_paranoid";
	case EMFILE:
	case ENFILE:
		return "too many open files: raise ulimit -n or ask for fewer counters";
	case EINVAL:
		return "the kernel rejected its type/config: check the event code";
	default:
		return "check that this kernel has perf events (CONFIG_PERF_EVENTS)";
	}
}

/* Whether cpu is online (offline CPUs cannot run the target either). */
static bool cpu_online(int cpu)
{
	char path[64], c = '1';
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	f = fopen(path, "r");
	if (!f)
		return true; /* cpu0 often has no such file: it is always online */
	if (fread(&c, 1, 1, f) != 1)
		c = '1';
	fclose(f);
	return c == '1';
}

/* Opens slot `slot` on every online CPU; returns 0 or the first -errno. */
static int open_slot(struct pi_counter_set *set, int slot, uint32_t type, uint64_t config)
{
	for (int cpu = 0; cpu < set->ncpu; cpu++) {
		int fd;

		if (!cpu_online(cpu))
			continue;
		fd = perf_open(type, config, cpu);
		if (fd < 0) {
			int e = -errno;

			for (int k = 0; k < cpu; k++) {
				int *f = &set->fds[k * PI_PMC_SLOTS + slot];

				if (*f >= 0)
					close(*f);
				*f = -1;
			}
			return e;
		}
		set->fds[cpu * PI_PMC_SLOTS + slot] = fd;
	}
	return 0;
}

int pi_counters__open(struct pi_counter_set *set, char *err, size_t errlen)
{
	int e;

	set->ncpu = libbpf_num_possible_cpus();
	if (set->ncpu <= 0) {
		set_err(err, errlen, "failed to count the CPUs: %s", strerror(-set->ncpu));
		return set->ncpu ? set->ncpu : -EINVAL;
	}
	set->fds = malloc((size_t)set->ncpu * PI_PMC_SLOTS * sizeof(int));
	if (!set->fds) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < set->ncpu * PI_PMC_SLOTS; i++)
		set->fds[i] = -1;
	set->n_live = 0;
	/* Without the guard no delta could be trusted: then nothing is live. */
	e = open_slot(set, PI_PMC_GUARD, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES);
	for (size_t i = 0; i < set->n; i++) {
		struct pi_counter *c = &set->counters[i];
		int ce;

		c->live = false;
		c->slot = -1;
		if (e) {
			snprintf(c->error, sizeof(c->error),
				 "cannot open the context-switch guard that validates every delta: %s (%s)",
				 strerror(-e), advice(-e, c));
			continue;
		}
#if !defined(__aarch64__)
		if (!strcmp(c->kind, "armv8")) {
			snprintf(c->error, sizeof(c->error),
				 "an ARMv8 PMU event on a non-ARM CPU: its code would count something "
				 "else here; use it on an aarch64 board, or raw:0xCODE for this CPU");
			continue;
		}
#endif
		ce = open_slot(set, (int)set->n_live, c->perf_type, c->perf_config);
		if (ce) {
			snprintf(c->error, sizeof(c->error), "perf_event_open: %s: %s", strerror(-ce),
				 advice(-ce, c));
			continue;
		}
		c->live = true;
		c->slot = (int)set->n_live++;
	}
	return 0;
}

int pi_counters__fill_map(const struct pi_counter_set *set, int map_fd, char *err, size_t errlen)
{
	for (int cpu = 0; cpu < set->ncpu; cpu++)
		for (int slot = 0; slot < PI_PMC_SLOTS; slot++) {
			__u32 key = cpu * PI_PMC_SLOTS + slot;
			int fd = set->fds[key];

			if (fd < 0)
				continue;
			if (bpf_map_update_elem(map_fd, &key, &fd, BPF_ANY)) {
				int e = -errno;

				set_err(err, errlen, "failed to put counter slot %d of CPU %d in the BPF map: %s",
					slot, cpu, strerror(-e));
				return e;
			}
		}
	return 0;
}

void pi_counters__close(struct pi_counter_set *set)
{
	if (!set->fds)
		return;
	for (int i = 0; i < set->ncpu * PI_PMC_SLOTS; i++)
		if (set->fds[i] >= 0)
			close(set->fds[i]);
	free(set->fds);
	set->fds = NULL;
}

const struct pi_counter *pi_counters__by_slot(const struct pi_counter_set *set, int slot)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->counters[i].live && set->counters[i].slot == slot)
			return &set->counters[i];
	return NULL;
}
