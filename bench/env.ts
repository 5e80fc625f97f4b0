/**
 * A whole-number bench setting from the environment, or `fallback` when it is unset; anything else
 * stops the bench with an error naming the variable (a typo must not silently run zero rounds).
 */
export function intFromEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`${name}='${raw}' must be a whole number of at least ${min}`);
  return value;
}
