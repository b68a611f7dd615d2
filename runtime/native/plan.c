/*
 * Decoding the batches tsrunc sends (runtime/stage/encode.ts writes them):
 *
 *   batch:  u32 magic "TSB1", u32 body length, body
 *   body:   u32 op count, ops
 *   op:     u32 code, u32 int count, u32 string count,
 *           int64 ints[int count], then per string: u32 length, bytes, one NUL
 *
 * All little-endian. A batch that does not parse is a failure like any other: the stage
 * reports it and exits, having done nothing of that batch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage.h"

#define BATCH_MAGIC 0x31425354u /* "TSB1" */
#define MAX_BATCH (64u << 20)

/* Fills buf from fd; 0 at EOF before anything was read, 1 when full. A short read is a failure. */
static int read_full(int fd, void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, (char *)buf + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      char message[128];
      snprintf(message, sizeof message, "reading the plan from tsrunc: read: %s", strerrorname_np(errno));
      fail_text(message);
    }
    if (n == 0) {
      if (done == 0) return 0;
      fail_text("reading the plan from tsrunc: the channel closed in the middle of a batch");
    }
    done += (size_t)n;
  }
  return 1;
}

static uint32_t u32_at(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t i64_at(const unsigned char *p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; i--) value = value << 8 | p[i];
  return (int64_t)value;
}

static void *allocate(size_t count, size_t size) {
  void *memory = calloc(count ? count : 1, size);
  if (!memory) fail_text("decoding the plan: out of memory");
  return memory;
}

/* A NULL-terminated array of `count` strings from strs[first...], with `spare` empty slots before the NULL. */
static char **string_array(const struct op *op, uint32_t first, uint32_t count, uint32_t spare) {
  if (first > op->n_strs || count > op->n_strs - first) fail_text("decoding the plan: a list runs past its operation");
  char **array = allocate(count + spare + 1, sizeof *array);
  for (uint32_t i = 0; i < count; i++) array[i] = (char *)op->strs[first + i].p;
  return array;
}

/* exec and hook: their argv and envp, built now so that running them allocates nothing. */
static void build_arrays(struct op *op) {
  if (op->code == OP_EXEC) {
    /* ints: argc, useHome, useFound; strs: label, path, argv..., env... */
    if (op->n_ints < 3 || op->n_strs < 2) fail_text("decoding the plan: exec is missing fields");
    uint32_t argc = (uint32_t)op->ints[0];
    op->argv = string_array(op, 2, argc, 0);
    op->envp = string_array(op, 2 + argc, op->n_strs - 2 - argc, 1);
  } else if (op->code == OP_HOOK) {
    /* ints: timeout seconds, argc, addHome; strs: label, path, stdin, argv..., env... */
    if (op->n_ints < 3 || op->n_strs < 3) fail_text("decoding the plan: hook is missing fields");
    uint32_t argc = (uint32_t)op->ints[1];
    op->argv = string_array(op, 3, argc, 0);
    op->envp = string_array(op, 3 + argc, op->n_strs - 3 - argc, 1);
  }
}

static struct batch *decode(unsigned char *body, uint32_t length) {
  if (length < 4) fail_text("decoding the plan: the batch is too short");
  const unsigned char *p = body, *end = body + length;
  struct batch *batch = allocate(1, sizeof *batch);
  batch->count = u32_at(p);
  p += 4;
  if (batch->count > length / 12) fail_text("decoding the plan: more operations than the batch can hold");
  batch->ops = allocate(batch->count, sizeof *batch->ops);
  for (uint32_t i = 0; i < batch->count; i++) {
    struct op *op = &batch->ops[i];
    if (end - p < 12) fail_text("decoding the plan: an operation runs past the batch");
    op->code = u32_at(p);
    op->n_ints = u32_at(p + 4);
    op->n_strs = u32_at(p + 8);
    p += 12;
    if (op->code < 1 || op->code > OP_MAX) fail_text("decoding the plan: unknown operation code");
    if (op->n_strs < 1) fail_text("decoding the plan: an operation without its label");
    if ((size_t)(end - p) / 8 < op->n_ints) fail_text("decoding the plan: integers run past the batch");
    int64_t *ints = allocate(op->n_ints, sizeof *ints);
    for (uint32_t k = 0; k < op->n_ints; k++, p += 8) ints[k] = i64_at(p);
    op->ints = ints;
    if ((size_t)(end - p) / 5 < op->n_strs) fail_text("decoding the plan: strings run past the batch");
    struct str *strs = allocate(op->n_strs, sizeof *strs);
    for (uint32_t k = 0; k < op->n_strs; k++) {
      if (end - p < 4) fail_text("decoding the plan: a string runs past the batch");
      uint32_t len = u32_at(p);
      p += 4;
      if ((size_t)(end - p) < (size_t)len + 1 || p[len] != 0) fail_text("decoding the plan: a string runs past the batch");
      strs[k].p = (const char *)p;
      strs[k].len = len;
      p += len + 1;
    }
    op->strs = strs;
    build_arrays(op);
  }
  if (p != end) fail_text("decoding the plan: bytes left after the last operation");
  return batch;
}

