/*
 * kubeplug-shim: the per-container supervisor of the process runtime (our own code).
 *
 *   kubeplug-shim --runtime PATH --runtime-root DIR --bundle DIR --id ID
 *                 --exit-file F --pid-file F --shim-pid-file F [--log-path F] --status-fd N
 *
 * It detaches from its caller (fork, setsid, fork) so that killing the caller
 * never touches it, becomes the child subreaper, and runs
 * `<runtime> --root DIR create --bundle DIR --pid-file F ID` with the
 * container's stdout and stderr on pipes it owns and stdin on /dev/null.
 * It answers "ok <pid>\n" or "error <message>\n" on the status fd and closes
 * it; then it copies the pipes into the log in the CRI format
 * (`<RFC3339Nano> <stdout|stderr> <F|P> <text>\n`), reopens the log on
 * SIGUSR1, reaps the container's init (reparented to it when the runtime
 * exits) and any other orphan, drains the pipes, writes the exit record
 * atomically ({"exitCode":N,"signal":S,"pid":P,"finishedAtNs":"T","oomKills":K}) and exits.
 *
 * The layout follows the job containerd's runc shim does
 * (containerd/containerd runtime/v2/runc, v1.6), written for one container
 * and without a control socket: the runtime CLI does the rest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A longer line is written as several partial ("P") records, as containerd splits at its buffer size. */
#define MAX_LINE 16384
/* What the runtime may print before create fails; enough for any error message. */
#define MAX_RUNTIME_OUTPUT 8192
/* After the init exits, pipes still held by leftover processes are read this long at most. */
#define DRAIN_MS 2000

struct options {
  const char *runtime, *runtime_root, *bundle, *id, *exit_file, *pid_file, *shim_pid_file, *log_path;
  int status_fd;
};

struct stream {
  const char *name; /* "stdout" or "stderr" */
  int fd;           /* read end; -1 once at EOF */
  char line[MAX_LINE];
  size_t used;
};

static int log_fd = -1;

static void usage(void) {
  fputs("usage: kubeplug-shim --runtime PATH --runtime-root DIR --bundle DIR --id ID --exit-file F --pid-file F "
        "--shim-pid-file F [--log-path F] --status-fd N\n",
        stderr);
  exit(2);
}

static void parse_options(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->status_fd = -1;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) usage();
    const char *flag = argv[i], *value = argv[i + 1];
    if (strcmp(flag, "--runtime") == 0) o->runtime = value;
    else if (strcmp(flag, "--runtime-root") == 0) o->runtime_root = value;
    else if (strcmp(flag, "--bundle") == 0) o->bundle = value;
    else if (strcmp(flag, "--id") == 0) o->id = value;
    else if (strcmp(flag, "--exit-file") == 0) o->exit_file = value;
    else if (strcmp(flag, "--pid-file") == 0) o->pid_file = value;
    else if (strcmp(flag, "--shim-pid-file") == 0) o->shim_pid_file = value;
    else if (strcmp(flag, "--log-path") == 0) o->log_path = value;
    else if (strcmp(flag, "--status-fd") == 0) {
      char *end;
      long fd = strtol(value, &end, 10);
      if (*end != '\0' || fd < 0 || fd > INT_MAX) usage();
      o->status_fd = (int)fd;
    } else usage();
  }
  if (!o->runtime || !o->runtime_root || !o->bundle || !o->id || !o->exit_file || !o->pid_file || !o->shim_pid_file ||
      o->status_fd < 0)
    usage();
}

static int write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    length -= (size_t)n;
  }
  return 0;
}

/* Sends the one status line and closes the fd, so the caller's read ends. */
static void report_status(int *status_fd, const char *format, ...) {
  if (*status_fd < 0) return;
  char message[MAX_RUNTIME_OUTPUT + 64];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(message, sizeof message - 1, format, args);
  va_end(args);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof message - 2) n = (int)sizeof message - 2;
  /* One line: newlines inside the runtime's message become spaces. */
  for (int i = 0; i < n; i++)
    if (message[i] == '\n' || message[i] == '\r') message[i] = ' ';
  message[n++] = '\n';
  (void)write_all(*status_fd, message, (size_t)n);
  close(*status_fd);
  *status_fd = -1;
}

