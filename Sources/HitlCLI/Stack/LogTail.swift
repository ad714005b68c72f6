import Foundation

/// Reading the end of a log file, and following it as it grows.
enum LogTail {
    /// The last `count` lines of a file, reading at most
    /// ``StackLimits/maximumTailBytes`` from its end.
    /// - Parameters:
    ///   - path: the file.
    ///   - count: how many lines.
    /// - Returns: the lines joined by newlines, or a note when the file cannot be read.
    static func lastLines(of path: String, count: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "(no log at \(path))" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(StackLimits.maximumTailBytes) ? size - UInt64(StackLimits.maximumTailBytes) : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        if start > 0, !lines.isEmpty { lines.removeFirst() }  // most likely cut in the middle
        return lines.suffix(max(count, 0)).joined(separator: "\n")
    }

    /// Copies a whole file to stdout in chunks.
    /// - Parameter path: the file.
    /// - Returns: the offset reached (where following continues).
    static func copy(_ path: String, from offset: UInt64 = 0) -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        var position = offset
        while let chunk = try? handle.read(upToCount: 64 * 1024), !chunk.isEmpty {
            FileHandle.standardOutput.write(chunk)
            position += UInt64(chunk.count)
        }
        return position
    }

    /// Prints what is appended to a file until the process is interrupted.
    /// Starts over from the beginning when the file is truncated or replaced.
    /// - Parameters:
    ///   - path: the file.
    ///   - offset: where to begin (usually its size when following began).
    static func follow(_ path: String, from offset: UInt64) async throws -> Never {
        var position = offset
        while true {
            try await Task.sleep(for: StackLimits.followPollInterval)
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
            if size < position { position = 0 }
            if size > position { position = copy(path, from: position) }
        }
    }

    /// The size of a file, 0 if it does not exist.
    static func size(of path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
