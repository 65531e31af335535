import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { batchPaths, refusedPath } from "../../../layers/hsm/argumentBatches.js"
import { findCandidatesArgs, parseNulSeparated, splitNulRecords } from "../../../layers/hsm/findOutput.js"
import type { HsmAction } from "../../../layers/hsm/Hsm.js"
import {
  formatHsmActionLine,
  HSM_ACTION_KINDS,
  HSM_PROGRESS_STATES,
  noAction,
  parseHsmAction,
  parseHsmActionOutput
} from "../../../layers/hsm/hsmActionOutput.js"
import { formatHsmStateLine, hsmState, parseHsmState, parseHsmStateOutput } from "../../../layers/hsm/hsmStateOutput.js"
import type { LfsFileAnswer } from "../../../layers/hsm/lfsPerFileOutput.js"

const fixture = (name: string) => Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "fixtures", "hsm", name), "utf8")

const answered = <A>(path: string, value: A): LfsFileAnswer<A> => ({ _tag: "Answered", path, value })
const failed = (path: string, error: string): LfsFileAnswer<never> => ({ _tag: "Failed", path, error })

// Path pieces chosen to trip a parser that splits at ": ", at spaces or at "(0x", or reads bytes as characters.
const Piece = Schema.Literals(["data", "a b", ": ", "c: d", "(0x0000000d)", "é", "日本語", "🙂", "released", "-", "x"])
const PathOf = (pieces: ReadonlyArray<string>) => `/${pieces.join("/")}`
const U32 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }))
const FileState = Schema.Struct({ pieces: Schema.NonEmptyArray(Piece), flags: U32, archiveId: U32, newline: Schema.Boolean })