static void fsync_parent_dir(const char *file) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash == NULL) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* Writes a small file atomically: temp file, fsync, rename, fsync of the folder. */
static int write_file_atomically(const char *file, const char *content) {
  char temp[PATH_MAX];
  if (snprintf(temp, sizeof temp, "%s.tmp-%d", file, (int)getpid()) >= (int)sizeof temp) return -1;
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, content, strlen(content)) != 0 || fsync(fd) != 0) {
    close(fd);
    unlink(temp);
    return -1;
  }
  close(fd);
  if (rename(temp, file) != 0) {
    unlink(temp);
    return -1;
  }
  fsync_parent_dir(file);
  return 0;
}

static void make_parent_dirs(const char *file) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", file);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return;
    *p = '/';
  }
}

/* Opens (or reopens, after a rotation renamed it) the CRI log; without a log path output is dropped. */
static void open_log(const char *log_path) {
  if (log_path == NULL) return;
  make_parent_dirs(log_path);
  int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return; /* keep the old file rather than lose every later line */
  if (log_fd >= 0) close(log_fd);
  log_fd = fd;
}

/* Formats now as Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped. */
static size_t format_timestamp(char *out, size_t size) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm utc;
  gmtime_r(&now.tv_sec, &utc);
  size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
  if (now.tv_nsec != 0) {
    char fraction[16];
    snprintf(fraction, sizeof fraction, ".%09ld", now.tv_nsec);
    size_t length = strlen(fraction);
    while (fraction[length - 1] == '0') fraction[--length] = '\0';
    n += (size_t)snprintf(out + n, size - n, "%s", fraction);
  }
  n += (size_t)snprintf(out + n, size - n, "Z");
  return n;
}

/* One log record in one write, so O_APPEND keeps records whole. */
static void write_record(const struct stream *s, const char *text, size_t length, char tag) {
  if (log_fd < 0) return;
  static char record[MAX_LINE + 128];
  size_t n = format_timestamp(record, 64);
  n += (size_t)snprintf(record + n, sizeof record - n, " %s %c ", s->name, tag);
  memcpy(record + n, text, length);
  n += length;
  record[n++] = '\n';
  (void)write_all(log_fd, record, n);
}

/* Reads what is available from one pipe; returns 0 at EOF or error. */
static int copy_stream(struct stream *s) {
  char buffer[65536];
  ssize_t n = read(s->fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) {
    if (s->used > 0) write_record(s, s->line, s->used, 'P');
    s->used = 0;
    close(s->fd);
    s->fd = -1;
    return 0;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (buffer[i] == '\n') {
      write_record(s, s->line, s->used, 'F');
      s->used = 0;
      continue;
    }
    s->line[s->used++] = buffer[i];
    if (s->used == MAX_LINE) {
      write_record(s, s->line, s->used, 'P');
      s->used = 0;
    }
  }
  return 1;
}

static long long now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static long long monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* Closes every fd from `from` up except `keep` (which may be -1). */
static void close_fds_except(int from, int keep) {
  if (keep >= from) {
    if (keep > from) syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0U);
    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U);
  } else {
    syscall(SYS_close_range, (unsigned)from, ~0U, 0U);
  }
}

static int read_pid_file(const char *file) {
  char text[32] = {0};
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return -1;
  long pid = strtol(text, NULL, 10);
  return pid > 0 && pid <= INT_MAX ? (int)pid : -1;
}

/* Runs `<runtime> create`; returns the runtime's wait status, its output kept in `output`. */
static int run_create(const struct options *o, int signal_fd, int out_write, int err_write, struct stream *out,
                      struct stream *err, char *output, size_t *output_used) {
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_write, 1) < 0 || dup2(err_write, 2) < 0) _exit(127);
    close_fds_except(3, -1);
    execl(o->runtime, o->runtime, "--root", o->runtime_root, "create", "--bundle", o->bundle, "--pid-file", o->pid_file,
          o->id, (char *)NULL);
    dprintf(2, "kubeplug-shim: cannot run %s: %s", o->runtime, strerror(errno));
    _exit(127);
  }
  /* The runtime prints only its own messages before create returns: keep them for the error answer. */
  int status = 0;
  for (;;) {
    pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) break;
    /* SIGCHLD (on the signalfd) wakes this poll when the runtime exits; the timeout is a safety net. */
    struct pollfd fds[3] = {{.fd = out->fd, .events = POLLIN}, {.fd = err->fd, .events = POLLIN}, {.fd = signal_fd, .events = POLLIN}};
    if (poll(fds, 3, 1000) <= 0) continue;
    if (fds[2].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
      }
    }
    for (int i = 0; i < 2; i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) continue;
      size_t room = MAX_RUNTIME_OUTPUT - *output_used;
      size_t take = (size_t)n < room ? (size_t)n : room;
      memcpy(output + *output_used, buffer, take);
      *output_used += take;
    }
  }
  /* What is still in the pipes was printed by the runtime too. */
  for (int i = 0; i < 2; i++) {
    int fd = i == 0 ? out->fd : err->fd;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) {
      size_t room = MAX_RUNTIME_OUTPUT - *output_used;
      size_t take = (size_t)n < room ? (size_t)n : room;
      memcpy(output + *output_used, buffer, take);
      *output_used += take;
    }
    fcntl(fd, F_SETFL, flags);
  }
  return status;
}

