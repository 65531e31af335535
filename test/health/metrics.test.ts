import { Duration, Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Readiness } from "../../src/health/Readiness.js"
import { armEmulatorForTests } from "../support/armEmulatorForTests.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters, publishRequest } from "../support/csiRequests.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"
import { sampleSum } from "../support/prometheus.js"

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text()

describe("metrics, scraped over HTTP", () => {
  it("count every CSI call by method and code and time it", async () => {
    const driver = await startInProcessDriver({ healthServer: true, readiness: Readiness.layerFromChecks([]) })
    try {
      const { identity, node } = driver.client
      for (let i = 0; i < 3; i++) await ask(identity, identity.probe, {})
      await ask(identity, identity.getPluginInfo, {})
      for (let i = 0; i < 2; i++) await ask(node, node.nodeGetVolumeStats, { volumeId: "", volumePath: "/x", stagingTargetPath: "" })
      await ask(driver.client.controller, driver.client.controller.listVolumes, { maxEntries: 0, startingToken: "" })

      const text = await scrape(driver.healthUrl)
      const requests = "azurelustre_csi_grpc_requests_total"
      expect(sampleSum(text, requests, { method: "Probe", code: "OK" })).toBe(3)
      expect(sampleSum(text, requests, { method: "GetPluginInfo", code: "OK" })).toBe(1)
      expect(sampleSum(text, requests, { method: "NodeGetVolumeStats", code: "INVALID_ARGUMENT" })).toBe(2)
      expect(sampleSum(text, requests, { method: "ListVolumes", code: "UNIMPLEMENTED" })).toBe(1)
      expect(sampleSum(text, requests)).toBe(7)
      expect(sampleSum(text, "azurelustre_csi_grpc_request_duration_seconds_count", { method: "Probe" })).toBe(3)
      expect(sampleSum(text, "azurelustre_csi_grpc_request_duration_seconds_bucket", { method: "Probe", le: "+Inf" })).toBe(3)
    } finally {
      await driver.stop()
    }
  })

  it("count Lustre mounts held and time each mount and unmount", async () => {
    // A real directory, because the shared mounts' options are noted in a file beside them.
    const mountRoot = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mounts-"))
    const targets = ["/var/lib/kubelet/pods/a/volume", "/var/lib/kubelet/pods/b/volume"]
    const driver = await startInProcessDriver({
      healthServer: true,
      readiness: Readiness.layerFromChecks([]),
      mountRoot,
      lustreScript: { directories: ["/var/lib/kubelet/pods"] }
    })
    try {
      const { node } = driver.client
      const volumeId = "pv-1#lustrefs#10.0.0.4##f#"
      for (const targetPath of targets) {
        const published = await ask(node, node.nodePublishVolume, publishRequest(volumeId, targetPath))
        expect(published).toEqual({ ok: true, value: {} })
      }
      let text = await scrape(driver.healthUrl)
      expect(sampleSum(text, "azurelustre_csi_lustre_mounts")).toBe(1)
      expect(sampleSum(text, "azurelustre_csi_lustre_mount_duration_seconds_count", { operation: "mount", outcome: "ok" })).toBe(1)

      for (const targetPath of targets) {
        expect(await ask(node, node.nodeUnpublishVolume, { volumeId, targetPath })).toEqual({ ok: true, value: {} })
      }
      text = await scrape(driver.healthUrl)
      expect(sampleSum(text, "azurelustre_csi_lustre_mounts")).toBe(0)
      expect(sampleSum(text, "azurelustre_csi_lustre_mount_duration_seconds_count", { operation: "unmount", outcome: "ok" })).toBe(1)
    } finally {
      await driver.stop()
    }
  })
})

describe("ARM metrics, through the real client against the emulator", () => {
  const arm = armEmulatorForTests({ creationDuration: Duration.millis(300), deletionDuration: Duration.millis(100) })

  it("count every ARM request by operation and status, and time the long-running waits", async () => {
    const emulator = arm.emulator
    const driver = await arm.startController({ healthServer: true })
    try {
      const controller = driver.client.controller
      await Effect.runPromise(emulator.faults.throttle(1, 0))
      const created = await ask(
        controller,
        controller.createVolume,
        createVolumeRequest("pvc-metrics", {
          ...dynamicParameters
        })
      )
      expect(created.ok).toBe(true)
      const deleted = await ask(controller, controller.deleteVolume, {
        volumeId: created.ok ? created.value.volume?.volumeId ?? "" : "",
        secrets: {}
      })
      expect(deleted.ok).toBe(true)

      const text = await scrape(driver.healthUrl)
      const seen = (await Effect.runPromise(emulator.counters)).requests.length
      expect(sampleSum(text, "azurelustre_csi_arm_requests_total")).toBe(seen)
      expect(sampleSum(text, "azurelustre_csi_arm_requests_total", { status: "429" })).toBe(1)
      expect(sampleSum(text, "azurelustre_csi_arm_requests_total", { operation: "createAmlFilesystem", status: "201" }))
        .toBe(1)
      expect(sampleSum(text, "azurelustre_csi_arm_operation_wait_seconds_count", { operation: "create", outcome: "ok" })).toBe(1)
      expect(sampleSum(text, "azurelustre_csi_arm_operation_wait_seconds_count", { operation: "delete", outcome: "ok" })).toBe(1)
    } finally {
      await driver.stop()
    }
  })
})
