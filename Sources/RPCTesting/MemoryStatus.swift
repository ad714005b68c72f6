import Foundation

/// A process's memory from `/proc/<pid>/status`.
public struct MemoryStatus: Sendable {
    /// VmHWM: the peak resident set size, in KiB.
    public let peakKiB: Int
    /// VmRSS: the resident set size now, in KiB.
    public let residentKiB: Int

    /// Reads it; nil when the process is gone (or this is not Linux).
    public static func read(pid: Int32) -> MemoryStatus? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return Int(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        guard let peak = field("VmHWM"), let resident = field("VmRSS") else { return nil }
        return MemoryStatus(peakKiB: peak, residentKiB: resident)
    }
}
