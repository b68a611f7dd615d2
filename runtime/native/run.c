/*
 * The stage's main loop: read a batch from the channel, perform its operations in order, read
 * the next, until tsrunc closes the channel or an exec replaces the stage. Simple operations,
 * one system call each, are here; the others have a file of their own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stage.h"

int slots[MAX_SLOTS];

/* Whether the op running now, and the one before it, failed with an errno the plan told it to
   ignore: an op marked "only after ignored" is the plan's fallback for that failure. */
static int ignored_now, ignored_before;

void note_ignored(void) {
  ignored_now = 1;
}

int previous_ignored(void) {
  return ignored_before;
}

/* umount: ints flags, then errnos to ignore; strs label, target */
static void op_umount(const struct op *op) {
  if (umount2(op_str(op, 1), (int)op_int(op, 0)) == 0) return;
  int err = errno;
  for (uint32_t i = 1; i < op->n_ints; i++) {
    if (op->ints[i] == err) {
      note_ignored();
      return;
    }
  }
  fail_call(op, "umount2", err);
}

int64_t op_int(const struct op *op, uint32_t index) {
  if (index >= op->n_ints) {
    char detail[128];
    snprintf(detail, sizeof detail, "the plan's %s operation lacks integer %u", op_name(op->code), index);
    fail_detail(op, detail);
  }
  return op->ints[index];
}

const char *op_str(const struct op *op, uint32_t index) {
  if (index >= op->n_strs) {
    if (index == 0) return "";
    char detail[128];
    snprintf(detail, sizeof detail, "the plan's %s operation lacks string %u", op_name(op->code), index);
    fail_detail(op, detail);
  }
  return op->strs[index].p;
}

static void check_slot(const struct op *op, int64_t slot) {
  if (slot < 0 || slot >= MAX_SLOTS) {
    char detail[64];
    snprintf(detail, sizeof detail, "the plan names fd slot %lld, out of range", (long long)slot);
    fail_detail(op, detail);
  }
}

int slot_fd(const struct op *op, int64_t slot) {
  check_slot(op, slot);
  if (slots[slot] < 0) {
    char detail[64];
    snprintf(detail, sizeof detail, "the plan uses fd slot %lld, which is closed", (long long)slot);
    fail_detail(op, detail);
  }
  return slots[slot];
}

void set_slot(const struct op *op, int64_t slot, int fd) {
  check_slot(op, slot);
  slots[slot] = fd;
}

static void check(const struct op *op, long result, const char *call) {
  if (result < 0) fail_call(op, call, errno);
}

