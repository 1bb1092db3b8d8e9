/*
 * kubeplug-netns-exec: the node agent's launcher for the network tools the
 * bridge runs (ip, bridge, nft, iptables-save/restore). Node's spawn forks
 * the whole agent process (~3 ms here) and a command for a container
 * namespace used to need nsenter and a shell in front of ip; this small
 * process forks cheaply, enters the namespace with setns(2), writes the
 * namespace's sysctl files itself and execs the tool: one exec per command.
 *
 * One connection per command, served by a forked child, so commands run in
 * parallel and a crash takes down only its own command. Only callers with
 * our own uid are served, only the tools above are run, and the socket is
 * created 0600. It exits with the agent (PR_SET_PDEATHSIG).
 *
 * It also holds flock(2) locks for the agent (Node has no flock): see
 * hold_lock below.
 *
 * Usage: kubeplug-netns-exec SOCKET_PATH (prints "ready" once listening).
 * Wire format (big-endian u32 lengths and counts), also in exec-server-protocol.ts:
 *   request:  "KPNSX001" netns path PATH nsysctl {file value} argc {arg} stdin
 *   response: "KPNSX001" u32 outcome (0 exited, 1 killed by signal,
 *             2 could not run) u32 value (status, signal or errno) stdout stderr
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire-io.h"

static const char magic[8] = {'K', 'P', 'N', 'S', 'X', '0', '0', '1'};
static const char lock_magic[8] = {'K', 'P', 'N', 'S', 'L', '0', '0', '1'};
/* Requests are a few KiB (an iptables-restore batch at most); anything past this is a broken client. */
#define max_request_bytes (16u * 1024u * 1024u)
#define max_args 256
#define max_sysctls 64

static const char *const allowed_tools[] = {"ip", "bridge", "nft", "iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore", NULL};

enum outcome { exited = 0, signaled = 1, not_run = 2 };

/* A cursor over the request; every read is bounds-checked. */
struct cursor {
  const char *data;
  size_t left;
};

static int take_u32(struct cursor *cursor, uint32_t *value) {
  if (cursor->left < 4) return -1;
  const unsigned char *bytes = (const unsigned char *)cursor->data;
  *value = ((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) | ((uint32_t)bytes[2] << 8) | bytes[3];
  cursor->data += 4;
  cursor->left -= 4;
  return 0;
}

/* A length-prefixed string, copied NUL-terminated; strings with a NUL inside are refused. */
static char *take_string(struct cursor *cursor, size_t *length_out) {
  uint32_t length;
  if (take_u32(cursor, &length) != 0 || length > cursor->left) return NULL;
  if (memchr(cursor->data, '\0', length) != NULL && length_out == NULL) return NULL;
  char *copy = malloc((size_t)length + 1);
  if (copy == NULL) return NULL;
  memcpy(copy, cursor->data, length);
  copy[length] = '\0';
  cursor->data += length;
  cursor->left -= length;
  if (length_out != NULL) *length_out = length;
  return copy;
}

struct request {
  char *netns;
  char *path;
  uint32_t sysctl_count;
  char *sysctl_files[max_sysctls];
  char *sysctl_values[max_sysctls];
  uint32_t argc;
  char *argv[max_args + 1];
  char *input;
  size_t input_length;
};

static int parse_request(const struct buffer *raw, struct request *request) {
  if (raw->length < sizeof magic || memcmp(raw->data, magic, sizeof magic) != 0) return -1;
  struct cursor cursor = {raw->data + sizeof magic, raw->length - sizeof magic};
  if ((request->netns = take_string(&cursor, NULL)) == NULL) return -1;
  if ((request->path = take_string(&cursor, NULL)) == NULL) return -1;
  if (take_u32(&cursor, &request->sysctl_count) != 0 || request->sysctl_count > max_sysctls) return -1;
  for (uint32_t i = 0; i < request->sysctl_count; i++) {
    if ((request->sysctl_files[i] = take_string(&cursor, NULL)) == NULL) return -1;
    if ((request->sysctl_values[i] = take_string(&cursor, NULL)) == NULL) return -1;
  }
  if (take_u32(&cursor, &request->argc) != 0 || request->argc == 0 || request->argc > max_args) return -1;
  for (uint32_t i = 0; i < request->argc; i++) {
    if ((request->argv[i] = take_string(&cursor, NULL)) == NULL) return -1;
  }
  request->argv[request->argc] = NULL;
  if ((request->input = take_string(&cursor, &request->input_length)) == NULL) return -1;
  return cursor.left == 0 ? 0 : -1;
}

static int tool_allowed(const char *name) {
  for (const char *const *tool = allowed_tools; *tool != NULL; tool++) {
    if (strcmp(name, *tool) == 0) return 1;
  }
  return 0;
}

static void send_response(int connection, enum outcome outcome, uint32_t value, const struct buffer *out, const struct buffer *err) {
  struct buffer response = {0};
  int failed = buffer_append(&response, magic, sizeof magic) | buffer_append_u32(&response, (uint32_t)outcome) | buffer_append_u32(&response, value) |
               buffer_append_u32(&response, (uint32_t)out->length) | buffer_append(&response, out->data, out->length) |
               buffer_append_u32(&response, (uint32_t)err->length) | buffer_append(&response, err->data, err->length);
  /* A response we cannot build or send ends the connection early; the client reports that as a failed command. */
  if (failed == 0) (void)write_all(connection, response.data, response.length);
  free(response.data);
}

static int refuse(int connection, int error_number, const char *what) {
  struct buffer out = {0};
  struct buffer err = {0};
  char message[512];
  int length = snprintf(message, sizeof message, "kubeplug-netns-exec: %s: %s\n", what, strerror(error_number));
  (void)buffer_append(&err, message, length > 0 ? (size_t)length : 0);
  send_response(connection, not_run, (uint32_t)error_number, &out, &err);
  free(err.data);
  return -1;
}

/* Moves data between the command's pipes until its stdout and stderr close. */
static int pump(int to_stdin, int from_stdout, int from_stderr, const struct request *request, struct buffer *out, struct buffer *err) {
  size_t written = 0;
  struct pollfd fds[3] = {{.fd = from_stdout, .events = POLLIN}, {.fd = from_stderr, .events = POLLIN}, {.fd = to_stdin, .events = POLLOUT}};
  if (request->input_length == 0) {
    close(to_stdin);
    fds[2].fd = -1;
  }
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      struct buffer *target = i == 0 ? out : err;
      if (buffer_reserve(target, 65536) != 0) return -1;
      ssize_t got = read(fds[i].fd, target->data + target->length, target->capacity - target->length);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
      } else {
        target->length += (size_t)got;
      }
    }
    if (fds[2].fd >= 0 && fds[2].revents != 0) {
      ssize_t sent = write(fds[2].fd, request->input + written, request->input_length - written);
      /* A command may exit before reading all its input; its exit status says why. */
      if (sent < 0 && errno != EINTR && errno != EAGAIN) written = request->input_length;
      if (sent > 0) written += (size_t)sent;
      if (written == request->input_length) {
        close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
  }
  if (fds[2].fd >= 0) close(fds[2].fd);
  return 0;
}

