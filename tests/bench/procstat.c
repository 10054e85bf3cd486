#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads a /proc file into buf, NUL-terminated; -1 on error. */
static int
procstat_slurp(const char *path, char *buf, size_t len)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static int
procstat_read(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	return procstat_slurp(path, buf, len);
}

double
procstat_cpu(pid_t pid)
{
	char buf[1024], *p;
	unsigned long long utime, stime;

	if (procstat_read(pid, "stat", buf, sizeof(buf)) == -1)
		return -1;
	/* The command name may hold spaces: fields count from its ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		&stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

long long
procstat_rss(pid_t pid)
{
	char buf[8192], *p;
	long long kib;

	if (procstat_read(pid, "status", buf, sizeof(buf)) == -1 ||
	    (p = strstr(buf, "\nVmRSS:")) == NULL ||
	    sscanf(p + 7, "%lld", &kib) != 1)
		return -1;
	return kib * 1024;
}

static double
procstat_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

double
procstat_self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return procstat_seconds(&ru.ru_utime) + procstat_seconds(&ru.ru_stime);
}

double
procstat_machine_busy(void)
{
	char buf[512];
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;

	if (procstat_slurp("/proc/stat", buf, sizeof(buf)) == -1 ||
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user,
		&nice, &sys, &idle, &iowait, &irq, &softirq, &steal) != 8)
		return -1;
	return (double)(user + nice + sys + irq + softirq + steal) /
	    (double)sysconf(_SC_CLK_TCK);
}
