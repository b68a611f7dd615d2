/*
 * Files and mounts. Paths inside the container's root are resolved by the kernel
 * (openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS from an fd of the root), missing parts
 * created one at a time relative to their parent's fd, and mounts made onto the fd through
 * /proc/self/fd/N: no symlink in the rootfs, even one swapped meanwhile, can send a mount to the
 * host. Whether a resolved path is acceptable is tsrunc's call: when it differs from the path
 * tsrunc checked, the stage asks (open-in-root's check id) before it creates or returns anything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "stage.h"

/* Dangling symlinks followed by hand while creating a path (the kernel's own limit is 40). */
#define MAX_CREATE_SYMLINKS 40

static void fd_path(char *out, size_t size, int fd) {
  snprintf(out, size, "/proc/self/fd/%d", fd);
}

static int at_dir(const struct op *op, int64_t slot) {
  return slot < 0 ? AT_FDCWD : slot_fd(op, slot);
}

/* open: ints dir slot (-1: cwd), flags, mode, into; strs label, path */
void op_open(const struct op *op) {
  int fd = openat(at_dir(op, op_int(op, 0)), op_str(op, 1), (int)op_int(op, 1) | O_CLOEXEC, (mode_t)op_int(op, 2));
  if (fd < 0) fail_call(op, "open", errno);
  set_slot(op, op_int(op, 3), fd);
}

/* write-file: ints dir slot (-1: cwd), extra open flags; strs label, path, data */
void op_write_file(const struct op *op) {
  int fd = openat(at_dir(op, op_int(op, 0)), op_str(op, 1), O_WRONLY | O_CLOEXEC | (int)op_int(op, 1), 0644);
  if (fd < 0) fail_call(op, "open", errno);
  const char *data = op->strs[2].p;
  size_t left = op->strs[2].len;
  /* One write where it fits: files such as uid_map and timens_offsets take their text in one go. */
  while (left > 0) {
    ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_call(op, "write", errno);
    data += n;
    left -= (size_t)n;
  }
  close(fd);
}

/* mount: ints flags, present (1 source, 2 fstype, 4 data), source slot, target slot, errno to ignore,
 * only after an ignored failure (1: made only when the op just before skipped an errno it ignores);
 * strs label, source, target, fstype, data. A slot (>= 0) stands for its /proc/self/fd path. */
/* Set by open-in-root: whether it made the path it opened (mount's modeOfTarget asks). */
static int last_open_created;

void op_mount(const struct op *op) {
  if (op_int(op, 5) && !previous_ignored()) return;
  unsigned long flags = (unsigned long)op_int(op, 0);
  int64_t present = op_int(op, 1);
  char source_fd[64], target_fd[64];
  const char *source = present & 1 ? op_str(op, 1) : NULL;
  const char *target = op_str(op, 2);
  if (op_int(op, 2) >= 0) {
    fd_path(source_fd, sizeof source_fd, slot_fd(op, op_int(op, 2)));
    source = source_fd;
  }
  if (op_int(op, 3) >= 0) {
    fd_path(target_fd, sizeof target_fd, slot_fd(op, op_int(op, 3)));
    target = target_fd;
  }
  const char *fstype = present & 2 ? op_str(op, 3) : NULL;
  const char *data = present & 4 ? op_str(op, 4) : NULL;
  /* modeOfTarget (a tmpfs): the mount point's mode, set-id and sticky bits included, unless the
     data says otherwise (a later mode= wins) or the stage made the directory, as runc does. */
  char with_mode[4096 + 16];
  struct stat point;
  if (op->n_ints > 6 && op_int(op, 6) && !last_open_created && op_int(op, 3) >= 0 && fstat(slot_fd(op, op_int(op, 3)), &point) == 0) {
    snprintf(with_mode, sizeof with_mode, "mode=%04o%s%s", (unsigned)(point.st_mode & 07777), data && data[0] ? "," : "", data ? data : "");
    data = with_mode;
  }
  if (mount(source, target, fstype, flags, data) < 0) {
    if (op_int(op, 4) != 0 && errno == op_int(op, 4)) {
      note_ignored();
      return;
    }
    fail_call(op, "mount", errno);
  }
}

/* open-tree: ints dir slot (-1: cwd), flags (OPEN_TREE_*, AT_*), into; strs label, path */
void op_open_tree(const struct op *op) {
  long fd = syscall(SYS_open_tree, at_dir(op, op_int(op, 0)), op_str(op, 1), (unsigned)op_int(op, 1) | O_CLOEXEC);
  if (fd < 0) fail_call(op, "open_tree", errno);
  set_slot(op, op_int(op, 2), (int)fd);
}

