/*
 * webhist-spawn-helper: starts CGI programs for the server, the way Apache's mod_cgid does.
 *
 * Why a helper at all: Node's child_process.spawn() forks the whole server. On Linux libuv
 * uses fork(), so every request copies the page tables of a ~70-100 MB process and the child
 * tears them down again at exec; the cost grows with the server's memory (measured: 1.2 ms of
 * parent CPU per spawn at 57 MB RSS, 7.8 ms at 266 MB). Apache wrote mod_cgid (1999-2000) for
 * the same reason: forking a large threaded server per CGI request is slow. This process is
 * small and stays small, so its posix_spawn() (CLONE_VFORK in glibc) costs the same whatever
 * the server's size.
 *
 * The protocol (all on this machine, between the server and its own helper):
 *  - argv[1] is the path of a unix socket this helper listens on (mode 0600).
 *  - For each request the server connects to it and sends one frame: a 4-byte little-endian
 *    length, then NUL-terminated strings: the request id, the working directory, "1" if a
 *    request body follows the frame ("0" if not), the number of arguments, the arguments (the
 *    program first), then the environment (NAME=value). The program runs with that connection
 *    as its stdout, in a session and process group of its own (so the server can kill
 *    everything it started with kill(-pid)), its stderr a pipe this helper reads. Its stdin
 *    is /dev/null, or, when a body follows, a pipe this helper fills from the connection: the
 *    connection cannot be stdin and stdout at once, or a program that closes its stdout (and
 *    goes on working) would not end the response, as RFC 3875 §6 and Apache's mod_cgi have it.
 *  - On its stdout the helper reports, one line each:
 *      "S <id> <pid>"          started
 *      "F <id> <errno>"        could not be started (errno as a number)
 *      "E <id> <n>" + n bytes  n bytes the program wrote to stderr
 *      "X <id> <status>"       exited (and its process group killed): the wait status
 *  - When its stdin reaches end of file, the server is gone: every program still running is
 *    killed with its group and the helper exits, so no script outlives a dead server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 4096
#define MAX_FRAME (4 << 20)

struct child {
  pid_t pid;      /* 0: the slot is free */
  char id[24];    /* the server's request id */
  int err;        /* the read end of the program's stderr, or -1 once at its end */
  int exited;     /* reaped (its stderr and body are then closed, and the slot freed) */
  /* The request body, copied from the connection to the program's stdin pipe. */
  int body_from, body_to; /* -1 when done */
  char *body;
  size_t body_at, body_len;
};

#define BODY_BUFFER 65536

static struct child children[MAX_CHILDREN];
static int sigchld_pipe[2];

static volatile sig_atomic_t terminating;

/* SIGCHLD and SIGTERM only wake the loop (through a pipe to ourselves); it does the work. */
static void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGTERM) terminating = 1;
  (void)!write(sigchld_pipe[1], "", 1);
  errno = saved;
}

/* Writes all of buf to the server, or exits: with no one to report to there is nothing to do. */
static void report(const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(1);
    p += n;
    len -= (size_t)n;
  }
}

static void reportf(const char *fmt, const char *id, long value) {
  char line[64];
  int n = snprintf(line, sizeof line, fmt, id, value);
  report(line, (size_t)n);
}

static int read_exactly(int fd, char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static struct child *free_slot(void) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid == 0) return &children[i];
  return NULL;
}

/* Reads the frame from a new connection and starts its program with the connection as stdio;
   with `refused` set (an errno), reports that instead of starting anything. Returns 1 if the
   connection is kept (for the body), 0 if the caller may close its copy. */
