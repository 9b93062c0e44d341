/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Shared by bpf/proc_exit.bpf.c and collector-c/src/exit_watch.c. */
#ifndef PROFINFER_PROC_EXIT_EVENTS_H
#define PROFINFER_PROC_EXIT_EVENTS_H

/* exit_status value of a watched process that has not exited. */
#define PI_EXIT_PENDING (-1)
#define PI_EXIT_MAX_WATCHED 64

#endif
