import Crypto
import Foundation
import RPC
import SwiftASN1
import X509

/// The stack's own certificate authority for the RPC over TCP: `run/tls/ca.pem` (and
/// its key, 0600) signs one certificate per service and one for clients, each naming
/// the hosts it may be reached at. Made by `hitl init --tls-host …`; mutual TLS means
/// a machine without a certificate from this CA cannot even reach the token check.
public enum TLSAuthority {
    /// How long the CA is valid: replace the folder to rotate everything.
    static let authorityLifetime: TimeInterval = 10 * 365 * 86_400
    /// How long a service's or client's certificate is valid (the usual 825-day bound).
    static let leafLifetime: TimeInterval = 825 * 86_400

    /// Makes the CA when missing, then a certificate for each name (a service, or
    /// `client`) valid for `hosts` (DNS names or IP addresses), replacing older ones.
    /// - Returns: the files written.
    /// - Throws: when a file cannot be written, or the CA's files are unreadable.
    @discardableResult
    public static func provision(_ names: [String], hosts: [String], in directory: RunDirectory) throws -> [String] {
        let folder = directory.run.appendingPathComponent("tls")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let caPath = folder.appendingPathComponent("ca.pem").path
        let caKeyPath = folder.appendingPathComponent("ca.key").path
        let now = Date()
        let authority: (certificate: Certificate, key: P256.Signing.PrivateKey)
        var written: [String] = []
        if FileManager.default.fileExists(atPath: caPath), FileManager.default.fileExists(atPath: caKeyPath) {
            authority = (
                try Certificate(pemEncoded: try String(contentsOfFile: caPath, encoding: .utf8)),
                try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: caKeyPath, encoding: .utf8))
            )
        } else {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("hitl stack CA") }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(authorityLifetime), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(key))
            try write(try certificate.serializeAsPEM().pemString, to: caPath, private: false)
            try write(key.pemRepresentation, to: caKeyPath, private: true)
            written += [caPath, caKeyPath]
            authority = (certificate, key)
        }
        for name in names {
            let key = P256.Signing.PrivateKey()
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(leafLifetime), issuer: authority.certificate.subject,
                subject: try DistinguishedName { CommonName(name) }, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames(try hosts.map(generalName))
                },
                issuerPrivateKey: .init(authority.key))
            let files = RPCTLS.files(for: name, in: directory)
            try write(try certificate.serializeAsPEM().pemString, to: files.certificate, private: false)
            try write(key.pemRepresentation, to: files.key, private: true)
            written += [files.certificate, files.key]
        }
        return written
    }

    /// A host as a certificate names it: an IP address (v4 or v6) or a DNS name.
    static func generalName(_ host: String) throws -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v4) { ArraySlice($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v6) { ArraySlice($0) }))
        }
        guard host.range(of: #"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$"#, options: .regularExpression) != nil else {
            throw RPCTLSError("'\(host.prefix(64))' is neither an IP address nor a host name: it cannot go in a certificate")
        }
        return .dnsName(host)
    }

    private static func write(_ text: String, to path: String, private isPrivate: Bool) throws {
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.removeItem(at: url)
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: isPrivate ? 0o600 : 0o644])
        else { throw RPCTLSError("cannot write \(path)") }
    }
}
