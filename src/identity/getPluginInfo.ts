import * as Effect from "effect/Effect"
import { DriverConfig } from "../config/DriverConfig.js"
import type { GetPluginInfoRequest, GetPluginInfoResponse } from "../gen/csi.js"

export const getPluginInfo = Effect.fnUntraced(function*(_request: GetPluginInfoRequest) {
  const config = yield* DriverConfig
  const response: GetPluginInfoResponse = {
    name: config.driverName,
    vendorVersion: config.vendorVersion,
    manifest: {}
  }
  return response
})