static void on_alarm(int signal_number) {
  (void)signal_number;
}

/*
 * A lock request: "KPNSL001" | file | wait seconds (u32). Takes an exclusive
 * flock(2) on the file (created 0750, as go-filemutex does) and answers
 * "KPNSL001" | outcome (0 held, 1 still locked after the wait, 2 failed) |
 * errno; then holds the lock until the client closes the connection or
 * dies, and exits, which releases it.
 */
static int hold_lock(int connection) {
  unsigned char header[8];
  if (read_exactly(connection, (char *)header, 4) != 0) return -1;
  uint32_t length = ((uint32_t)header[0] << 24) | ((uint32_t)header[1] << 16) | ((uint32_t)header[2] << 8) | header[3];
  if (length == 0 || length > 4096) return -1;
  char *file = calloc(1, (size_t)length + 1);
  if (file == NULL || read_exactly(connection, file, length) != 0 || memchr(file, '\0', length) != NULL) return -1;
  if (read_exactly(connection, (char *)header + 4, 4) != 0) return -1;
  uint32_t wait_seconds = ((uint32_t)header[4] << 24) | ((uint32_t)header[5] << 16) | ((uint32_t)header[6] << 8) | header[7];

  uint32_t outcome = 0;
  uint32_t error_number = 0;
  int fd = open(file, O_RDONLY | O_CREAT | O_CLOEXEC, 0750);
  if (fd < 0) {
    outcome = 2;
    error_number = (uint32_t)errno;
  } else {
    /* No SA_RESTART: the alarm interrupts the blocking flock when the wait is over. */
    struct sigaction alarm_action = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &alarm_action, NULL);
    alarm(wait_seconds == 0 ? 1 : wait_seconds);
    if (flock(fd, LOCK_EX) != 0) {
      outcome = errno == EINTR ? 1 : 2;
      error_number = (uint32_t)errno;
    }
    alarm(0);
  }
  struct buffer response = {0};
  if (buffer_append(&response, lock_magic, sizeof lock_magic) != 0 || buffer_append_u32(&response, outcome) != 0 || buffer_append_u32(&response, error_number) != 0) return -1;
  if (write_all(connection, response.data, response.length) != 0 || outcome != 0) return -1;
  /* Held until the client hangs up: its end of the connection is the lock's lifetime. */
  char ignored[256];
  for (;;) {
    ssize_t got = read(connection, ignored, sizeof ignored);
    if (got == 0 || (got < 0 && errno != EINTR)) return 0;
  }
}

