/*
 * An open-loop (constant-rate) HTTP/1.1 load generator, for tail latency (bench/run.ts compiles it with
 * the system C compiler and runs it on the load core; see bench/open-loop.ts).
 *
 * Requests fall due on a fixed schedule, request i at start + i / rate, whatever the server does, and each
 * one's latency is counted from the moment it fell DUE, not from when it could be sent. A server that
 * stalls for 30 ms therefore shows every request that fell due in those 30 ms as late; a closed-loop tool
 * such as wrk hides them (coordinated omission: its connections simply stop sending while the server
 * stalls). A due request goes out on an idle keep-alive connection (no pipelining), or waits in a queue
 * for one with its clock already running. Responses are framed by Content-Length or chunked encoding.
 *
 * Written in C because the generator must not be the bottleneck: on this 2-core VM a Node generator on raw
 * sockets topped out near 13 000 requests/s (about 75 us of its own CPU per request), below half of
 * nginx's maximum; this one spends what the two system calls per request cost.
 *
 * Usage: open-loop PORT RATE SECONDS WARMUP_SECONDS CONNECTIONS REQUEST_FILE
 * Prints one JSON object: latency percentiles in ms from the due time, how late the generator itself
 * wrote (due -> write), and counts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF 65536

typedef struct {
  int fd;
  double due; /* due time (ns) of the request in flight, or -1 when idle */
  char buf[READ_BUF];
  size_t used;
} conn_t;

static int port;
static char *request;
static size_t request_len;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int open_conn(int ep, conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  c->fd = fd;
  c->due = -1;
  c->used = 0;
  return 0;
}

/*
 * The length of the first complete response in buf[0..len), or 0 when it is not complete yet, or -1 when
 * it cannot be read. *status receives its status code.
 */
static long response_length(const char *buf, size_t len, int *status) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  size_t head = (size_t)(end - buf) + 4;
  if (len < 12) return -1;
  *status = atoi(buf + 9);
  long body = 0;
  int chunked = 0;
  for (const char *line = buf; line < end;) {
    const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
    if (eol == NULL) break;
    size_t n = (size_t)(eol - line);
    if (n > 15 && strncasecmp(line, "content-length:", 15) == 0) body = atol(line + 15);
    else if (n > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0 && memmem(line, n, "chunked", 7))
      chunked = 1;
    line = eol + 2;
  }
  if (!chunked) return head + (size_t)body <= len ? (long)(head + (size_t)body) : 0;
  /* Chunks: a size line, its data and CRLF; a size of 0 and CRLF end the body (no trailers expected). */
  size_t at = head;
  for (;;) {
    const char *eol = memmem(buf + at, len - at, "\r\n", 2);
    if (eol == NULL) return 0;
    long size = strtol(buf + at, NULL, 16);
    size_t data = (size_t)(eol - buf) + 2;
    if (size == 0) return data + 2 <= len ? (long)(data + 2) : 0;
    if (data + (size_t)size + 2 > len) return 0;
    at = data + (size_t)size + 2;
  }
}

/* Due times waiting for a connection: a ring buffer that grows when full. */
static double *queue;
static size_t q_cap = 4096, q_head, q_size;

static void q_push(double t) {
  if (q_size == q_cap) {
    double *next = malloc(sizeof(double) * q_cap * 2);
    for (size_t i = 0; i < q_size; i++) next[i] = queue[(q_head + i) % q_cap];
    free(queue);
    queue = next;
    q_head = 0;
    q_cap *= 2;
  }
  queue[(q_head + q_size) % q_cap] = t;
  q_size++;
}

static double q_shift(void) {
  double t = queue[q_head];
  q_head = (q_head + 1) % q_cap;
  q_size--;
  return t;
}

/* What the main loop shares with `next_request`. */
static conn_t **idle;
static size_t n_idle;
static double *lag;
static size_t n_lag, expected, errors;
static double window_from, window_end;
#define IN_WINDOW(t) ((t) >= window_from && (t) < window_end)

/*
 * Sends the request due at `due` on `c`. The lateness of a request sent as soon as it fell due is the
 * generator's own (a queued request waited for the server, which its latency already shows).
 */
static void send_due(conn_t *c, double due, int queued) {
  c->due = due;
  if (write(c->fd, request, request_len) != (ssize_t)request_len) errors++;
  if (!queued && IN_WINDOW(due) && n_lag < expected) lag[n_lag++] = now_ns() - due;
}

