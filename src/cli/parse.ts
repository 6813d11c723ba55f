import { InvalidArgumentError } from 'commander';

/** Flag value parsers shared by every command: a bad value is refused with the value named. */

export function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`'${value}' is not a number.`);
  return n;
}

/** 0, 1, 2, ... */
export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`'${value}' is not a whole number >= 0.`);
  return n;
}

/** 1, 2, 3, ... */
export function countingNumber(value: string): number {
  const n = wholeNumber(value);
  if (n < 1) throw new InvalidArgumentError(`'${value}' is not a whole number >= 1.`);
  return n;
}

/** A number from 0 to 1. */
export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1))
    throw new InvalidArgumentError(`'${value}' is not a number between 0 and 1.`);
  return n;
}