/* move-mount: ints from slot (a detached mount), to slot (where it goes) */
void op_move_mount(const struct op *op) {
  long rc = syscall(SYS_move_mount, slot_fd(op, op_int(op, 0)), "", slot_fd(op, op_int(op, 1)), "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  if (rc < 0) fail_call(op, "move_mount", errno);
}

/* mount-setattr: ints target slot, attributes to set, attributes to clear; applied to the mount
   at the slot and every mount below it (the recursive mount options: rro, rnosuid, ...) */
void op_mount_setattr(const struct op *op) {
  struct mount_attr attr = { .attr_set = (uint64_t)op_int(op, 1), .attr_clr = (uint64_t)op_int(op, 2) };
  long rc = syscall(SYS_mount_setattr, slot_fd(op, op_int(op, 0)), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
  if (rc < 0) fail_call(op, "mount_setattr", errno);
}

/* ------------------------------------------------------------------------------------------ */
/* Resolving inside the root */

static int try_open_in_root(const struct op *op, int root, const char *path) {
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  for (int attempt = 0;; attempt++) {
    long fd = syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    if (errno == ENOENT) return -1;
    /* The kernel asks for a retry when a rename or mount raced with the lookup. */
    if (errno == EAGAIN && attempt < 16) continue;
    if (errno == ENOSYS) fail_detail(op, "openat2: ENOSYS (this kernel has no openat2: tsrunc needs Linux 5.6 or later)");
    char call[PATH_MAX + 32];
    snprintf(call, sizeof call, "resolving %s: openat2", path);
    fail_call(op, call, errno);
  }
}

static void read_fd_link(const struct op *op, int fd, char *out) {
  char link[64];
  fd_path(link, sizeof link, fd);
  ssize_t n = readlink(link, out, PATH_MAX - 1);
  if (n < 0) fail_call(op, "readlink", errno);
  out[n] = '\0';
}

/* The container path ("/"-rooted inside the root) of fd, opened under the root whose host path is root_host. */
static void container_path_of(const struct op *op, const char *root_host, int fd, char *out) {
  char host[PATH_MAX];
  read_fd_link(op, fd, host);
  size_t root_len = strlen(root_host);
  if (strcmp(host, root_host) == 0) strcpy(out, "/");
  else if (strcmp(root_host, "/") == 0) strcpy(out, host);
  else if (strncmp(host, root_host, root_len) == 0 && host[root_len] == '/') strcpy(out, host + root_len);
  else {
    char detail[2 * PATH_MAX + 64];
    snprintf(detail, sizeof detail, "resolved to %s, outside the rootfs %s", host, root_host);
    fail_detail(op, detail);
  }
}

/* Whether `path` is `expected` or one of its parents (the way to it, as checked). */
static int on_the_way(const char *path, const char *expected, int final) {
  if (strcmp(path, expected) == 0) return 1;
  if (final) return 0;
  size_t len = strlen(path);
  return strcmp(path, "/") == 0 || (strncmp(expected, path, len) == 0 && expected[len] == '/');
}

/* Where the resolution leaves the path tsrunc checked, tsrunc judges: its answer is a batch (empty, or a fail). */
static void judge(int64_t check, const char *path, const char *expected, int final) {
  if (check < 0 || on_the_way(path, expected, final)) return;
  send_resolved(check, path);
  struct batch *verdict = read_batch(channel_fd);
  if (!verdict) _exit(1); /* tsrunc refused it, and tells why itself */
  run_batch(verdict);
}

/* The target of symlink `name` in dir, or 0 when there is no such symlink. */
static int dangling_link_target(const struct op *op, int dir, const char *name, char *target) {
  int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    fail_call(op, "openat", errno);
  }
  struct stat st;
  int found = fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
  if (found) {
    ssize_t n = readlinkat(fd, "", target, PATH_MAX - 1);
    if (n < 0) fail_call(op, "readlinkat", errno);
    target[n] = '\0';
  }
  close(fd);
  return found;
}

/* Pops the first component of the "/"-separated list in pending into name ("" when empty). */
static void pop_component(char *pending, char *name) {
  char *p = pending;
  while (*p == '/') p++;
  size_t len = strcspn(p, "/");
  memcpy(name, p, len);
  name[len] = '\0';
  memmove(pending, p + len, strlen(p + len) + 1);
  if (strcmp(name, ".") == 0) pop_component(pending, name);
}

static void push_front(const struct op *op, char *pending, const char *front) {
  char joined[2 * PATH_MAX];
  int n = snprintf(joined, sizeof joined, "%s/%s", front, pending);
  if (n < 0 || (size_t)n >= PATH_MAX) fail_detail(op, "resolving a path: it grew too long while following symlinks");
  strcpy(pending, joined);
}

static int has_components(const char *pending) {
  return strspn(pending, "/") < strlen(pending);
}

/*
 * Walks `path` one component at a time from the root, letting the kernel resolve each prefix
 * (the walked path is kept as written: openat2 resolves it again each time); a missing component
 * is created in its parent's fd, and a dangling symlink followed by hand (inside the root, as
 * the kernel would). Returns an O_PATH fd of the result. Where tsrunc judges the path (check),
 * each place something would be made is shown to it first, as the kernel names it: that needs
 * /proc, which a check-free walk (a process's cwd) does without.
 */
static int create_in_root(const struct op *op, int root, const char *path, int kind, int64_t check) {
  char pending[PATH_MAX], name[PATH_MAX], candidate[2 * PATH_MAX], walked[PATH_MAX], link[PATH_MAX];
  char root_host[PATH_MAX], parent[PATH_MAX], resolved[2 * PATH_MAX];
  if (check >= 0) read_fd_link(op, root, root_host);
  snprintf(pending, sizeof pending, "%s", path);
  int current = try_open_in_root(op, root, "/");
  strcpy(walked, "/");
  int links = 0;
  for (int steps = 0; has_components(pending); steps++) {
    if (steps > 4096) fail_detail(op, "the path keeps changing while it is created");
    pop_component(pending, name);
    if (name[0] == '\0') break;
    int n = snprintf(candidate, sizeof candidate, "%s%s%s", walked, strcmp(walked, "/") == 0 ? "" : "/", name);
    if (n < 0 || (size_t)n >= PATH_MAX) fail_detail(op, "resolving the path: it grew too long");
    int next = try_open_in_root(op, root, candidate);
    if (next >= 0) {
      close(current);
      current = next;
      strcpy(walked, candidate);
      continue;
    }
    /* Missing, or a symlink to something missing: look at the name itself. */
    if (dangling_link_target(op, current, name, link)) {
      if (++links > MAX_CREATE_SYMLINKS) fail_detail(op, "resolving the path: too many levels of symbolic links");
      if (link[0] == '/') {
        close(current);
        current = try_open_in_root(op, root, "/");
        strcpy(walked, "/");
      }
      push_front(op, pending, link);
      continue;
    }
    if (check >= 0) {
      container_path_of(op, root_host, current, parent);
      snprintf(resolved, sizeof resolved, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", name);
      judge(check, resolved, path, 0);
    }
    int last = !has_components(pending);
    int rc;
    if (!last || kind == 1) {
      rc = mkdirat(current, name, 0755);
    } else {
      rc = openat(current, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (rc >= 0) close(rc), rc = 0;
    }
    if (rc < 0 && errno != EEXIST) {
      char call[2 * PATH_MAX + 32];
      snprintf(call, sizeof call, "creating %s: %s", candidate, !last || kind == 1 ? "mkdirat" : "openat");
      fail_call(op, call, errno);
    }
    push_front(op, pending, name); /* made (or made meanwhile): resolve it again */
  }
  return current;
}

/*
 * open-in-root: ints root slot, create (0 no, 1 directory, 2 file, 3 what the source is), into,
 * check id (-1: none); strs label, path[, source]. Kind 3 makes a bind's mount point a directory
 * or a file as its source is, looked at here, in the stage's mount namespace (an earlier mount
 * may have made it), as runc does.
 */
void op_open_in_root(const struct op *op) {
  int root = slot_fd(op, op_int(op, 0));
  const char *path = op_str(op, 1);
  int kind = (int)op_int(op, 1);
  if (kind == 3) {
    struct stat source;
    if (stat(op_str(op, 2), &source) < 0) {
      char detail[PATH_MAX + 64];
      snprintf(detail, sizeof detail, "source %s does not exist", op_str(op, 2));
      fail_detail(op, detail);
    }
    kind = S_ISDIR(source.st_mode) ? 1 : 2;
  }
  int64_t check = op_int(op, 3);
  int fd = try_open_in_root(op, root, path);
  last_open_created = fd < 0;
  if (fd < 0) {
    if (kind == 0) {
      char detail[PATH_MAX + 64];
      snprintf(detail, sizeof detail, "%s does not exist in the rootfs", path);
      fail_detail(op, detail);
    }
    fd = create_in_root(op, root, path, kind, check);
  }
  if (check >= 0) {
    char root_host[PATH_MAX], resolved[PATH_MAX];
    read_fd_link(op, root, root_host);
    container_path_of(op, root_host, fd, resolved);
    judge(check, resolved, path, 1);
  }
  set_slot(op, op_int(op, 2), fd);
}

/* ------------------------------------------------------------------------------------------ */
/* Device nodes, symlinks, masked and read-only paths */

/* device: ints dir slot, type bits (S_IFCHR...), permissions, dev, uid, gid; strs label, name, host path.
 * Where mknod is refused (no CAP_MKNOD, a user namespace), the host's node is bind-mounted instead. */
void op_device(const struct op *op) {
  int dir = slot_fd(op, op_int(op, 0));
  const char *name = op_str(op, 1);
  mode_t type = (mode_t)op_int(op, 1), permissions = (mode_t)op_int(op, 2);
  dev_t dev = (dev_t)op_int(op, 3);
  uid_t uid = (uid_t)op_int(op, 4);
  gid_t gid = (gid_t)op_int(op, 5);
  if (unlinkat(dir, name, 0) < 0 && errno != ENOENT) fail_call(op, "unlinkat", errno);
  mode_t old = umask(0); /* the node gets exactly its permissions */
  int rc = mknodat(dir, name, type | permissions, dev);
  int err = errno;
  umask(old);
  char target[64];
  if (rc < 0) {
    if (err != EPERM) fail_call(op, "mknodat", err);
    int file = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (file < 0) fail_call(op, "openat", errno);
    close(file);
    int node = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (node < 0) fail_call(op, "openat", errno);
    fd_path(target, sizeof target, node);
    if (mount(op_str(op, 2), target, NULL, MS_BIND, NULL) < 0) {
      char call[PATH_MAX + 64];
      snprintf(call, sizeof call, "bind-mounting host device %s: mount", op_str(op, 2));
      fail_call(op, call, errno);
    }
    close(node);
    return;
  }
  int node = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (node < 0) fail_call(op, "openat", errno);
  struct stat st;
  if (fstat(node, &st) < 0) fail_call(op, "fstat", errno);
  if ((st.st_mode & S_IFMT) != type || (type != S_IFIFO && st.st_rdev != dev)) fail_detail(op, "the new node is not the one that was made");
  if (uid != 0 || gid != 0) {
    if (fchownat(node, "", uid, gid, AT_EMPTY_PATH) < 0) fail_call(op, "fchownat", errno);
    fd_path(target, sizeof target, node);
    /* chown clears the set-user-ID and set-group-ID bits: give them back. */
    if ((permissions & 06000) && chmod(target, permissions) < 0) fail_call(op, "chmod", errno);
  }
  close(node);
}

/* unlink: ints dir slot, flags, ignore ENOENT; strs label, name */
void op_unlink(const struct op *op) {
  if (unlinkat(slot_fd(op, op_int(op, 0)), op_str(op, 1), (int)op_int(op, 1)) < 0) {
    if (errno == ENOENT && op_int(op, 2)) return;
    fail_call(op, "unlinkat", errno);
  }
}

/* symlink: ints dir slot; strs label, target, name */
void op_symlink(const struct op *op) {
  if (symlinkat(op_str(op, 1), slot_fd(op, op_int(op, 0)), op_str(op, 2)) < 0) fail_call(op, "symlinkat", errno);
}

/* mask: strs label, path. Nothing there: nothing to mask. A directory gets an empty read-only tmpfs, anything else /dev/null. */
void op_mask(const struct op *op) {
  const char *path = op_str(op, 1);
  struct stat st;
  if (stat(path, &st) < 0) return;
  int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) : mount("/dev/null", path, NULL, MS_BIND, NULL);
  if (rc < 0) fail_call(op, "mount", errno);
}

/* readonly: strs label, path. Bound onto itself, then remounted read-only (nosuid, nodev, noexec where the filesystem lets it). */
void op_readonly(const struct op *op) {
  const char *path = op_str(op, 1);
  struct stat st;
  if (stat(path, &st) < 0) return;
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) fail_call(op, "mount", errno);
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) return;
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) fail_call(op, "mount", errno);
}
