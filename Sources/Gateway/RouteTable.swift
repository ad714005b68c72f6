import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Adds routes to the router and records them in the table (while the application is built).
struct Routes {
    let router: Router<GatewayContext>
    let table: RouteTable

    /// `GET path`, recorded.
    func get<Output: ResponseGenerator>(
        _ path: String, use handler: @escaping @Sendable (Request, GatewayContext) async throws -> Output
    ) {
        table.record(.get, path)
        router.get(RouterPath(path), use: handler)
    }

    /// `POST path`, recorded.
    func post<Output: ResponseGenerator>(
        _ path: String, use handler: @escaping @Sendable (Request, GatewayContext) async throws -> Output
    ) {
        table.record(.post, path)
        router.post(RouterPath(path), use: handler)
    }
}

/// The gateway's routes, recorded as they are added, so a request the router does not
/// serve is answered precisely: 405 with `Allow` when its path exists for other
/// methods, 404 when nothing is served there (Hummingbird's router says 404 for both).
final class RouteTable: Sendable {
    private let routes = Mutex<[(method: HTTPRequest.Method, segments: [String])]>([])

    func record(_ method: HTTPRequest.Method, _ path: String) {
        let segments = path.split(separator: "/").map(String.init)
        routes.withLock { $0.append((method, segments)) }
    }

    /// The methods served at `path` (a `{name}` segment matches any one segment).
    func methods(at path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/").map(String.init)
        return routes.withLock { routes in
            routes.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix("{") || pattern == segment }
            }.map(\.method)
        }
    }

    /// The answer to a request no route serves: 405 naming what is allowed, or 404.
    func unserved(_ request: Request) -> GatewayError {
        let allowed = methods(at: request.uri.path)
        guard allowed.isEmpty else {
            let names = Set(allowed.map(\.rawValue)).sorted().joined(separator: ", ")
            return GatewayError(
                .methodNotAllowed, code: "UNIMPLEMENTED", reason: "METHOD_NOT_ALLOWED",
                "\(request.method.rawValue) is not served at \(request.uri.path); use \(names)", allow: names)
        }
        return GatewayError(.notFound, code: "NOT_FOUND", reason: "NO_SUCH_PATH",
                            "nothing is served at \(request.uri.path); see Protocols/gateway.openapi.json for the API")
    }
}