/* Runs one command for one connection; called in a child of the server, which exits afterwards. */
static int serve(int connection) {
  struct ucred peer;
  socklen_t peer_length = sizeof peer;
  if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || peer.uid != geteuid()) return -1;

  struct buffer raw = {0};
  if (buffer_reserve(&raw, sizeof magic) != 0 || read_exactly(connection, raw.data, sizeof magic) != 0) return -1;
  raw.length = sizeof magic;
  if (memcmp(raw.data, lock_magic, sizeof lock_magic) == 0) return hold_lock(connection);
  for (;;) {
    if (buffer_reserve(&raw, 65536) != 0) return -1;
    ssize_t got = read(connection, raw.data + raw.length, raw.capacity - raw.length);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) break;
    raw.length += (size_t)got;
    if (raw.length > max_request_bytes) return -1;
  }
  struct request request = {0};
  if (parse_request(&raw, &request) != 0) return refuse(connection, EINVAL, "malformed request");
  if (!tool_allowed(request.argv[0])) return refuse(connection, EPERM, request.argv[0]);

  if (request.netns[0] != '\0') {
    int netns = open(request.netns, O_RDONLY | O_CLOEXEC);
    if (netns < 0) return refuse(connection, errno, request.netns);
    if (setns(netns, CLONE_NEWNET) != 0) return refuse(connection, errno, "setns");
    close(netns);
  }
  /* Sysctl files belong to the namespace of whoever opens them; failures are ignored, as upstream ignores them. */
  for (uint32_t i = 0; i < request.sysctl_count; i++) {
    int file = open(request.sysctl_files[i], O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (file < 0) continue;
    (void)write_all(file, request.sysctl_values[i], strlen(request.sysctl_values[i]));
    close(file);
  }

  int in[2], out[2], err[2], exec_error[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(exec_error, O_CLOEXEC) != 0) {
    return refuse(connection, errno, "pipe");
  }
  size_t path_length = strlen(request.path);
  char *path_entry = malloc(path_length + 6);
  if (path_entry == NULL) return refuse(connection, ENOMEM, "malloc");
  memcpy(path_entry, "PATH=", 5);
  memcpy(path_entry + 5, request.path, path_length + 1);
  char *environment[] = {path_entry, "LC_ALL=C", NULL};

  pid_t child = fork();
  if (child < 0) return refuse(connection, errno, "fork");
  if (child == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    /* execvpe searches the PATH of our own environment, not the one it is given. */
    setenv("PATH", request.path, 1);
    execvpe(request.argv[0], request.argv, environment);
    int failure = errno;
    (void)write_all(exec_error[1], (const char *)&failure, sizeof failure);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  close(exec_error[1]);
  /* Non-blocking stdin, so a command that stops reading cannot stall the reads of its output. */
  fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
  struct buffer stdout_bytes = {0};
  struct buffer stderr_bytes = {0};
  int pumped = pump(in[1], out[0], err[0], &request, &stdout_bytes, &stderr_bytes);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  int failure = 0;
  ssize_t got = read(exec_error[0], &failure, sizeof failure);
  if (got == (ssize_t)sizeof failure) return refuse(connection, failure, request.argv[0]);
  if (pumped != 0) return refuse(connection, errno, "reading the command's output");
  if (WIFSIGNALED(status)) {
    send_response(connection, signaled, (uint32_t)WTERMSIG(status), &stdout_bytes, &stderr_bytes);
  } else {
    send_response(connection, exited, (uint32_t)WEXITSTATUS(status), &stdout_bytes, &stderr_bytes);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kubeplug-netns-exec SOCKET_PATH\n");
    return 2;
  }
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) return 1;
  /* Children of the server are reaped by the kernel; each connection child restores SIGCHLD to wait for its command. */
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  /* The socket is born 0600; files the workers create (lock files) get the agent's usual umask. */
  mode_t inherited_umask = umask(077);

  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof address.sun_path) {
    fprintf(stderr, "kubeplug-netns-exec: socket path too long: %s\n", argv[1]);
    return 2;
  }
  strcpy(address.sun_path, argv[1]);
  int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0 || bind(server, (struct sockaddr *)&address, sizeof address) != 0 || listen(server, 128) != 0) {
    fprintf(stderr, "kubeplug-netns-exec: cannot listen on %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  umask(inherited_umask);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int connection = accept4(server, NULL, NULL, SOCK_CLOEXEC);
    if (connection < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      fprintf(stderr, "kubeplug-netns-exec: accept: %s\n", strerror(errno));
      return 1;
    }
    pid_t worker = fork();
    if (worker == 0) {
      close(server);
      signal(SIGCHLD, SIG_DFL);
      signal(SIGPIPE, SIG_IGN);
      _exit(serve(connection) == 0 ? 0 : 1);
    }
    close(connection);
  }
}
