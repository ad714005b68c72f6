import Foundation
import Logging
import RPC
import ServiceLifecycle

/// The `ledger.*` methods on the RPC core, and the sweeper that runs beside them.
public enum LedgerService {
    /// Who may ask to move money. The role says who may ask; the grant is what
    /// authorizes the movement.
    static let movers: RPCAccess = .roles(["agent", "operator"])

    /// The service's name, version and contract (`Protocols/ledger.openrpc.json`).
    /// - Throws: when the embedded contract is not JSON.
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: "ledger", openRPC: PackageResources.ledger_openrpc_json)
    }

    /// Registers every `ledger.*` method.
    /// - Parameters:
    ///   - router: the router being built.
    ///   - ledger: the books.
    public static func register(_ router: inout RPCRouterBuilder, ledger: Ledger) {
        router.register("ledger.open_account", params: OpenAccountParams.self, options: .init(access: .roles(["operator"]))) { params, _ in
            try await ledger.openAccount(params)
        }
        router.register("ledger.balance", params: AccountParams.self) { params, _ in try await ledger.balance(params) }
        router.register("ledger.accounts", params: AccountsParams.self) { params, _ in try await ledger.accounts(params) }
        router.register("ledger.statement", params: StatementParams.self) { params, _ in try await ledger.statement(params) }
        router.register("ledger.verify", params: NoParams.self) { _, _ in try await ledger.verify() }
        router.register("ledger.deposit", params: DepositParams.self, options: .init(access: movers)) { params, _ in
            try await ledger.deposit(params)
        }
        router.register("ledger.transfer", params: TransferParams.self, options: .init(access: movers)) { params, _ in
            guard params.linked == nil else {
                throw RPCError.invalidParams(field: "linked", "only elements of ledger.transfer_batch can be linked")
            }
            return try await ledger.transfer(params)
        }
        router.register("ledger.transfer_batch", params: TransferBatchParams.self, options: .init(access: movers)) { params, _ in
            try await ledger.transferBatch(params)
        }
        router.register("ledger.hold", params: HoldParams.self, options: .init(access: movers)) { params, _ in
            try await ledger.hold(params)
        }
        router.register("ledger.post", params: PostParams.self, options: .init(access: movers)) { params, _ in
            try await ledger.post(params)
        }
        router.register("ledger.void", params: VoidParams.self, options: .init(access: movers)) { params, _ in
            try await ledger.void(params)
        }
    }
}

/// Expires holds past their time every second, and forgets idempotency keys
/// past retention every hour, until graceful shutdown.
public struct LedgerSweeper: Service {
    let ledger: Ledger
    let logger: Logger

    /// - Parameters:
    ///   - ledger: the books.
    ///   - logger: where sweeps are logged.
    public init(ledger: Ledger, logger: Logger) {
        self.ledger = ledger
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPurge = ContinuousClock.now - .seconds(LedgerLimits.purgeIntervalSeconds)
            while !Task.isCancelled {
                await sweep(purge: ContinuousClock.now - lastPurge >= .seconds(LedgerLimits.purgeIntervalSeconds))
                if ContinuousClock.now - lastPurge >= .seconds(LedgerLimits.purgeIntervalSeconds) { lastPurge = .now }
                try? await Task.sleep(for: .milliseconds(LedgerLimits.sweepIntervalMilliseconds))
            }
        }
    }

    private func sweep(purge: Bool) async {
        do {
            let expired = try await ledger.expireDueHolds()
            if expired > 0 { logger.info("holds expired; their funds are available again", metadata: ["ledger.holds": "\(expired)"]) }
            if purge {
                let forgotten = try await ledger.purgeIdempotencyKeys()
                if forgotten > 0 { logger.info("idempotency keys past retention forgotten", metadata: ["ledger.keys": "\(forgotten)"]) }
            }
        } catch {
            logger.error("sweep failed; retrying next interval", metadata: ["error": "\(error)"])
        }
    }
}
