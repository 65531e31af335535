import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { PrometheusMetrics } from "effect/observability"
import type { AddressInfo } from "node:net"
import { DriverConfig, type Mode, servesController } from "../config/DriverConfig.js"
import { ControllerService, IdentityService, NodeService } from "../gen/csi.js"
import { registerAtZero, type ServedMetrics } from "../observability/metrics.js"
import { Http } from "../../layers/node/nodeHttp.js"
import { Readiness, type ReadinessReport } from "./Readiness.js"

/** The health server could not listen: the message names the address and the flag that sets it. */
export class HealthServerError extends Schema.TaggedError<HealthServerError>()("HealthServerError", {
  message: Schema.String
}) {}

export interface HealthServerOptions {
  readonly host: string
  /** 0: any free port (tests); the bound port is in the service. */
  readonly port: number
}

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
const TEXT = "text/plain; charset=utf-8"

/**
 * `/healthz`: `ok`, or 503 with one line per failing check and its reason.
 * `/healthz?verbose` lists every check, `[+]` passing and `[-]` failing, like the API server does.
 */
export const healthzBody = (report: ReadinessReport, verbose: boolean): string => {
  const shown = verbose ? report.checks : report.checks.filter((check) => !check.ready)
  const lines = shown.map((check) =>
    check.ready ? `[+] ${check.name} ok` : `[-] ${check.name} failed: ${check.reason ?? "no reason given"}`
  )
  const verdict = report.ready ? "ok" : "not ready"
  return [...lines, ...(lines.length > 0 ? [""] : []), verdict].join("\n") + "\n"
}

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const route = (url: URL): Effect.Effect<Answer, never, Readiness> => {
  switch (url.pathname) {
    case "/livez":
      return Effect.succeed({ status: 200, contentType: TEXT, body: "ok\n" })
    case "/healthz":
      return Readiness.use((readiness) => readiness.report).pipe(
        Effect.map((report) => ({
          status: report.ready ? 200 : 503,
          contentType: TEXT,
          body: healthzBody(report, url.searchParams.has("verbose"))
        }))
      )
    case "/metrics":
      return Effect.map(PrometheusMetrics.format(), (body) => ({ status: 200, contentType: PROMETHEUS_TEXT, body }))
    default:
      return Effect.succeed({ status: 404, contentType: TEXT, body: "not found: try /healthz, /livez or /metrics\n" })
  }
}

const methodsOf = (service: Record<string, { readonly path: string }>) =>
  Object.values(service).map((method) => method.path.slice(method.path.lastIndexOf("/") + 1))

/** The metrics a process of this mode exports; without a DriverConfig (a test's bare server), the generic ones. */
export const servedMetrics = (mode: Mode | undefined): ServedMetrics =>
  mode === undefined ? { methods: [], controller: false, node: false } : {
    methods: [
      ...methodsOf(IdentityService),
      ...(servesController(mode) ? methodsOf(ControllerService) : []),
      ...(mode !== "controller" ? methodsOf(NodeService) : [])
    ],
    controller: servesController(mode),
    node: mode !== "controller"
  }

/**
 * /healthz (readiness), /livez (the process serves) and /metrics (Prometheus text) over plain
 * HTTP, for kubelet's probes and for Prometheus. It answers from the driver's own context, so
 * /metrics shows the registry the RPCs update and /healthz the same Readiness the CSI Probe uses.
 */
export class HealthServer extends Context.Service<HealthServer, {
  readonly port: number
}>()("azurelustre/health/HealthServer") {
  static readonly layer = (options: HealthServerOptions, portFlag = "--health-port") =>
    Layer.effect(
      HealthServer,
      Effect.gen(function*() {
        const context = yield* Effect.context<Readiness>()
        const answer = Effect.runPromiseWith(context)
        // Every metric is scraped from the start: the process's own at zero, and the readiness gauges
        // from a first report, made beside start-up rather than before it (LNet checks take a moment).
        const config = yield* Effect.serviceOption(DriverConfig)
        yield* registerAtZero(servedMetrics(Option.getOrUndefined(Option.map(config, (c) => c.mode))))
        yield* Effect.forkScoped(Readiness.use((readiness) => readiness.report))
        const server = Http.createServer((request, response) => {
          if (request.method !== "GET" && request.method !== "HEAD") {
            response.writeHead(405, { "content-type": TEXT, allow: "GET, HEAD" }).end("only GET and HEAD\n")
            return
          }
          const url = new URL(request.url ?? "/", "http://health")
          // A bug behind a route answers 500 and is logged; it never becomes an unhandled rejection.
          const answered = route(url).pipe(
            Effect.catchCause((cause) =>
              Effect.logError("health server route failed", cause).pipe(
                Effect.as<Answer>({ status: 500, contentType: TEXT, body: "internal error: see the driver's log\n" })
              )
            )
          )
          void answer(answered).then(({ status, contentType, body }) => {
            response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" })
            response.end(request.method === "HEAD" ? undefined : body)
          })
        })
        // Probes are short; a stuck client must not hold a socket forever.
        server.requestTimeout = 10_000
        server.headersTimeout = 5_000
        const port = yield* Effect.acquireRelease(
          Effect.callback<number, HealthServerError>((resume) => {
            const onError = (error: NodeJS.ErrnoException) =>
              resume(Effect.fail(
                new HealthServerError({
                  message: `cannot serve /healthz and /metrics on ${options.host}:${options.port}: ${
                    error.code === "EADDRINUSE" ? "the port is in use" : error.message
                  }; choose another with ${portFlag}`
                })
              ))
            server.once("error", onError)
            server.listen(options.port, options.host, () => {
              server.off("error", onError)
              resume(Effect.succeed((server.address() as AddressInfo).port))
            })
          }),
          () =>
            Effect.callback<void>((resume) => {
              server.close(() => resume(Effect.void))
              server.closeAllConnections()
            })
        )
        yield* Effect.logInfo("serving /healthz, /livez and /metrics").pipe(
          Effect.annotateLogs({ address: `http://${options.host}:${port}` })
        )
        return HealthServer.of({ port })
      })
    )
}
