// The real node's sandbox ("pause") process: holds the pod's namespaces,
// reaps orphaned children, and exits on SIGINT or SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void Stop(int sig) { _exit(0); }

static void Reap(int sig) {
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGINT, Stop);
  signal(SIGTERM, Stop);
  signal(SIGCHLD, Reap);
  for (;;) pause();
}
