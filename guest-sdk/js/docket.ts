/**
 * Docket's guest SDK for JavaScript and TypeScript plugins.
 *
 * A plugin is an ES module that exports the capabilities of its world
 * (`routing`, `billing`, ...) as objects, as the WIT contract's generated
 * guest types (`jco guest-types`) describe them. This module adds what the
 * Rust SDK gives Rust plugins:
 *
 * - `capability(impl)` wraps every exported function so an uncaught exception
 *   reaches the run's trace as the guest's message (with its stack), through
 *   `docket:plugin/log#panicking`, before the call fails.
 * - `console.log/info/warn/error/debug` write to the run's bounded log.
 *   Docket offers no WASI: there is no stdout to write to.
 * - Money, rounding and time helpers on exact integers (`bigint`), the same
 *   arithmetic the Rust SDK does, and typed settings lookups.
 *
 * The same sources build with StarlingMonkey (jco's default backend) and
 * with QuickJS (`--backend qjs`). The two pass 64-bit integers differently:
 * StarlingMonkey as `bigint` (what the generated typings say), QuickJS as
 * `number`. The helpers here take either (`int`), and on QuickJS
 * `capability` turns the `bigint`s of a decision into numbers (refusing
 * one past 2^53, which a QuickJS component cannot return exactly).
 */
import { log, panicking } from "docket:plugin/log@0.1.1";
import type { Level } from "docket:plugin/log@0.1.1";
import type { Context, Decimal, Money } from "docket:plugin/types@0.1.1";

/** How a division rounds. */
export type Rounding = "up" | "down" | "half-even" | "half-up";

/** The text of a thrown value: its message and, where there is one, its stack. */
export function describeError(thrown: unknown): string {
  if (thrown instanceof Error) {
    const head = `${thrown.name}: ${thrown.message}`;
    const stack = (thrown.stack ?? "").trim();
    return stack ? `${head}\n${stack}` : head;
  }
  return `uncaught ${typeof thrown}: ${String(thrown)}`;
}

/**
 * A capability's implementation (`export const routing = capability({ route(...) {...} })`),
 * each function wrapped so that an exception reports its message to the
 * host before the call fails.
 */
export function capability<T extends object>(impl: T): T {
  const methods = impl as Record<string, unknown>;
  for (const [name, fn] of Object.entries(methods)) {
    if (typeof fn !== "function") continue;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      try {
        const result = fn.apply(this, args);
        // Every capability's last argument is the context; its `now` is
        // a 64-bit integer, so it shows how this runtime passes them.
        const ctx = args[args.length - 1] as { now?: unknown } | undefined;
        return typeof ctx?.now === "number" ? withNumbers(result) : result;
      } catch (thrown) {
        panicking(describeError(thrown));
        throw thrown;
      }
    };
  }
  return impl;
}

/** A 64-bit integer from the host, as a `bigint` whichever way it came. */
export function int(value: bigint | number): bigint {
  return typeof value === "bigint" ? value : BigInt(value);
}

/** `value` with every `bigint` in it a number, for a runtime that passes
 * 64-bit integers as numbers. */
function withNumbers(value: unknown): unknown {
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new RangeError(`${value} does not fit in a JavaScript number (this runtime's 64-bit integers)`);
    }
    return Number(value);
  }
  if (Array.isArray(value)) return value.map(withNumbers);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNumbers(v)]));
  }
  return value;
}

function format(args: unknown[]): string {
  return args
    .map((a) => (typeof a === "string" ? a : inspect(a)))
    .join(" ");
}

