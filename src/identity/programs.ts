import type { Programs } from "../csi/implement.js"
import type { IdentityService } from "../gen/csi.js"
import type { DriverConfig } from "../config/DriverConfig.js"
import type { Readiness } from "../health/Readiness.js"
import { getPluginCapabilities } from "./getPluginCapabilities.js"
import { getPluginInfo } from "./getPluginInfo.js"
import { probe } from "./probe.js"

export const identityPrograms: Programs<typeof IdentityService, DriverConfig | Readiness> = {
  getPluginInfo,
  getPluginCapabilities,
  probe
}
