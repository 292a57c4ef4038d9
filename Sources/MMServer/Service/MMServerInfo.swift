// MMServer: the mmsim service (docs/API.md) on top of MMHTTP, MMCore and
// MMTrace, one folder per concern:
//   Routes/    the route table (RouteTable: every endpoint declared once, with
//              its method, path pattern, handler, request and response and a
//              one-line description) and the handlers it names; the router,
//              404 vs 405, metric labels and /openapi.json all come from it.
//   Wire/      JSON in and out: one decoder from request bodies to typed
//              requests and `Op`s (strict: an unknown key is a 400 naming it),
//              one encoder from MMCore's results to JSON.
//   Sessions/  a session (a Simulation plus its operation log), the store,
//              and `Op.apply`: the one function every operation goes through.
//   Service/   configuration, limits, Prometheus metrics, the OpenAPI
//              document, start-up.

/// The mmsim HTTP service.
public enum MMServerInfo {
    public static let name = "mmsim"
    /// The version `mmsim --version` prints; the one place it is written.
    public static let version = "0.1.0"
}
