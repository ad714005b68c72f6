import RPCTesting

extension Report {
    /// The rows that compare the RPC core with a baseline, as `--jsonl` figures.
    var figures: [BenchFigure] {
        rows.compactMap { row in
            guard let baselineValue = row.baselineValue, let baseline = row.baseline else { return nil }
            let unit = row.metric == .requestsPerSecond ? "req/s" : "µs"
            return BenchFigure(
                "rpc \(row.name)", row.value, unit: unit, baseline: (baselineValue, baseline),
                target: row.target.map { ($0.rawValue, row.met ?? false) })
        }
    }
}
