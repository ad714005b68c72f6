import Foundation

/// Every bound the stack launcher and its supervisor keep, with the reason
/// for each number.
public enum StackLimits {
    /// How long a service may take to stop after SIGTERM before it gets SIGKILL.
    /// Services drain calls in flight for up to 10 s by default
    /// (`--drain-timeout-ms`); 15 s leaves room to close files and sockets after that.
    public static let stopGracePeriod: Duration = .seconds(15)

    /// How long to wait for the kernel to reap a process after SIGKILL. It is
    /// normally immediate; 5 s bounds a process stuck in uninterruptible I/O.
    public static let killWait: Duration = .seconds(5)

    /// How often a child's exit is checked (`waitpid(WNOHANG)`): a crash is
    /// noticed within 50 ms, at the cost of 20 cheap system calls a second per service.
    public static let exitPollInterval: Duration = .milliseconds(50)

    /// How often `health.check` is polled while a service starts: start-up
    /// is reported within 50 ms of the socket answering.
    public static let startPollInterval: Duration = .milliseconds(50)

    /// A `health.check` is answered on the event loop in microseconds; a service
    /// that takes a whole second is stuck, not slow.
    public static let healthCallTimeout: Duration = .seconds(1)

    /// A service that stayed SERVING this long has recovered: its next crash
    /// starts the backoff from the initial pause again.
    public static let backoffResetAfter: Duration = .seconds(30)

    /// The shortest restart pause, whatever compose/stack.json says: a zero
    /// pause would turn a crash loop into a busy loop.
    public static let minimumBackoff: Duration = .milliseconds(10)

    /// How long the supervisor may take to bind `run/stack.sock` after
    /// `hitl stack up` spawned it (it provisions tokens and reads the stack first).
    public static let supervisorStartTimeout: Duration = .seconds(15)

    /// `hitl stack up` waits for the sum of the services' start timeouts plus
    /// this, for the supervisor's own start and the gaps between services.
    public static let upMargin: Duration = .seconds(10)

    /// `hitl stack down` waits for each service's stop bound plus this.
    public static let downMargin: Duration = .seconds(10)

    /// How often `hitl stack up`/`down`/`restart` poll the supervisor.
    public static let clientPollInterval: Duration = .milliseconds(100)

    /// How many log lines an error report quotes: enough for a stack trace's
    /// head, short enough to read in a terminal.
    public static let reportedLogLines = 20

    /// The most of a log file read from its end to find the last lines, so a
    /// huge log never gets loaded whole.
    public static let maximumTailBytes = 1 << 20

    /// How often `hitl stack logs -f` looks for new output.
    public static let followPollInterval: Duration = .milliseconds(200)

    /// How many lines `hitl stack logs -n` may ask for.
    public static let maximumLogLines = 100_000
}

extension Duration {
    /// Whole milliseconds, for the wire and for logs.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
