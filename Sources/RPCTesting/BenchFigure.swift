import Foundation

/// One figure of a benchmark program, in the machine-readable form every
/// benchmark prints with `--jsonl` and `scripts/bench` reads: one JSON object per
/// line, `{"figure", "value", "unit", "baseline", "baseline_name", "ratio", "target", "met"}`.
public struct BenchFigure: Codable, Sendable {
    /// What was measured, e.g. `ledger.transfer, 64 clients`.
    public let figure: String
    /// The value, in `unit`.
    public let value: Double
    /// e.g. `transfers/s`, `µs`, `ms`.
    public let unit: String
    /// The baseline's value from the same run, in the same unit, when there is one.
    public let baseline: Double?
    /// What the baseline is, e.g. `libsqlite3, 1 tx per transfer`.
    public let baselineName: String?
    /// `value / baseline`.
    public let ratio: Double?
    /// The target from the issues, e.g. `≥ 30000/s` or `≤ 3× C`; nil when there is none.
    public let target: String?
    /// Whether the target is met; nil without a target.
    public let met: Bool?

    enum CodingKeys: String, CodingKey {
        case figure, value, unit, baseline, ratio, target, met
        case baselineName = "baseline_name"
    }

    /// - Parameters:
    ///   - figure: what was measured.
    ///   - value: the value.
    ///   - unit: its unit.
    ///   - baseline: the baseline's value and name, when there is one.
    ///   - target: the target's text and whether it is met, when there is one.
    public init(_ figure: String, _ value: Double, unit: String, baseline: (value: Double, name: String)? = nil, target: (text: String, met: Bool)? = nil) {
        self.figure = figure
        self.value = value
        self.unit = unit
        self.baseline = baseline?.value
        self.baselineName = baseline?.name
        self.ratio = baseline.flatMap { $0.value > 0 ? value / $0.value : nil }
        self.target = target?.text
        self.met = target?.met
    }

    /// The figure as one line of JSON (no newline).
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Prints each figure as one line of JSON on stdout.
    public static func print(_ figures: [BenchFigure]) {
        FileHandle.standardOutput.write(Data(figures.map { $0.jsonLine + "\n" }.joined().utf8))
    }
}
