/**
 * The commands the node setup runs on the host, as argument vectors: the live layer runs them in
 * the host's root, the fake and the simulation record them the same way, so tests name the exact
 * commands a node sees.
 */
export const hostCommands = {
  updatePackageLists: ["apt-get", "update"],
  /**
   * The Go driver's options: no recommends, and keep the host's configuration files (no prompt).
   * `--reinstall`: the install runs only when the package is not installed and configured, and a
   * package a cut dpkg left half-installed is otherwise "already the newest version" to apt.
   */
  installPackage: (name: string, version: string) => [
    "apt-get", "install", "-y", "--reinstall", "--no-install-recommends",
    "-o", "DPkg::options::=--force-confdef", "-o", "DPkg::options::=--force-confold",
    `${name}=${version}`
  ],
  removePackages: (names: ReadonlyArray<string>) => ["apt-get", "remove", "--purge", "-y", ...names],
  /** What apt asks for after an interrupted apt-get or dpkg; keeps the host's configuration files, as the install does. */
  configurePendingPackages: ["dpkg", "--configure", "-a", "--force-confdef", "--force-confold"],
  unloadModules: ["lustre_rmmod"],
  loadModule: (module: string, parameters: ReadonlyArray<string>) => ["modprobe", "-v", module, ...parameters],
  configureLnet: ["lnetctl", "lnet", "configure"],
  lnetNis: ["lnetctl", "net", "show"],
  addTcpInterface: (networkInterface: string) => ["lnetctl", "net", "add", "--net", "tcp", "--if", networkInterface],
  deleteTcpNet: ["lnetctl", "net", "del", "--net", "tcp"],
  links: ["ip", "-o", "link", "show"],
  routes: ["ip", "route", "show"]
} as const

/** The package-manager commands among them: what the node setup counts and what a restart should not run. */
export const isPackageManagerCommand = (argv: ReadonlyArray<string>): boolean =>
  argv[0] === "apt-get" || argv[0] === "dpkg" || argv[0] === "apt"

/** A command as a log line or a test shows it: its words joined by spaces. */
export const commandText = (argv: ReadonlyArray<string>): string => argv.join(" ")
