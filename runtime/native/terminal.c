/*
 * Passing fds over unix sockets (SCM_RIGHTS): the pty master to --console-socket, the seccomp
 * notify fd to linux.seccomp.listenerPath. Both sockets were connected by tsrunc on the host and
 * handed to the stage, which could not reach their paths from inside the container.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stage.h"

/* Sends all of data, fd attached to the first byte; 0, or the errno of the failed sendmsg. */
int send_with_fd(int socket, const char *data, size_t len, int fd) {
  int attach = fd >= 0;
  while (attach || len > 0) {
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    union {
      struct cmsghdr header;
      char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
    if (attach) {
      memset(&control, 0, sizeof control);
      message.msg_control = control.space;
      message.msg_controllen = sizeof control.space;
      struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    }
    ssize_t sent = sendmsg(socket, &message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) return errno;
    attach = 0;
    data += sent;
    len -= (size_t)sent;
  }
  return 0;
}

/* runc's mountConsole: the pty bind-mounted on /dev/console, a file made there first if needed. */
static void mount_dev_console(const struct op *op, const char *slave_path) {
  struct stat st;
  int exists = lstat("/dev/console", &st) == 0;
  if (exists && S_ISLNK(st.st_mode)) {
    if (unlink("/dev/console") < 0) fail_call(op, "mounting the pty on /dev/console: unlink", errno);
    exists = 0;
  }
  if (!exists) {
    int fd = open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail_call(op, "mounting the pty on /dev/console: open", errno);
    close(fd);
  }
  if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0) fail_call(op, "mounting the pty on /dev/console: mount", errno);
}

/*
 * pty: ints console socket slot, rows, cols (0: the kernel's default), bind on /dev/console, into.
 * A new pair from the container's devpts: the master goes over the socket ("/dev/ptmx" as the
 * message, as runc sends), the slave stays, close-on-exec, in slot `into`.
 */
void op_pty(const struct op *op) {
  int socket = slot_fd(op, op_int(op, 0));
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) {
    if (access("/dev/pts/ptmx", F_OK) < 0) {
      char detail[192];
      snprintf(detail, sizeof detail, "opening /dev/ptmx: %s (the container needs devpts mounted on /dev/pts for process.terminal)", strerrorname_np(errno));
      fail_detail(op, detail);
    }
    fail_call(op, "opening /dev/ptmx: open", errno);
  }
  int unlock = 0, number = -1;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail_call(op, "unlocking the pty: ioctl(TIOCSPTLCK)", errno);
  if (ioctl(master, TIOCGPTN, &number) < 0) fail_call(op, "reading the pty number: ioctl(TIOCGPTN)", errno);
  unsigned short rows = (unsigned short)op_int(op, 1), cols = (unsigned short)op_int(op, 2);
  if (rows > 0 && cols > 0) {
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    if (ioctl(master, TIOCSWINSZ, &size) < 0) fail_call(op, "setting the console size: ioctl(TIOCSWINSZ)", errno);
  }
  char slave_path[64];
  snprintf(slave_path, sizeof slave_path, "/dev/pts/%d", number);
  int slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail_call(op, "opening the pty: open", errno);
  if (op_int(op, 3)) mount_dev_console(op, slave_path);
  int err = send_with_fd(socket, "/dev/ptmx", strlen("/dev/ptmx"), master);
  if (err) fail_call(op, "sending the pty master over the console socket: sendmsg", err);
  close(master);
  close(socket);
  set_slot(op, op_int(op, 0), -1);
  set_slot(op, op_int(op, 4), slave);
}

/*
 * send-fd: ints socket slot, fd slot, close the fd if sending fails; strs label, payload.
 * The socket is closed after (one message per connection, as the runtime-spec says for the
 * seccomp listener). A notify fd nobody received is closed, so a notified syscall on the way
 * out fails with ENOSYS instead of waiting for a listener that has none.
 */
void op_send_fd(const struct op *op) {
  int socket = slot_fd(op, op_int(op, 0));
  int fd = slot_fd(op, op_int(op, 1));
  int err = send_with_fd(socket, op->strs[1].p, op->strs[1].len, fd);
  if (err) {
    if (op_int(op, 2)) close(fd);
    fail_call(op, "sendmsg", err);
  }
  close(socket);
  set_slot(op, op_int(op, 0), -1);
}
