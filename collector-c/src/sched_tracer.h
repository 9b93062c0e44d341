/* sched_tracer.h: the scheduler events of the target processes
 * (bpf/sched.bpf.c): sched_switch and sched_waking wherever a target thread
 * is involved, batched per CPU and written as SchedSwitchBatch /
 * SchedWakeupBatch packets (sched_encode.h). Loaded only with --sched; its
 * ring buffer joins the collector's, so one poll serves both. */
#ifndef PI_SCHED_TRACER_H
#define PI_SCHED_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ring_buffer;
struct pi_writer;
struct pi_emit;
struct pi_sched_tracer;

/* Interned next_comm strings get iids from this base up, so they never
 * collide with the iids trace_emit.c hands out from 1 (each table is
 * written as InternedStrings packets of its own). */
#define PI_SCHED_IID_BASE (1u << 30)

/* Opens, loads (tp_btf, or raw_tp where BTF tracepoints cannot be loaded)
 * and attaches the programs, and adds their ring buffer to `rb`. btf_path:
 * an external BTF file for kernels without /sys/kernel/btf/vmlinux (NULL:
 * the kernel's). Returns 0 or -errno with a one-line reason in err. */
int pi_sched_tracer__new(struct ring_buffer *rb, struct pi_writer *w, struct pi_emit *emit,
			 uint32_t ring_buffer_kib, const char *btf_path, struct pi_sched_tracer **out, char *err,
			 size_t errlen);
void pi_sched_tracer__free(struct pi_sched_tracer *t);

/* Keeps the events of every thread of process `tgid` from now on. */
int pi_sched_tracer__add_target(struct pi_sched_tracer *t, pid_t tgid);

/* Writes the batches that are full or older than a second (all with
 * `all`), and describes the target threads seen since the last call. Call
 * only once SessionInfo is written. */
void pi_sched_tracer__flush(struct pi_sched_tracer *t, uint64_t now_ns, bool all);

/* Stops recording (detaches the programs); what is in the ring is still
 * read by the next poll or consume. */
void pi_sched_tracer__detach(struct pi_sched_tracer *t);

/* Events recorded, and events lost: not reserved in BPF, skipped by the
 * kernel's recursion guard, or not encoded / written. */
void pi_sched_tracer__counts(struct pi_sched_tracer *t, uint64_t *recorded, uint64_t *lost);

/* "tp_btf" or "raw_tp": how the programs are attached. */
const char *pi_sched_tracer__how(const struct pi_sched_tracer *t);

#endif
