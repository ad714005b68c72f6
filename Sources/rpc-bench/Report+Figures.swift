import RPCTesting

extension Report {
    /// The rows that answer a target (p50 against C and Python) and the 64-connection
    /// throughput, as `--jsonl` figures (the table keeps every row).
    var figures: [BenchFigure] {
        rows.compactMap { row in
            guard let baselineValue = row.baselineValue, let baseline = row.baseline else { return nil }
            guard row.target != nil || row.metric == .requestsPerSecond && row.name.contains("conns RPCClient") else { return nil }
            let unit = switch row.metric {
            case .requestsPerSecond: "req/s"
            case .instructions: "instructions"
            default: "µs"
            }
            return BenchFigure(
                "rpc \(row.name)", row.value, unit: unit, baseline: (baselineValue, baseline),
                target: row.target.map { ($0.rawValue, row.met ?? false) })
        }
    }
}
