/*
 * The process side: the clone that makes the container's init, credentials, capabilities,
 * limits, the keyring, the wait for `tsrunc start`, the program's fds, signals, seccomp and the
 * exec itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stage.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What find-executable and home-from-passwd found, for exec. */
static char found_executable[PATH_MAX];
static char home_variable[PATH_MAX + 8];

/*
 * clone-init: one more process, made tsrunc's child (CLONE_PARENT), becomes the init: a new or
 * joined pid namespace holds only children. This process reports the init's pid and leaves.
 */
void op_clone_init(const struct op *op) {
  long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) fail_call(op, "clone", errno);
  if (pid > 0) {
    send_pid((int)pid);
    _exit(0);
  }
}

/* setgroups: ints ignore EPERM (setgroups is "deny" in this user namespace), gids... */
void op_setgroups(const struct op *op) {
  size_t count = op->n_ints - 1;
  gid_t *gids = calloc(count ? count : 1, sizeof *gids);
  if (!gids) fail_detail(op, "out of memory");
  for (size_t i = 0; i < count; i++) gids[i] = (gid_t)op->ints[1 + i];
  if (syscall(SYS_setgroups, count, gids) < 0 && !(errno == EPERM && op_int(op, 0))) fail_call(op, "setgroups", errno);
  free(gids);
}

/* capset: ints effective, permitted, inheritable, each as two 32-bit words (low, high) */
void op_capset(const struct op *op) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)op_int(op, (uint32_t)i);
    data[i].permitted = (uint32_t)op_int(op, 2 + (uint32_t)i);
    data[i].inheritable = (uint32_t)op_int(op, 4 + (uint32_t)i);
  }
  if (syscall(SYS_capset, &header, data) < 0) fail_call(op, "capset", errno);
}

/* setrlimit: ints resource, soft, hard (uint64, RLIM_INFINITY = all ones) */
void op_setrlimit(const struct op *op) {
  struct rlimit limit = {(rlim_t)(uint64_t)op_int(op, 1), (rlim_t)(uint64_t)op_int(op, 2)};
  if (setrlimit((__rlimit_resource_t)op_int(op, 0), &limit) < 0) fail_call(op, "setrlimit", errno);
}

/*
 * keyring: ints permission bits to add (0: none), ignore ENOSYS; strs label, name.
 * Joins (creating it if needed) the named session keyring, then adds the bits to its permissions.
 */
void op_keyring(const struct op *op) {
  long key = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, op_str(op, 1));
  if (key < 0) {
    /* A kernel built without keyrings has no keyring to share either. */
    if (errno == ENOSYS && op_int(op, 1)) return;
    fail_call(op, "keyctl(JOIN_SESSION_KEYRING)", errno);
  }
  unsigned long bits = (unsigned long)op_int(op, 0);
  if (bits == 0) return;
  char description[512];
  long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, description, sizeof description);
  if (n < 0) fail_call(op, "keyctl(DESCRIBE)", errno);
  description[sizeof description - 1] = '\0';
  /* "type;uid;gid;perm;description", perm in hex */
  const char *field = description;
  for (int i = 0; i < 3 && field; i++) field = strchr(field, ';') ? strchr(field, ';') + 1 : NULL;
  if (!field) fail_detail(op, "the keyring's description has no permissions field");
  unsigned long perm = strtoul(field, NULL, 16);
  if (syscall(SYS_keyctl, KEYCTL_SETPERM, key, perm | bits) < 0) fail_call(op, "keyctl(SETPERM)", errno);
}

/*
 * chown-stdio: ints uid, rdev of /dev/null. Hands fds 0-2 to the process's user, as runc does, so
 * that it can reopen them (/dev/stdout); skipped for /dev/null and what the user owns already, and
 * where the kernel refuses (an owner not mapped in this user namespace, a read-only /dev).
 */
void op_chown_stdio(const struct op *op) {
  uid_t uid = (uid_t)op_int(op, 0);
  dev_t null_rdev = (dev_t)op_int(op, 1);
  for (int fd = 0; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0) continue;
    if (st.st_uid == uid || (S_ISCHR(st.st_mode) && st.st_rdev == null_rdev)) continue;
    if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS) fail_call(op, "fchown", errno);
  }
}

/* find-executable: strs label, message when none is, candidates... The first regular file this process may execute. */
void op_find_executable(const struct op *op) {
  for (uint32_t i = 2; i < op->n_strs; i++) {
    const char *candidate = op->strs[i].p;
    struct stat st;
    /* AT_EACCESS: the process's own uid and capabilities decide, as at its execve (access(2)
       would ask as the real uid, without CAP_DAC_OVERRIDE). */
    if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && faccessat(AT_FDCWD, candidate, X_OK, AT_EACCESS) == 0) {
      snprintf(found_executable, sizeof found_executable, "%s", candidate);
      return;
    }
  }
  fail_detail(op, op_str(op, 1));
}

