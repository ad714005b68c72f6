import Foundation
import Logging
import RPC
import SQLiteKit
import Testing

struct SQLiteDatabaseTests {
    static let migrations = [
        Migration(1, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL);"),
        Migration(2, "ALTER TABLE items ADD COLUMN note TEXT;"),
    ]

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sqlitekit-\(UUID().uuidString).sqlite").path
    }

    func open(_ path: String, limits: SQLiteDatabase.Limits = .init()) throws -> SQLiteDatabase {
        try SQLiteDatabase(path: path, migrations: Self.migrations, limits: limits, logger: Logger(label: "test"))
    }

    @Test func concurrentWritesAllCommitAndAFailingOneRollsBackAlone() async throws {
        let path = temporaryPath()
        let database = try open(path)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<500 {
                group.addTask {
                    // Every 50th request inserts, then fails: its insert must vanish.
                    do {
                        try await database.write { connection in
                            try connection.execute("INSERT INTO items (name, qty) VALUES (?, ?)", [.text("item\(index)"), .integer(1)])
                            if index % 50 == 0 { throw RPCError(.aborted, reason: "TEST", "on purpose") }
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            var results: [Bool] = []
            for await outcome in group { results.append(outcome) }
            return results
        }
        #expect(outcomes.filter { $0 }.count == 490)
        let count = try await database.read { try $0.queryOne("SELECT count(*) FROM items") { $0.int(0) } }
        #expect(count == 490)
        let failed = try await database.read { try $0.queryOne("SELECT count(*) FROM items WHERE name = 'item50'") { $0.int(0) } }
        #expect(failed == 0)
        await database.close()
    }

    @Test func aConstraintViolationFailsOnlyThatRequest() async throws {
        let database = try open(temporaryPath())
        try await database.write { try $0.execute("INSERT INTO items (name, qty) VALUES ('a', 1)") }
        await #expect(throws: SQLiteError.self) {
            try await database.write { try $0.execute("INSERT INTO items (name, qty) VALUES ('a', 2)") }
        }
        do {
            try await database.write { try $0.execute("INSERT INTO items (name, qty) VALUES ('a', 2)") }
        } catch let error as SQLiteError {
            #expect(error.isConstraintViolation)
        }
        let rows = try await database.read { try $0.query("SELECT qty FROM items WHERE name = 'a'") { $0.int(0) } }
        #expect(rows == [1])
        await database.close()
    }

    @Test func migrationsApplyOnceAndDataSurvivesReopening() async throws {
        let path = temporaryPath()
        do {
            let database = try open(path)
            try await database.write { try $0.execute("INSERT INTO items (name, qty, note) VALUES ('kept', 7, 'n')") }
            await database.close()
        }
        let reopened = try open(path)
        let version = try await reopened.read { try $0.queryOne("PRAGMA user_version") { $0.int(0) } }
        #expect(version == 2)
        let qty = try await reopened.read { try $0.queryOne("SELECT qty FROM items WHERE name = 'kept'") { $0.int(0) } }
        #expect(qty == 7)
        let mode = try await reopened.read { try $0.queryOne("PRAGMA journal_mode") { $0.text(0) } }
        #expect(mode == "wal")
        await reopened.close()
    }

    @Test func readersCannotWrite() async throws {
        let database = try open(temporaryPath())
        await #expect(throws: SQLiteError.self) {
            try await database.read { try $0.execute("INSERT INTO items (name, qty) VALUES ('x', 1)") }
        }
        await database.close()
    }

    @Test func aFullQueueRefusesInsteadOfGrowing() async throws {
        var limits = SQLiteDatabase.Limits()
        limits.maximumQueue = 4
        limits.maximumBatch = 1
        let database = try open(temporaryPath(), limits: limits)
        let refused = await withTaskGroup(of: String?.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        try await database.write { connection in
                            try connection.execute("INSERT INTO items (name, qty) VALUES (?, 1)", [.text("q\(index)")])
                        }
                        return nil
                    } catch let error as RPCError {
                        return error.reason
                    } catch {
                        return "\(error)"
                    }
                }
            }
            var reasons: [String] = []
            for await reason in group { if let reason { reasons.append(reason) } }
            return reasons
        }
        #expect(!refused.isEmpty)
        #expect(Set(refused) == ["WRITE_QUEUE_FULL"])
        await database.close()
    }
}
