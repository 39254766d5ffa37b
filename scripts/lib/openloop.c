// Open-loop HTTP/1.1 load at a fixed rate, for `scripts/bench api`.
//
// wrk is a closed loop: a connection sends its next request only after the last answer, so while
// the server stalls it sends nothing, and the stall is missing from its latencies ("coordinated
// omission"); its rate is whatever the server allows. Here each of C keep-alive connections has
// its own schedule, RATE / C requests a second, the connections' schedules staggered evenly. A
// request that falls due while its connection still waits for an answer is sent right after that
// answer, and every latency is counted from when the request was due, not from when it was sent —
// so a stall shows in full. This is how a target like "p99 5 ms at 15k req/s" is stated.
//
// usage: openloop HOST PORT PATH RATE CONNECTIONS SECONDS [WARMUP_SECONDS]
// Prints the rate reached and latency percentiles of the requests due after the warm-up.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  uint64_t next_due;  // ns: when this connection's next request falls due
  uint64_t in_flight; // ns: the due time of the request awaiting its answer; 0 when idle
  char buf[65536];
  size_t len;
} connection;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static struct sockaddr_in address;
static char request[1024];
static size_t request_len;
static int epoll_fd;

static void open_connection(connection *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&address, sizeof address) != 0) {
    perror("openloop: connect");
    exit(1);
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &e);
  c->len = 0;
  c->in_flight = 0;
}

// A connection that failed: counted by the caller, replaced by a new one, its request dropped.
static void reconnect(connection *c) {
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  open_connection(c);
}

// The length of the complete answer at the start of buf, 0 while incomplete; *status gets its code.
static size_t complete_answer(const char *buf, size_t len, int *status) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - buf) + 4;
  *status = len > 12 ? atoi(buf + 9) : 0;
  for (const char *line = memchr(buf, '\n', head); line && line < end; line = memchr(line + 1, '\n', (size_t)(end - line))) {
    if (strncasecmp(line + 1, "content-length:", 15) == 0) {
      size_t body = strtoul(line + 16, NULL, 10);
      return len >= head + body ? head + body : 0;
    }
    if (strncasecmp(line + 1, "transfer-encoding:", 18) == 0) {
      const char *last = memmem(buf + head - 2, len - head + 2, "\r\n0\r\n\r\n", 7);
      return last ? (size_t)(last - buf) + 7 : 0;
    }
  }
  return head;
}

static int compare(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: openloop HOST PORT PATH RATE CONNECTIONS SECONDS [WARMUP_SECONDS]\n");
    return 64;
  }
  double rate = atof(argv[4]);
  int count = atoi(argv[5]);
  double seconds = atof(argv[6]), warmup = argc > 7 ? atof(argv[7]) : 2;
  if (rate <= 0 || count <= 0 || seconds <= 0 || warmup < 0) {
    fprintf(stderr, "openloop: RATE, CONNECTIONS and SECONDS must be positive\n");
    return 64;
  }
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) {
    fprintf(stderr, "openloop: HOST must be an IPv4 address\n");
    return 64;
  }
  request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[3], argv[1], argv[2]);

  epoll_fd = epoll_create1(0);
  int timer = timerfd_create(CLOCK_MONOTONIC, 0);
  struct epoll_event te = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, timer, &te);

  connection *connections = calloc((size_t)count, sizeof *connections);
  size_t capacity = (size_t)(rate * seconds * 1.1) + 1024, recorded = 0;
  uint32_t *latencies = malloc(capacity * sizeof *latencies);
  if (!connections || !latencies) return 1;
  for (int i = 0; i < count; i++) open_connection(&connections[i]);

  uint64_t interval = (uint64_t)(1e9 * count / rate);
  uint64_t start = now_ns() + 10000000ull;
  uint64_t measured_from = start + (uint64_t)(warmup * 1e9);
  uint64_t stop = measured_from + (uint64_t)(seconds * 1e9);
  uint64_t give_up = stop + 2000000000ull;
  for (int i = 0; i < count; i++) connections[i].next_due = start + interval * (uint64_t)i / (uint64_t)count;
  long errors = 0, non2xx = 0, late_sends = 0;
  uint64_t armed = 0;

  for (;;) {
    uint64_t t = now_ns();
    int waiting = 0;
    uint64_t earliest = give_up;
    for (int i = 0; i < count; i++) {
      connection *c = &connections[i];
      if (!c->in_flight && c->next_due <= t && c->next_due < stop) {
        if (t - c->next_due > 1000000ull) late_sends++;
        if (write(c->fd, request, request_len) != (ssize_t)request_len) {
          errors++;
          reconnect(c);
          continue;
        }
        c->in_flight = c->next_due;
        c->next_due += interval;
      }
      if (c->in_flight) waiting++;
      else if (c->next_due < stop && c->next_due < earliest) earliest = c->next_due;
    }
    if (t >= give_up || (t >= stop && !waiting)) break;
    if (earliest != armed) { // one syscall less per request while the next due time stays the same
      struct itimerspec when = {.it_value = {.tv_sec = (time_t)(earliest / 1000000000ull), .tv_nsec = (long)(earliest % 1000000000ull)}};
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL);
      armed = earliest;
    }
    struct epoll_event events[256];
    int n = epoll_wait(epoll_fd, events, 256, -1);
    for (int e = 0; e < n; e++) {
      connection *c = events[e].data.ptr;
      if (!c) {
        uint64_t expirations;
        if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) perror("openloop: timer");
        armed = 0;
        continue;
      }
      ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
      if (got <= 0) {
        errors++;
        reconnect(c);
        continue;
      }
      c->len += (size_t)got;
      int status = 0;
      size_t answer = complete_answer(c->buf, c->len, &status);
      if (!answer) {
        if (c->len == sizeof c->buf) { fprintf(stderr, "openloop: answer larger than 64 KiB\n"); return 1; }
        continue;
      }
      uint64_t done = now_ns();
      if (status < 200 || status > 299) non2xx++;
      if (c->in_flight >= measured_from && recorded < capacity) latencies[recorded++] = (uint32_t)((done - c->in_flight) / 1000);
      c->in_flight = 0;
      memmove(c->buf, c->buf + answer, c->len - answer);
      c->len -= answer;
    }
  }

  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  long unanswered = 0;
  for (int i = 0; i < count; i++) if (connections[i].in_flight) unanswered++;
  qsort(latencies, recorded, sizeof *latencies, compare);
  printf("open loop: %.0f req/s offered over %d connections for %.0f s (after %.0f s warm-up)\n", rate, count, seconds, warmup);
  printf("  answered %zu (%.0f req/s), non-2xx %ld, socket errors %ld, unanswered %ld, sent >1 ms late %ld; this generator used %.0f %% of a core\n",
         recorded, recorded / seconds, non2xx, errors, unanswered, late_sends, 100 * cpu / ((double)(now_ns() - start) / 1e9));
  if (recorded) {
    double ms[] = {50, 90, 99, 99.9};
    printf("  latency from when each request fell due:");
    for (int i = 0; i < 4; i++) printf("  p%g %.2f ms", ms[i], latencies[(size_t)(ms[i] / 100 * (double)(recorded - 1))] / 1000.0);
    printf("  max %.2f ms\n", latencies[recorded - 1] / 1000.0);
  }
  return 0;
}
