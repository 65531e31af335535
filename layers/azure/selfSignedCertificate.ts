import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A PEM certificate and its private key. */
export interface CertificateAndKey {
  readonly certificatePem: string
  readonly keyPem: string
}

/**
 * A fresh self-signed P-256 certificate for `127.0.0.1` (CN and IP subjectAltName), valid one
 * day, made by `openssl req -x509` in a temporary directory that is removed afterwards. Node has
 * no X.509 writer of its own. A missing or failing openssl is a defect: the emulator cannot run.
 */
export const selfSignedCertificate = (openssl = "openssl"): Effect.Effect<CertificateAndKey> =>
  Effect.acquireUseRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "arm-emulator-tls-"))),
    (dir) =>
      Effect.callback<CertificateAndKey>((resume) => {
        const keyPath = Path.join(dir, "key.pem")
        const certPath = Path.join(dir, "cert.pem")
        const child = ChildProcess.execFile(
          openssl,
          [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            keyPath,
            "-out",
            certPath
          ],
          { timeout: 30_000 },
          (error, _stdout, stderr) => {
            if (error !== null) {
              resume(Effect.die(new Error(`openssl could not make the emulator's certificate: ${error.message} ${stderr}`)))
              return
            }
            resume(Effect.sync(() => ({
              certificatePem: Fs.readFileSync(certPath, "utf8"),
              keyPem: Fs.readFileSync(keyPath, "utf8")
            })))
          }
        )
        return Effect.sync(() => {
          child.kill()
        })
      }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
