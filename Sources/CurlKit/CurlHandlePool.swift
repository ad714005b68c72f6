import CCurl
import Synchronization

/// Easy handles kept between transfers. A handle keeps its connection cache
/// across `curl_easy_reset`, so the next request to the same host (or Unix
/// socket) reuses the open keep-alive connection instead of connecting again.
final class CurlHandlePool: Sendable {
    /// One easy handle.
    ///
    /// `@unchecked Sendable` is safe here: a handle is in exactly one place at a
    /// time, the pool's list or one transfer. ``take()`` removes it from the list
    /// under the lock before a transfer uses it on its one thread, and only that
    /// transfer puts it back (``give(_:)``) after `curl_easy_perform` returned.
    struct Handle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }

    /// Idle handles kept: one per transfer thread, so a busy pool never connects anew.
    private let capacity: Int
    private let idle = Mutex<[Handle]>([])

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// An idle handle reset to defaults, or a new one.
    /// - Throws: ``TransportError`` when libcurl cannot make a handle.
    func take() throws -> Handle {
        if let handle = idle.withLock({ $0.popLast() }) {
            curl_easy_reset(handle.pointer)
            return handle
        }
        guard let pointer = curl_easy_init() else { throw TransportError(code: -1, message: "curl_easy_init failed") }
        return Handle(pointer: pointer)
    }

    /// Keeps a handle for the next transfer (or frees it when the pool is full).
    func give(_ handle: Handle) {
        let kept = idle.withLock { idle -> Bool in
            guard idle.count < capacity else { return false }
            idle.append(handle)
            return true
        }
        if !kept { curl_easy_cleanup(handle.pointer) }
    }
}
