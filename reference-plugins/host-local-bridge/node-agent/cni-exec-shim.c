/*
 * cni-exec-shim: the executable a container runtime finds on CNI_PATH for a
 * kubeplug reference plugin. Starting Node costs more than upstream's whole
 * ADD, so when a kubeplug CNI node agent runs in the caller's network
 * namespace the shim hands it the call (environment, stdin, its own pid)
 * over a unix socket and prints what the agent answers; when none runs it
 * execs the plugin's standalone Node entry, so the plugin works either way.
 *
 * Built by scripts/postbuild.mjs with:
 *   -DKUBEPLUG_PLUGIN="kubeplug-bridge"   the plugin type the agent runs
 *   -DKUBEPLUG_FALLBACK="../reference-plugins/.../kubeplug-bridge.js"
 *                                         standalone entry, relative to this
 *                                         executable's folder
 * The wire format is described in agent-protocol.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire-io.h"

#ifndef KUBEPLUG_PLUGIN
#error "define KUBEPLUG_PLUGIN"
#endif
#ifndef KUBEPLUG_FALLBACK
#error "define KUBEPLUG_FALLBACK"
#endif

extern char **environ;

static const char request_magic[8] = {'K', 'P', 'C', 'N', 'I', 'A', '0', '1'};
/* Agents listen in this folder unless KUBEPLUG_CNI_AGENT_DIR names another. */
static const char default_agent_dir[] = "/run/kubeplug/cni-agent";

static void die_with_cni_error(int code, const char *msg, const char *details) {
  /* Plain text fields only reach here (no quotes or backslashes), so no escaping is needed. */
  printf("{\"cniVersion\":\"1.1.0\",\"code\":%d,\"msg\":\"%s\",\"details\":\"%s\"}\n", code, msg, details);
  fflush(stdout);
  exit(1);
}

/* The shim has nothing to fall back on when memory runs out. */
static void must(int status) {
  if (status != 0) die_with_cni_error(999, "kubeplug CNI shim: out of memory", "");
}

static void append_string(struct buffer *buffer, const char *bytes, size_t length) {
  must(buffer_append_u32(buffer, (uint32_t)length));
  must(buffer_append(buffer, bytes, length));
}

static int read_u32(int fd, uint32_t *value) {
  unsigned char bytes[4];
  if (read_exactly(fd, (char *)bytes, 4) != 0) return -1;
  *value = ((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) | ((uint32_t)bytes[2] << 8) | bytes[3];
  return 0;
}

/* Copies one length-prefixed string from the agent to fd (stdout or stderr). */
static int relay_string(int from, int to) {
  uint32_t length;
  if (read_u32(from, &length) != 0) return -1;
  char chunk[65536];
  while (length > 0) {
    size_t want = length < sizeof chunk ? length : sizeof chunk;
    if (read_exactly(from, chunk, want) != 0) return -1;
    /* A closed stdout or stderr must not stop us from reporting the exit status. */
    (void)write_all(to, chunk, want);
    length -= (uint32_t)want;
  }
  return 0;
}

/* Replaces this process with the standalone Node entry; only returns on failure. */
static void exec_standalone(char **argv) {
  char self[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) die_with_cni_error(999, "kubeplug CNI shim: cannot find its own executable", "readlink /proc/self/exe failed");
  self[length] = '\0';
  char *slash = strrchr(self, '/');
  if (slash != NULL) *slash = '\0';
  char entry[PATH_MAX];
  if (snprintf(entry, sizeof entry, "%s/%s", self, KUBEPLUG_FALLBACK) >= (int)sizeof entry) {
    die_with_cni_error(999, "kubeplug CNI shim: standalone entry path too long", "");
  }
  execv(entry, argv);
  die_with_cni_error(999, "kubeplug CNI shim: cannot run the standalone plugin", strerror(errno));
}

/* Connects to the agent serving this network namespace, or returns -1 when none listens. */
static int connect_agent(void) {
  struct stat netns;
  if (stat("/proc/self/ns/net", &netns) != 0) return -1;
  const char *dir = getenv("KUBEPLUG_CNI_AGENT_DIR");
  if (dir == NULL || dir[0] == '\0') dir = default_agent_dir;
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  int needed = snprintf(address.sun_path, sizeof address.sun_path, "%s/net-%llu.sock", dir, (unsigned long long)netns.st_ino);
  if (needed < 0 || needed >= (int)sizeof address.sun_path) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  (void)argc;
  int agent = connect_agent();
  if (agent < 0) exec_standalone(argv);

  struct buffer request = {0};
  must(buffer_append(&request, request_magic, sizeof request_magic));
  append_string(&request, KUBEPLUG_PLUGIN, strlen(KUBEPLUG_PLUGIN));
  must(buffer_append_u32(&request, (uint32_t)getpid()));
  uint32_t count = 0;
  for (char **entry = environ; *entry != NULL; entry++) count++;
  must(buffer_append_u32(&request, count));
  for (char **entry = environ; *entry != NULL; entry++) append_string(&request, *entry, strlen(*entry));

  /* The standalone entry reads stdin under the same conditions: never for an absent verb or VERSION on a terminal. */
  const char *command = getenv("CNI_COMMAND");
  int reads_stdin = command != NULL && command[0] != '\0' && !(strcmp(command, "VERSION") == 0 && isatty(0));
  struct buffer input = {0};
  if (reads_stdin) {
    for (;;) {
      must(buffer_reserve(&input, 65536));
      ssize_t got = read(0, input.data + input.length, input.capacity - input.length);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        /* Nothing was consumed: let the standalone entry report the unreadable stdin in its own words. */
        close(agent);
        exec_standalone(argv);
      }
      if (got == 0) break;
      input.length += (size_t)got;
    }
  }
  append_string(&request, input.data == NULL ? "" : input.data, input.length);

  if (write_all(agent, request.data, request.length) != 0 || shutdown(agent, SHUT_WR) != 0) {
    die_with_cni_error(11, "kubeplug CNI node agent went away before taking the call", "retry; the plugin runs standalone when no agent listens");
  }
  uint32_t exit_code;
  if (read_u32(agent, &exit_code) != 0 || relay_string(agent, 1) != 0 || relay_string(agent, 2) != 0) {
    die_with_cni_error(11, "kubeplug CNI node agent went away before answering", "the call may be half done; retry it (DEL after a failed ADD cleans up)");
  }
  return (int)(exit_code & 0xff);
}