/* `c` is free again: it takes the oldest queued request, or joins the idle connections. */
static void next_request(conn_t *c) {
  c->due = -1;
  if (q_size > 0) send_due(c, q_shift(), 1);
  else idle[n_idle++] = c;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *xs, size_t n, double p) {
  if (n == 0) return -1;
  size_t i = (size_t)(p * (double)n);
  return xs[i < n ? i : n - 1] / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: open-loop PORT RATE SECONDS WARMUP_SECONDS CONNECTIONS REQUEST_FILE\n");
    return 2;
  }
  port = atoi(argv[1]);
  double rate = atof(argv[2]), seconds = atof(argv[3]), warmup = atof(argv[4]);
  int nconn = atoi(argv[5]);
  FILE *f = fopen(argv[6], "rb");
  if (f == NULL || rate <= 0 || seconds <= 0 || nconn <= 0) {
    fprintf(stderr, "open-loop: bad arguments or unreadable request file\n");
    return 2;
  }
  fseek(f, 0, SEEK_END);
  request_len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  request = malloc(request_len);
  if (fread(request, 1, request_len, f) != request_len) return 2;
  fclose(f);

  int ep = epoll_create1(0);
  conn_t *conns = calloc((size_t)nconn, sizeof(conn_t));
  idle = calloc((size_t)nconn, sizeof(conn_t *));
  for (int i = 0; i < nconn; i++) {
    if (open_conn(ep, &conns[i]) != 0) {
      fprintf(stderr, "open-loop: cannot connect to 127.0.0.1:%d\n", port);
      return 1;
    }
    idle[n_idle++] = &conns[i];
  }
  queue = malloc(sizeof(double) * q_cap);

  double interval = 1e9 / rate;
  expected = (size_t)(rate * seconds) + 16;
  double *lat = malloc(sizeof(double) * expected);
  lag = malloc(sizeof(double) * expected);
  size_t n_lat = 0, completed = 0, outstanding = 0;
  double start = now_ns() + 50e6;
  window_from = start + warmup * 1e9;
  double end = window_end = window_from + seconds * 1e9;
  double next = start;

  struct epoll_event events[256];
  double give_up = -1;
  for (;;) {
    double now = now_ns();
    /* Everything that fell due goes out now, or queues for a connection. */
    while (next <= now && next < end) {
      outstanding++;
      if (n_idle > 0) send_due(idle[--n_idle], next, 0);
      else q_push(next);
      next += interval;
    }
    if (next >= end) {
      if (give_up < 0) give_up = now + 5e9;
      if (outstanding == 0 || now >= give_up) break;
    }
    /* Sleep until the next due time (nanosecond timeout), or until a response arrives. */
    double wait = next < end ? next - now : 5e6;
    if (wait < 0) wait = 0;
    struct timespec ts = {.tv_sec = (time_t)(wait / 1e9), .tv_nsec = (long)((long long)wait % 1000000000LL)};
    int n = epoll_pwait2(ep, events, 256, &ts, NULL);
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      ssize_t r = read(c->fd, c->buf + c->used, READ_BUF - c->used);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        /* The server closed the connection: its request failed; a new connection takes its place. */
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        double due = c->due;
        int busy = due >= 0;
        if (busy) {
          outstanding--;
          if (IN_WINDOW(due)) errors++;
        }
        if (open_conn(ep, c) != 0) {
          fprintf(stderr, "open-loop: cannot reconnect\n");
          return 1;
        }
        if (!busy) {
          /* It was idle: take it out of the idle list, it is put back below. */
          for (size_t k = 0; k < n_idle; k++)
            if (idle[k] == c) idle[k] = idle[--n_idle];
        }
        next_request(c);
        continue;
      }
      c->used += (size_t)r;
      for (;;) {
        int status = 0;
        long len = response_length(c->buf, c->used, &status);
        if (len == 0) {
          if (c->used == READ_BUF) len = -1; /* a response larger than the buffer: not for this tool */
          else break;
        }
        if (len < 0) {
          fprintf(stderr, "open-loop: unreadable response\n");
          return 1;
        }
        memmove(c->buf, c->buf + len, c->used - (size_t)len);
        c->used -= (size_t)len;
        double due = c->due;
        double t = now_ns();
        outstanding--;
        if (IN_WINDOW(due)) {
          if (status >= 200 && status < 300) {
            if (n_lat < expected) lat[n_lat++] = t - due;
            completed++;
          } else
            errors++;
        }
        next_request(c);
        break;
      }
    }
  }
  /* Requests still unanswered count at what they have waited so far. */
  double stopped = now_ns();
  size_t unfinished = 0;
  for (int i = 0; i < nconn; i++)
    if (conns[i].due >= 0 && IN_WINDOW(conns[i].due) && n_lat < expected) {
      lat[n_lat++] = stopped - conns[i].due;
      unfinished++;
    }
  while (q_size > 0) {
    double d = q_shift();
    if (IN_WINDOW(d) && n_lat < expected) {
      lat[n_lat++] = stopped - d;
      unfinished++;
    }
  }
  qsort(lat, n_lat, sizeof(double), cmp_double);
  qsort(lag, n_lag, sizeof(double), cmp_double);
  printf("{\"rate\":%.1f,\"achieved\":%.1f,\"due\":%zu,\"completed\":%zu,\"errors\":%zu,\"unfinished\":%zu,"
         "\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"sendLagP99\":%.3f}\n",
         rate, (double)completed / seconds, (size_t)(seconds * rate), completed, errors, unfinished,
         pct(lat, n_lat, 0.5), pct(lat, n_lat, 0.9), pct(lat, n_lat, 0.99), pct(lat, n_lat, 0.999),
         n_lat ? lat[n_lat - 1] / 1e6 : -1, pct(lag, n_lag, 0.99));
  return 0;
}
