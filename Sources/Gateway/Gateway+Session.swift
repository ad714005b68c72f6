import Foundation
import Hummingbird
import RPC

extension Gateway {
    /// The page and its assets, embedded in the binary: no build step, no files to find.
    func addPageRoutes(to router: Routes) {
        let page = { @Sendable (bytes: [UInt8], type: String) in
            Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/") { _, _ in page(PackageResources.index_html, "text/html; charset=utf-8") }
        router.get("/app.css") { _, _ in page(PackageResources.app_css, "text/css; charset=utf-8") }
        router.get("/app.js") { _, _ in page(PackageResources.app_js, "text/javascript; charset=utf-8") }
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
    }

    /// `POST /login`, `POST /logout`, `GET /session`.
    func addSessionRoutes(to router: Routes) {
        router.post("/login") { request, _ in
            try self.requireSameOrigin(request)
            let body = try await self.jsonBody(request)
            let session = try self.sessions.signIn(token: try Field.string(body, "token", maximum: 256) ?? "")
            self.logger.info("approver signed in", metadata: ["approver": "\(session.approver)"])
            var response = JSONResponse.make(self.sessionBody(session))
            response.setCookie(Cookie(
                name: SessionStore.cookieName, value: session.id,
                maxAge: Int(self.configuration.sessionIdleTimeout.components.seconds), path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        router.post("/logout") { request, _ in
            let session = try self.requireSessionAndCSRF(request)
            self.sessions.signOut(id: session.id)
            var response = JSONResponse.make(["signed_out": true])
            response.setCookie(Cookie(name: SessionStore.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        router.get("/session") { request, _ in
            JSONResponse.make(self.sessionBody(try self.requireSession(request)))
        }
    }

    private func sessionBody(_ session: Session) -> JSONValue {
        ["approver": .string(session.approver), "csrf_token": .string(session.csrfToken), "account": session.account.map(JSONValue.string) ?? .null]
    }
}