/*
 * The file that counts OOM kills in the init's memory cgroup, found while the
 * init lives: memory.oom_control ("oom_kill N") on cgroup v1,
 * memory.events ("oom_kill N") on v2. Read again after the init exits (the
 * cgroup stays until the runtime deletes the container), so the exit record
 * can say whether the OOM killer struck.
 */
static void find_oom_file(int pid, char *out, size_t size) {
  out[0] = '\0';
  char file[64];
  snprintf(file, sizeof file, "/proc/%d/cgroup", pid);
  FILE *cgroups = fopen(file, "re");
  if (cgroups == NULL) return;
  char line[PATH_MAX + 64];
  char unified[PATH_MAX] = "";
  while (fgets(line, sizeof line, cgroups) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    char *controllers = strchr(line, ':');
    if (controllers == NULL) continue;
    char *cgroup_path = strchr(controllers + 1, ':');
    if (cgroup_path == NULL) continue;
    *cgroup_path++ = '\0';
    controllers++;
    if (*controllers == '\0') {
      snprintf(unified, sizeof unified, "%s", cgroup_path);
      continue;
    }
    for (char *save = NULL, *name = strtok_r(controllers, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
      if (strcmp(name, "memory") == 0) {
        snprintf(out, size, "/sys/fs/cgroup/memory%s/memory.oom_control", cgroup_path);
        fclose(cgroups);
        return;
      }
    }
  }
  fclose(cgroups);
  if (unified[0] != '\0') snprintf(out, size, "/sys/fs/cgroup%s/memory.events", strcmp(unified, "/") == 0 ? "" : unified);
}

/* The "oom_kill N" count of that file; -1 when it cannot be read. */
static long long read_oom_kills(const char *file) {
  if (file[0] == '\0') return -1;
  FILE *events = fopen(file, "re");
  if (events == NULL) return -1;
  char key[64];
  long long value;
  long long found = -1;
  while (fscanf(events, "%63s %lld", key, &value) == 2) {
    if (strcmp(key, "oom_kill") == 0) found = value;
  }
  fclose(events);
  return found;
}

int main(int argc, char **argv) {
  struct options o;
  parse_options(argc, argv, &o);
  /* Stdio is replaced by /dev/null below: a status fd among 0-2 moves out of the way first. */
  if (o.status_fd < 3) {
    int moved = fcntl(o.status_fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) usage();
    o.status_fd = moved;
  }

  /* Detach: the caller sees the first process exit at once; the grandchild lives in its own session. */
  pid_t first = fork();
  if (first < 0) {
    report_status(&o.status_fd, "error fork: %s", strerror(errno));
    return 1;
  }
  if (first > 0) _exit(0);
  setsid();
  pid_t second = fork();
  if (second < 0) {
    report_status(&o.status_fd, "error fork: %s", strerror(errno));
    _exit(1);
  }
  if (second > 0) _exit(0);

  if (chdir("/") != 0) {
    report_status(&o.status_fd, "error chdir /: %s", strerror(errno));
    return 1;
  }
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) {
    report_status(&o.status_fd, "error open /dev/null: %s", strerror(errno));
    return 1;
  }
  dup2(null_fd, 0);
  dup2(null_fd, 1);
  dup2(null_fd, 2);
  close_fds_except(3, o.status_fd);
  signal(SIGPIPE, SIG_IGN);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    report_status(&o.status_fd, "error PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    return 1;
  }
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGUSR1);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  int signal_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    report_status(&o.status_fd, "error signalfd: %s", strerror(errno));
    return 1;
  }

  char pid_text[32];
  snprintf(pid_text, sizeof pid_text, "%d\n", (int)getpid());
  if (write_file_atomically(o.shim_pid_file, pid_text) != 0) {
    report_status(&o.status_fd, "error write %s: %s", o.shim_pid_file, strerror(errno));
    return 1;
  }

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    report_status(&o.status_fd, "error pipe: %s", strerror(errno));
    unlink(o.shim_pid_file);
    return 1;
  }
  static struct stream out = {.name = "stdout"}, err = {.name = "stderr"};
  out.fd = out_pipe[0];
  err.fd = err_pipe[0];

  static char runtime_output[MAX_RUNTIME_OUTPUT + 1];
  size_t runtime_output_used = 0;
  int status = run_create(&o, signal_fd, out_pipe[1], err_pipe[1], &out, &err, runtime_output, &runtime_output_used);
  /* Only the container keeps the write ends now, so the pipes end when it does. */
  close(out_pipe[1]);
  close(err_pipe[1]);
  int init_pid = status == 0 ? read_pid_file(o.pid_file) : -1;
  if (init_pid <= 0) {
    while (runtime_output_used > 0 && (runtime_output[runtime_output_used - 1] == '\n' || runtime_output[runtime_output_used - 1] == ' '))
      runtime_output_used--;
    runtime_output[runtime_output_used] = '\0';
    if (status < 0) report_status(&o.status_fd, "error fork: %s", strerror(errno));
    else if (status == 0) report_status(&o.status_fd, "error %s create left no pid in %s", o.runtime, o.pid_file);
    else if (runtime_output_used > 0) report_status(&o.status_fd, "error %s", runtime_output);
    else if (WIFEXITED(status)) report_status(&o.status_fd, "error %s create exited with %d", o.runtime, WEXITSTATUS(status));
    else report_status(&o.status_fd, "error %s create killed by signal %d", o.runtime, WTERMSIG(status));
    unlink(o.shim_pid_file);
    return 1;
  }
  open_log(o.log_path);
  static char oom_file[PATH_MAX + 64];
  find_oom_file(init_pid, oom_file, sizeof oom_file);
  report_status(&o.status_fd, "ok %d", init_pid);

  int init_status = 0;
  int init_done = 0;
  long long finished_ns = 0;
  long long drain_deadline = 0;
  while (out.fd >= 0 || err.fd >= 0 || !init_done) {
    struct pollfd fds[3] = {{.fd = signal_fd, .events = POLLIN}, {.fd = out.fd, .events = POLLIN}, {.fd = err.fd, .events = POLLIN}};
    int timeout = -1;
    if (init_done) {
      long long left = drain_deadline - monotonic_ms();
      if (left <= 0) break;
      timeout = (int)left;
    }
    int ready = poll(fds, 3, timeout);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (fds[1].revents) copy_stream(&out);
    if (fds[2].revents) copy_stream(&err);
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo == SIGUSR1) open_log(o.log_path);
      }
      /* Reap the init and every orphan the subreaper inherits. */
      int child_status;
      pid_t child;
      while ((child = waitpid(-1, &child_status, WNOHANG)) > 0) {
        if (child == init_pid && !init_done) {
          init_done = 1;
          init_status = child_status;
          finished_ns = now_ns();
          drain_deadline = monotonic_ms() + DRAIN_MS;
        }
      }
    }
  }
  /* Lines still partial when the pipes are abandoned are written as partial records. */
  if (out.fd >= 0 && out.used > 0) write_record(&out, out.line, out.used, 'P');
  if (err.fd >= 0 && err.used > 0) write_record(&err, err.line, err.used, 'P');
  if (log_fd >= 0) fsync(log_fd);

  int exit_code = 0, signal_number = 0;
  if (WIFEXITED(init_status)) exit_code = WEXITSTATUS(init_status);
  else if (WIFSIGNALED(init_status)) {
    signal_number = WTERMSIG(init_status);
    exit_code = 128 + signal_number; /* as containerd reports a signalled init */
  }
  long long oom_kills = read_oom_kills(oom_file);
  char record[256];
  if (oom_kills >= 0)
    snprintf(record, sizeof record, "{\"exitCode\":%d,\"signal\":%d,\"pid\":%d,\"finishedAtNs\":\"%lld\",\"oomKills\":%lld}\n",
             exit_code, signal_number, init_pid, finished_ns, oom_kills);
  else
    snprintf(record, sizeof record, "{\"exitCode\":%d,\"signal\":%d,\"pid\":%d,\"finishedAtNs\":\"%lld\"}\n", exit_code,
             signal_number, init_pid, finished_ns);
  if (write_file_atomically(o.exit_file, record) != 0) return 1;
  unlink(o.shim_pid_file);
  return 0;
}