/* The next batch from fd, or NULL when tsrunc closed the channel (nothing more to do). */
struct batch *read_batch(int fd) {
  unsigned char header[8];
  if (!read_full(fd, header, sizeof header)) return NULL;
  if (u32_at(header) != BATCH_MAGIC) fail_text("reading the plan from tsrunc: not a batch (bad magic)");
  uint32_t length = u32_at(header + 4);
  if (length > MAX_BATCH) fail_text("reading the plan from tsrunc: batch too large");
  unsigned char *body = allocate(length, 1);
  if (length > 0 && !read_full(fd, body, length)) fail_text("reading the plan from tsrunc: the channel closed in the middle of a batch");
  return decode(body, length);
}

static const char *const names[OP_MAX + 1] = {
  [OP_CLOSE_FROM] = "close-from", [OP_CLOSE] = "close", [OP_OPEN] = "open", [OP_OPEN_IN_ROOT] = "open-in-root",
  [OP_WRITE_FILE] = "write-file", [OP_CHDIR] = "chdir", [OP_FCHDIR] = "fchdir", [OP_CHROOT] = "chroot",
  [OP_MOUNT] = "mount", [OP_UMOUNT] = "umount", [OP_PIVOT_ROOT] = "pivot-root", [OP_OPEN_TREE] = "open-tree",
  [OP_MOVE_MOUNT] = "move-mount", [OP_MOUNT_SETATTR] = "mount-setattr", [OP_COPY_TREE] = "copy-tree",
  [OP_SCHED_SETATTR] = "sched-setattr", [OP_IOPRIO_SET] = "ioprio-set", [OP_PERSONALITY] = "personality",
  [OP_SCHED_SETAFFINITY] = "sched-setaffinity", [OP_SET_MEMPOLICY] = "set-mempolicy", [OP_DEVICE] = "device", [OP_UNLINK] = "unlink", [OP_SYMLINK] = "symlink",
  [OP_MASK] = "mask", [OP_READONLY] = "readonly", [OP_SETNS] = "setns", [OP_UNSHARE] = "unshare",
  [OP_CLONE_INIT] = "clone-init", [OP_SETGROUPS] = "setgroups", [OP_SETRESGID] = "setresgid",
  [OP_SETRESUID] = "setresuid", [OP_SETHOSTNAME] = "sethostname", [OP_SETDOMAINNAME] = "setdomainname",
  [OP_PRCTL] = "prctl", [OP_CAPSET] = "capset", [OP_SETRLIMIT] = "setrlimit", [OP_UMASK] = "umask",
  [OP_KEYRING] = "keyring", [OP_SEND] = "send", [OP_AWAIT] = "await", [OP_FAIL] = "fail", [OP_PTY] = "pty",
  [OP_SETSID] = "setsid", [OP_SET_CTTY] = "set-ctty", [OP_CHOWN_STDIO] = "chown-stdio", [OP_HOOK] = "hook",
  [OP_FIND_EXECUTABLE] = "find-executable", [OP_HOME_FROM_PASSWD] = "home-from-passwd",
  [OP_WAIT_START] = "wait-start", [OP_PLACE_FDS] = "place-fds", [OP_RESET_SIGNALS] = "reset-signals",
  [OP_SECCOMP] = "seccomp", [OP_SEND_FD] = "send-fd", [OP_EXEC] = "exec", [OP_DUP_ONTO] = "dup-onto",
  [OP_CAPBSET_DROP] = "capbset-drop",
};

const char *op_name(uint32_t code) {
  return code <= OP_MAX && names[code] ? names[code] : "?";
}

/* `--print-plan`: one line per operation, "name ints... | strings..." (strings JSON-escaped). */
void print_batch(const struct batch *batch) {
  for (uint32_t i = 0; i < batch->count; i++) {
    const struct op *op = &batch->ops[i];
    printf("%s", op_name(op->code));
    for (uint32_t k = 0; k < op->n_ints; k++) printf(" %lld", (long long)op->ints[k]);
    printf(" |");
    for (uint32_t k = 0; k < op->n_strs; k++) {
      static char escaped[1 << 16];
      json_escape(escaped, sizeof escaped, op->strs[k].p, op->strs[k].len);
      printf(" \"%s\"", escaped);
    }
    printf("\n");
  }
}
