import RPCTesting

extension StateBench {
    /// One client count's rate as a `--jsonl` figure (issue 5 sets no target).
    static func figure(clients: Int, rate: Double, baseline: Double) -> BenchFigure {
        BenchFigure(
            "state save_run+load_run, \(clients) client\(clients == 1 ? "" : "s")", rate, unit: "round trips/s",
            baseline: (baseline, "plain SQLite, 1 tx per save"))
    }
}
