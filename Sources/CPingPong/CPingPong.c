#define _GNU_SOURCE
#include "CPingPong.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/// The longest line either side handles: far above the benchmark's ~300-byte lines.
#define CPP_BUFFER_BYTES (256 * 1024)
/// Connections the client opens at most: the benchmark uses 64.
#define CPP_MAX_CONNECTIONS 1024

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int fill_address(struct sockaddr_un *address, const char *path) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length >= sizeof(address->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address->sun_path, path, length + 1);
    return 0;
}

static int write_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t written = send(fd, bytes, length, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        bytes += written;
        length -= (size_t)written;
    }
    return 0;
}

// MARK: - Server

static void *serve_connection(void *argument) {
    int fd = (int)(intptr_t)argument;
    char *buffer = malloc(CPP_BUFFER_BYTES);
    size_t held = 0;
    while (buffer != NULL) {
        ssize_t got = read(fd, buffer + held, CPP_BUFFER_BYTES - held);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        held += (size_t)got;
        // Write back every complete line; keep a partial one for the next read.
        char *end = memrchr(buffer, '\n', held);
        if (end == NULL) {
            if (held == CPP_BUFFER_BYTES) break;  // a line over the limit: give up on this peer
            continue;
        }
        size_t complete = (size_t)(end - buffer) + 1;
        if (write_all(fd, buffer, complete) != 0) break;
        memmove(buffer, buffer + complete, held - complete);
        held -= complete;
    }
    free(buffer);
    close(fd);
    return NULL;
}

int cpp_echo_server_run(const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) return -1;
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return -1;
    unlink(path);
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 256) != 0) {
        int saved = errno;
        close(listener);
        errno = saved;
        return -1;
    }
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return -1;
        }
        pthread_t thread;
        if (pthread_create(&thread, NULL, serve_connection, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(thread);
    }
}

// MARK: - Blocking client

/// Holds every client thread until all are connected and started, so the
/// timed part measures the connections running together.
struct start_gate {
    pthread_mutex_t lock;
    pthread_cond_t opened;
    int open;        // 1: go; -1: stop without sending
};

static int gate_wait(struct start_gate *gate) {
    pthread_mutex_lock(&gate->lock);
    while (gate->open == 0) pthread_cond_wait(&gate->opened, &gate->lock);
    int open = gate->open;
    pthread_mutex_unlock(&gate->lock);
    return open;
}

static void gate_set(struct start_gate *gate, int open) {
    pthread_mutex_lock(&gate->lock);
    gate->open = open;
    pthread_cond_broadcast(&gate->opened);
    pthread_mutex_unlock(&gate->lock);
}

typedef struct {
    int fd;
    const char *line;
    size_t length;
    int64_t count;
    int64_t *latencies;      // `count` slots, or NULL
    char *last_response;     // or NULL
    size_t response_capacity;
    struct start_gate *gate;
    int64_t completed;
    int error;
} client_job;

/// Reads until a '\n' arrives; returns the line's length with the '\n', or -1.
static ssize_t read_line(int fd, char *buffer, size_t capacity) {
    size_t held = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + held, capacity - held);
        if (got < 0 && errno == EINTR) continue;
        if (got == 0) errno = ECONNRESET;
        if (got <= 0) return -1;
        char *newline = memchr(buffer + held, '\n', (size_t)got);
        held += (size_t)got;
        if (newline != NULL) return newline - buffer + 1;
        if (held == capacity) {
            errno = EMSGSIZE;
            return -1;
        }
    }
}

static void *run_client(void *argument) {
    client_job *job = argument;
    char *buffer = malloc(CPP_BUFFER_BYTES);
    if (gate_wait(job->gate) < 0) {
        free(buffer);
        return NULL;
    }
    if (buffer == NULL) {
        job->error = ENOMEM;
        return NULL;
    }
    ssize_t answer = 0;
    for (int64_t i = 0; i < job->count; i++) {
        int64_t began = now_ns();
        if (write_all(job->fd, job->line, job->length) != 0 || (answer = read_line(job->fd, buffer, CPP_BUFFER_BYTES)) < 0) {
            job->error = errno;
            break;
        }
        if (job->latencies != NULL) job->latencies[i] = now_ns() - began;
        job->completed++;
    }
    if (job->last_response != NULL && job->response_capacity > 0 && job->completed > 0) {
        size_t keep = (size_t)answer < job->response_capacity - 1 ? (size_t)answer : job->response_capacity - 1;
        memcpy(job->last_response, buffer, keep);
        job->last_response[keep] = 0;
    }
    free(buffer);
    return NULL;
}