static void run_op(const struct op *op) {
  switch (op->code) {
  case OP_CLOSE_FROM:
    check(op, syscall(SYS_close_range, (unsigned)op_int(op, 0), ~0U, 0), "close_range");
    break;
  case OP_CLOSE: {
    int fd = slot_fd(op, op_int(op, 0));
    close(fd);
    set_slot(op, op_int(op, 0), -1);
    break;
  }
  case OP_OPEN: op_open(op); break;
  case OP_OPEN_IN_ROOT: op_open_in_root(op); break;
  case OP_WRITE_FILE: op_write_file(op); break;
  case OP_CHDIR: check(op, chdir(op_str(op, 1)), "chdir"); break;
  case OP_FCHDIR: check(op, fchdir(slot_fd(op, op_int(op, 0))), "fchdir"); break;
  case OP_CHROOT: check(op, chroot(op_str(op, 1)), "chroot"); break;
  case OP_MOUNT: op_mount(op); break;
  case OP_UMOUNT: op_umount(op); break;
  case OP_PIVOT_ROOT: check(op, syscall(SYS_pivot_root, op_str(op, 1), op_str(op, 2)), "pivot_root"); break;
  case OP_OPEN_TREE: op_open_tree(op); break;
  case OP_MOVE_MOUNT: op_move_mount(op); break;
  case OP_MOUNT_SETATTR: op_mount_setattr(op); break;
  case OP_COPY_TREE: op_copy_tree(op); break;
  case OP_SCHED_SETATTR: op_sched_setattr(op); break;
  case OP_IOPRIO_SET: op_ioprio_set(op); break;
  case OP_PERSONALITY: op_personality(op); break;
  case OP_SCHED_SETAFFINITY: op_sched_setaffinity(op); break;
  case OP_SET_MEMPOLICY: op_set_mempolicy(op); break;
  case OP_DEVICE: op_device(op); break;
  case OP_UNLINK: op_unlink(op); break;
  case OP_SYMLINK: op_symlink(op); break;
  case OP_MASK: op_mask(op); break;
  case OP_READONLY: op_readonly(op); break;
  case OP_SETNS: check(op, setns(slot_fd(op, op_int(op, 0)), (int)op_int(op, 1)), "setns"); break;
  case OP_UNSHARE: check(op, unshare((int)op_int(op, 0)), "unshare"); break;
  case OP_CLONE_INIT: op_clone_init(op); break;
  case OP_SETGROUPS: op_setgroups(op); break;
  /* Raw system calls: the stage has one thread, and glibc's wrappers would signal the others. */
  case OP_SETRESGID: {
    gid_t gid = (gid_t)op_int(op, 0);
    check(op, syscall(SYS_setresgid, gid, gid, gid), "setresgid");
    break;
  }
  case OP_SETRESUID: {
    uid_t uid = (uid_t)op_int(op, 0);
    check(op, syscall(SYS_setresuid, uid, uid, uid), "setresuid");
    break;
  }
  case OP_SETHOSTNAME: check(op, sethostname(op_str(op, 1), op->strs[1].len), "sethostname"); break;
  case OP_SETDOMAINNAME: check(op, setdomainname(op_str(op, 1), op->strs[1].len), "setdomainname"); break;
  case OP_PRCTL:
    check(op, prctl((int)op_int(op, 0), (unsigned long)op_int(op, 1), (unsigned long)op_int(op, 2), (unsigned long)op_int(op, 3), (unsigned long)op_int(op, 4)), "prctl");
    break;
  case OP_CAPSET: op_capset(op); break;
  case OP_CAPBSET_DROP:
    for (uint32_t i = 0; i < op->n_ints; i++) {
      if (prctl(PR_CAPBSET_DROP, (unsigned long)op->ints[i], 0, 0, 0) < 0) {
        char call[64];
        snprintf(call, sizeof call, "prctl(PR_CAPBSET_DROP, %lld)", (long long)op->ints[i]);
        fail_call(op, call, errno);
      }
    }
    break;
  case OP_SETRLIMIT: op_setrlimit(op); break;
  case OP_UMASK: umask((mode_t)op_int(op, 0)); break;
  case OP_KEYRING: op_keyring(op); break;
  case OP_SEND: send_message(op_str(op, 1)); break;
  case OP_AWAIT: {
    struct batch *next = read_batch(channel_fd);
    if (!next) _exit(1); /* tsrunc gave up, and tells why itself */
    run_batch(next);
    break;
  }
  case OP_FAIL: fail_text(op_str(op, 1));
  case OP_PTY: op_pty(op); break;
  case OP_SETSID: check(op, setsid(), "setsid"); break;
  case OP_SET_CTTY: check(op, ioctl(slot_fd(op, op_int(op, 0)), TIOCSCTTY, 0), "ioctl(TIOCSCTTY)"); break;
  case OP_CHOWN_STDIO: op_chown_stdio(op); break;
  case OP_HOOK: op_hook(op); break;
  case OP_FIND_EXECUTABLE: op_find_executable(op); break;
  case OP_HOME_FROM_PASSWD: op_home_from_passwd(op); break;
  case OP_WAIT_START: op_wait_start(op); break;
  case OP_PLACE_FDS: op_place_fds(op); break;
  case OP_RESET_SIGNALS: op_reset_signals(op); break;
  case OP_SECCOMP: op_seccomp(op); break;
  case OP_SEND_FD: op_send_fd(op); break;
  case OP_EXEC: op_exec(op);
  case OP_DUP_ONTO: {
    int target = (int)op_int(op, 1);
    check(op, dup3(slot_fd(op, op_int(op, 0)), target, 0), "dup3");
    set_slot(op, target, target);
    break;
  }
  default: fail_detail(op, "unknown operation");
  }
}

void run_batch(const struct batch *batch) {
  for (uint32_t i = 0; i < batch->count; i++) {
    ignored_before = ignored_now;
    ignored_now = 0;
    run_op(&batch->ops[i]);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--print-plan") == 0) {
    /* For tests: decode batches from stdin and print them, one operation per line. */
    channel_fd = 1;
    struct batch *batch;
    while ((batch = read_batch(0)) != NULL) print_batch(batch);
    return 0;
  }
  /* "tsrunc:init" or "tsrunc:exec" in ps, and how `state` tells an init that has not exec'd yet. */
  if (argc > 1) {
    char name[16];
    snprintf(name, sizeof name, "tsrunc:%s", argv[1]);
    prctl(PR_SET_NAME, name, 0, 0, 0);
  }
  /* A write to a reader that went away is an error to report, not a silent death. */
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < MAX_SLOTS; i++) slots[i] = i;
  struct batch *batch;
  while ((batch = read_batch(channel_fd)) != NULL) run_batch(batch);
  return 0;
}
