import { it } from "@effect/vitest"
import { Schema } from "effect"
import * as Path from "node:path"
import { describe, expect } from "vitest"
import { socketPathOf } from "../../src/csi/endpoint.js"

const AbsolutePath = Schema.String.check(Schema.isPattern(/^(\/[A-Za-z0-9._-]{1,12}){1,5}$/))

describe("socketPathOf", () => {
  it.prop("unix:///p, unix:/p and a plain p name the same socket", [AbsolutePath], ([path]) => {
    const expected = { _tag: "SocketPath", path: Path.resolve(path) }
    expect(socketPathOf(`unix://${path}`)).toEqual(expected)
    expect(socketPathOf(`unix:${path}`)).toEqual(expected)
    expect(socketPathOf(path)).toEqual(expected)
  })

  it("makes a relative path absolute against the working directory", () => {
    expect(socketPathOf("run/csi.sock")).toEqual({ _tag: "SocketPath", path: Path.join(process.cwd(), "run/csi.sock") })
  })

  it.each([
    ["tcp://127.0.0.1:10000", "only unix sockets"],
    ["unix://", "names no socket path"],
    ["", "names no socket path"],
    [`/${"x".repeat(120)}.sock`, "longer than the 107 bytes"]
  ])("rejects %j with a reason", (endpoint, reason) => {
    const result = socketPathOf(endpoint)
    expect(result._tag).toBe("BadEndpoint")
    expect(result._tag === "BadEndpoint" && result.reason).toContain(reason)
  })
})
