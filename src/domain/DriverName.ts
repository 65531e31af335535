import * as Schema from "effect/Schema"

/**
 * The plugin name CSI requires: domain name notation, at most 63 characters, beginning and
 * ending with an alphanumeric, with dashes, dots and alphanumerics between.
 */
export const DriverName = Schema.String.check(
  Schema.isMinLength(1, { message: "the driver name is empty; the default is azurelustre.csi.azure.com" }),
  Schema.isMaxLength(63, { message: "a CSI driver name is at most 63 characters" }),
  Schema.isPattern(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, {
    message: "a CSI driver name is in domain name notation: letters, digits, '-' and '.', " +
      "beginning and ending with a letter or digit (e.g. azurelustre.csi.azure.com)"
  })
).pipe(Schema.brand("DriverName"))
export type DriverName = typeof DriverName.Type

export const DEFAULT_DRIVER_NAME: DriverName = Schema.decodeSync(DriverName)("azurelustre.csi.azure.com")
