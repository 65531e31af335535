import * as Schema from "effect/Schema"

/**
 * Why the node cannot have its Lustre client, in words an operator can act on: what failed, on
 * which package, kernel or interface, and what to do. `permanent`: another round cannot help (an
 * unsupported release); otherwise the setup tries again later, on its own.
 */
export class NodeSetupFailed extends Schema.TaggedError<NodeSetupFailed>()("NodeSetupFailed", {
  reason: Schema.String,
  permanent: Schema.Boolean
}) {}