static int start(int conn, int refused) {
  /* The server writes a frame in one go; a peer that stalls inside one must not stall us. */
  struct timeval limit = {.tv_sec = 5};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  uint8_t head[4];
  if (read_exactly(conn, (char *)head, 4) < 0) return 0;
  uint32_t len = head[0] | head[1] << 8 | head[2] << 16 | (uint32_t)head[3] << 24;
  if (len == 0 || len > MAX_FRAME) return 0;
  char *frame = malloc(len + 1);
  if (!frame || read_exactly(conn, frame, len) < 0) {
    free(frame);
    return 0;
  }
  frame[len] = '\0';
  struct timeval none = {0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);

  /* Split the frame into its strings. */
  size_t count = 0;
  for (uint32_t i = 0; i < len; i++) count += frame[i] == '\0';
  char **words = calloc(count + 1, sizeof *words);
  if (!words) {
    free(frame);
    return 0;
  }
  size_t n = 0;
  for (char *p = frame; p < frame + len && n < count; p += strlen(p) + 1) words[n++] = p;
  long argc = n >= 4 ? strtol(words[3], NULL, 10) : 0;
  const char *id = n >= 1 ? words[0] : "?";
  if (argc < 1 || (size_t)argc + 4 > n || strlen(id) >= sizeof children[0].id) {
    free(words);
    free(frame);
    return 0;
  }
  if (refused) {
    reportf("F %s %ld\n", id, refused);
    free(words);
    free(frame);
    return 0;
  }
  char *cwd = words[1];
  int with_body = words[2][0] == '1';
  char **argv = words + 4;
  size_t envc = n - 4 - (size_t)argc;
  char **env = calloc(envc + 1, sizeof *env);
  char **args = calloc((size_t)argc + 1, sizeof *args);
  int err[2] = {-1, -1}, in[2] = {-1, -1};
  int kept = 0;
  if (!env || !args) goto out;
  memcpy(args, argv, (size_t)argc * sizeof *args);
  memcpy(env, argv + argc, envc * sizeof *env);

  struct child *slot = free_slot();
  if (!slot || pipe2(err, O_CLOEXEC) < 0 || (with_body && pipe2(in, O_CLOEXEC) < 0)) {
    reportf("F %s %ld\n", id, slot ? errno : EAGAIN);
    goto out;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  if (with_body) posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  else posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, conn, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  /* RFC 3875 §7.2: the working directory is the script's own. */
  posix_spawn_file_actions_addchdir_np(&actions, cwd);
  posix_spawnattr_init(&attr);
  sigset_t all, none_set;
  sigfillset(&all);
  sigemptyset(&none_set);
  /* A session of its own (so a process group of its own), default signals, nothing blocked. */
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none_set);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args, env);
  if (rc == ENOEXEC) {
    /* An executable text file without "#!": execvp(3), and so Node's spawn(), hand it to the
       shell; glibc's posix_spawnp no longer does, so we do, to behave the same either way. */
    char **shell_args = calloc((size_t)argc + 2, sizeof *shell_args);
    if (shell_args) {
      shell_args[0] = "/bin/sh";
      memcpy(shell_args + 1, args, (size_t)argc * sizeof *args);
      rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, shell_args, env);
      free(shell_args);
    }
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    reportf("F %s %ld\n", id, rc);
    goto out;
  }
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  *slot = (struct child){.pid = pid, .err = err[0], .body_from = -1, .body_to = -1};
  err[0] = -1;
  strcpy(slot->id, id);
  if (with_body && (slot->body = malloc(BODY_BUFFER))) {
    fcntl(conn, F_SETFL, O_NONBLOCK);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    slot->body_from = conn;
    slot->body_to = in[1];
    in[1] = -1;
    kept = 1;
  }
  reportf("S %s %ld\n", id, pid);
out:
  for (int i = 0; i < 2; i++) {
    if (err[i] >= 0) close(err[i]);
    if (in[i] >= 0) close(in[i]);
  }
  free(args);
  free(env);
  free(words);
  free(frame);
  return kept;
}

static void end_body(struct child *c) {
  if (c->body_from >= 0) close(c->body_from);
  if (c->body_to >= 0) close(c->body_to);
  c->body_from = c->body_to = -1;
  free(c->body);
  c->body = NULL;
}

/* The program will read no more of the body (it closed its stdin, or exited): its pipe closes,
   and the rest of the body is read and dropped until the server ends it. Dropped, not left: on
   Linux, the last close of a unix socket with unread bytes in it resets the other end, and the
   server would lose the output still on its way (unix_release_sock). */
static void discard_body(struct child *c) {
  if (c->body_to >= 0) close(c->body_to);
  c->body_to = -1;
  c->body_at = c->body_len = 0;
}

/* Moves the request body on by one read or one write, whichever poll said is possible. A
   program that stops reading stops the copy, and so the server's writing: backpressure. */
static void copy_body(struct child *c) {
  if (c->body_len == c->body_at) {
    ssize_t n = read(c->body_from, c->body, BODY_BUFFER);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return end_body(c); /* the body has ended: the program sees end of file */
    if (c->body_to < 0) return;      /* discarding */
    c->body_at = 0;
    c->body_len = (size_t)n;
  }
  ssize_t n = write(c->body_to, c->body + c->body_at, c->body_len - c->body_at);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) return discard_body(c); /* EPIPE: it closed its stdin; the rest is not wanted */
  c->body_at += (size_t)n;
}

/* Forwards one read of what a program wrote to stderr: 1 if it forwarded bytes, 0 once the
   pipe has ended, -1 if nothing is there now. */
