/*
 * tsrunc's native stage (README.md, "The native stage"): the few steps between clone() and
 * the execve() of the Node init that only a single-threaded process can take. Node is always
 * multithreaded, so it can neither unshare nor join a user namespace, and JS cannot run in a
 * forked child. Everything else (planning, id maps, the rest of the container) stays in
 * TypeScript; runtime/linux/native-stage.ts calls tsrunc_stage_spawn through koffi.
 *
 * The child is a copy of a multithreaded process: it makes only async-signal-safe calls (raw
 * system calls, no malloc, no stdio) until it execs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/*
 * The report pipe once the child told the parent its pid: a failure after that is one byte
 * there, so the parent waiting for the exec knows to read the reason on the channel.
 */
static int reported_to = -1;

/*
 * Tells the parent why the child gave up, as a channel message (init/channel.ts), then exits.
 * `what` (may be "") is JSON-safe text from the caller, e.g. the namespace being joined.
 */
static void fail_about(int fd, const char *step, const char *what, int err) {
  const char *name = strerrorname_np(err);
  const char *parts[] = {
    "{\"type\":\"error\",\"message\":\"native stage: ", step, what, ": ", name ? name : "unknown errno", "\"}\n",
  };
  for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    size_t left = strlen(parts[i]);
    const char *p = parts[i];
    while (left > 0) {
      ssize_t n = write(fd, p, left);
      if (n <= 0) break;
      p += n;
      left -= (size_t)n;
    }
  }
  if (reported_to >= 0) {
    char failed = 'x';
    ssize_t ignored = write(reported_to, &failed, 1);
    (void)ignored;
  }
  _exit(1);
}

static void fail(int fd, const char *step, int err) {
  fail_about(fd, step, "", err);
}

/* Signal handlers are Node's (libuv writes to its own pipe): back to the defaults, then unblock. */
static void reset_signals(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static int read_byte(int fd) {
  char byte;
  ssize_t n;
  do n = read(fd, &byte, 1);
  while (n < 0 && errno == EINTR);
  return (int)n;
}

/* Child fd i becomes fds[i] (-1: closed); everything above is close-on-exec. */
static void place_fds(const int *fds, int count, int error_fd) {
  int moved[count > 0 ? count : 1];
  for (int i = 0; i < count; i++) {
    moved[i] = -1;
    /* Above every target first, so no source is overwritten before it is placed. */
    if (fds[i] >= 0 && (moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, count)) < 0) fail(error_fd, "placing fds", errno);
  }
  for (int i = 0; i < count; i++) {
    if (moved[i] < 0) close(i);
    else if (dup2(moved[i], i) < 0) fail(error_fd, "placing fds", errno);
  }
  syscall(SYS_close_range, count, ~0U, CLOSE_RANGE_CLOEXEC);
}

struct stage {
  const char *path;
  char *const *argv;
  char *const *envp;
  const int *fds;
  int fd_count;
  const int *join_fds;
  const int *join_types;
  const char *const *join_names;
  int join_count;
  int unshare_flags;
  int clone_again;
  int sync_fd;
  int sync_write_fd;
  int report_fd;
  int error_fd;
  int channel_index;
};

/*
 * Raw system calls: glibc's setgroups/setresuid/setresgid change every thread of the process,
 * waiting on a lock and on threads that the child, a copy of a multithreaded process, lacks.
 */
static void become_root(int error_fd) {
  /* Drops the host's supplementary groups; refused (and not needed) where setgroups is "deny". */
  if (syscall(SYS_setgroups, 0, NULL) < 0 && errno != EPERM) fail(error_fd, "setgroups in the user namespace", errno);
  if (syscall(SYS_setresgid, 0, 0, 0) < 0) fail(error_fd, "becoming gid 0 in the user namespace", errno);
  if (syscall(SYS_setresuid, 0, 0, 0) < 0) fail(error_fd, "becoming uid 0 in the user namespace", errno);
}

