/// The pause before each automatic restart: `backoff_initial_ms` after the
/// first crash, doubling after each further crash up to `backoff_max_ms`, and
/// back to the initial pause once the service had stayed healthy for
/// ``StackLimits/backoffResetAfter``.
struct RestartBackoff: Sendable, Equatable {
    /// The first pause.
    let initial: Duration
    /// The longest pause.
    let maximum: Duration
    /// How long a service must stay healthy for its backoff to start over.
    let resetAfter: Duration
    /// The pause the next crash gets.
    private(set) var next: Duration

    /// - Parameters:
    ///   - initialMs: `restart.backoff_initial_ms` (at least ``StackLimits/minimumBackoff``).
    ///   - maximumMs: `restart.backoff_max_ms` (at least the initial pause).
    ///   - resetAfter: how long a service must stay healthy to start over.
    init(initialMs: Int64, maximumMs: Int64, resetAfter: Duration = StackLimits.backoffResetAfter) {
        let initial = max(Duration.milliseconds(initialMs), StackLimits.minimumBackoff)
        self.initial = initial
        self.maximum = max(Duration.milliseconds(maximumMs), initial)
        self.resetAfter = resetAfter
        self.next = initial
    }

    /// The pause before restarting after a crash; doubles the one after it.
    /// - Parameter healthyFor: how long the crashed process had been SERVING
    ///   (nil: it never was).
    mutating func delay(afterHealthyFor healthyFor: Duration?) -> Duration {
        if let healthyFor, healthyFor >= resetAfter { next = initial }
        let delay = next
        next = min(next * 2, maximum)
        assert(delay >= initial && delay <= maximum, "a restart pause outside [initial, maximum]")
        return delay
    }

    /// Starts over from the initial pause (after a manual restart).
    mutating func reset() { next = initial }
}
