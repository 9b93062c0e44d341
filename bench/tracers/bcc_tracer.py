#!/usr/bin/python3
"""BCC (Python) tracer with profinferd's probes, built the way the published
Ubuntu ProfInfer BCC collector works: one uprobe per probe site, one perf-buffer
event per hit, and a Python reader that writes one CSV line per event.

    bcc_tracer.py --plan PLAN.json --csv OUT.csv --stats STATS.json -- CMD [ARGS...]

PLAN.json is bench/lib/probe_plan.mjs's plan ({probes: [{binary, name, symbol,
offset, ret, counterReg | counterSlot}]}). Attaches every probe, starts CMD, reads events until
CMD exits, drains the buffers, and writes STATS.json: events, lost (perf-buffer
lost-sample callbacks), and this process's CPU seconds and peak RSS while CMD ran.
Exits with CMD's status.

BCC compiles its C at run time against kernel headers. Linux 6.18 has no Debian
headers package: set BCC_KERNEL_SOURCE to a merged linux-headers tree of a nearby
version (bench/lib/tools.mjs builds one; uprobes need no kernel structs).
"""
import argparse
import json
import resource
import subprocess
import sys
import time

from bcc import BPF

PROGRAM = r"""
#include <uapi/linux/ptrace.h>

struct event_t {
	u64 ts;
	u32 pid;
	u32 tid;
	u32 probe;
	u32 arg;
};

BPF_PERF_OUTPUT(events);
BPF_ARRAY(target, u32, 1);

static __always_inline int emit(struct pt_regs *ctx, u32 probe, u32 arg)
{
	u32 zero = 0, *want = target.lookup(&zero);
	u64 id = bpf_get_current_pid_tgid();
	struct event_t e = {};

	if (!want || *want != (u32)(id >> 32))
		return 0;
	e.ts = bpf_ktime_get_ns();
	e.pid = id >> 32;
	e.tid = (u32)id;
	e.probe = probe;
	e.arg = arg;
	events.perf_submit(ctx, &e, sizeof(e));
	return 0;
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--page-cnt", type=int, default=8, help="perf buffer pages per CPU (BCC default 8)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("give the command to trace after --")
    with open(args.plan) as f:
        plan = json.load(f)
    probes = plan.get("probes")
    if not isinstance(probes, list) or not probes or not all(isinstance(p.get("binary"), str) for p in probes):
        sys.exit("bcc_tracer: %s is not a probe plan (need probes, each with its binary)" % args.plan)

    text = PROGRAM
    for i, p in enumerate(probes):
        reg = p.get("counterReg")
        slot = p.get("counterSlot")
        if reg is not None and reg not in ("r12", "r13", "r14", "r15", "rbx", "rbp"):
            sys.exit("bcc_tracer: unexpected counter register %r in the plan" % reg)
        if slot is not None and (slot.get("reg") not in ("rsp", "rbp") or not 0 <= int(slot.get("offset", -1)) < 4096):
            sys.exit("bcc_tracer: unexpected counter stack slot %r in the plan" % slot)
        if reg:
            text += "int probe_%d(struct pt_regs *ctx) { return emit(ctx, %d, (u32)ctx->%s); }\n" % (i, i, reg)
        elif slot:
            # The loop counter lives in the caller's frame: read it as profinferd does.
            text += ("int probe_%d(struct pt_regs *ctx) { u32 v = 0; "
                     "bpf_probe_read_user(&v, sizeof(v), (void *)(ctx->%s + %d)); return emit(ctx, %d, v); }\n"
                     % (i, slot["reg"][1:], int(slot["offset"]), i))
        else:
            text += "int probe_%d(struct pt_regs *ctx) { return emit(ctx, %d, 0); }\n" % (i, i)
    b = BPF(text=text)
    for i, p in enumerate(probes):
        if p.get("ret"):
            b.attach_uretprobe(name=p["binary"], sym=p["symbol"], fn_name="probe_%d" % i)
        else:
            b.attach_uprobe(name=p["binary"], sym=p["symbol"], sym_off=int(p["offset"]), fn_name="probe_%d" % i)

    counts = {"events": 0, "lost": 0}
    names = [p["name"] for p in probes]
    out = open(args.csv, "w", buffering=1 << 16)
    out.write("probe,pid,tid,ts_ns,arg\n")

    def on_event(cpu, data, size):
        e = b["events"].event(data)
        out.write("%s,%d,%d,%d,%d\n" % (names[e.probe], e.pid, e.tid, e.ts, e.arg))
        counts["events"] += 1

    def on_lost(n):
        counts["lost"] += n

    b["events"].open_perf_buffer(on_event, page_cnt=args.page_cnt, lost_cb=on_lost)
    # Hold the target at a shell's `read` until its pid is in the filter map,
    # then exec it (same pid), so its first calls are not dropped.
    child = subprocess.Popen(["sh", "-c", 'read _; exec "$0" "$@"'] + cmd, stdin=subprocess.PIPE)
    b["target"][b["target"].Key(0)] = b["target"].Leaf(child.pid)
    child.stdin.write(b"\n")
    child.stdin.close()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    while child.poll() is None:
        b.perf_buffer_poll(timeout=100)
    for _ in range(5):  # drain what the last wake-ups left
        b.perf_buffer_poll(timeout=10)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    out.close()
    with open(args.stats, "w") as f:
        json.dump({
            "events": counts["events"], "lost": counts["lost"],
            "cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
            "peak_rss_mb": ru1.ru_maxrss / 1024.0,
        }, f)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
