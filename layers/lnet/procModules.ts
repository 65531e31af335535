/**
 * /proc/modules (proc(5)), one loaded module a line: name, size, use count, users, state, address
 * and, for out-of-tree modules such as Lustre's, taint flags:
 *
 *   lnet 720896 6 osc,obdclass,ptlrpc,ksocklnd,lmv,lustre, Live 0x0000000000000000 (OE)
 *
 * lsmod(8) prints the same table with a header ("Module Size Used by"); both read the same here.
 */
const MODULE_NAME = /^[A-Za-z0-9_-]+$/

/** The names of the modules listed; a module still loading or unloading counts as loaded. */
export const parseLoadedModules = (text: string): ReadonlySet<string> =>
  new Set(
    text.split("\n").flatMap((line) => {
      const fields = line.trim().split(/\s+/)
      const name = fields[0]
      const isHeader = name === "Module" && fields[1] === "Size"
      return name !== undefined && MODULE_NAME.test(name) && !isHeader ? [name] : []
    })
  )