describe("lfs hsm_state", () => {
  it("reads real output: released, restored, never archived, removed from the archive, and the man page's sample", () => {
    const fsxPath = "/mnt/fsx/NAIP/ca_1m_2012/36117/m_3611718_nw_11_1_20120623.tif"
    assert.deepStrictEqual(parseHsmStateOutput(fixture("hsm-state-released-fsx.txt"), [fsxPath]), [
      answered(fsxPath, {
        flags: 0x0d,
        exists: true,
        dirty: false,
        released: true,
        archived: true,
        noRelease: false,
        noArchive: false,
        lost: false,
        archiveId: 1
      })
    ])
    assert.deepStrictEqual(parseHsmStateOutput(fixture("hsm-state-restored-fsx.txt"), [fsxPath]), [answered(fsxPath, hsmState(0x09, 1))])
    assert.deepStrictEqual(parseHsmStateOutput(fixture("hsm-state-released-dmf.txt"), ["testfile5"]), [answered("testfile5", hsmState(0x0d, 1))])
    assert.deepStrictEqual(
      parseHsmStateOutput(fixture("hsm-state-never-archived.txt"), ["ubuntu-25.04-desktop-amd64.iso"]),
      [answered("ubuntu-25.04-desktop-amd64.iso", hsmState(0, 0))]
    )
    assert.deepStrictEqual(parseHsmStateOutput(fixture("hsm-state-removed-from-archive.txt"), ["test"]), [answered("test", hsmState(0, 1))])
    const manPage = parseHsmStateOutput(fixture("hsm-state-man-page.txt"), ["/mnt/lustre/foo"])
    assert.deepStrictEqual(manPage, [answered("/mnt/lustre/foo", hsmState(0x0b, 1))])
    const state = manPage[0]?._tag === "Answered" ? manPage[0].value : undefined
    assert.isTrue(state?.exists && state.dirty && state.archived && !state.released)
  })

  it("prints the real lines back byte for byte (so the printer the properties use is lfs's)", () => {
    for (const [name, path] of [
      ["hsm-state-released-fsx.txt", "/mnt/fsx/NAIP/ca_1m_2012/36117/m_3611718_nw_11_1_20120623.tif"],
      ["hsm-state-restored-fsx.txt", "/mnt/fsx/NAIP/ca_1m_2012/36117/m_3611718_nw_11_1_20120623.tif"],
      ["hsm-state-released-dmf.txt", "testfile5"],
      ["hsm-state-never-archived.txt", "ubuntu-25.04-desktop-amd64.iso"],
      ["hsm-state-removed-from-archive.txt", "test"]
    ] as const) {
      const [answer] = parseHsmStateOutput(fixture(name), [path])
      assert.ok(answer?._tag === "Answered", name)
      assert.strictEqual(formatHsmStateLine(path, answer.value), fixture(name), name)
    }
  })

  it("2.16 goes on past a file it cannot read and names it on stderr; a path holding \": \" stays whole", () => {
    const paths = ["/lustre/data/a.bin", "/lustre/data/b.bin", "/lustre/data/c: d.bin"]
    assert.deepStrictEqual(parseHsmStateOutput(fixture("hsm-state-batch-2.16.stdout.txt"), paths, fixture("hsm-state-batch-2.16.stderr.txt")), [
      answered("/lustre/data/a.bin", hsmState(0x0d, 1)),
      failed("/lustre/data/b.bin", "lfs hsm_state: get HSM state for '/lustre/data/b.bin' failed: No such file or directory"),
      answered("/lustre/data/c: d.bin", hsmState(0x09, 1))
    ])
  })

  it("2.15 stops at the first file it cannot read: the files after it are unanswered, not failed", () => {
    const paths = ["/lustre/data/a.bin", "/lustre/data/b.bin", "/lustre/data/c: d.bin"]
    assert.deepStrictEqual(parseHsmStateOutput(fixture("hsm-state-batch-2.15.stdout.txt"), paths, fixture("hsm-state-batch-2.15.stderr.txt")), [
      answered("/lustre/data/a.bin", hsmState(0x0d, 1)),
      failed("/lustre/data/b.bin", "can't get hsm state for /lustre/data/b.bin: No such file or directory"),
      { _tag: "Unanswered", path: "/lustre/data/c: d.bin" }
    ])
  })

  it("checks the words against the number, and says what does not read", () => {
    assert.deepStrictEqual(
      parseHsmState("(0x00000009) released exists archived, archive_id:1"),
      Result.fail("the words \"released exists archived\" do not match the flags 0x00000009, which lfs prints as \"exists archived\"")
    )
    assert.deepStrictEqual(parseHsmState("(0x00000001) exists frozen"), Result.fail("unknown state word frozen"))
    assert.deepStrictEqual(parseHsmState("(0x0000001) exists"), Result.fail("expected \"(0x%08x)\", state words, then \", archive_id:N\" when not 0"))
    assert.deepStrictEqual(parseHsmStateOutput("/f: (0x00000009) exists\n", ["/f"]), [
      failed(
        "/f",
        "lfs hsm_state printed \"(0x00000009) exists\" for it, which does not read as its output: the words \"exists\" do not match the flags 0x00000009, which lfs prints as \"exists archived\""
      )
    ])
  })

  it("keeps bits lfs has no word for (2.16's HS_PCCRW, HS_PCCRO), and reads a negative %d archive id as the unsigned id", () => {
    assert.deepStrictEqual(parseHsmState("(0x00000181) exists"), Result.succeed(hsmState(0x181, 0)))
    assert.deepStrictEqual(parseHsmState("(0x0000000d) released exists archived, archive_id:-1"), Result.succeed(hsmState(0x0d, 0xffffffff)))
  })

  it.prop("printing states as lfs does and parsing them gives them back", [Schema.Array(FileState)], ([files]) => {
    const paths = files.map((file) => PathOf(file.pieces) + (file.newline ? "\nz" : ""))
    const states = files.map((file) => hsmState(file.flags, file.archiveId))
    const stdout = paths.map((path, index) => formatHsmStateLine(path, states[index]!)).join("")
    assert.deepStrictEqual(parseHsmStateOutput(stdout, paths), paths.map((path, index) => answered(path, states[index]!)))
  })

  it.prop(
    "files lfs failed on get its words from stderr, in either release's wording, and the others their states",
    [Schema.Array(Schema.Struct({ file: FileState, fails: Schema.Boolean })), Schema.Boolean],
    ([files, release215]) => {
      const paths = files.map(({ file }, index) => `${PathOf(file.pieces)}-${index}`)
      const states = files.map(({ file }) => hsmState(file.flags, file.archiveId))
      const errorOf = (path: string) =>
        release215 ? `can't get hsm state for ${path}: No such file or directory` : `lfs hsm_state: get HSM state for '${path}' failed: No such file or directory`
      // 2.15 returns at the first failure; 2.16 prints every other file.
      const firstFailure = files.findIndex(({ fails }) => fails)
      const printed = (index: number) => !files[index]!.fails && (!release215 || firstFailure < 0 || index < firstFailure)
      const stdout = paths.map((path, index) => printed(index) ? formatHsmStateLine(path, states[index]!) : "").join("")
      const stderr = paths.filter((_, index) => files[index]!.fails && (!release215 || index === firstFailure)).map((path) => `${errorOf(path)}\n`).join("")
      assert.deepStrictEqual(
        parseHsmStateOutput(stdout, paths, stderr),
        paths.map((path, index) =>
          printed(index)
            ? answered(path, states[index]!)
            : files[index]!.fails && (!release215 || index === firstFailure)
            ? failed(path, errorOf(path))
            : { _tag: "Unanswered" as const, path }
        )
      )
    }
  )

  it.prop("garbage never throws: every path gets an answer", [Schema.String, Schema.Array(Schema.String), Schema.String], ([stdout, paths, stderr]) => {
    const answers = parseHsmStateOutput(stdout, paths, stderr)
    assert.deepStrictEqual(answers.map((answer) => answer.path), paths)
  })
})