cpp_run_result cpp_run_clients(const char *path, const char *line, size_t length,
                               int connections, int64_t per_connection,
                               int64_t *latencies_ns,
                               char *last_response, size_t response_capacity) {
    cpp_run_result result = {0, 0, 0};
    struct sockaddr_un address;
    if (connections < 1 || connections > CPP_MAX_CONNECTIONS || per_connection < 0 || length == 0 || line[length - 1] != '\n') {
        result.error = EINVAL;
        return result;
    }
    if (fill_address(&address, path) != 0) {
        result.error = errno;
        return result;
    }
    client_job *jobs = calloc((size_t)connections, sizeof(client_job));
    pthread_t *threads = calloc((size_t)connections, sizeof(pthread_t));
    if (jobs == NULL || threads == NULL) {
        free(jobs);
        free(threads);
        result.error = ENOMEM;
        return result;
    }
    int opened = 0;
    for (; opened < connections; opened++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
            result.error = errno;
            if (fd >= 0) close(fd);
            break;
        }
        jobs[opened].fd = fd;
    }
    if (result.error == 0) {
        struct start_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        int started = 0;
        for (; started < connections; started++) {
            client_job *job = &jobs[started];
            job->line = line;
            job->length = length;
            job->count = per_connection;
            job->latencies = latencies_ns == NULL ? NULL : latencies_ns + (int64_t)started * per_connection;
            job->last_response = started == 0 ? last_response : NULL;
            job->response_capacity = started == 0 ? response_capacity : 0;
            job->gate = &gate;
            if (pthread_create(&threads[started], NULL, run_client, job) != 0) {
                result.error = EAGAIN;
                break;
            }
        }
        int64_t began = now_ns();
        gate_set(&gate, result.error == 0 ? 1 : -1);
        for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
        result.elapsed_ns = now_ns() - began;
        for (int i = 0; i < connections; i++) {
            result.completed += jobs[i].completed;
            if (result.error == 0) result.error = jobs[i].error;
        }
    }
    for (int i = 0; i < opened; i++) close(jobs[i].fd);
    free(jobs);
    free(threads);
    return result;
}

// MARK: - Pipelined client

cpp_run_result cpp_run_pipelined(const char *path, const char *line, size_t length,
                                 int window, int64_t total, int64_t *latencies_ns) {
    cpp_run_result result = {0, 0, 0};
    struct sockaddr_un address;
    if (window < 1 || window > CPP_MAX_WINDOW || total < 1 || length == 0 || line[length - 1] != '\n') {
        result.error = EINVAL;
        return result;
    }
    if (fill_address(&address, path) != 0) {
        result.error = errno;
        return result;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        result.error = errno;
        if (fd >= 0) close(fd);
        return result;
    }
    char *buffer = malloc(CPP_BUFFER_BYTES);
    int64_t *sent_at = calloc((size_t)window, sizeof(int64_t));
    if (buffer == NULL || sent_at == NULL) {
        free(buffer);
        free(sent_at);
        close(fd);
        result.error = ENOMEM;
        return result;
    }
    // Answers come back in order (one server thread per connection), so request i's
    // answer is the i-th line read; its send time waits in slot i % window.
    int64_t began = now_ns();
    int64_t sent = 0;
    size_t held = 0;
    while (result.completed < total) {
        while (sent < total && sent - result.completed < window) {
            sent_at[sent % window] = now_ns();
            if (write_all(fd, line, length) != 0) {
                result.error = errno;
                goto done;
            }
            sent++;
        }
        ssize_t got = read(fd, buffer + held, CPP_BUFFER_BYTES - held);
        if (got <= 0) {
            result.error = got == 0 ? ECONNRESET : errno;
            goto done;
        }
        held += (size_t)got;
        int64_t now = now_ns();
        char *start = buffer;
        char *newline;
        while ((newline = memchr(start, '\n', held - (size_t)(start - buffer))) != NULL) {
            if (latencies_ns != NULL) latencies_ns[result.completed] = now - sent_at[result.completed % window];
            result.completed++;
            start = newline + 1;
        }
        held -= (size_t)(start - buffer);
        memmove(buffer, start, held);
        if (held == CPP_BUFFER_BYTES) {
            result.error = EMSGSIZE;
            goto done;
        }
    }
done:
    result.elapsed_ns = now_ns() - began;
    free(buffer);
    free(sent_at);
    close(fd);
    return result;
}

// MARK: - Process hygiene

int cpp_exit_with_parent(void) {
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
    return getppid() == parent ? 0 : -1;  // the parent may have exited before prctl
}
