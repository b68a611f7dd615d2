/*
 * What the stage tells tsrunc: JSON lines on the channel ({"type":"error","message":...} and
 * the messages its plan asks it to send), and, once `tsrunc start` is waiting on exec.fifo, the
 * reason a failure after that happened, written into the fifo for `start` to print.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stage.h"

int channel_fd = 3;
static int start_report_fd = -1;

void set_start_report(int fd) {
  start_report_fd = fd;
}

size_t json_escape(char *out, size_t size, const char *text, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 7 < size; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
  return o;
}

static int write_all(int fd, const char *data, size_t len, int is_socket) {
  while (len > 0) {
    ssize_t n = is_socket ? send(fd, data, len, MSG_NOSIGNAL) : write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_line(const char *json_line) {
  char line[16384];
  int n = snprintf(line, sizeof line, "%s\n", json_line);
  if (n < 0 || (size_t)n >= sizeof line) return -1;
  return write_all(channel_fd, line, (size_t)n, 1);
}

void send_message(const char *json_line) {
  if (send_line(json_line) < 0) {
    char message[256];
    snprintf(message, sizeof message, "telling tsrunc: send: %s", strerrorname_np(errno ? errno : EPIPE));
    fail_text(message);
  }
}

void send_pid(int pid) {
  char line[64];
  snprintf(line, sizeof line, "{\"type\":\"pid\",\"pid\":%d}", pid);
  send_message(line);
}

void send_resolved(int64_t check, const char *path) {
  char escaped[8192], line[8300];
  json_escape(escaped, sizeof escaped, path, strlen(path));
  snprintf(line, sizeof line, "{\"type\":\"resolved\",\"check\":%lld,\"path\":\"%s\"}", (long long)check, escaped);
  send_message(line);
}

_Noreturn void fail_text(const char *message) {
  int told = 0;
  if (start_report_fd >= 0) told = write_all(start_report_fd, message, strlen(message), 0) == 0;
  char escaped[12288], line[12400];
  json_escape(escaped, sizeof escaped, message, strlen(message));
  snprintf(line, sizeof line, "{\"type\":\"error\",\"message\":\"%s\"}", escaped);
  if (send_line(line) == 0) told = 1;
  if (!told) {
    /* Nobody is listening any more (create returned): stderr is all that is left. */
    dprintf(2, "tsrunc init: %s\n", message);
  }
  _exit(1);
}

/* "<label>: <call>: ENOENT (no such file or directory)", the form tsrunc's SyscallError takes. */
_Noreturn void fail_call(const struct op *op, const char *call, int err) {
  char description[128];
  snprintf(description, sizeof description, "%s", strerror(err));
  description[0] = (char)tolower((unsigned char)description[0]);
  const char *name = strerrorname_np(err);
  char message[8192];
  const char *label = op_str(op, 0);
  snprintf(message, sizeof message, "%s%s%s: %s (%s)", label, *label ? ": " : "", call, name ? name : "unknown errno", description);
  fail_text(message);
}

_Noreturn void fail_detail(const struct op *op, const char *detail) {
  char message[8192];
  const char *label = op_str(op, 0);
  snprintf(message, sizeof message, "%s%s%s", label, *label ? ": " : "", detail);
  fail_text(message);
}