const ActionOf = Schema.Struct({
  kind: Schema.Literals(HSM_ACTION_KINDS),
  progress: Schema.Literals(HSM_PROGRESS_STATES),
  bytes: Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 2n ** 64n - 1n })),
  offset: Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 2n ** 63n })),
  toEof: Schema.Boolean
})
type ActionOf = typeof ActionOf.Type

/** The action lfs shows for `a`: bytes moved only for a running archive or restore. */
const actionOf = (a: ActionOf): HsmAction =>
  a.kind === "NOOP"
    ? noAction
    : { kind: a.kind, progress: a.progress, bytesMoved: a.progress === "running" && (a.kind === "ARCHIVE" || a.kind === "RESTORE") ? a.bytes : undefined }

describe("lfs hsm_action", () => {
  it("reads each kind of line: bytes moved, an extent to EOF, a bounded extent, NOOP", () => {
    const paths = ["/lustre/data/a.bin", "/lustre/data/b.bin", "/lustre/data/c: d.bin", "/lustre/data/e.bin"]
    const expected: ReadonlyArray<LfsFileAnswer<HsmAction>> = [
      answered("/lustre/data/a.bin", { kind: "RESTORE", progress: "running", bytesMoved: 1048576n }),
      failed("/lustre/data/b.bin", "lfs hsm_action: get hsm action for '/lustre/data/b.bin' failed: No such file or directory"),
      answered("/lustre/data/c: d.bin", { kind: "ARCHIVE", progress: "waiting", bytesMoved: undefined }),
      answered("/lustre/data/e.bin", { kind: "RELEASE", progress: "done", bytesMoved: undefined })
    ]
    assert.deepStrictEqual(parseHsmActionOutput(fixture("hsm-action-batch-2.16.stdout.txt"), paths, fixture("hsm-action-batch-2.16.stderr.txt")), expected)
    assert.deepStrictEqual(parseHsmActionOutput(fixture("hsm-action-batch-2.15.stdout.txt"), paths, fixture("hsm-action-batch-2.15.stderr.txt")), [
      expected[0]!,
      failed("/lustre/data/b.bin", "can't get hsm action for /lustre/data/b.bin: No such file or directory"),
      { _tag: "Unanswered", path: "/lustre/data/c: d.bin" },
      { _tag: "Unanswered", path: "/lustre/data/e.bin" }
    ])
    assert.deepStrictEqual(parseHsmActionOutput(fixture("hsm-action-noop.txt"), ["/lustre/data/b.bin"]), [answered("/lustre/data/b.bin", noAction)])
  })

  it("refuses lines lfs would not print", () => {
    assert.deepStrictEqual(parseHsmAction("RESTORE running (from 0 to EOF)"), Result.fail("lfs prints bytes moved, not an extent, for a running RESTORE"))
    assert.deepStrictEqual(
      parseHsmAction("RELEASE running (12 bytes moved)"),
      Result.fail("lfs prints bytes moved only for a running ARCHIVE or RESTORE, not for RELEASE running")
    )
    assert.deepStrictEqual(parseHsmAction("NOOP waiting (from 0 to EOF)"), Result.fail("NOOP is printed alone"))
    assert.deepStrictEqual(parseHsmAction("ARCHIVE"), Result.fail("ARCHIVE without its progress and extent"))
    assert.isTrue(Result.isFailure(parseHsmAction("MIGRATE running (1 bytes moved)")))
  })

  it.prop("printing actions as lfs does and parsing them gives them back", [Schema.Array(Schema.Struct({ pieces: Schema.NonEmptyArray(Piece), action: ActionOf }))], ([files]) => {
    const paths = files.map((file) => PathOf(file.pieces))
    const actions = files.map((file) => actionOf(file.action))
    const stdout = files.map((file, index) =>
      formatHsmActionLine(paths[index]!, actions[index]!, { offset: file.action.offset, end: file.action.toEof ? "EOF" : file.action.offset + file.action.bytes })
    ).join("")
    assert.deepStrictEqual(parseHsmActionOutput(stdout, paths), paths.map((path, index) => answered(path, actions[index]!)))
  })

  it.prop("garbage never throws: every path gets an answer", [Schema.String, Schema.Array(Schema.String), Schema.String], ([stdout, paths, stderr]) => {
    assert.deepStrictEqual(parseHsmActionOutput(stdout, paths, stderr).map((answer) => answer.path), paths)
  })
})

