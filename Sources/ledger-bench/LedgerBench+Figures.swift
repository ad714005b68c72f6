import RPCTesting

extension LedgerBench {
    /// Issue 3's target: durable transfers per second with 64 clients or batches.
    static let target = 30_000.0

    /// The rows as `--jsonl` figures, beside the naive baseline (a run whose books
    /// did not balance meets no target).
    static func figures(_ rows: [(String, Int, Sample)], naive: Double, balanced: Bool) -> [BenchFigure] {
        rows.map { name, count, sample in
            let rate = Double(count) / sample.seconds
            let targeted = name.hasPrefix("64 clients") || name.contains("batch")
            return BenchFigure(
                "ledger \(name)", rate, unit: "transfers/s", baseline: (naive, "libsqlite3, 1 tx per transfer"),
                target: targeted ? ("≥ 30000/s", balanced && rate >= target) : nil)
        }
    }

    /// The PostgreSQL rows as `--jsonl` figures, each beside pgbench with as many clients.
    static func figures(postgres measured: PostgresRows) -> [BenchFigure] {
        measured.rows.map { name, count, sample, _, tps in
            BenchFigure(
                "ledger on PostgreSQL, \(name)", Double(count) / sample.seconds, unit: "transfers/s",
                baseline: (tps, "pgbench simple-update, same clients, same cluster"))
        }
    }
}

/// What `--postgres` measured: per scenario, its name, transfers, sample, the database server's CPU seconds and pgbench's tps.
struct PostgresRows {
    let rows: [(String, Int, Sample, Double, Double)]
    let balanced: Bool
    let entries: Int64
}
