import { status } from "@grpc/grpc-js"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, expect, it } from "vitest"
import { ask, csiClient } from "../support/csiClient.js"
import { publishRequest } from "../support/csiRequests.js"
import { startSimulation } from "../support/driverProcess.js"
import { mountPointsUnder, scratchFolder, unmountAllUnder } from "../support/mounts.js"
import { rootOnly } from "../support/rootOnly.js"

const asRoot = rootOnly()

const TRIES = 1000
const MGS = "10.0.0.4"
const scratch = scratchFolder("csi-race-")
afterAll(() => unmountAllUnder(scratch))

asRoot.describe("sub-dir symlink race (CVE-2021-25741 class), on the simulation's real bind mounts", () => {
  it(`binds the directory it checked: 0 escapes in ${TRIES} publishes against a RENAME_EXCHANGE loop`, async () => {
    const driver = await startSimulation(["--kubelet-dir", scratch])
    const client = csiClient(driver.socketPath)
    const attacker = { kill: () => {} }
    try {
      // Inside the filesystem: race/dir (a directory) and race/link (a symlink leading out of it).
      const filesystem = Path.join(driver.stateDir, "filesystems", MGS, "lustrefs")
      const outside = Path.join(scratch, "host-secrets")
      Fs.mkdirSync(outside)
      Fs.writeFileSync(Path.join(outside, "marker"), "outside")
      Fs.mkdirSync(Path.join(filesystem, "race/dir"), { recursive: true })
      Fs.writeFileSync(Path.join(filesystem, "race/dir/marker"), "inside")
      Fs.symlinkSync(`../../../../../../../../../..${outside}`, Path.join(filesystem, "race/link"))

      const volumeId = `pv-race#lustrefs#${MGS}#race/dir#f#`
      // The shared mount exists before the race starts, so every try is a plain sub-dir publish.
      const warmUp = Path.join(scratch, "pods", "warm-up", "mount")
      expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, warmUp))).toEqual({ ok: true, value: {} })

      const loop = spawn("python3", [
        Path.resolve(import.meta.dirname, "../support/renameExchangeLoop.py"),
        Path.join(filesystem, "race/dir"),
        Path.join(filesystem, "race/link")
      ], { stdio: ["ignore", "pipe", "inherit"] })
      attacker.kill = () => loop.kill("SIGKILL")
      await new Promise((resolve) => loop.stdout.once("data", resolve))

      const published: Array<string> = []
      let refused = 0
      let escapes = 0
      for (let n = 0; n < TRIES; n++) {
        const target = Path.join(scratch, "pods", `try-${n}`, "mount")
        const answer = await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, target))
        if (answer.ok) {
          published.push(target)
          if (Fs.readFileSync(Path.join(target, "marker"), "utf8") !== "inside") escapes++
          expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: target })).toEqual({ ok: true, value: {} })
        } else {
          expect(answer, answer.ok ? "" : answer.details).toMatchObject({ code: status.INVALID_ARGUMENT })
          refused++
        }
      }
      attacker.kill()
      console.log(`sub-dir race: ${published.length} published, ${refused} refused (a symlink was in place), ${escapes} escapes in ${TRIES} tries`)
      expect(escapes).toBe(0)
      // The race was real: some publishes met the directory, some the symlink.
      expect(published.length).toBeGreaterThan(0)
      expect(refused).toBeGreaterThan(0)
      expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: warmUp })).toEqual({ ok: true, value: {} })
      expect(mountPointsUnder(scratch)).toEqual([])
      expect(mountPointsUnder(driver.stateDir)).toEqual([])
    } finally {
      attacker.kill()
      client.close()
      driver.child.kill("SIGKILL")
    }
  }, 120_000)
})
