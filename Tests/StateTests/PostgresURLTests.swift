import PostgresSupport
import Testing

/// Database URLs as libpq writes them, and what a wrong one says.
struct PostgresURLTests {
    @Test func aSocketFolderAndATCPHostAreBothEndpoints() throws {
        let socket = try PostgresURL(parsing: "postgres://postgres@/hitl_state?host=/var/run/postgresql")
        #expect(socket.endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432"))
        #expect(socket.tls == .disable && socket.database == "hitl_state" && socket.username == "postgres")
        let tcp = try PostgresURL(parsing: "postgresql://hitl:s%2Fe%40cret@db.internal:6543/state")
        #expect(tcp.endpoint == .tcp(host: "db.internal", port: 6543))
        #expect(tcp.tls == .require, "TLS unless the URL turns it off")
        #expect(tcp.password == "s/e@cret", "a percent-encoded password is decoded")
        let plain = try PostgresURL(parsing: "postgres://hitl@10.0.0.5/state?sslmode=disable&sslrootcert=/etc/ca.pem")
        #expect(plain.tls == .disable && plain.rootCertificatePath == "/etc/ca.pem")
    }

    @Test func aPasswordIsNeverShown() throws {
        let url = try PostgresURL(parsing: "postgres://hitl:topsecret@db/state")
        #expect(!url.description.contains("topsecret") && url.description.contains("hitl:***@db:5432/state"))
        for text in ["postgres://hitl:topsecret@db/", "postgres://hitl:top/sec#ret@db/state", "mysql://hitl:topsecret@db/state"] {
            #expect {
                _ = try PostgresURL(parsing: text)
            } throws: { error in
                !"\(error)".contains("topsecret") && !"\(error)".contains("sec#ret")
            }
        }
    }

    @Test(arguments: [
        ("postgres://db/state", "names no user"),
        ("postgres://hitl@db/", "names no database"),
        ("postgres://hitl@/state", "names no host"),
        ("postgres://hitl@db:99999/state", "port"),
        ("postgres://hitl@db/state?sslmode=maybe", "sslmode maybe is not disable or require"),
        ("postgres://hitl@db/state?timeout=3", "unknown parameter timeout"),
        ("http://hitl@db/state", "is not a postgres:// URL"),
    ])
    func aWrongURLSaysWhatIsWrong(text: String, says: String) {
        #expect {
            _ = try PostgresURL(parsing: text)
        } throws: { "\($0)".contains(says) }
    }
}
