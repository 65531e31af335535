import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { driverClusterOf } from "../../src/controller/driverCluster.js"
import type { VolumeId } from "../../src/domain/VolumeId.js"

const id = (name: string, resourceGroup: string): VolumeId =>
  ({ name, fsName: "lustrefs", mgsAddress: "10.0.0.4", subDir: "", createdByDriver: true, resourceGroup })

describe("driverClusterOf", () => {
  it("reads the cluster of an id the driver wrote", () => {
    expect(driverClusterOf(id("pvc-1", "rg-(prod).1"))).toEqual(Result.succeed({ resourceGroup: "rg-(prod).1", name: "pvc-1" }))
  })

  it("refuses what ARM would refuse, quoting it bounded, so it is never sent to ARM", () => {
    expect(driverClusterOf(id("pvc-1", ""))).toEqual(Result.fail("names no resource group"))
    expect(driverClusterOf(id("pvc-1", "rg/.."))).toEqual(Result.fail(`its resource group "rg/.." is not an Azure resource group name`))
    expect(driverClusterOf(id("pvc-1", "rg."))).toEqual(Result.fail(`its resource group "rg." is not an Azure resource group name`))
    expect(driverClusterOf(id("pvc.1", "rg"))).toEqual(Result.fail(`its name "pvc.1" is not an AMLFS cluster name`))
    const long = driverClusterOf(id("pvc-1", "r".repeat(70_000)))
    expect(Result.isFailure(long) && long.failure).toMatch(/^its resource group "r+…" \(70000 characters\) is not/)
  })
})
