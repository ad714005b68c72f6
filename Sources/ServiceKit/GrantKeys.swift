import Crypto
import Banking
import Foundation
import RPC

/// Ed25519 keys for grants, kept in the run directory:
/// `run/grant-signing.key` (private, 0600, only approval-svc reads it) and
/// `run/grant-public.key` (what ledger-svc verifies with). Both hold base64.
public enum GrantKeys {
    /// The private key file.
    public static func privateKeyPath(in directory: RunDirectory) -> String {
        directory.run.appendingPathComponent("grant-signing.key").path
    }

    /// The public key file.
    public static func publicKeyPath(in directory: RunDirectory) -> String {
        directory.run.appendingPathComponent("grant-public.key").path
    }

    /// Loads the signing key, creating it (and the public key file) at first start.
    /// - Parameter directory: the run directory.
    /// - Throws: when the files cannot be read or written, or hold garbage.
    public static func loadOrCreateSigner(in directory: RunDirectory) throws -> GrantSigner {
        let path = privateKeyPath(in: directory)
        let key: Curve25519.Signing.PrivateKey
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
                  let parsed = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
            else { throw RunDirectoryError("\(path) does not hold an Ed25519 private key; restore it or delete both grant key files") }
            key = parsed
        } else {
            try directory.prepare()
            key = Curve25519.Signing.PrivateKey()
            try IdentityProvisioner.writePrivate(Data(key.rawRepresentation.base64EncodedString().utf8), to: path)
        }
        try IdentityProvisioner.writePrivate(
            Data(key.publicKey.rawRepresentation.base64EncodedString().utf8), to: publicKeyPath(in: directory))
        return GrantSigner(key: key)
    }

    /// Loads the public key the ledger verifies grants with.
    /// - Parameter path: the public key file.
    /// - Throws: ``RunDirectoryError`` when it is missing or malformed.
    public static func loadVerifier(path: String) throws -> GrantVerifier {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RunDirectoryError("no grant public key at \(path): start approval-svc first (it creates the key), or pass --grant-public-key")
        }
        guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else { throw RunDirectoryError("\(path) does not hold an Ed25519 public key") }
        return GrantVerifier(key: key)
    }
}
