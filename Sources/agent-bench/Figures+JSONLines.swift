import RPCTesting

extension Figures {
    /// The scenario as `--jsonl` figures. The baselines (LangGraph, the OpenAI
    /// Agents SDK) run outside this program: `scripts/bench --peers` adds them.
    func figures(_ name: String) -> [BenchFigure] {
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
        }
        return [
            BenchFigure("agent approval cycles, \(name)", Double(cycles) / seconds, unit: "cycles/s"),
            BenchFigure("agent pause p50, \(name)", percentile(pauses, 0.5), unit: "ms"),
            BenchFigure("agent resume p50, \(name)", percentile(resumes, 0.5), unit: "ms"),
            BenchFigure("agent resume p99, \(name)", percentile(resumes, 0.99), unit: "ms"),
            BenchFigure("agent CPU per cycle (all processes), \(name)", cpuPerCycle, unit: "ms"),
            BenchFigure("agent RPC exchanges per cycle, \(name)", exchangesPerCycle, unit: "exchanges"),
            BenchFigure("agent durable writes per cycle, \(name)", durableWritesPerCycle, unit: "writes"),
        ]
    }
}
