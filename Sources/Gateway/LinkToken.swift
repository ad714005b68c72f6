import Foundation

/// What an approve/reject link token says about itself:
/// `v1.<base64url payload>.<signature>` with the payload
/// `{"a": approval_id, "d": decision, "e": expiry (unix seconds), "n": nonce, "v": version}`
/// (approval-svc's `LinkSigner`). The gateway cannot check the signature (the
/// key never leaves approval-svc); it reads the payload only to show the page,
/// and approval-svc checks everything when the person confirms.
struct LinkToken: Sendable {
    let token: String
    let approvalID: String
    let decision: String
    let expiresAt: Date
    let version: Int64

    private struct Payload: Decodable {
        let a: String
        let d: String
        let e: Int64
        let v: Int64
    }

    /// The longest token approval-svc accepts.
    static let maximumLength = 1_024

    /// Nil when the text is not shaped like a link token.
    init?(_ token: String) {
        guard token.utf8.count <= Self.maximumLength,
              token.utf8.allSatisfy({ Self.allowed.contains($0) }) else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let json = Self.base64URL(String(parts[1])),
              let payload = try? JSONDecoder().decode(Payload.self, from: json),
              ["approve", "reject"].contains(payload.d)
        else { return nil }
        self.token = token
        approvalID = payload.a
        decision = payload.d
        expiresAt = Date(timeIntervalSince1970: TimeInterval(payload.e))
        version = payload.v
    }

    private static let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".utf8)

    private static func base64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)
    }
}
