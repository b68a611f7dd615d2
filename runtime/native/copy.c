/*
 * copy-tree: the contents of one directory copied into another, by fds, for a tmpfs mounted
 * with "tmpcopyup" (podman's --tmpfs and --read-only): the tmpfs starts with what the image had
 * at that path. Files, directories, symlinks and nodes keep their mode, owner and times; nothing
 * is followed (every open is O_NOFOLLOW relative to its parent's fd).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stage.h"

/* Depth bound: a deeper tree is refused rather than exhausting the stage's stack. */
#define MAX_COPY_DEPTH 64

static void copy_attributes(const struct op *op, int dir, const char *name, const struct stat *st) {
  if (fchownat(dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) fail_call(op, "fchownat", errno);
  /* After chown, which clears set-id bits; symlinks have no mode of their own. */
  if (!S_ISLNK(st->st_mode) && fchmodat(dir, name, st->st_mode & 07777, 0) < 0) fail_call(op, "fchmodat", errno);
  const struct timespec times[2] = { st->st_atim, st->st_mtim };
  if (utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) < 0) fail_call(op, "utimensat", errno);
}

static void copy_file(const struct op *op, int from_dir, int to_dir, const char *name, const struct stat *st) {
  int in = openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) fail_call(op, "openat", errno);
  int out = openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) fail_call(op, "openat", errno);
  for (off_t left = st->st_size; left > 0;) {
    ssize_t sent = sendfile(out, in, NULL, left > 0x7ffff000 ? 0x7ffff000 : (size_t)left);
    if (sent < 0) fail_call(op, "sendfile", errno);
    if (sent == 0) break; /* the file shrank meanwhile */
    left -= sent;
  }
  close(in);
  close(out);
}

static void copy_dir(const struct op *op, int from, int to, int depth) {
  if (depth > MAX_COPY_DEPTH) fail_detail(op, "the directory tree is deeper than 64 levels");
  int listing = dup(from);
  if (listing < 0) fail_call(op, "dup", errno);
  DIR *entries = fdopendir(listing);
  if (!entries) fail_call(op, "fdopendir", errno);
  for (struct dirent *entry; (errno = 0, entry = readdir(entries));) {
    const char *name = entry->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    struct stat st;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) fail_call(op, "fstatat", errno);
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(to, name, 0700) < 0) fail_call(op, "mkdirat", errno);
      int sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub_from < 0 || sub_to < 0) fail_call(op, "openat", errno);
      copy_dir(op, sub_from, sub_to, depth + 1);
      close(sub_from);
      close(sub_to);
    } else if (S_ISREG(st.st_mode)) {
      copy_file(op, from, to, name, &st);
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t length = readlinkat(from, name, target, sizeof target - 1);
      if (length < 0) fail_call(op, "readlinkat", errno);
      target[length] = 0;
      if (symlinkat(target, to, name) < 0) fail_call(op, "symlinkat", errno);
    } else if (mknodat(to, name, st.st_mode & S_IFMT, st.st_rdev) < 0) {
      fail_call(op, "mknodat", errno);
    }
    copy_attributes(op, to, name, &st);
  }
  if (errno) fail_call(op, "readdir", errno);
  closedir(entries);
}

/* copy-tree: ints from slot, to slot (directories; O_PATH fds do: each is reopened) */
void op_copy_tree(const struct op *op) {
  int from = openat(slot_fd(op, op_int(op, 0)), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int to = openat(slot_fd(op, op_int(op, 1)), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (from < 0 || to < 0) fail_call(op, "openat", errno);
  copy_dir(op, from, to, 0);
  /* The tmpfs root takes the directory's mode, as runc gives it. */
  struct stat st;
  if (fstat(from, &st) < 0) fail_call(op, "fstat", errno);
  if (fchmod(to, st.st_mode & 07777) < 0) fail_call(op, "fchmod", errno);
  close(from);
  close(to);
}
