/*
 * kubeplug-mount-server: the dir-volume driver's hands for mount(2),
 * umount2(2), loop devices and short commands (mkfs.ext4, resize2fs), so a
 * volume operation costs a system call instead of a mount(8) or losetup(8)
 * process started by Node (measured here: a bind mount is 0.01 ms as a call
 * and ~7 ms through mount(8)).
 *
 * It is the driver's child and talks only over its stdin and stdout pipes,
 * so nothing else can reach it. Each request is served by its own forked
 * worker, so a slow unmount or mkfs never holds up another volume's calls,
 * and every answer goes out in one write() of at most PIPE_BUF bytes, which
 * the kernel keeps whole even when workers answer at once.
 *
 * request:  u32 length | u32 id | u32 op | u32 argc | (u32 length, bytes)...
 * answer:   u32 length | u32 id | i32 status | u32 length | text
 * ops: 1 mount(source, target, fstype, flags, data): status 0 or errno;
 *        MS_BIND with MS_RDONLY is done as bind then read-only remount,
 *        undone if the remount fails
 *      2 umount(target, flags): 0 or errno
 *      3 loop-attach(file, read-only "1"/"0"): 0 and "/dev/loopN", or errno
 *        (no autoclear: the worker's own close would detach it at once)
 *      4 loop-detach(device): 0 (also when already detached) or errno
 *      5 exec(argv...): the exit status, or 128 + signal, and up to 3 KiB of
 *        its merged stdout and stderr; -errno when it could not start
 * Big-endian integers throughout, as in kubeplug's other C programs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../host-local-bridge/node-agent/wire-io.h"

enum { op_mount = 1, op_umount = 2, op_loop_attach = 3, op_loop_detach = 4, op_exec = 5 };
enum { max_request = 1 << 20, max_args = 256, max_output = 3072 };

static const char *command_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static uint32_t get_u32(const char *bytes) {
  const unsigned char *b = (const unsigned char *)bytes;
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Sends one answer in a single write so concurrent workers never interleave. */
static void answer(uint32_t id, int32_t status, const char *text, size_t length) {
  if (length > max_output) length = max_output;
  struct buffer out = {0};
  if (buffer_append_u32(&out, (uint32_t)(12 + length)) != 0 || buffer_append_u32(&out, id) != 0 ||
      buffer_append_u32(&out, (uint32_t)status) != 0 || buffer_append_u32(&out, (uint32_t)length) != 0 ||
      buffer_append(&out, text, length) != 0) {
    _exit(1);
  }
  (void)write_all(STDOUT_FILENO, out.data, out.length);
  free(out.data);
}

