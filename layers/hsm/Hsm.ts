import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"

/**
 * The HSM flags of a Lustre file (`enum hsm_states` in lustre_user.h), as `lfs hsm_state`
 * prints them: `(0x0000000d) released exists archived, archive_id:1`.
 */
export interface HsmState {
  /** `hus_states`, the raw bit set. */
  readonly flags: number
  /** HS_EXISTS: a copy exists in the archive. */
  readonly exists: boolean
  /** HS_DIRTY: the file changed since it was archived. */
  readonly dirty: boolean
  /** HS_RELEASED: the data is gone from the OSTs; reading it restores it first. */
  readonly released: boolean
  /** HS_ARCHIVED: the archive copy is complete and current. */
  readonly archived: boolean
  /** HS_NORELEASE ("never_release"). */
  readonly noRelease: boolean
  /** HS_NOARCHIVE ("never_archive"). */
  readonly noArchive: boolean
  /** HS_LOST ("lost_from_hsm"): the archive copy is lost; a released file cannot come back. */
  readonly lost: boolean
  /** The archive backend's id; 0 when none was printed. */
  readonly archiveId: number
}

/** `enum hsm_user_action` as hsm_user_action2name spells it. */
export type HsmActionKind = "NOOP" | "ARCHIVE" | "RESTORE" | "RELEASE" | "REMOVE" | "CANCEL" | "UNKNOWN"

/**
 * The action in progress on a file, as `lfs hsm_action` prints it:
 * `RESTORE running (1048576 bytes moved)`, `ARCHIVE waiting (from 0 to EOF)`, `NOOP`.
 */
export interface HsmAction {
  readonly kind: HsmActionKind
  /** `enum hsm_progress_states`; undefined for NOOP. */
  readonly progress: "waiting" | "running" | "done" | "unknown" | undefined
  /** Bytes moved so far, for a running archive or restore. */
  readonly bytesMoved: bigint | undefined
}

/** A file's HSM state and the action in progress on it. */
export interface FileHsmStatus {
  readonly path: string
  readonly state: HsmState
  readonly action: HsmAction
  /** Why the last request on this file failed, when the layer knows (the simulation does; lfs does not say). */
  readonly failure?: string
}

/** A file an operation could not act on, and why (lfs's or the simulation's words). */
export interface FileHsmFailure {
  readonly path: string
  readonly error: string
}

/** A released regular file found under a directory. */
export interface ReleasedFile {
  readonly path: string
  /** Its size in bytes (what a restore brings back). */
  readonly size: bigint
}

/** The HSM tool could not run at all: lfs missing, killed, timed out, or not a Lustre path. */
export class HsmUnavailable extends Schema.TaggedError<HsmUnavailable>()("HsmUnavailable", {
  /** The command line or operation. */
  operation: Schema.String,
  message: Schema.String
}) {}

/**
 * Lustre HSM on the node: reading files' HSM state and requesting archive, release and restore
 * (`lfs hsm_*`). Requests are asynchronous, as in Lustre: a restore returns once the
 * coordinator has it; `status` shows when the data is back. Every operation takes many files
 * and batches them (many files per command). Paths are absolute; the caller reaches them through
 * a directory it opened and checked. Commands run with argument arrays and timeouts, never
 * through a shell.
 */
export class Hsm extends Context.Service<Hsm, {
  /** State and action in progress of each path (`lfs hsm_state` and `lfs hsm_action`). */
  readonly status: (
    paths: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<FileHsmStatus | FileHsmFailure>, HsmUnavailable>
  /**
   * The released regular files beneath `directory`, in batches, without reading the state of
   * every file one by one; cost bounded per batch.
   */
  readonly findReleased: (directory: string) => Stream.Stream<ReadonlyArray<ReleasedFile>, HsmUnavailable>
  /** `lfs hsm_restore`: asks for the data back; answers the files that could not be asked for. */
  readonly restore: (paths: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<FileHsmFailure>, HsmUnavailable>
  /** `lfs hsm_archive`: copies the files to the archive. */
  readonly archive: (paths: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<FileHsmFailure>, HsmUnavailable>
  /** `lfs hsm_release`: drops the data of archived, unchanged files. */
  readonly release: (paths: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<FileHsmFailure>, HsmUnavailable>
}>()("azurelustre/hsm/Hsm") {}

export const isFailure = (answer: FileHsmStatus | FileHsmFailure): answer is FileHsmFailure => "error" in answer