/* home-from-passwd: ints uid; strs label, passwd path. HOME is the uid's home there, else "/". */
void op_home_from_passwd(const struct op *op) {
  long uid = (long)op_int(op, 0);
  snprintf(home_variable, sizeof home_variable, "HOME=/");
  FILE *passwd = fopen(op_str(op, 1), "re");
  if (!passwd) return;
  char line[4096];
  while (fgets(line, sizeof line, passwd)) {
    line[strcspn(line, "\n")] = '\0';
    char *fields[7] = {0};
    char *rest = line;
    int count = 0;
    while (count < 7 && rest) {
      fields[count++] = rest;
      rest = strchr(rest, ':');
      if (rest) *rest++ = '\0';
    }
    if (count < 6 || fields[2][0] == '\0') continue;
    char *end;
    long entry = strtol(fields[2], &end, 10);
    if (*end == '\0' && entry == uid && fields[5][0] != '\0') {
      snprintf(home_variable, sizeof home_variable, "HOME=%s", fields[5]);
      break;
    }
  }
  fclose(passwd);
}

/*
 * wait-start: ints exec.fifo slot (an O_PATH fd). Opening the fifo for writing blocks until
 * `tsrunc start` opens it for reading; the "0" tells start the init got there. The fd stays open
 * (close-on-exec): start reads EOF once the exec succeeded, or the reason it did not.
 */
void op_wait_start(const struct op *op) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", slot_fd(op, op_int(op, 0)));
  int fd;
  do fd = open(path, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) fail_call(op, "opening exec.fifo through /proc/self/fd: open", errno);
  ssize_t n;
  do n = write(fd, "0", 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) fail_call(op, "writing exec.fifo: write", errno);
  set_start_report(fd);
  close(slots[op_int(op, 0)]);
  set_slot(op, op_int(op, 0), -1);
}

/* Moves fd (and every slot holding it) to `at` or above, close-on-exec. */
static int relocate(const struct op *op, int fd, int at) {
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, at);
  if (moved < 0) fail_call(op, "fcntl(F_DUPFD_CLOEXEC)", errno);
  for (int s = 0; s < MAX_SLOTS; s++) {
    if (slots[s] == fd) slots[s] = moved;
  }
  if (channel_fd == fd) channel_fd = moved;
  return moved;
}

/*
 * place-fds: ints one slot per fd of the program (-1: closed). fd i of the program becomes that
 * slot's fd, inheritable and blocking; every other fd is close-on-exec, still usable until exec.
 */
void op_place_fds(const struct op *op) {
  int count = (int)op->n_ints;
  int *sources = calloc((size_t)(count ? count : 1), sizeof *sources);
  if (!sources) fail_detail(op, "out of memory");
  /* Sources above every target first, so that none is overwritten before it is placed. */
  for (int i = 0; i < count; i++) {
    sources[i] = op->ints[i] < 0 ? -1 : fcntl(slot_fd(op, op->ints[i]), F_DUPFD_CLOEXEC, count);
    if (op->ints[i] >= 0 && sources[i] < 0) fail_call(op, "fcntl(F_DUPFD_CLOEXEC)", errno);
  }
  /* Anything else still needed (the channel, exec.fifo, sockets) out of the targets' way. */
  for (int s = 0; s < MAX_SLOTS; s++) {
    if (slots[s] >= 0 && slots[s] < count) relocate(op, slots[s], count);
  }
  if (channel_fd >= 0 && channel_fd < count) relocate(op, channel_fd, count);
  for (int i = 0; i < count; i++) {
    if (sources[i] < 0) {
      close(i);
      continue;
    }
    if (dup3(sources[i], i, 0) < 0) fail_call(op, "dup3", errno);
    close(sources[i]);
    /* O_NONBLOCK is shared with whoever holds the other end (Node sets it on pipes it touched). */
    int flags = fcntl(i, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) && fcntl(i, F_SETFL, flags & ~O_NONBLOCK) < 0) fail_call(op, "fcntl(F_SETFL)", errno);
    slots[i] = i;
  }
  free(sources);
  if (syscall(SYS_close_range, (unsigned)count, ~0U, CLOSE_RANGE_CLOEXEC) < 0) fail_call(op, "close_range", errno);
}

/* reset-signals: every disposition back to the default and nothing blocked, as a fresh process has. */
void op_reset_signals(const struct op *op) {
  (void)op;
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* KILL, STOP and glibc's own refuse: fine */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* seccomp: ints SECCOMP_FILTER_FLAG_* flags, into (the notify fd's slot, -1: none); strs label, BPF program */
void op_seccomp(const struct op *op) {
  struct sock_fprog program = {
    .len = (unsigned short)(op->strs[1].len / sizeof(struct sock_filter)),
    .filter = (struct sock_filter *)(uintptr_t)op->strs[1].p,
  };
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)op_int(op, 0), &program);
  if (fd < 0) fail_call(op, "seccomp(SET_MODE_FILTER)", errno);
  if (op_int(op, 1) >= 0) set_slot(op, op_int(op, 1), (int)fd);
}

/* HOME as home-from-passwd found it, into the spare slot decode left before envp's NULL. */
void append_home(char **envp) {
  if (!home_variable[0]) return;
  size_t env_count = 0;
  while (envp[env_count]) env_count++;
  envp[env_count] = home_variable;
}

/* exec: ints argc, add HOME from home-from-passwd, run what find-executable found; strs label, path, argv..., env... */
_Noreturn void op_exec(const struct op *op) {
  const char *path = op_int(op, 2) ? found_executable : op_str(op, 1);
  if (op_int(op, 1)) append_home(op->envp);
  execve(path, op->argv, op->envp);
  char call[PATH_MAX + 16];
  snprintf(call, sizeof call, "execve %s", path);
  fail_call(op, call, errno);
}
