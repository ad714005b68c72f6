import Foundation

/// What a figure is measured in.
enum Metric: String, Codable, Sendable {
    case p50, p99
    case requestsPerSecond = "req/s"
    case serverCPU = "server CPU/req"
    case clientCPU = "client CPU/req"
    /// Instructions per round trip (callgrind), not read from a series.
    case instructions = "instructions/req"

    func value(of series: Series) -> Double {
        switch self {
        case .instructions: 0
        case .p50: series.p50Microseconds
        case .p99: series.p99Microseconds
        case .requestsPerSecond: series.requestsPerSecond
        case .serverCPU: series.serverCPUMicroseconds
        case .clientCPU: series.clientCPUMicroseconds
        }
    }

    func format(_ value: Double) -> String {
        switch self {
        case .p50, .p99, .serverCPU, .clientCPU: String(format: "%.1f µs", value)
        case .requestsPerSecond: Self.grouped(Int(value.rounded())) + "/s"
        case .instructions: Self.grouped(Int(value.rounded()))
        }
    }

    private static func grouped(_ number: Int) -> String {
        let digits = Array(String(number))
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return text
    }
}

/// A target from the issue, checked against a ratio.
enum Target: String, Codable, Sendable {
    /// The RPC core's p50 is at most 3× the C ping-pong's.
    case withinThreeTimesC = "≤ 3× C"
    /// The RPC core's p50 is below the Python server's.
    case aheadOfPython = "< 1× Python"
    /// Client and server together run at most 4× the instructions of the C pair.
    case withinFourTimesCInstructions = "≤ 4× C"
    /// Many callers on one RPCClient reach half the pipelined C client's throughput.
    case halfOfCPipelined = "≥ 0.5× C"

    func isMet(ratio: Double) -> Bool {
        switch self {
        case .withinThreeTimesC: ratio <= 3
        case .aheadOfPython: ratio < 1
        case .withinFourTimesCInstructions: ratio <= 4
        case .halfOfCPipelined: ratio >= 0.5
        }
    }
}

/// One line of the report: a figure, its baseline from the same run, the ratio
/// `value / baseline`, and the target it answers to, if any.
struct Row: Codable, Sendable {
    let name: String
    let metric: Metric
    let value: Double
    let baseline: String?
    let baselineValue: Double?
    let ratio: Double?
    let target: Target?
    let met: Bool?
}

/// Everything one run measured.
struct Report: Codable, Sendable {
    let rpcServer: String
    let python: String?
    let cores: Int
    /// The 1-minute load average when the run started.
    let loadAverage: Double?
    let requestsPerSeries: Int
    let connections: Int
    let series: [Series]
    /// Instructions per round trip, when callgrind counted them.
    let instructions: InstructionFigures?
    let rows: [Row]
    let notes: [String]

    init(
        rpcServer: String, python: String?, loadAverage: Double?, requestsPerSeries: Int, connections: Int,
        series: [Series], instructions: InstructionFigures?, notes: [String]
    ) {
        self.rpcServer = rpcServer
        self.python = python
        self.loadAverage = loadAverage
        cores = ProcessInfo.processInfo.activeProcessorCount
        self.requestsPerSeries = requestsPerSeries
        self.connections = connections
        self.series = series
        self.notes = notes
        self.instructions = instructions
        rows = Self.rows(series) + (instructions.map(Self.rows) ?? [])
    }

