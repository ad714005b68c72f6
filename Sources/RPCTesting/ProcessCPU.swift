import Foundation

/// CPU time of processes and threads, read from /proc: what a benchmark phase
/// cost, independent of how busy the machine was while it ran.
public enum ProcessCPU {
    /// User + system CPU seconds of process `pid` (all its threads), and of its
    /// threads whose name starts with `threadPrefix`; zeros once it has exited.
    /// - Parameters:
    ///   - pid: the process.
    ///   - threadPrefix: a thread name prefix (`TP-` is SQLiteKit's connection threads).
    public static func seconds(of pid: Int32, threadsNamed threadPrefix: String = "TP-") -> (all: Double, threads: Double) {
        var threads = 0.0
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            guard let (name, seconds) = stat("/proc/\(pid)/task/\(task)/stat"), name.hasPrefix(threadPrefix) else { continue }
            threads += seconds
        }
        return (stat("/proc/\(pid)/stat")?.seconds ?? 0, threads)
    }

    /// User + system CPU seconds of process `pid`, of its children that have exited
    /// (reaped), and of every live descendant: a PostgreSQL server with its backends.
    public static func seconds(ofTree pid: Int32) -> Double {
        var parents: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry), let fields = fields("/proc/\(entry)/stat"), let parent = Int32(fields[1]) else { continue }
            parents[parent, default: []].append(child)
        }
        func tree(_ pid: Int32) -> Double {
            guard let fields = fields("/proc/\(pid)/stat"), fields.count > 14 else { return 0 }
            // utime, stime, cutime, cstime: fields 14 to 17, in clock ticks.
            let ticks = fields[11...14].reduce(0.0) { $0 + (Double($1) ?? 0) }
            return ticks / Double(sysconf(Int32(_SC_CLK_TCK))) + (parents[pid] ?? []).reduce(0) { $0 + tree($1) }
        }
        return tree(pid)
    }

    /// The fields of a `stat` file after the process's name (field 3, its state, first).
    private static func fields(_ path: String) -> [Substring]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// User + system CPU seconds of this process.
    public static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// The name and CPU seconds in a `stat` file of /proc.
    private static func stat(_ path: String) -> (name: Substring, seconds: Double)? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        // After ")": state is field 3; utime and stime are fields 14 and 15, in clock ticks.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12 else { return nil }
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return (text[text.index(after: open)..<close], ticks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }
}
