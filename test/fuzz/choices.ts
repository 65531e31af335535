import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"

// Small combinators over Effect's Arbitrary for a fuzz that draws mostly from pools of
// interesting values and now and then from Schema-generated junk.

type Arb<A> = Arbitrary.Arbitrary<A>

/** An integer from `minimum` to `maximum`, both included. */
export const between = (minimum: number, maximum: number): Arb<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))

/** One value of a pool, each equally likely. */
export const pick = <const A>(pool: ReadonlyArray<A>): Arb<A> => {
  if (pool.length === 0) throw new Error("pick needs a value to pick")
  return Arbitrary.map(between(0, pool.length - 1), (index) => pool[index]!)
}

/** One of the Arbitraries, chosen in proportion to its weight. */
export const weighted = <A>(choices: ReadonlyArray<readonly [weight: number, Arb<A>]>): Arb<A> => {
  const total = choices.reduce((sum, [weight]) => sum + weight, 0)
  return Arbitrary.flatMap(between(0, total - 1), (ticket) => {
    let left = ticket
    for (const [weight, choice] of choices) {
      if (left < weight) return choice
      left -= weight
    }
    return choices[choices.length - 1]![1]
  })
}

/** `likely` most of the time (`percent` of cases), `otherwise` in the rest. */
export const mostly = <A>(percent: number, likely: Arb<A>, otherwise: Arb<A>): Arb<A> =>
  weighted([[percent, likely], [100 - percent, otherwise]])

/** Any string Schema generates: printable text, control characters, lone surrogates, emoji. */
export const junkText: Arb<string> = Arbitrary.schema(Schema.String)

/** A string map of up to `maxEntries` entries, keys and values from the given Arbitraries. */
export const recordOf = (key: Arb<string>, value: Arb<string>, maxEntries: number): Arb<Record<string, string>> =>
  Arbitrary.map(
    Arbitrary.array(Arbitrary.all([key, value]), { maxLength: maxEntries }),
    (entries) => Object.fromEntries(entries)
  )

/** Each entry of `fields` present or not, independently (`percent` present); a map made of those present. */
export const someOf = (fields: Readonly<Record<string, Arb<string>>>, percent: number): Arb<Record<string, string>> =>
  Arbitrary.map(
    Arbitrary.all(Object.values(fields).map((value) =>
      mostly<ReadonlyArray<string>>(percent, Arbitrary.map(value, (v) => [v]), Arbitrary.Constant<ReadonlyArray<string>>([]))
    )),
    (values) =>
      Object.fromEntries(Object.keys(fields).flatMap((key, index) => (values[index] ?? []).map((value) => [key, value])))
  )
