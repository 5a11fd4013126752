/*
 * webhist-spawn-helper: starts CGI programs for the server, the way Apache's mod_cgid does.
 *
 * Why a helper at all: Node's child_process.spawn() forks the whole server. On Linux libuv
 * uses fork(), so every request copies the page tables of a ~70-100 MB process and the child
 * tears them down again at exec; the cost grows with the server's memory (measured: 1.2 ms of
 * parent CPU per spawn at 57 MB RSS, 7.8 ms at 266 MB). Apache wrote mod_cgid (1999-2000) for
 * the same reason: forking a large threaded server per CGI request is slow. This process is
 * small and stays small, so starting a program costs the same whatever the server's size.
 *
 * It starts each one as glibc's posix_spawn() does, with a vfork (clone with CLONE_VM and
 * CLONE_VFORK: no copy of its memory; this process waits until the program has exec'd), but the
 * child resets only the three signals this process changed, not all 64 (POSIX_SPAWN_SETSIGDEF):
 * 61 fewer system calls in the child on every start, and this process waits that much less.
 * Measured at 8 connections on 2 cores, interleaved: 1,930-2,000 req/s against 1,830-1,860
 * with posix_spawn(). A fork() (lighttpd's way, and mod_cgid's) would not wait at all, but cost
 * 0.1 ms more CPU per request here, parent and child together, for no more requests a second.
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
 *
 * One thread serves every request, so it never waits on one: a frame is read as its bytes come
 * (the server writes it a loop turn after it connects, and a helper blocked on that read would
 * hold up every other start), and the reports of one turn leave in one write.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 4096
#define MAX_FRAME (4 << 20)
/* Connections whose frame is still on its way; more wait in the listen backlog. */
#define MAX_ARRIVING 256
/* The server writes a frame in one go; a peer that stalls inside one is dropped after this. */
#define FRAME_SECONDS 5

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
/* Slots at and above this index have never been used since they were last all free. */
static int children_end;
static int sigchld_pipe[2];

/* A connection whose frame is arriving: its 4-byte length, then the frame itself. */
struct arriving {
  int fd; /* -1: the slot is free */
  uint8_t head[4];
  char *frame;
  uint32_t len, have; /* len is 0 until the head is in; have counts head and frame bytes */
  time_t since;
};
static struct arriving arrivals[MAX_ARRIVING];

static volatile sig_atomic_t terminating;

/* SIGCHLD and SIGTERM only wake the loop (through a pipe to ourselves); it does the work. */
static void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGTERM) terminating = 1;
  (void)!write(sigchld_pipe[1], "", 1);
  errno = saved;
}

/* Reports gather here and leave once per turn of the loop (flush_reports): the server wakes once
   for what one turn did (starts, exits, stderr), not once per line. */
static char reports[1 << 16];
static size_t reported;

/* Writes all of buf to the server, or exits: with no one to report to there is nothing to do. */
static void write_all(const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(1);
    p += n;
    len -= (size_t)n;
  }
}

static void flush_reports(void) {
  write_all(reports, reported);
  reported = 0;
}

static void report(const void *buf, size_t len) {
  if (reported + len > sizeof reports) flush_reports();
  if (len > sizeof reports) return write_all(buf, len);
  memcpy(reports + reported, buf, len);
  reported += len;
}

static void reportf(const char *fmt, const char *id, long value) {
  char line[64];
  int n = snprintf(line, sizeof line, fmt, id, value);
  report(line, (size_t)n);
}

/* Held open for every program's stdin when no body follows: one open(2) at start-up, not one a request. */
static int dev_null = -1;

/* What the child needs, and where it leaves the errno of a start that failed (memory shared
   with this process until the exec: CLONE_VM). */
struct becoming {
  char **args, **env;
  const char *cwd;
  int in, out, err;
  volatile int failed;
};

/* Where the child runs until its exec; this process is stopped meanwhile, so one is enough. It
   shares this process's memory, so it has a guard page below it: a child that overflowed it
   would die of SIGSEGV rather than write over this process. execvpe puts a copy of argv on it
   (for a file without "#!"), hence a limit on the number of arguments. */
#define CHILD_STACK (1 << 20)
#define MAX_ARGS ((CHILD_STACK - (64 << 10)) / sizeof(char *))
static char *child_stack;

