import Foundation

/// The Python baseline: a stdlib line server that parses each request with
/// `json`, builds the JSON-RPC response and writes it back, one thread per
/// connection (`socketserver.ThreadingUnixStreamServer`). It answers the same
/// two methods with results of the same shape as the RPC core.
enum PythonServer {
    /// The script, run as `python3 -c <script> <socket>`.
    static let script = #"""
        import json, os, socketserver, sys, threading, time

        STARTED = time.monotonic()
        PARENT = os.getppid()

        def answer(request):
            method = request.get("method")
            params = request.get("params") or {}
            if method == "health.check":
                result = {"status": "SERVING", "service": "echo", "version": "python", "pid": os.getpid(),
                          "uptime_ms": int((time.monotonic() - STARTED) * 1000)}
            elif method == "echo.echo":
                result = {"value": params.get("value")}
            else:
                return {"jsonrpc": "2.0", "id": request.get("id"),
                        "error": {"code": -32601, "message": "method not found"}}
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:
                    if not line.strip():
                        continue
                    try:
                        response = answer(json.loads(line))
                    except ValueError:
                        response = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
                    self.wfile.write(json.dumps(response, separators=(",", ":")).encode() + b"\n")

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        def exit_with_parent():
            while os.getppid() == PARENT:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=exit_with_parent, daemon=True).start()
        with Server(sys.argv[1], Handler) as server:
            server.serve_forever()
        """#

    /// The `python3` on PATH, or nil.
    static func findInterpreter() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
