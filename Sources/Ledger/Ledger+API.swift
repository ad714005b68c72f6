import Contracts

/// The books are ledger-svc's contract served in process: the same methods, params and
/// results as over JSON-RPC (an embedded agent, or a test, calls them directly).
extension Ledger: LedgerAPI {}