    /// For each method: client and server together against the C pair (the target),
    /// then each side against its C counterpart, then the C pair itself.
    private static func rows(_ figures: InstructionFigures) -> [Row] {
        var rows: [Row] = []
        var methods: [String] = []
        for pair in figures.pairs where !methods.contains(pair.method) { methods.append(pair.method) }
        for method in methods {
            let pairs = figures.pairs.filter { $0.method == method }
            guard let c = pairs.first(where: { $0.pair == "C" }) else { continue }
            func row(_ name: String, _ value: Double, _ baseline: Double, _ baselineName: String, _ target: Target?) -> Row {
                let ratio = baseline > 0 ? value / baseline : nil
                return Row(
                    name: "\(method) \(name) \(Metric.instructions.rawValue)", metric: .instructions, value: value, baseline: baselineName,
                    baselineValue: baseline, ratio: ratio, target: target,
                    met: ratio.flatMap { ratio in target.map { $0.isMet(ratio: ratio) } })
            }
            let core = pairs.filter { $0.pair != "C" && !$0.isFloor }
            for pair in core {
                rows.append(row("\(pair.pair) client+server", pair.total, c.total, "C pair", .withinFourTimesCInstructions))
            }
            let floorServer = pairs.first { $0.pair == InstructionFigures.Pair.floorServer }?.server
            let floorClient = pairs.first { $0.pair == InstructionFigures.Pair.floorClient }?.client
            for pair in core {
                rows.append(row("\(pair.pair) server", pair.server, c.server, "C server", nil))
                if let floorServer { rows.append(row("\(pair.pair) server", pair.server, floorServer, "NIO floor server", nil)) }
                if pair.pair == "RPCClient→RPC" {
                    rows.append(row("RPCClient client", pair.client, c.client, "C client", nil))
                    if let floorClient { rows.append(row("RPCClient client", pair.client, floorClient, "NIO floor client", nil)) }
                }
            }
            // The floor itself: SwiftNIO moving the same lines with no JSON, against C.
            if let floorServer { rows.append(row("NIO floor server (no JSON)", floorServer, c.server, "C server", nil)) }
            if let floorClient { rows.append(row("NIO floor client (no JSON)", floorClient, c.client, "C client", nil)) }
            if let floorServer, let floorClient {
                rows.append(row("NIO floor client+server", floorServer + floorClient, c.total, "C pair", .withinFourTimesCInstructions))
            }
            rows.append(Row(
                name: "\(method) C pair client+server \(Metric.instructions.rawValue)", metric: .instructions, value: c.total, baseline: nil,
                baselineValue: nil, ratio: nil, target: nil, met: nil))
        }
        return rows
    }

    /// The rows: for each method, the RPC core's figures against the C
    /// ping-pong (and, for p50 and throughput, against Python), then the
    /// baselines themselves.
    private static func rows(_ series: [Series]) -> [Row] {
        var rows: [Row] = []
        var methods: [String] = []
        for item in series where !methods.contains(item.method) { methods.append(item.method) }
        for method in methods {
            let ofMethod = series.filter { $0.method == method }
            for connections in Set(ofMethod.map(\.connections)).sorted() {
                let group = ofMethod.filter { $0.connections == connections }
                let find = { (server: ServerKind, client: ClientKind) in group.first { $0.server == server && $0.client == client } }
                let c = find(.c, .blocking)
                let python = find(.python, .blocking)
                let metrics: [Metric] = connections == 1 ? [.p50, .p99, .requestsPerSecond] : [.requestsPerSecond]
                let place = connections == 1 ? "1 conn" : "\(connections) conns"
                for client in [ClientKind.rpcClient, .blocking] {
                    guard let rpc = find(.rpc, client) else { continue }
                    let who = "\(method) \(place) \(client == .rpcClient ? "RPCClient" : "blocking→RPC")"
                    for metric in metrics {
                        let isP50 = metric == .p50
                        rows.append(row("\(who) \(metric.rawValue)", metric, rpc, against: c, isP50 ? .withinThreeTimesC : nil))
                        if isP50 || metric == .requestsPerSecond, let python {
                            rows.append(row("\(who) \(metric.rawValue)", metric, rpc, against: python, isP50 ? .aheadOfPython : nil))
                        }
                    }
                }
                if let blocking = find(.rpc, .blocking) {
                    let who = "\(method) \(place) RPC core"
                    rows.append(row("\(who) \(Metric.serverCPU.rawValue)", .serverCPU, blocking, against: c, nil))
                    if let python { rows.append(row("\(who) \(Metric.serverCPU.rawValue)", .serverCPU, blocking, against: python, nil)) }
                    if let client = find(.rpc, .rpcClient) {
                        rows.append(row(
                            "\(method) \(place) RPCClient \(Metric.clientCPU.rawValue)", .clientCPU, client, against: blocking, nil,
                            baselineName: "blocking"))
                    }
                }
                if let shared = find(.rpc, .sharedRPCClient) {
                    let pipelined = find(.c, .pipelined)
                    let who = "\(method) \(connections) callers one RPCClient"
                    rows.append(row("\(who) req/s", .requestsPerSecond, shared, against: pipelined, .halfOfCPipelined, baselineName: "C pipelined"))
                    rows.append(row("\(who) p50", .p50, shared, against: pipelined, nil, baselineName: "C pipelined"))
                    rows.append(row("\(who) server CPU/req", .serverCPU, shared, against: pipelined, nil, baselineName: "C pipelined"))
                }
                if let shared = find(.rpc, .sharedRPCClient), let floor = find(.nioFloor, .pipelined) {
                    rows.append(row(
                        "\(method) \(connections) callers one RPCClient req/s", .requestsPerSecond, shared, against: floor, nil,
                        baselineName: "NIO floor pipelined"))
                }
                for server in [ServerKind.c, .nioFloor] {
                    guard let pipelined = find(server, .pipelined) else { continue }
                    for metric in [Metric.requestsPerSecond, .p50, .serverCPU] {
                        rows.append(row(
                            "\(method) \(connections) in flight \(server.label), C pipelined \(metric.rawValue)", metric, pipelined,
                            against: nil, nil))
                    }
                }
                for baseline in [c, find(.nioFloor, .blocking), python].compactMap({ $0 }) {
                    for metric in metrics + [.serverCPU] {
                        rows.append(row("\(method) \(place) \(baseline.server.label) \(metric.rawValue)", metric, baseline, against: nil, nil))
                    }
                }
            }
        }
        return rows
    }