function inspect(value: unknown): string {
  if (value instanceof Error) return describeError(value);
  try {
    return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

function consoleTo(level: Level) {
  return (...args: unknown[]) => log(level, format(args));
}

declare global {
  /** Writes to the run's bounded log: the only output a plugin has. */
  var console: Record<"trace" | "debug" | "log" | "info" | "warn" | "error", (...args: unknown[]) => void>;
}

globalThis.console = {
  trace: consoleTo("trace"),
  debug: consoleTo("debug"),
  log: consoleTo("info"),
  info: consoleTo("info"),
  warn: consoleTo("warn"),
  error: consoleTo("error"),
};

/** Euclidean quotient and remainder of `a / b` for `b > 0` (`0 <= r < b`). */
function euclid(a: bigint, b: bigint): [bigint, bigint] {
  const q = a / b;
  const r = a % b;
  return r < 0n ? [q - 1n, r + b] : [q, r];
}

/** `num / den` rounded as asked; throws on a zero denominator. */
export function divRound(num: bigint, den: bigint, rounding: Rounding): bigint {
  if (den === 0n) throw new RangeError("division by zero");
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const [q, r] = euclid(num, den);
  if (r === 0n) return q;
  switch (rounding) {
    case "down":
      return q;
    case "up":
      return q + 1n;
    default: {
      const twice = 2n * r;
      if (twice < den) return q;
      if (twice > den) return q + 1n;
      const up = rounding === "half-even" ? q % 2n !== 0n : q >= 0n;
      return up ? q + 1n : q;
    }
  }
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** The amount, or a RangeError naming the operation if it leaves i64. */
function fitting(amount: bigint, what: () => string): bigint {
  if (amount < I64_MIN || amount > I64_MAX) throw new RangeError(`money overflow: ${what()}`);
  return amount;
}

/** An amount in minor units. */
export function money(amountMinor: bigint, currency: string): Money {
  return { amountMinor, currency };
}

/** `m × num / den`, rounded once: the basis of rates, multipliers and shares. */
export function mulRatio(m: Money, num: bigint, den: bigint, rounding: Rounding): Money {
  const v = divRound(int(m.amountMinor) * num, den, rounding);
  return money(fitting(v, () => `${formatMoney(m)} × ${num} / ${den}`), m.currency);
}

/** `m × quantity`. */
export function times(m: Money, quantity: bigint): Money {
  return money(fitting(int(m.amountMinor) * quantity, () => `${formatMoney(m)} × ${quantity}`), m.currency);
}

/** A share in basis points (1/100 of a percent), rounded half-even. */
export function basisPoints(m: Money, bps: number): Money {
  return mulRatio(m, BigInt(bps), 10_000n, "half-even");
}

/** The sum in one currency, or `undefined` on a currency mismatch or overflow. */
export function sumMoney(currency: string, items: Iterable<Money>): Money | undefined {
  let total = 0n;
  for (const m of items) {
    if (m.currency !== currency) return undefined;
    total += int(m.amountMinor);
    if (total < I64_MIN || total > I64_MAX) return undefined;
  }
  return money(total, currency);
}

/** `1234.50 EUR`, as the Rust SDK prints money. */
export function formatMoney(m: Money): string {
  const amount = int(m.amountMinor);
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const cents = (abs % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}${abs / 100n}.${cents} ${m.currency}`;
}

/** Rounds `value` to a multiple of `increment` (e.g. minutes to 15). */
export function roundToIncrement(value: bigint, increment: bigint, rounding: Rounding): bigint {
  return divRound(value, increment, rounding) * increment;
}

/** A whole-number decimal. */
export function wholeDecimal(value: bigint): Decimal {
  return { mantissa: value, scale: 0 };
}

/** A quantity of hours from minutes, exact to 1/100 h for quarter hours. */
export function hoursFromMinutes(minutes: bigint): Decimal {
  return { mantissa: divRound(minutes * 100n, 60n, "half-even"), scale: 2 };
}

const MINUTE_MS = 60_000n;
const HOUR_MS = 60n * MINUTE_MS;
const DAY_MS = 24n * HOUR_MS;

/**
 * The hour of day (0..24) and ISO weekday (1 = Monday .. 7 = Sunday) of an
 * instant shifted by a fixed offset in minutes. Plugins that need real time
 * zone rules should let the host's business calendars do the work.
 */
export function localHourAndWeekday(instant: bigint, utcOffsetMinutes: number): [number, number] {
  const local = int(instant) + BigInt(utcOffsetMinutes) * MINUTE_MS;
  const [day, ms] = euclid(local, DAY_MS);
  // 1970-01-01 was a Thursday (ISO 4).
  const [, weekday] = euclid(day + 3n, 7n);
  return [Number(ms / HOUR_MS), Number(weekday) + 1];
}

/** A setting's value, if the tenant set it. */
export function setting(ctx: Context, key: string) {
  return ctx.settings.find((s) => s.key === key)?.value;
}

/** An integer setting, or the default. */
export function settingInteger(ctx: Context, key: string, fallback: bigint): bigint {
  const v = setting(ctx, key);
  return v?.tag === "integer" ? int(v.val) : fallback;
}

/** A text (or choice, or date) setting, or the default. */
export function settingText(ctx: Context, key: string, fallback: string): string {
  const v = setting(ctx, key);
  return v?.tag === "text" || v?.tag === "choice" || v?.tag === "date" ? v.val : fallback;
}

/** A money setting, or the default. */
export function settingMoney(ctx: Context, key: string, fallback: Money): Money {
  const v = setting(ctx, key);
  return v?.tag === "money" ? v.val : fallback;
}

/** `value` clamped to `[lo, hi]`. */
export function clamp(value: bigint, lo: bigint, hi: bigint): bigint {
  return value < lo ? lo : value > hi ? hi : value;
}
