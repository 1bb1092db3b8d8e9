/*
 * kubeplug-pause: the infra process of a pod sandbox (our own code).
 *
 * It holds the sandbox's namespaces open by existing, exits 0 on SIGINT or
 * SIGTERM, and reaps every child that reaches it, since it may be PID 1 of
 * a PID namespace the pod's containers share. Signals are blocked and taken
 * with sigwaitinfo, so they arrive even though PID 1 of a namespace ignores
 * signals it has no handler for. Built statically: it runs in an otherwise
 * empty rootfs.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) return 1;
  for (;;) {
    siginfo_t info;
    int signal_number = sigwaitinfo(&wanted, &info);
    if (signal_number < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (signal_number == SIGINT || signal_number == SIGTERM) return 0;
    /* SIGCHLD: several children may have ended behind one signal. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}
