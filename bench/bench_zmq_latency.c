/* bench_zmq_latency: the floor of feedback propagation, a bare libzmq
 * PUB -> SUB one-way latency between two processes on 127.0.0.1.
 *
 * The parent binds a PUB on a port the kernel picks, forks a SUB child, and
 * once the child receives (slow joiner) sends MESSAGES two-frame messages
 * whose second frame holds CLOCK_MONOTONIC (system-wide) at send time, one
 * every GAP_US so that no queue builds. The child prints p50 and p99 of
 * receive - send in microseconds.
 *
 * usage: bench_zmq_latency [MESSAGES GAP_US]: another count and gap, e.g.
 * 160 50000 for the scripted feedback row's cadence (every thread asleep
 * between two messages: the wake-ups it pays are in the floor too). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define BENCH_MESSAGES 10000
#define BENCH_GAP_US 200
#define BENCH_WARMUP_MS 10
#define BENCH_ENDPOINT_MAX 256
#define BENCH_TOPIC "mds.fb/bench/"
#define BENCH_PADDING 256 /* about the size of a feedback map */
#define BENCH_NS_PER_SEC 1000000000
#define BENCH_US_PER_MS 1000
#define BENCH_TOPIC_MAX 64
#define BENCH_RECEIVE_TIMEOUT_MS 5000

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * BENCH_NS_PER_SEC + ts.tv_nsec;
}

static int s_compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static long s_messages = BENCH_MESSAGES;
static long s_gap_us = BENCH_GAP_US;

static int s_child(const char *endpoint)
{
    void *context = zmq_ctx_new();
    void *sub = zmq_socket(context, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, BENCH_TOPIC, strlen(BENCH_TOPIC));
    zmq_connect(sub, endpoint);
    int64_t *latency = malloc((size_t)s_messages * sizeof *latency);
    size_t count = 0;
    char topic[BENCH_TOPIC_MAX];
    unsigned char body[BENCH_PADDING];
    int timeout_ms = BENCH_RECEIVE_TIMEOUT_MS;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    while (count < (size_t)s_messages) {
        if (zmq_recv(sub, topic, sizeof topic, 0) < 0)
            break;
        int size = zmq_recv(sub, body, sizeof body, 0);
        int64_t now = s_now_ns();
        int64_t sent;
        if (size < (int)sizeof sent)
            break;
        memcpy(&sent, body, sizeof sent);
        if (sent == 0)
            continue; /* warm-up message */
        latency[count++] = now - sent;
    }
    qsort(latency, count, sizeof *latency, s_compare);
    if (count > 0)
        printf("zmq_count %zu\nzmq_p50_us %.1f\nzmq_p99_us %.1f\n", count,
               latency[count / 2] / 1e3, latency[(size_t)(count * 0.99)] / 1e3);
    free(latency);
    zmq_close(sub);
    zmq_ctx_term(context);
    return count == (size_t)s_messages ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3) {
        s_messages = strtol(argv[1], NULL, 10);
        s_gap_us = strtol(argv[2], NULL, 10);
    }
    if (argc != 1 && (argc != 3 || s_messages <= 0 || s_gap_us < 0)) {
        fprintf(stderr, "usage: bench_zmq_latency [MESSAGES GAP_US]\n");
        return 2;
    }
    /* Fork before any libzmq context exists; the child learns the port
     * over a pipe. */
    int channel[2];
    if (pipe(channel) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        char endpoint[BENCH_ENDPOINT_MAX] = {0};
        close(channel[1]);
        ssize_t got = read(channel[0], endpoint, sizeof endpoint - 1);
        close(channel[0]);
        int rc = got > 0 ? s_child(endpoint) : 1;
        fflush(stdout);
        _exit(rc);
    }
    close(channel[0]);
    void *context = zmq_ctx_new();
    void *pub = zmq_socket(context, ZMQ_XPUB);
    if (zmq_bind(pub, "tcp://127.0.0.1:*") != 0) {
        perror("bench_zmq_latency: bind");
        return 1;
    }
    char endpoint[BENCH_ENDPOINT_MAX];
    size_t size = sizeof endpoint;
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, endpoint, &size);
    if (write(channel[1], endpoint, strlen(endpoint)) < 0)
        return 1;
    close(channel[1]);
    /* XPUB: wait for the subscription so nothing is lost to the slow
     * joiner, then send. */
    char subscription[64];
    if (zmq_recv(pub, subscription, sizeof subscription, 0) < 0)
        return 1;
    unsigned char body[BENCH_PADDING] = {0};
    for (int k = 0; k < BENCH_WARMUP_MS; k++) {
        zmq_send(pub, BENCH_TOPIC, strlen(BENCH_TOPIC), ZMQ_SNDMORE);
        zmq_send(pub, body, sizeof body, 0);
        usleep(BENCH_US_PER_MS); /* one warm-up message a millisecond */
    }
    for (long k = 0; k < s_messages; k++) {
        int64_t now = s_now_ns();
        memcpy(body, &now, sizeof now);
        zmq_send(pub, BENCH_TOPIC, strlen(BENCH_TOPIC), ZMQ_SNDMORE);
        zmq_send(pub, body, sizeof body, 0);
        usleep((useconds_t)s_gap_us);
    }
    int status = 1;
    waitpid(pid, &status, 0);
    zmq_close(pub);
    zmq_ctx_term(context);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
