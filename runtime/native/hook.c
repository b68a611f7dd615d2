/*
 * hook: one OCI hook run from inside the container's namespaces (createContainer before
 * pivot_root, startContainer after `start`): its own argv and environment and nothing else,
 * the state JSON on stdin, its stderr kept for the error message, killed at its timeout. The
 * message has the form of runtime/container/hooks.ts, which runs the other kinds of hook.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stage.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Of a hook's stderr, the message shows the last OUTPUT_SHOWN bytes, on one line. */
#define OUTPUT_SHOWN 300
#define OUTPUT_KEPT 65536

static long long now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* hooks.ts's oneLine: trimmed, each run of whitespace around a newline made "; ", the tail kept. */
static void one_line(const char *text, size_t len, char *out, size_t size) {
  char *line = malloc(len * 2 + 1);
  if (!line) {
    out[0] = '\0';
    return;
  }
  size_t n = 0, i = 0;
  while (i < len && is_space(text[i])) i++;
  while (len > i && is_space(text[len - 1])) len--;
  for (; i < len; i++) {
    if (text[i] != '\n') {
      line[n++] = text[i];
      continue;
    }
    while (n > 0 && is_space(line[n - 1])) n--;
    while (i + 1 < len && is_space(text[i + 1])) i++;
    line[n++] = ';';
    line[n++] = ' ';
  }
  const char *shown = line;
  const char *prefix = "";
  if (n > OUTPUT_SHOWN) {
    shown = line + n - OUTPUT_SHOWN;
    n = OUTPUT_SHOWN;
    prefix = "...";
  }
  snprintf(out, size, "%s%.*s", prefix, (int)n, shown);
  free(line);
}

_Noreturn static void child(const struct op *op, int in, int out, int err, int exec_status) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(op_str(op, 1), op->argv, op->envp);
  /* Its errno through a pipe that a successful exec would have closed. */
  int failed = errno;
  ssize_t ignored = write(exec_status, &failed, sizeof failed);
  (void)ignored;
  _exit(127);
}

/* hook: ints timeout in seconds (0: none), argc; strs label, path, stdin, argv..., env... */
void op_hook(const struct op *op) {
  int in[2], out[2], err[2], exec_status[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(exec_status, O_CLOEXEC) < 0) {
    fail_call(op, "pipe2", errno);
  }
  if (op_int(op, 2)) append_home(op->envp); /* a startContainer hook with the process's env */
  pid_t pid = fork();
  if (pid < 0) fail_call(op, "fork", errno);
  if (pid == 0) {
    close(in[1]), close(out[0]), close(err[0]), close(exec_status[0]);
    child(op, in[0], out[1], err[1], exec_status[1]);
  }
  close(in[0]), close(out[1]), close(err[1]), close(exec_status[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);

  const char *input = op->strs[2].p;
  size_t input_left = op->strs[2].len;
  char *stderr_text = malloc(OUTPUT_KEPT);
  size_t stderr_len = 0;
  int timeout_s = (int)op_int(op, 0);
  long long deadline = timeout_s > 0 ? now_ms() + (long long)timeout_s * 1000 : -1;
  int timed_out = 0, exec_errno = 0;
  ssize_t got = read(exec_status[0], &exec_errno, sizeof exec_errno);
  if (got != (ssize_t)sizeof exec_errno) exec_errno = 0;
  close(exec_status[0]);
  if (input_left == 0 || exec_errno) close(in[1]), in[1] = -1;

  int open_outputs = 2;
  while (!exec_errno && open_outputs > 0) {
    struct pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    int wait_ms = -1;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      if (left <= 0) {
        timed_out = 1;
        kill(pid, SIGKILL);
        break;
      }
      wait_ms = (int)left;
    }
    int ready = poll(fds, in[1] >= 0 ? 3 : 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail_call(op, "poll", errno);
    if (in[1] >= 0 && fds[2].revents) {
      ssize_t n = write(in[1], input, input_left);
      /* EPIPE: the hook exited without reading its stdin; its exit status decides. */
      if (n > 0) input += n, input_left -= (size_t)n;
      if (n < 0 && errno != EAGAIN && errno != EINTR) input_left = 0;
      if (input_left == 0) close(in[1]), in[1] = -1;
    }
    for (int k = 0; k < 2; k++) {
      if (fds[k].fd < 0 || !fds[k].revents) continue;
      char buffer[4096];
      ssize_t n = read(fds[k].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(k == 0 ? out[0] : err[0]);
        if (k == 0) out[0] = -1;
        else err[0] = -1;
        open_outputs--;
        continue;
      }
      if (k == 1 && stderr_text) {
        /* Keep the tail: only the end is shown. */
        if (stderr_len + (size_t)n > OUTPUT_KEPT) {
          size_t drop = stderr_len + (size_t)n - OUTPUT_KEPT;
          if (drop > stderr_len) drop = stderr_len;
          memmove(stderr_text, stderr_text + drop, stderr_len - drop);
          stderr_len -= drop;
        }
        size_t take = (size_t)n > OUTPUT_KEPT ? OUTPUT_KEPT : (size_t)n;
        memcpy(stderr_text + stderr_len, buffer + n - take, take);
        stderr_len += take;
      }
    }
  }
  if (in[1] >= 0) close(in[1]);
  if (out[0] >= 0) close(out[0]);
  if (err[0] >= 0) close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  char reason[512], shown[OUTPUT_SHOWN + 8], detail[OUTPUT_SHOWN + 32] = "";
  one_line(stderr_text ? stderr_text : "", stderr_text ? stderr_len : 0, shown, sizeof shown);
  free(stderr_text);
  if (shown[0]) snprintf(detail, sizeof detail, " (stderr: %s)", shown);
  if (exec_errno) snprintf(reason, sizeof reason, "cannot run it: %s", strerrorname_np(exec_errno));
  else if (timed_out) snprintf(reason, sizeof reason, "timed out after %ds and was killed%s", timeout_s, detail);
  else if (WIFSIGNALED(status)) {
    /* The signal's description in lower case, as runc's message has it ("bad system call"). */
    char what[64];
    snprintf(what, sizeof what, "%s", sigdescr_np(WTERMSIG(status)) ? sigdescr_np(WTERMSIG(status)) : "unknown signal");
    what[0] = (char)tolower((unsigned char)what[0]);
    snprintf(reason, sizeof reason, "killed by SIG%s (%s)%s", sigabbrev_np(WTERMSIG(status)), what, detail);
  }
  else if (WEXITSTATUS(status) != 0) snprintf(reason, sizeof reason, "exit status %d%s", WEXITSTATUS(status), detail);
  else return;
  char message[8192];
  /* "error running hook #N" as runc words it; the label adds the kind and the path. */
  snprintf(message, sizeof message, "error running %s: %s", op_str(op, 0), reason);
  fail_text(message);
}
