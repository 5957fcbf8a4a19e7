/** The BtkitError a call throws (or a promise rejects with); anything else fails the test. */
import { BtkitError } from "../../src/errors.js";

export function thrownBy(fn: () => unknown): BtkitError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BtkitError) return err;
    throw err;
  }
  throw new Error("expected a BtkitError");
}

export async function rejectedBy(p: Promise<unknown>): Promise<BtkitError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BtkitError) return err;
    throw err;
  }
  throw new Error("expected a BtkitError");
}
