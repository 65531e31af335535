import packageJson from "../package.json" with { type: "json" }

/** The driver's version, reported as GetPluginInfo's vendor_version. */
export const VENDOR_VERSION: string = packageJson.version