static int do_mount(char **args) {
  const char *fstype = args[2][0] == '\0' ? NULL : args[2];
  const char *data = args[4][0] == '\0' ? NULL : args[4];
  unsigned long flags = strtoul(args[3], NULL, 10);
  int read_only_bind = (flags & MS_BIND) && (flags & MS_RDONLY) && !(flags & MS_REMOUNT);
  if (mount(args[0], args[1], fstype, read_only_bind ? flags & ~(unsigned long)MS_RDONLY : flags, data) != 0) return errno;
  if (read_only_bind && mount(NULL, args[1], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
    int saved = errno;
    (void)umount2(args[1], 0);
    return saved;
  }
  return 0;
}

static int do_loop_attach(char **args, char *device, size_t device_size) {
  int read_only = strcmp(args[1], "1") == 0;
  int file = open(args[0], (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (file < 0) return errno;
  int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    int saved = errno;
    close(file);
    return saved;
  }
  struct loop_config config;
  memset(&config, 0, sizeof config);
  config.fd = (uint32_t)file;
  config.info.lo_flags = read_only ? LO_FLAGS_READ_ONLY : 0;
  strncpy((char *)config.info.lo_file_name, args[0], LO_NAME_SIZE - 1);
  int result = EBUSY;
  /* Another process may take the free device between asking and configuring: ask again. */
  for (int attempt = 0; attempt < 32 && result == EBUSY; attempt += 1) {
    int number = ioctl(control, LOOP_CTL_GET_FREE);
    if (number < 0) {
      result = errno;
      break;
    }
    snprintf(device, device_size, "/dev/loop%d", number);
    int loop = open(device, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (loop < 0) {
      result = errno;
      break;
    }
    result = ioctl(loop, LOOP_CONFIGURE, &config) == 0 ? 0 : errno;
    close(loop);
  }
  close(control);
  close(file);
  return result;
}

static int do_loop_detach(const char *device) {
  int loop = open(device, O_RDONLY | O_CLOEXEC);
  if (loop < 0) return errno == ENOENT || errno == ENXIO ? 0 : errno;
  int result = ioctl(loop, LOOP_CLR_FD, 0) == 0 || errno == ENXIO ? 0 : errno;
  close(loop);
  return result;
}

static void do_exec(uint32_t id, char **argv) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    answer(id, -errno, "", 0);
    return;
  }
  /* The server ignores SIGCHLD to reap workers; this worker must wait for its command. */
  signal(SIGCHLD, SIG_DFL);
  pid_t child = fork();
  if (child < 0) {
    answer(id, -errno, "", 0);
    return;
  }
  if (child == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    char *env[] = {(char *)command_path, (char *)"LC_ALL=C", NULL};
    execvpe(argv[0], argv, env);
    dprintf(STDERR_FILENO, "%s: %s", argv[0], strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  char output[max_output];
  size_t length = 0;
  char sink[4096];
  for (;;) {
    ssize_t got = read(pipe_fds[0], length < max_output ? output + length : sink, length < max_output ? max_output - length : sizeof sink);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (length < max_output) length += (size_t)got;
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  answer(id, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output, length);
}

/* Serves one request in a forked worker; never returns. */
static void serve_request(uint32_t id, uint32_t op, char **args, uint32_t argc) {
  char device[64] = "";
  int result;
  switch (op) {
    case op_mount:
      result = argc == 5 ? do_mount(args) : EINVAL;
      break;
    case op_umount:
      result = argc == 2 ? (umount2(args[0], (int)strtol(args[1], NULL, 10)) == 0 ? 0 : errno) : EINVAL;
      break;
    case op_loop_attach:
      result = argc == 2 ? do_loop_attach(args, device, sizeof device) : EINVAL;
      if (result != 0) device[0] = '\0';
      break;
    case op_loop_detach:
      result = argc == 1 ? do_loop_detach(args[0]) : EINVAL;
      break;
    case op_exec:
      if (argc == 0) {
        answer(id, -EINVAL, "", 0);
      } else {
        do_exec(id, args);
      }
      _exit(0);
    default:
      result = ENOSYS;
  }
  answer(id, result, device, strlen(device));
  _exit(0);
}

int main(void) {
  /* Dies with the driver: a mount server without its driver serves nobody. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1;
  struct sigaction reap = {0};
  reap.sa_handler = SIG_IGN;
  reap.sa_flags = SA_NOCLDWAIT;
  sigaction(SIGCHLD, &reap, NULL);
  signal(SIGPIPE, SIG_IGN);

  for (;;) {
    char header[4];
    if (read_exactly(STDIN_FILENO, header, 4) != 0) return 0;
    uint32_t length = get_u32(header);
    if (length < 12 || length > max_request) return 2;
    char *payload = malloc(length + 1);
    if (payload == NULL || read_exactly(STDIN_FILENO, payload, length) != 0) return 2;
    payload[length] = '\0';
    uint32_t id = get_u32(payload), op = get_u32(payload + 4), argc = get_u32(payload + 8);
    if (argc > max_args) return 2;
    char *args[max_args + 1];
    size_t offset = 12;
    int has_nul = 0;
    for (uint32_t index = 0; index < argc; index += 1) {
      if (offset + 4 > length) return 2;
      uint32_t size = get_u32(payload + offset);
      offset += 4;
      if (size > length - offset) return 2;
      /* Each string is copied out with its own terminator: the wire carries lengths, not NULs. */
      args[index] = strndup(payload + offset, size);
      if (args[index] == NULL) return 2;
      has_nul |= strlen(args[index]) != size;
      offset += size;
    }
    args[argc] = NULL;
    if (has_nul) {
      /* A NUL would silently cut a path short: refuse the request, keep serving. */
      answer(id, op == op_exec ? -EINVAL : EINVAL, "", 0);
    } else {
      pid_t worker = fork();
      if (worker == 0) serve_request(id, op, args, argc);
      if (worker < 0) answer(id, op == op_exec ? -errno : errno, "", 0);
    }
    for (uint32_t index = 0; index < argc; index += 1) free(args[index]);
    free(payload);
  }
}
