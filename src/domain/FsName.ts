import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { quote } from "./BoundedText.js"

/** Every Azure Managed Lustre cluster's Lustre fsname. */
export const DEFAULT_FS_NAME = "lustrefs"

const FS_NAME = /^[A-Za-z0-9_-]{1,8}$/

/** The message sent to the user when `fs-name` breaks Lustre's fsname rules. */
export const fsNameMessage = (value: string): string =>
  value === ""
    ? `fs-name is empty; leave the parameter out to use ${DEFAULT_FS_NAME}, the fsname of every Azure Managed Lustre filesystem`
    : `fs-name ${quote(value)} is not a Lustre fsname: it is 1 to 8 characters, letters, digits, '_' ` +
      `and '-' (mkfs.lustre's limit); Azure Managed Lustre filesystems are named ${DEFAULT_FS_NAME}`

/** True when `text` follows Lustre's fsname rules: 1-8 characters, letters, digits, '_' and '-'. */
export const isFsName = (text: string): boolean => FS_NAME.test(text)

/**
 * A Lustre filesystem name (`mkfs.lustre --fsname`): at most 8 characters, letters, digits, '_'
 * and '-'; no '/', ':' or whitespace, which would break the `<mgs>@tcp:/<fsname>` mount source.
 */
export const FsName = Schema.String.check(
  Schema.makeFilter<string>((text) => isFsName(text) || fsNameMessage(text), {
    expected: "a Lustre fsname such as lustrefs",
    arbitraryConstraint: { patterns: [{ source: FS_NAME.source, flags: "" }] }
  })
).pipe(Schema.brand("FsName"))
export type FsName = typeof FsName.Type

/** Parses `fs-name`; the failure is the full user-facing message. */
export const parseFsName = (text: string): Result.Result<FsName, string> =>
  isFsName(text) ? Result.succeed(text as FsName) : Result.fail(fsNameMessage(text))
