/*
 * For seccomp-enosys.test.ts: makes each syscall its arguments name, raw (glibc would turn some
 * answers into others), and prints "name=errno" (0 when it succeeded).
 * "1000" is a number no kernel knows; the rest are looked up in the table below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		long nr;
		long ret;
		if (strcmp(argv[i], "1000") == 0) {
			nr = 1000;
		} else if (strcmp(argv[i], "unshare") == 0) {
			nr = SYS_unshare; /* unshare(0) does nothing when allowed */
		} else if (strcmp(argv[i], "getppid") == 0) {
			nr = SYS_getppid;
		} else {
			fprintf(stderr, "enosys-probe: unknown syscall %s\n", argv[i]);
			return 2;
		}
		ret = syscall(nr, 0, 0, 0);
		printf("%s=%d\n", argv[i], ret < 0 ? errno : 0);
		fflush(stdout); /* before a syscall that may kill it */
	}
	return 0;
}