/* The child's side: the program's stdio, a session and process group of its own (so the server
   can kill all it starts with kill(-pid)), the default signal dispositions (main() reset the
   rest at start-up; SIGPIPE, ignored here, would stay ignored across exec) and an empty mask,
   then exec. execvpe, as execvp(3) and Node's spawn() do, searches PATH (the helper's own: the
   fixed one) and hands a text file without "#!" to /bin/sh. */
static int become(void *arg) {
  struct becoming *b = arg;
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGCHLD, &dfl, NULL);
  sigaction(SIGTERM, &dfl, NULL);
  sigaction(SIGPIPE, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* RFC 3875 §7.2: the working directory is the script's own. */
  if (setsid() >= 0 && dup2(b->in, STDIN_FILENO) >= 0 && dup2(b->out, STDOUT_FILENO) >= 0 && dup2(b->err, STDERR_FILENO) >= 0 && chdir(b->cwd) == 0)
    execvpe(b->args[0], b->args, b->env);
  b->failed = errno;
  _exit(127);
}

/* Starts the program (see become()); returns its pid, or -1 with errno set. */
static pid_t vfork_program(struct becoming *b) {
  sigset_t all, before;
  sigfillset(&all);
  /* No handler of ours may run in the child before it has reset them. */
  sigprocmask(SIG_BLOCK, &all, &before);
  b->failed = 0;
  pid_t pid = clone(become, child_stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, b);
  int why = pid < 0 ? errno : b->failed;
  sigprocmask(SIG_SETMASK, &before, NULL);
  if (pid > 0 && why) waitpid(pid, NULL, 0); /* it has exited already: reaped here, not reported */
  if (why) {
    errno = why;
    return -1;
  }
  return pid;
}

static struct child *free_slot(void) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid == 0) {
      if (i >= children_end) children_end = i + 1;
      return &children[i];
    }
  return NULL;
}

/* Reads what has come of a frame, never more than the frame (a request body may follow it).
   `flags` is MSG_DONTWAIT, or 0 to wait (within the socket's SO_RCVTIMEO). Not O_NONBLOCK: the
   connection becomes the program's stdout, and that flag belongs to the open file, not to this
   descriptor: a program writing to it would get EAGAIN (a shell's echo fails with "I/O error").
   Returns 1 once the frame is whole, 0 if more is to come, -1 if it never will be. */
static int read_frame(struct arriving *a, int flags) {
  for (;;) {
    char *to = a->have < 4 ? (char *)a->head + a->have : a->frame + (a->have - 4);
    size_t want = a->have < 4 ? 4 - a->have : a->len - (a->have - 4);
    ssize_t n = recv(a->fd, to, want, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && flags) return 0;
    if (n <= 0) return -1;
    a->have += (uint32_t)n;
    if (a->have == 4) {
      a->len = a->head[0] | a->head[1] << 8 | a->head[2] << 16 | (uint32_t)a->head[3] << 24;
      if (a->len == 0 || a->len > MAX_FRAME || !(a->frame = malloc(a->len + 1))) return -1;
    }
    if (a->have > 4 && a->have - 4 == a->len) {
      a->frame[a->len] = '\0';
      return 1;
    }
  }
}

static void forget_arrival(struct arriving *a) {
  free(a->frame);
  *a = (struct arriving){.fd = -1};
}

/* Starts the program a whole frame asks for, with the connection as its stdout; with `refused`
   set (an errno), reports that instead of starting anything. Takes the frame (frees it). Returns
   1 if the connection is kept (for the body), 0 if the caller may close its copy. */
static int start(int conn, char *frame, uint32_t len, int refused) {
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

  if ((size_t)argc > MAX_ARGS) {
    reportf("F %s %ld\n", id, E2BIG);
    goto out;
  }
  struct child *slot = free_slot();
  if (!slot || pipe2(err, O_CLOEXEC) < 0 || (with_body && pipe2(in, O_CLOEXEC) < 0)) {
    reportf("F %s %ld\n", id, slot ? errno : EAGAIN);
    goto out;
  }
  struct becoming b = {.args = args, .env = env, .cwd = cwd, .in = with_body ? in[0] : dev_null, .out = conn, .err = err[1]};
  pid_t pid = vfork_program(&b);
  if (pid < 0) {
    reportf("F %s %ld\n", id, errno);
    goto out;
  }
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  *slot = (struct child){.pid = pid, .err = err[0], .body_from = -1, .body_to = -1};
  err[0] = -1;
  strcpy(slot->id, id);
  if (with_body && (slot->body = malloc(BODY_BUFFER))) {
    /* The pipe's end is ours alone; the connection is read with MSG_DONTWAIT (see read_frame). */
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
    ssize_t n = recv(c->body_from, c->body, BODY_BUFFER, MSG_DONTWAIT);
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
  while (children_end > 0 && children[children_end - 1].pid == 0) children_end--;
}

static void reap(void) {
  char drain[64];
  while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < children_end; i++) {
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
  for (int i = 0; i < children_end; i++)
    if (children[i].pid > 0 && !children[i].exited) kill(-children[i].pid, SIGKILL);
}

static time_t monotonic_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec;
}