static int forward_stderr(struct child *c) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(c->err, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return -1;
    if (n <= 0) {
      close(c->err);
      c->err = -1;
      return 0;
    }
    char head[48];
    int h = snprintf(head, sizeof head, "E %s %zd\n", c->id, n);
    report(head, (size_t)h);
    report(buf, (size_t)n);
    /* One read per turn: a flooding program must not starve the others. */
    return 1;
  }
}

static void release_if_done(struct child *c) {
  if (!c->exited || c->err >= 0 || c->body_from >= 0) return;
  c->pid = 0;
}

static void reap(void) {
  char drain[64];
  while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CHILDREN; i++) {
      struct child *c = &children[i];
      if (c->pid != pid || c->exited) continue;
      /* What it wrote to stderr before it exited is reported before its exit. Then the pipe is
         closed: a process that left the group (setsid, a double fork) may hold its other end
         for ever, and must not keep this slot, nor write to a request that has ended. */
      for (int turns = 0; turns < 16 && c->err >= 0 && forward_stderr(c) == 1; turns++) {
      }
      if (c->err >= 0) {
        close(c->err);
        c->err = -1;
      }
      c->exited = 1;
      /* As the server does when a program it forked exits: whatever it left running in its
         group (a backgrounded sleep holding stdout open) goes with it. Done here, where a
         group already gone costs one ESRCH, not an exception in the server. */
      kill(-pid, SIGKILL);
      /* Nobody is left to read the rest of the body; the server ends it once it hears of the exit. */
      if (c->body_from >= 0) discard_body(c);
      reportf("X %s %ld\n", c->id, status);
      release_if_done(c);
      break;
    }
  }
}

static void kill_all(void) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid > 0 && !children[i].exited) kill(-children[i].pid, SIGKILL);
}

/* A descriptor held in reserve for the one moment there is no other: at the descriptor limit
   accept() fails and the connection would wait in the backlog, the listener readable forever
   (a busy loop here, a request hung until its time limit there). With the reserve let go, the
   connection is accepted, its frame read and its start reported as failed (EMFILE), so the
   server answers that request at once; then the reserve is taken back. */
static int reserve = -1;

static void refuse_one(int listener) {
  int why = errno;
  if (reserve >= 0) close(reserve);
  int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (conn >= 0) {
    start(conn, why);
    close(conn);
  }
  reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: webhist-spawn-helper SOCKET_PATH\n");
    return 2;
  }
  /* When the server dies, however it dies, the kernel closes our stdin and sends SIGTERM
     (the parent-death signal): either way every program still running is killed with its
     group, so no script outlives its server. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "webhist-spawn-helper: socket path too long: %s\n", argv[1]);
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  mode_t old = umask(077);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 4096) < 0) {
    fprintf(stderr, "webhist-spawn-helper: cannot listen on %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  umask(old);

  if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return 1;
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);

  reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
  report("READY\n", 6);

  static struct pollfd fds[2 * MAX_CHILDREN + 3];
  static struct child *owner[2 * MAX_CHILDREN + 3];
  for (;;) {
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sigchld_pipe[0], .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = listener, .events = POLLIN};
    for (int i = 0; i < MAX_CHILDREN; i++) {
      if (children[i].pid > 0 && children[i].err >= 0) {
        owner[n] = &children[i];
        fds[n++] = (struct pollfd){.fd = children[i].err, .events = POLLIN};
      }
      if (children[i].pid > 0 && children[i].body_from >= 0) {
        struct child *c = &children[i];
        /* Waiting for the server's bytes (or discarding them), or for room in the pipe. */
        int waiting = c->body_to < 0 || c->body_at == c->body_len;
        owner[n] = c;
        fds[n++] = (struct pollfd){.fd = waiting ? c->body_from : c->body_to, .events = waiting ? POLLIN : POLLOUT};
      }
    }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    char byte;
    if (terminating || (fds[0].revents && read(STDIN_FILENO, &byte, 1) <= 0)) {
      kill_all();
      unlink(argv[1]);
      return 0;
    }
    for (nfds_t i = 3; i < n; i++) {
      if (!fds[i].revents) continue;
      struct child *c = owner[i];
      if (fds[i].fd == c->err) forward_stderr(c);
      else if (c->body_from >= 0) copy_body(c);
      release_if_done(c);
    }
    if (fds[1].revents) reap();
    if (fds[2].revents) {
      int conn;
      while ((conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        if (!start(conn, 0)) close(conn);
      }
      if (errno == EMFILE || errno == ENFILE) refuse_one(listener);
    }
  }
}
