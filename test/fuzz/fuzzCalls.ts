import * as grpc from "@grpc/grpc-js"
import type { Answer } from "../support/csiClient.js"

/** A client that sends request bytes as they are, corrupted or not, to any CSI method. */
export const rawClient = (socketPath: string) => new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure())

/** Sends `bytes` to `path` (e.g. `/csi.v1.Node/NodePublishVolume`); the answer's value is the response bytes. */
export const sendBytes = (client: grpc.Client, path: string, bytes: Uint8Array, deadlineMs: number): Promise<Answer<Buffer>> =>
  new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (request: Uint8Array) => Buffer.from(request),
      (response: Buffer) => response,
      bytes,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, value) =>
        resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, value: value ?? Buffer.alloc(0) })
    )
  })

/** The name of a gRPC status code, as the CSI spec writes it. */
export const codeName = (answer: Answer<unknown>): string => (answer.ok ? "OK" : grpc.status[answer.code] ?? String(answer.code))

/** Runs `work` on every item, `concurrency` at a time, in the items' order. */
export const forEachConcurrently = async <A>(
  items: ReadonlyArray<A>,
  concurrency: number,
  work: (item: A) => Promise<void>
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < items.length) await work(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

/** Answers counted by RPC and code. */
export class CodeTally {
  private readonly counts = new Map<string, Map<string, number>>()

  add(rpc: string, code: string): void {
    const codes = this.counts.get(rpc) ?? new Map<string, number>()
    codes.set(code, (codes.get(code) ?? 0) + 1)
    this.counts.set(rpc, codes)
  }

  total(rpc?: string): number {
    const rpcs = rpc === undefined ? [...this.counts.values()] : [this.counts.get(rpc) ?? new Map<string, number>()]
    return rpcs.reduce((sum, codes) => sum + [...codes.values()].reduce((a, b) => a + b, 0), 0)
  }

  count(rpc: string, code: string): number {
    return this.counts.get(rpc)?.get(code) ?? 0
  }

  /** `NodePublishVolume 3000 (INVALID_ARGUMENT 2100, OK 310, ...)`, RPCs in the order first seen, codes by count. */
  toString(): string {
    return [...this.counts.entries()].map(([rpc, codes]) =>
      `${rpc} ${this.total(rpc)} (${[...codes.entries()].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(", ")})`
    ).join("; ")
  }
}