static struct arriving *free_arrival(void) {
  for (int i = 0; i < MAX_ARRIVING; i++)
    if (arrivals[i].fd < 0) return &arrivals[i];
  return NULL;
}

/* Reads what has come of a connection's frame; starts its program once the frame is whole. */
static void arrive(struct arriving *a) {
  int whole = read_frame(a, MSG_DONTWAIT);
  if (whole == 0) return;
  int conn = a->fd;
  if (whole == 1) {
    char *frame = a->frame;
    a->frame = NULL;
    if (start(conn, frame, a->len, 0)) conn = -1; /* kept for the body */
  }
  if (conn >= 0) close(conn);
  forget_arrival(a);
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
    /* Rare enough to wait for its frame here, within a limit. */
    struct timeval limit = {.tv_sec = FRAME_SECONDS};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    struct arriving a = {.fd = conn};
    if (read_frame(&a, 0) == 1) {
      start(conn, a.frame, a.len, why);
      a.frame = NULL;
    }
    forget_arrival(&a);
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
  /* Every signal to its default, whatever the parent left ignored: the programs inherit these,
     and the child resets only the three changed below (become()). */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  long page = sysconf(_SC_PAGESIZE);
  char *stack = mmap(NULL, CHILD_STACK + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED || mprotect(stack, (size_t)page, PROT_NONE) < 0) {
    fprintf(stderr, "webhist-spawn-helper: no stack for its children: %s\n", strerror(errno));
    return 1;
  }
  child_stack = stack + page;

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
  dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null < 0) return 1;
  report("READY\n", 6);

  for (int i = 0; i < MAX_ARRIVING; i++) arrivals[i].fd = -1;
  static struct pollfd fds[2 * MAX_CHILDREN + MAX_ARRIVING + 3];
  static struct child *owner[2 * MAX_CHILDREN + 3];
  static struct arriving *arrival_at[MAX_ARRIVING];
  for (;;) {
    flush_reports();
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sigchld_pipe[0], .events = POLLIN};
    /* The listener only while there is room for another arriving frame. */
    int room = 0, arriving = 0;
    for (int i = 0; i < MAX_ARRIVING; i++) {
      if (arrivals[i].fd < 0) room = 1;
      else {
        arrival_at[arriving++] = &arrivals[i];
        fds[n++] = (struct pollfd){.fd = arrivals[i].fd, .events = POLLIN};
      }
    }
    fds[n++] = (struct pollfd){.fd = room ? listener : -1, .events = POLLIN};
    nfds_t first_child = n;
    for (int i = 0; i < children_end; i++) {
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
    if (poll(fds, n, arriving ? 1000 : -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    char byte;
    if (terminating || (fds[0].revents && read(STDIN_FILENO, &byte, 1) <= 0)) {
      kill_all();
      unlink(argv[1]);
      return 0;
    }
    for (nfds_t i = first_child; i < n; i++) {
      if (!fds[i].revents) continue;
      struct child *c = owner[i];
      if (fds[i].fd == c->err) forward_stderr(c);
      else if (c->body_from >= 0) copy_body(c);
      release_if_done(c);
    }
    if (fds[1].revents) reap();
    time_t now = monotonic_seconds();
    for (int i = 0; i < arriving; i++) {
      struct arriving *a = arrival_at[i];
      if (fds[2 + i].revents) arrive(a);
      else if (now - a->since > FRAME_SECONDS) {
        close(a->fd);
        forget_arrival(a);
      }
    }
    if (fds[first_child - 1].revents) {
      struct arriving *a;
      int conn = -1;
      while ((a = free_arrival()) && (conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        *a = (struct arriving){.fd = conn, .since = now};
        arrive(a);
      }
      if (conn < 0 && (errno == EMFILE || errno == ENFILE)) refuse_one(listener);
    }
  }
}
