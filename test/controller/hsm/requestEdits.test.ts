import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import type { KubePersistentVolumeClaim } from "../../../layers/kube/Kube.js"
import { hsmAnnotations, writeWorkState } from "../../../src/controller/hsm/HsmAnnotations.js"
import { isRequestEdit } from "../../../src/controller/hsm/requestEdits.js"

const claim = (annotations: Readonly<Record<string, string>>): KubePersistentVolumeClaim => ({
  namespace: "apps",
  name: "data",
  uid: "uid-data",
  volumeName: "pv-data",
  annotations
})

const stateOf = (request: string, state: string) => writeWorkState({ request, state, time: "2026-12-04T12:00:00Z" })

/** A PVC's annotations: some requests (any text, well-formed or not), states the loop wrote, others. */
const Annotations = Schema.Struct({
  import: Schema.optional(Schema.Literals(["r1:/data", "r2:/data,/more", "not a request"])),
  archive: Schema.optional(Schema.Literals(["a1:/", "a2:/results"])),
  importCancel: Schema.optional(Schema.Literals(["r1", "r2"])),
  importState: Schema.optional(Schema.Literals(["Completed", "Running"])),
  other: Schema.optional(Schema.String)
})
const annotationsOf = (a: typeof Annotations.Type): Record<string, string> => ({
  ...(a.import !== undefined && { [hsmAnnotations.import]: a.import }),
  ...(a.archive !== undefined && { [hsmAnnotations.archive]: a.archive }),
  ...(a.importCancel !== undefined && { [hsmAnnotations.importCancel]: a.importCancel }),
  ...(a.importState !== undefined && { [hsmAnnotations.importState]: stateOf("r1", a.importState) }),
  ...(a.other !== undefined && { "example.com/other": a.other })
})

describe("isRequestEdit", () => {
  it.prop("the same PVC sent again (a watch resumed from the start) wakes nothing", [Annotations], ([a]) => {
    const seen = new Map<string, string>()
    isRequestEdit(seen, claim(annotationsOf(a)))
    expect(isRequestEdit(seen, claim(annotationsOf(a)))).toBe(false)
  })

  it.prop("a change of states or other annotations only (the loop's own writes) wakes nothing", [Annotations, Annotations], ([a, b]) => {
    const seen = new Map<string, string>()
    isRequestEdit(seen, claim(annotationsOf(a)))
    const written = { ...b, import: a.import, archive: a.archive, importCancel: a.importCancel }
    expect(isRequestEdit(seen, claim(annotationsOf(written)))).toBe(false)
  })

  it.prop("a new import request no state has answered wakes the loop, whatever came before", [Annotations], ([a]) => {
    const seen = new Map<string, string>()
    isRequestEdit(seen, claim(annotationsOf(a)))
    const asked = { ...annotationsOf(a), [hsmAnnotations.import]: "r9:/new" }
    expect(isRequestEdit(seen, claim(asked))).toBe(true)
  })

  it("examples: first sight of an open request wakes; a settled one or none does not; requests removed, then asked again, wake", () => {
    const seen = new Map<string, string>()
    expect(isRequestEdit(seen, claim({}))).toBe(false)
    expect(isRequestEdit(seen, claim({ [hsmAnnotations.import]: "r1:/data", [hsmAnnotations.importState]: stateOf("r1", "Completed") })))
      .toBe(false)
    expect(isRequestEdit(seen, claim({}))).toBe(false)
    expect(seen.size).toBe(0)
    expect(isRequestEdit(seen, claim({ [hsmAnnotations.archive]: "a1:/" }))).toBe(true)
  })
})
