import Foundation
import RPC

/// Where `hitl` finds the stack's home, in this order:
///
/// 1. `--home`;
/// 2. `$HITL_HOME`;
/// 3. the pointer file the supervisor writes when it starts a stack
///    (`$XDG_CONFIG_HOME/hitl/home`, else `~/.config/hitl/home`), holding the
///    home's absolute path; used when that home still has its `run/` folder;
/// 4. the repository's `.hitl`: in the nearest folder at or above the working
///    directory that holds `compose/stack.json`, else in the working directory.
///
/// So once `scripts/stack up` has started a stack, `hitl` finds it from any folder.
struct HomeSearch: Sendable {
    /// Where the home came from.
    enum Source: Sendable, Equatable {
        case option, environment, pointer, repository
    }

    /// The home chosen; it may not exist.
    let directory: RunDirectory
    /// Which rule chose it.
    let source: Source
    /// Each place looked at, in order, with what was found there.
    let trail: [String]
    /// The pointer file this search read (or would have).
    let pointer: String

    /// Resolves the home.
    /// - Parameters:
    ///   - explicit: `--home`, if given.
    ///   - environment: the process environment.
    ///   - workingDirectory: where relative paths and the repository search start.
    static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) -> HomeSearch {
        let pointer = pointerPath(environment: environment)
        func found(_ directory: RunDirectory, _ source: Source, _ trail: [String]) -> HomeSearch {
            HomeSearch(directory: directory, source: source, trail: trail, pointer: pointer)
        }
        func absolute(_ path: String) -> RunDirectory {
            RunDirectory(home: path.hasPrefix("/") ? path : URL(fileURLWithPath: workingDirectory).appendingPathComponent(path).path)
        }
        if let explicit, !explicit.isEmpty {
            return found(absolute(explicit), .option, ["--home \(explicit)"])
        }
        var trail = ["--home: not given"]
        if let home = environment["HITL_HOME"], !home.isEmpty {
            return found(absolute(home), .environment, trail + ["$HITL_HOME=\(home)"])
        }
        trail.append("$HITL_HOME: not set")
        if let named = readPointer(pointer) {
            let directory = RunDirectory(home: named)
            if isDirectory(directory.run.path) {
                return found(directory, .pointer, trail + ["\(pointer) names \(named)"])
            }
            trail.append("\(pointer) names \(named), which holds no stack (no run/ folder)")
        } else if FileManager.default.fileExists(atPath: pointer) {
            trail.append("\(pointer), which names no absolute path")
        } else {
            trail.append("\(pointer): no such file (`scripts/stack up` writes it)")
        }
        let repository = repositoryRoot(from: workingDirectory) ?? workingDirectory
        let directory = RunDirectory(home: URL(fileURLWithPath: repository).appendingPathComponent(".hitl").path)
        return found(directory, .repository, trail + ["the repository's .hitl, \(directory.home.path)"])
    }

    /// Whether the home has its `run/` folder (sockets and tokens).
    var exists: Bool { Self.isDirectory(directory.run.path) }

    /// The error for a home that does not exist: what was looked for, in order.
    var notFound: HitlFailure {
        var lines = ["no stack home at \(directory.home.path). hitl looked for a home in this order:"]
        lines += trail.enumerated().map { "  \($0.offset + 1). \($0.element)" }
        switch source {
        case .option, .environment:
            lines.append("Start a stack there with `HITL_HOME=\(directory.home.path) scripts/stack up`, or name another home.")
        case .pointer, .repository:
            lines.append("Start the stack with `scripts/stack up` (from any folder), or name its home with --home or HITL_HOME.")
        }
        return HitlFailure(lines.joined(separator: "\n"), exit: .unreachable)
    }

    /// The error for a home whose stack is not running.
    var notRunning: HitlFailure {
        var text = "the stack at \(directory.home.path) is not running: scripts/stack up"
        if directory.home.lastPathComponent != ".hitl" {
            text += " (with HITL_HOME=\(directory.home.path) for this home)"
        }
        let origin = [Source.option: "--home", .environment: "$HITL_HOME", .pointer: pointer]
        if let from = origin[source] { text += "; the home came from \(from)" }
        return HitlFailure(text, exit: .unreachable)
    }

    /// The pointer file: `$XDG_CONFIG_HOME/hitl/home`, else `$HOME/.config/hitl/home`.
    static func pointerPath(environment: [String: String]) -> String {
        let config: String
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            config = xdg
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            config = URL(fileURLWithPath: home).appendingPathComponent(".config").path
        }
        return URL(fileURLWithPath: config).appendingPathComponent("hitl/home").path
    }

    /// The absolute path a pointer file names, if it names one.
    static func readPointer(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let named = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return named.hasPrefix("/") ? named : nil
    }

    /// Records `directory` in the pointer file, so `hitl` finds this stack from any
    /// folder. A pointer naming another home whose stack is running is kept: a
    /// throw-away stack (a test's, chaos's) never hides the one a person started.
    /// - Returns: false when the pointer was kept.
    /// - Throws: when the file cannot be written.
    @discardableResult
    static func record(_ directory: RunDirectory, environment: [String: String]) throws -> Bool {
        let path = pointerPath(environment: environment)
        if let named = readPointer(path), named != directory.home.path, SocketPath.isLive(RunDirectory(home: named).supervisorSocket) {
            return false
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Data((directory.home.path + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return true
    }

    /// The nearest folder at or above `start` holding `compose/stack.json`.
    static func repositoryRoot(from start: String) -> String? {
        var folder = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("compose/stack.json").path) { return folder.path }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { return nil }
            folder = parent
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}

/// A failure `hitl` explains in its own words, with the exit code it promises.
struct HitlFailure: Error, CustomStringConvertible {
    let description: String
    let exit: HitlExit

    init(_ description: String, exit: HitlExit) {
        self.description = description
        self.exit = exit
    }
}
