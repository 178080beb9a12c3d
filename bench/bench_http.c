/* bench_http: /metrics requests per second and latency over keep-alive
 * connections (a small stand-in for wrk, which is not installed).
 *
 *   bench_http PORT PATH SECONDS [CONNECTIONS]
 *
 * Each connection (a thread) sends GET PATH on 127.0.0.1:PORT, reads the
 * headers and Content-Length bytes of body, and repeats. Prints
 * `requests_per_s`, `p50_ms`, `p99_ms`, `errors`. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CONNECTIONS_MAX 16
#define BENCH_SAMPLES_MAX 2000000
#define BENCH_BUFFER 65536
#define BENCH_NS_PER_SEC 1e9
#define BENCH_STATUS_OK "HTTP/1.1 200"

typedef struct {
    int port;
    const char *path;
    double end;
    double *latency; /* seconds, this connection's samples */
    size_t count;
    size_t errors;
} s_connection_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / BENCH_NS_PER_SEC;
}

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request/response; returns 0 or -1 (then reconnect). */
static int s_request(int fd, const char *request, size_t request_size,
                     char *buffer)
{
    if (write(fd, request, request_size) != (ssize_t)request_size)
        return -1;
    size_t have = 0;
    char *body = NULL;
    long length = -1;
    while (!body) {
        ssize_t got = read(fd, buffer + have, BENCH_BUFFER - 1 - have);
        if (got <= 0)
            return -1;
        have += (size_t)got;
        buffer[have] = 0;
        char *end = strstr(buffer, "\r\n\r\n");
        if (end) {
            body = end + 4;
            char *field = strcasestr(buffer, "content-length:");
            if (!field || field > end)
                return -1;
            length = atol(field + strlen("content-length:"));
        } else if (have >= BENCH_BUFFER - 1)
            return -1;
    }
    if (strncmp(buffer, BENCH_STATUS_OK, strlen(BENCH_STATUS_OK)) != 0)
        return -1;
    long rest = length - (long)(buffer + have - body);
    while (rest > 0) {
        ssize_t got =
            read(fd, buffer, rest < BENCH_BUFFER ? (size_t)rest : BENCH_BUFFER);
        if (got <= 0)
            return -1;
        rest -= got;
    }
    return 0;
}

static void *s_run(void *arg)
{
    s_connection_t *self = arg;
    char request[256];
    int size = snprintf(request, sizeof request,
                        "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Connection: keep-alive\r\n\r\n",
                        self->path);
    char *buffer = malloc(BENCH_BUFFER);
    int fd = s_connect(self->port);
    while (s_now() < self->end && self->count < BENCH_SAMPLES_MAX) {
        if (fd < 0) {
            self->errors++;
            fd = s_connect(self->port);
            continue;
        }
        double start = s_now();
        if (s_request(fd, request, (size_t)size, buffer) != 0) {
            self->errors++;
            close(fd);
            fd = -1;
            continue;
        }
        self->latency[self->count++] = s_now() - start;
    }
    if (fd >= 0)
        close(fd);
    free(buffer);
    return NULL;
}

static int s_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_http PORT PATH SECONDS [CONNECTIONS]\n");
        return 2;
    }
    int connections = argc > 4 ? atoi(argv[4]) : 1;
    if (connections < 1 || connections > BENCH_CONNECTIONS_MAX)
        return 2;
    double seconds = atof(argv[3]);
    s_connection_t threads_state[BENCH_CONNECTIONS_MAX];
    pthread_t threads[BENCH_CONNECTIONS_MAX];
    double start = s_now();
    for (int k = 0; k < connections; k++) {
        threads_state[k] = (s_connection_t){
            .port = atoi(argv[1]),
            .path = argv[2],
            .end = start + seconds,
            .latency = malloc(BENCH_SAMPLES_MAX * sizeof(double))};
        pthread_create(&threads[k], NULL, s_run, &threads_state[k]);
    }
    size_t total = 0, errors = 0;
    for (int k = 0; k < connections; k++) {
        pthread_join(threads[k], NULL);
        total += threads_state[k].count;
        errors += threads_state[k].errors;
    }
    double elapsed = s_now() - start;
    double *all = malloc((total + 1) * sizeof *all);
    size_t at = 0;
    for (int k = 0; k < connections; k++) {
        memcpy(all + at, threads_state[k].latency,
               threads_state[k].count * sizeof *all);
        at += threads_state[k].count;
        free(threads_state[k].latency);
    }
    qsort(all, total, sizeof *all, s_compare);
    printf("requests_per_s %.0f\n", (double)total / elapsed);
    if (total > 0)
        printf("p50_ms %.3f\np99_ms %.3f\n", all[total / 2] * 1e3,
               all[(size_t)((double)total * 0.99)] * 1e3);
    printf("errors %zu\n", errors);
    free(all);
    return 0;
}
