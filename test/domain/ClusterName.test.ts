import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { CLUSTER_NAME_PATTERN, clusterNameFor, isValidClusterName } from "../../src/domain/ClusterName.js"

const ValidName = Schema.String.check(Schema.isPattern(/^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/))
/** Anything a CreateVolume name could be: long, short, empty, with dots, slashes, spaces, unicode. */
const AnyName = Schema.Union([
  Schema.String,
  Schema.String.check(Schema.isPattern(/^[-._a-z0-9/ ]{0,200}$/)),
  Schema.String.check(Schema.isPattern(/^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[-._a-z]{0,60}$/))
])

describe("clusterNameFor", () => {
  it.prop("always gives a name ARM accepts, the same every time", [AnyName], ([name]) => {
    const cluster = clusterNameFor(name)
    expect(CLUSTER_NAME_PATTERN.test(cluster)).toBe(true)
    expect(cluster.length).toBeLessThanOrEqual(80)
    expect(clusterNameFor(name)).toBe(cluster)
    expect(clusterNameFor(cluster)).toBe(cluster)
  })

  it.prop("keeps a valid name as it is (the Go driver's clusters keep their names)", [ValidName], ([name]) => {
    expect(isValidClusterName(name)).toBe(true)
    expect(clusterNameFor(name)).toBe(name)
  })

  it.prop("never maps two different names to one cluster", [Schema.Array(AnyName)], ([names]) => {
    const byCluster = new Map<string, string>()
    for (const name of new Set(names)) {
      const cluster = clusterNameFor(name)
      const earlier = byCluster.get(cluster)
      expect(earlier === undefined || earlier === name).toBe(true)
      byCluster.set(cluster, name)
    }
  })

  it("examples", () => {
    const pv = "pvc-0b7a8f1e-3c1d-4c55-9a43-0d2f3f0c9a11"
    expect(clusterNameFor(pv)).toBe(pv)
    const dotted = clusterNameFor("team.a/volume")
    expect(dotted).toMatch(/^team-a-volume-[0-9a-f]{12}$/)
    expect(clusterNameFor("team/a.volume")).not.toBe(dotted)
    const long = "pvc-" + "x".repeat(100)
    expect(clusterNameFor(long)).toMatch(/^pvc-x{63}-[0-9a-f]{12}$/)
    expect(clusterNameFor(long + "y")).not.toBe(clusterNameFor(long))
    expect(clusterNameFor("")).toMatch(/^[0-9a-f]{12}$/)
    expect(clusterNameFor("_x")).toMatch(/^x-[0-9a-f]{12}$/)
    expect(clusterNameFor("a")).toMatch(/^a-[0-9a-f]{12}$/)
    expect(clusterNameFor("a-")).toMatch(/^a--[0-9a-f]{12}$/)
    expect(clusterNameFor("\ud800")).not.toBe(clusterNameFor("\ud803"))
  })
})
