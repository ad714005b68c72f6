#ifndef CPINGPONG_H
#define CPINGPONG_H

#include <stddef.h>
#include <stdint.h>

/// The baseline for rpc-bench: the least a line ping-pong over a Unix socket
/// can cost on this machine, and the blocking client that drives every server
/// in the benchmark (C, Python and the RPC core) the same way.

/// Serves on `path` forever: one blocking thread per connection writes back
/// every complete line it reads. Returns only on a setup error (-1, errno set).
int cpp_echo_server_run(const char *path);

/// What one run of the blocking client measured.
typedef struct {
    /// Wall time from the moment every connection may start to the last answer, in ns.
    int64_t elapsed_ns;
    /// Round trips completed (connections × per_connection when ok).
    int64_t completed;
    /// 0, or the errno of the first failure.
    int error;
} cpp_run_result;

/// Connects `connections` times to `path`, then on one thread per connection
/// sends `line` (which must end in '\n') and waits for one whole response
/// line, `per_connection` times in a row.
///
/// - `latencies_ns` (room for connections × per_connection values, or NULL)
///   gets every round trip's time, connection by connection.
/// - `last_response` (room for `response_capacity` bytes, or NULL) gets the
///   last response of connection 0, NUL-terminated and cut to fit.
cpp_run_result cpp_run_clients(const char *path, const char *line, size_t length,
                               int connections, int64_t per_connection,
                               int64_t *latencies_ns,
                               char *last_response, size_t response_capacity);

/// The most requests `cpp_run_pipelined` keeps in flight.
#define CPP_MAX_WINDOW 4096

/// Connects once to `path` and keeps `window` requests in flight on that one
/// connection (a new line is written as each answer line arrives) until `total`
/// answers have come back: what a server can do for a client that pipelines.
/// `latencies_ns` (room for `total` values, or NULL) gets each request's time
/// from its write to its answer.
cpp_run_result cpp_run_pipelined(const char *path, const char *line, size_t length,
                                 int window, int64_t total, int64_t *latencies_ns);

/// Makes the calling process receive SIGKILL when its parent exits, so a
/// benchmark that is interrupted leaves no server behind. (prctl is variadic
/// and cannot be called from Swift.) Returns 0, or -1 if the parent is gone.
int cpp_exit_with_parent(void);

#endif