describe("lfs find --print0", () => {
  it("asks for regular files with data and at most 2 blocks, lazily, NUL-separated", () => {
    assert.deepStrictEqual(findCandidatesArgs("/lustre/data"), ["find", "/lustre/data", "--type", "f", "--size", "+0", "--blocks", "-2k", "--lazy", "--print0"])
  })

  it("splits at NUL, keeps newlines and multi-byte characters cut between chunks whole, and leaves out an unterminated record", () => {
    const bytes = new TextEncoder().encode("/l/a\n b\0/l/日本語\0/l/cut")
    const cut = bytes.indexOf(0xe6) + 1 // inside 日
    const first = splitNulRecords(new Uint8Array(0), bytes.subarray(0, cut))
    assert.deepStrictEqual(first.records, ["/l/a\n b"])
    const second = splitNulRecords(first.rest, bytes.subarray(cut))
    assert.deepStrictEqual(second.records, ["/l/日本語"])
    assert.strictEqual(new TextDecoder().decode(second.rest), "/l/cut")
    assert.deepStrictEqual(parseNulSeparated(bytes), ["/l/a\n b", "/l/日本語"])
  })

  it.prop("any cut of the output into chunks gives the same records", [Schema.Array(Schema.NonEmptyArray(Piece)), Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 400 })))], ([files, cuts]) => {
    const paths = files.map(PathOf)
    const bytes = new TextEncoder().encode(paths.map((path) => `${path}\0`).join(""))
    const points = [...new Set(cuts.map((cut) => Math.min(cut, bytes.length)))].sort((a, b) => a - b)
    let rest = new Uint8Array(0)
    const records: Array<string> = []
    for (const [start, end] of [0, ...points].map((start, index, all) => [start, all[index + 1] ?? bytes.length] as const)) {
      const split = splitNulRecords(rest, bytes.subarray(start, end))
      records.push(...split.records)
      rest = new Uint8Array(split.rest)
    }
    assert.deepStrictEqual(records, paths)
    assert.strictEqual(rest.length, 0)
  })
})

describe("argument batches", () => {
  it("cuts at the path count or the byte budget, whichever comes first; a path over the budget goes alone", () => {
    const paths = Array.from({ length: 7 }, (_, index) => `/l/${index}`)
    assert.deepStrictEqual(batchPaths(paths, { maxPaths: 3, maxBytes: 1000 }).map((batch) => batch.length), [3, 3, 1])
    // Each "/l/N" costs 5 bytes with its NUL.
    assert.deepStrictEqual(batchPaths(paths, { maxPaths: 100, maxBytes: 10 }).map((batch) => batch.length), [2, 2, 2, 1])
    assert.deepStrictEqual(batchPaths(["/x", `/${"y".repeat(50)}`, "/z"], { maxPaths: 10, maxBytes: 20 }).map((batch) => batch.length), [1, 1, 1])
    assert.deepStrictEqual(batchPaths(["/日本語"], { maxPaths: 10, maxBytes: 11 }), [["/日本語"]])
  })

  it.prop(
    "batches keep every path in order, within the limits",
    [Schema.Array(Schema.NonEmptyArray(Piece)), Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8 })), Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 200 }))],
    ([files, maxPaths, maxBytes]) => {
      const paths = files.map(PathOf)
      const batches = batchPaths(paths, { maxPaths, maxBytes })
      assert.deepStrictEqual(batches.flat(), paths)
      for (const batch of batches) {
        assert.isTrue(batch.length >= 1 && batch.length <= maxPaths)
        const bytes = batch.reduce((sum, path) => sum + new TextEncoder().encode(path).length + 1, 0)
        assert.isTrue(batch.length === 1 || bytes <= maxBytes)
      }
    }
  )

  it("refuses relative paths (an option or the plugin's own directory) and NUL bytes", () => {
    assert.isUndefined(refusedPath("/lustre/a"))
    assert.match(refusedPath("-rf") ?? "", /not an absolute path/)
    assert.match(refusedPath("data/a") ?? "", /not an absolute path/)
    assert.match(refusedPath("/a\0b") ?? "", /NUL/)
  })
})