    private static func row(
        _ name: String, _ metric: Metric, _ series: Series, against baseline: Series?, _ target: Target?, baselineName: String? = nil
    ) -> Row {
        let value = metric.value(of: series)
        let baselineValue = baseline.map(metric.value(of:))
        let ratio = baselineValue.map { value / $0 }
        return Row(
            name: name, metric: metric, value: value, baseline: baseline.map { baselineName ?? $0.server.label },
            baselineValue: baselineValue,
            ratio: ratio, target: target, met: ratio.flatMap { ratio in target.map { $0.isMet(ratio: ratio) } })
    }

    /// The table for people.
    var table: String {
        var lines: [String] = []
        let load = loadAverage.map { String(format: "%.2f", $0) } ?? "unknown"
        lines.append("rpc-bench: \(cores) cores, load average \(load) at start; RPC server: \(rpcServer)")
        lines.append("python: \(python ?? "skipped")")
        lines.append("\(requestsPerSeries) round trips per series (1 conn: all on one; \(connections) conns: split evenly); ratio = value / baseline")
        lines.append("")
        let header = ["figure", "value", "baseline", "ratio", "target"]
        let cells = rows.map { row -> [String] in
            [
                row.name,
                row.metric.format(row.value),
                row.baseline.map { "\($0) \(row.metric.format(row.baselineValue ?? 0))" } ?? "—",
                row.ratio.map { String(format: "%.2f×", $0) } ?? "—",
                row.target.map { "\($0.rawValue) \(row.met == true ? "met" : "MISSED")" } ?? "",
            ]
        }
        let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        let render = { (cells: [String]) -> String in
            cells.enumerated().map { column, text in
                let pad = String(repeating: " ", count: widths[column] - text.count)
                return column == 0 || column == cells.count - 1 ? text + pad : pad + text
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        lines.append(render(header))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        var lastMethod = rows.first.map { $0.name.prefix { $0 != " " } }
        for (row, line) in zip(rows, cells) {
            let method = row.name.prefix { $0 != " " }
            if method != lastMethod { lines.append("") }
            lastMethod = method
            lines.append(render(line))
        }
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    /// The report as JSON, for scripts.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
