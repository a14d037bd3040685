import Foundation

/// An in-memory `NFTablesBackend` that records transactions and tracks table and chain names,
/// for tests of the sync logic without root (kubelet-style fake next to the real thing).
package final class FakeNFTables: NFTablesBackend, @unchecked Sendable {
    private let lock = NSLock()
    private var _transactions: [NFTTransaction] = []
    private var _chains: Set<String>? = nil
    private var _failNext: NFTError? = nil

    package init() {}

    package var transactions: [NFTTransaction] { lock.withLock { _transactions } }
    /// Chain names of the table, nil when it does not exist.
    package var chains: Set<String>? {
        get { lock.withLock { _chains } }
        set { lock.withLock { _chains = newValue } }
    }

    /// Makes the next `apply` fail with `error` (and change nothing).
    package func failNext(_ error: NFTError) { lock.withLock { _failNext = error } }

    package func apply(_ transaction: NFTTransaction) throws {
        try lock.withLock {
            if let e = _failNext {
                _failNext = nil
                throw e
            }
            var chains = _chains
            for op in transaction.operations {
                switch op {
                case .addTable: if chains == nil { chains = [] }
                case .deleteTable: chains = nil
                case .addChain(let c): chains?.insert(c.name)
                case .deleteChain(let n): chains?.remove(n)
                default: break
                }
            }
            _chains = chains
            _transactions.append(transaction)
        }
    }

    package func listChains(table: String) throws -> Set<String>? { chains }
}
