#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <sys/types.h>

/* CPU seconds (user + system) pid has used, all threads; -1 on error. */
double procstat_cpu(pid_t pid);
/* pid's resident set in bytes, from VmRSS; -1 on error. */
long long procstat_rss(pid_t pid);
/* CPU seconds (user + system) this process has used, all threads. */
double procstat_self_cpu(void);
/*
 * CPU seconds the whole machine has been busy, over all CPUs, counting the
 * time the hypervisor gave to others (steal); -1 on error.
 */
double procstat_machine_busy(void);

#endif
