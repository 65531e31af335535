import { Effect } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"

/** A request as the fake API server received it. */
export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  /** The request's body, as sent. */
  readonly body: string
}

/**
 * The answer to a request: its HTTP status and JSON body; "hang": never answered; or a watch's
 * events, one JSON line each, then the end of the answer unless `open`.
 */
export type Reply = readonly [code: number, body: unknown] | "hang" | { readonly watchEvents: ReadonlyArray<unknown>; readonly open?: boolean }

/** The API server's `Status` object for a failure; `details` names the object, when there is one. */
export const statusJson = (
  code: number,
  reason: string,
  message: string,
  details?: { readonly name: string; readonly kind: string }
) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  ...(details === undefined ? {} : { details }),
  code
})

export interface FakeKubeApiServer {
  readonly url: string
  /** Every request, in order. */
  readonly seen: Array<SeenRequest>
  /** URLs of requests the client gave up on before they were answered. */
  readonly abandoned: Array<string>
}

/**
 * A real HTTP server on loopback (HTTPS with `tls`) that answers like the API server: each request
 * is recorded, then answered as `route` says. Closed with the scope.
 */
export const fakeKubeApiServer = (
  route: (request: SeenRequest) => Reply,
  tls?: { readonly cert: string; readonly key: string }
) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly api: FakeKubeApiServer; readonly http: Http.Server }>((resolve) => {
        const api: { url: string } & Omit<FakeKubeApiServer, "url"> = { url: "", seen: [], abandoned: [] }
        const handle = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
          const chunks: Array<Buffer> = []
          request.on("data", (chunk: Buffer) => chunks.push(chunk))
          request.on("end", () => {
            const url = request.url ?? ""
            const seen: SeenRequest = {
              method: request.method ?? "",
              url,
              authorization: request.headers.authorization,
              contentType: request.headers["content-type"],
              body: Buffer.concat(chunks).toString("utf8")
            }
            api.seen.push(seen)
            const reply = route(seen)
            if (reply === "hang") {
              response.on("close", () => {
                if (!response.writableEnded) api.abandoned.push(url)
              })
              return
            }
            if ("watchEvents" in reply) {
              response.writeHead(200, { "content-type": "application/json" })
              for (const event of reply.watchEvents) response.write(`${JSON.stringify(event)}\n`)
              if (reply.open !== true) response.end()
              return
            }
            response.writeHead(reply[0], { "content-type": "application/json" })
            response.end(JSON.stringify(reply[1]))
          })
        }
        const http = tls === undefined ? Http.createServer(handle) : Https.createServer(tls, handle)
        http.listen(0, "127.0.0.1", () => {
          const address = http.address()
          api.url = `${tls === undefined ? "http" : "https"}://127.0.0.1:${
            typeof address === "object" && address !== null ? address.port : 0
          }`
          resolve({ api, http })
        })
      })
    ),
    ({ http }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          http.closeAllConnections()
          http.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ api }) => api))

/** Waits until `condition` holds, checking every 10 ms for about 2 s. */
export const waitFor = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
}