static void run_child(const struct stage *s) {
  reset_signals();
  if (s->sync_fd >= 0) {
    /* The parent writes uid_map and gid_map, then one byte; nothing (EOF) means it gave up. */
    close(s->sync_write_fd);
    if (read_byte(s->sync_fd) != 1) _exit(1);
    close(s->sync_fd);
  }
  for (int i = 0; i < s->join_count; i++) {
    /* In config order with the user namespace first (the caller sorts): the others may belong to it. */
    if (setns(s->join_fds[i], s->join_types[i]) < 0) fail_about(s->error_fd, "setns into ", s->join_names[i], errno);
    close(s->join_fds[i]);
  }
  if (s->unshare_flags != 0 && unshare(s->unshare_flags) < 0) fail(s->error_fd, "creating namespaces (unshare)", errno);
  become_root(s->error_fd);
  if (s->clone_again) {
    /* A new or joined pid namespace takes effect for children only: the init is one more clone,
     * made the caller's child (CLONE_PARENT); this process reports its pid and leaves. */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) fail(s->error_fd, "cloning the init", errno);
    if (pid > 0) {
      ssize_t written = write(s->report_fd, &pid, sizeof pid);
      _exit(written == (ssize_t)sizeof pid ? 0 : 1);
    }
  } else {
    /* Becoming root worked: the parent learns the pid, then waits for the exec (EOF) or a failure. */
    pid_t self = (pid_t)syscall(SYS_getpid);
    if (write(s->report_fd, &self, sizeof self) != (ssize_t)sizeof self) _exit(1);
  }
  /* Above the fds being placed, and close-on-exec: a successful exec closes it. */
  int report_fd = fcntl(s->report_fd, F_DUPFD_CLOEXEC, s->fd_count);
  if (report_fd < 0) {
    reported_to = s->report_fd;
    fail(s->error_fd, "placing fds", errno);
  }
  close(s->report_fd);
  reported_to = report_fd;
  place_fds(s->fds, s->fd_count, s->error_fd);
  execve(s->path, s->argv, s->envp);
  fail(s->channel_index, "executing the init", errno);
}

/*
 * Waits until the child (or the init it cloned) has exec'd: the report pipe carries the init's
 * pid once it became root, then reads EOF when its exec closed the pipe, or one byte when the
 * exec failed. On failure every child is reaped, and the reason waits on the channel. Closes
 * report_fd. Returns the init's pid, or -ECHILD.
 */
int tsrunc_stage_wait(int report_fd, int pid, int clone_again) {
  pid_t init = -1;
  ssize_t n;
  do n = read(report_fd, &init, sizeof init);
  while (n < 0 && errno == EINTR);
  int reported = n == (ssize_t)sizeof init;
  char failed;
  ssize_t more = 0;
  if (reported) {
    do more = read(report_fd, &failed, 1);
    while (more < 0 && errno == EINTR);
  }
  close(report_fd);
  if (clone_again || !reported || more != 0) {
    /* The first child is done: it handed over to the init, or failed. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (!reported) return -ECHILD;
  if (more != 0) {
    if (clone_again) {
      while (waitpid(init, NULL, 0) < 0 && errno == EINTR) {
      }
    }
    return -ECHILD;
  }
  return clone_again ? init : pid;
}

/*
 * Starts the init: clone(clone_flags), then in the child: wait for the id maps (when
 * wait_for_maps: *sync_out gets the pipe end the parent writes one byte to once it wrote
 * /proc/PID/uid_map and gid_map), join join_fds in order (join_names say what each is, for
 * errors), unshare(unshare_flags), become root in the user namespace, clone once more when
 * clone_again, place fds, execve(path).
 * Failures in the child go to error_fd as a channel message. Without wait_for_maps this waits
 * until the init exec'd (tsrunc_stage_wait) and returns the init's pid, or -errno; with it, it
 * returns the child's pid at once, and *report_out is for tsrunc_stage_wait once the maps are written.
 */
int tsrunc_stage_spawn(const char *path, char *const *argv, char *const *envp, const int *fds, int fd_count,
                       const int *join_fds, const int *join_types, const char *const *join_names, int join_count, int clone_flags,
                       int unshare_flags, int clone_again, int wait_for_maps, int error_fd, int *sync_out, int *report_out) {
  int sync_pipe[2] = {-1, -1};
  int report_pipe[2] = {-1, -1};
  int channel_index = error_fd;
  for (int i = 0; i < fd_count; i++) {
    if (fds[i] == error_fd) channel_index = i;
  }
  *sync_out = -1;
  *report_out = -1;
  if (wait_for_maps && pipe2(sync_pipe, O_CLOEXEC) < 0) return -errno;
  if (pipe2(report_pipe, O_CLOEXEC) < 0) {
    int err = errno;
    if (sync_pipe[0] >= 0) close(sync_pipe[0]), close(sync_pipe[1]);
    return -err;
  }
  struct stage s = {
    path, argv, envp, fds, fd_count, join_fds, join_types, join_names, join_count, unshare_flags, clone_again,
    sync_pipe[0], sync_pipe[1], report_pipe[1], error_fd, channel_index,
  };

  /* No Node signal handler may run in the child before it resets them (libuv does the same). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)clone_flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) run_child(&s);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);

  if (sync_pipe[0] >= 0) close(sync_pipe[0]);
  close(report_pipe[1]);
  if (pid < 0) {
    if (sync_pipe[1] >= 0) close(sync_pipe[1]);
    close(report_pipe[0]);
    return -clone_errno;
  }
  if (wait_for_maps) {
    *sync_out = sync_pipe[1];
    *report_out = report_pipe[0];
    return pid;
  }
  return tsrunc_stage_wait(report_pipe[0], pid, clone_again);
}
