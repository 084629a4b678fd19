// The error every registration mistake throws: a bad option, selector or field, a clash of
// handler ids. Thrown by `on.*`, `subhandler` and `OperatorRegistry` at registration time, so
// mistakes surface when the operator's module loads, not when the first object arrives.

/**
 * A handler cannot be registered as written. The message names the handler and the fix.
 *
 * @example Catching a registration mistake
 * ```ts
 * import { RegistrationError } from "./errors.ts";
 * try {
 *   throw new RegistrationError(`Cannot register the create handler "fn": unknown option "feild"`);
 * } catch (error) {
 *   console.log(error instanceof RegistrationError); // true
 * }
 * ```
 */
export class RegistrationError extends Error {
  /** Always `"RegistrationError"`. */
  override name = "RegistrationError";
}
