/*
 * tsrunc's native stage (README.md, "How it works"): the process that stands in a container's
 * namespaces until the user's program replaces it. It takes no decisions: tsrunc (TypeScript)
 * sends it batches of primitive operations over its channel (fd 3) and it performs them in
 * order, reporting the first failure as one line. runtime/stage/ops.ts is the other half of
 * every layout in this directory.
 */
#ifndef TSRUNC_STAGE_H
#define TSRUNC_STAGE_H

#include <stddef.h>
#include <stdint.h>

/* Operation codes: the same numbers as OP_CODES in runtime/stage/ops.ts. */
enum op_code {
  OP_CLOSE_FROM = 1,
  OP_CLOSE = 2,
  OP_OPEN = 3,
  OP_OPEN_IN_ROOT = 4,
  OP_WRITE_FILE = 5,
  OP_CHDIR = 6,
  OP_FCHDIR = 7,
  OP_CHROOT = 8,
  OP_MOUNT = 9,
  OP_UMOUNT = 10,
  OP_PIVOT_ROOT = 11,
  OP_OPEN_TREE = 12,
  OP_MOVE_MOUNT = 13,
  OP_DEVICE = 14,
  OP_UNLINK = 15,
  OP_SYMLINK = 16,
  OP_MASK = 17,
  OP_READONLY = 18,
  OP_SETNS = 19,
  OP_UNSHARE = 20,
  OP_CLONE_INIT = 21,
  OP_SETGROUPS = 22,
  OP_SETRESGID = 23,
  OP_SETRESUID = 24,
  OP_SETHOSTNAME = 25,
  OP_SETDOMAINNAME = 26,
  OP_PRCTL = 27,
  OP_CAPSET = 28,
  OP_SETRLIMIT = 29,
  OP_UMASK = 30,
  OP_KEYRING = 31,
  OP_SEND = 32,
  OP_AWAIT = 33,
  OP_FAIL = 34,
  OP_PTY = 35,
  OP_SETSID = 36,
  OP_SET_CTTY = 37,
  OP_CHOWN_STDIO = 38,
  OP_HOOK = 39,
  OP_FIND_EXECUTABLE = 40,
  OP_HOME_FROM_PASSWD = 41,
  OP_WAIT_START = 42,
  OP_PLACE_FDS = 43,
  OP_RESET_SIGNALS = 44,
  OP_SECCOMP = 45,
  OP_SEND_FD = 46,
  OP_EXEC = 47,
  OP_DUP_ONTO = 48,
  OP_CAPBSET_DROP = 49,
  OP_MOUNT_SETATTR = 50,
  OP_COPY_TREE = 51,
  OP_SCHED_SETATTR = 52,
  OP_IOPRIO_SET = 53,
  OP_PERSONALITY = 54,
  OP_SCHED_SETAFFINITY = 55,
  OP_SET_MEMPOLICY = 56,
  OP_MAX = 56,
};

/* A string field: its bytes (NUL-terminated in the batch buffer) and length (a blob may hold NULs). */
struct str {
  const char *p;
  uint32_t len;
};

/*
 * One decoded operation. ints and strs hold its fields in the order ops.ts writes them;
 * strs[0] is always the label that names the step in error messages. exec and hook get their
 * argv and envp arrays built at decode time, so that running them allocates nothing.
 */
struct op {
  uint32_t code;
  uint32_t n_ints;
  uint32_t n_strs;
  const int64_t *ints;
  const struct str *strs;
  char **argv;
  char **envp;
};

struct batch {
  uint32_t count;
  struct op *ops;
};

#define MAX_SLOTS 1024
/* Slot numbers are chosen by the plan; slot i starts as fd i (the fds the stage was given). */
extern int slots[MAX_SLOTS];
/* The channel to tsrunc (slot 3 when the stage starts; place-fds may move it). */
extern int channel_fd;

/* plan.c */
struct batch *read_batch(int fd);
const char *op_name(uint32_t code);
void print_batch(const struct batch *batch);

/* report.c: failures end the stage (exit status 1) after telling tsrunc, or `start`, why. */
void set_start_report(int fd);
void send_message(const char *json_line);
void send_pid(int pid);
void send_resolved(int64_t check, const char *path);
_Noreturn void fail_text(const char *message);
_Noreturn void fail_call(const struct op *op, const char *call, int err);
_Noreturn void fail_detail(const struct op *op, const char *detail);
size_t json_escape(char *out, size_t size, const char *text, size_t len);

/* run.c */
void run_batch(const struct batch *batch);
int slot_fd(const struct op *op, int64_t slot);
void set_slot(const struct op *op, int64_t slot, int fd);
int64_t op_int(const struct op *op, uint32_t index);
/* An op that skipped a failure the plan lets it ignore says so; the next op may be a fallback. */
void note_ignored(void);
int previous_ignored(void);
const char *op_str(const struct op *op, uint32_t index);

/* fs.c: files, mounts and the root filesystem */
void op_open(const struct op *op);
void op_open_in_root(const struct op *op);
void op_write_file(const struct op *op);
void op_mount(const struct op *op);
void op_open_tree(const struct op *op);
void op_move_mount(const struct op *op);
void op_mount_setattr(const struct op *op);
void op_copy_tree(const struct op *op);
void op_sched_setattr(const struct op *op);
void op_ioprio_set(const struct op *op);
void op_personality(const struct op *op);
void op_sched_setaffinity(const struct op *op);
void op_set_mempolicy(const struct op *op);
void op_device(const struct op *op);
void op_unlink(const struct op *op);
void op_symlink(const struct op *op);
void op_mask(const struct op *op);
void op_readonly(const struct op *op);

/* process.c: namespaces, credentials, limits, the program's fds and its exec */
void op_clone_init(const struct op *op);
void op_setgroups(const struct op *op);
void op_capset(const struct op *op);
void op_setrlimit(const struct op *op);
void op_keyring(const struct op *op);
void op_chown_stdio(const struct op *op);
void op_find_executable(const struct op *op);
void op_home_from_passwd(const struct op *op);
void op_wait_start(const struct op *op);
void op_place_fds(const struct op *op);
void op_reset_signals(const struct op *op);
void op_seccomp(const struct op *op);
_Noreturn void op_exec(const struct op *op);
void append_home(char **envp);

/* terminal.c */
void op_pty(const struct op *op);
void op_send_fd(const struct op *op);
int send_with_fd(int socket, const char *data, size_t len, int fd);

/* hook.c */
void op_hook(const struct op *op);

#endif
