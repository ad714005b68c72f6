import Foundation

/// Gathers the responses of one batch and writes them as one array, in order.
/// Confined to the connection's event loop. The answer is bounded: once it would pass
/// ``RPCLimits/maximumBatchResponseBytes``, further results are replaced by a
/// RESOURCE_EXHAUSTED/RESPONSE_TOO_LARGE error (no client could read a longer line).
final class BatchCollector {
    private var slots: [Data?]
    private var remaining: Int
    private var bytes = 0
    private let ids: [RPCID]
    private let encoder: ResponseEncoder
    private let write: (Data) -> Void

    init(ids: [RPCID], encoder: ResponseEncoder, write: @escaping (Data) -> Void) {
        slots = Array(repeating: nil, count: ids.count)
        remaining = ids.count
        self.ids = ids
        self.encoder = encoder
        self.write = write
    }

    func complete(_ index: Int, _ answer: Data?) {
        var data = answer
        if let answer, bytes + answer.count > RPCLimits.maximumBatchResponseBytes {
            data = encoder.failure(id: ids[index], error: RPCError(
                .resourceExhausted, reason: "RESPONSE_TOO_LARGE",
                "this batch's answer would pass \(RPCLimits.maximumBatchResponseBytes) bytes, more than a client reads in one line; ask for this entry in another batch"))
        }
        bytes += data?.count ?? 0
        slots[index] = data
        remaining -= 1
        guard remaining == 0 else { return }
        let answers = slots.compactMap { $0 }
        guard !answers.isEmpty else { return }  // all notifications: nothing at all
        var line = Data("[".utf8)
        for (position, answer) in answers.enumerated() {
            if position > 0 { line.append(UInt8(ascii: ",")) }
            line.append(answer.dropLast())  // each answer ends with "\n"
        }
        line.append(contentsOf: Array("]\n".utf8))
        write(line)
    }
}
