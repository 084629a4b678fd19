import { equal, ok as assert } from "node:assert/strict";
import * as errors from "../../../lib/k8s/errors.ts";

const init = { method: "GET", url: "https://k/api/v1/namespaces/x" };

Deno.test("apiError() picks the class by HTTP code and keeps the Status", () => {
  const cases: [number, typeof errors.ApiError][] = [
    [401, errors.ApiUnauthorizedError],
    [403, errors.ApiForbiddenError],
    [404, errors.ApiNotFoundError],
    [409, errors.ApiConflictError],
    [410, errors.ApiGoneError],
    [422, errors.ApiInvalidError],
    [429, errors.ApiTooManyRequestsError],
    [400, errors.ApiClientError],
    [503, errors.ApiServerError],
  ];
  for (const [code, cls] of cases) {
    const error = errors.apiError({ reason: "R", message: "m", code }, { ...init, code });
    assert(error instanceof cls, `${code} → ${cls.name}`);
    equal(error.code, code);
    equal(error.reason, "R");
  }
});

Deno.test("an API error's message names the request, the code, the reason and the server's message", () => {
  const error = errors.apiError(
    { reason: "NotFound", message: 'namespaces "x" not found', code: 404 },
    { ...init, code: 404 },
  );
  equal(
    error.message,
    'GET https://k/api/v1/namespaces/x failed with 404 NotFound: namespaces "x" not found',
  );
});

Deno.test("Retry-After from the header wins over details.retryAfterSeconds", () => {
  const status = { reason: "TooManyRequests", details: { retryAfterSeconds: 7 } };
  equal(errors.apiError(status, { ...init, code: 429 }).retryAfterSeconds, 7);
  equal(errors.apiError(status, { ...init, code: 429, retryAfterSeconds: 2 }).retryAfterSeconds, 2);
});

Deno.test("isExpired() is true for 410 and for Expired reasons, isRetriable() only for 429, 5xx, transport", () => {
  assert(errors.isExpired(errors.apiError({ reason: "Expired" }, { ...init, code: 410 })));
  assert(
    errors.isExpired(errors.apiError({ reason: "Expired", code: 410 }, { ...init, code: 500 })),
  );
  assert(!errors.isExpired(errors.apiError({ reason: "NotFound" }, { ...init, code: 404 })));
  assert(errors.isRetriable(errors.apiError({}, { ...init, code: 429 })));
  assert(errors.isRetriable(errors.apiError({}, { ...init, code: 502 })));
  assert(errors.isRetriable(new errors.TransportError("refused", "GET", "u")));
  assert(!errors.isRetriable(errors.apiError({}, { ...init, code: 403 })));
});
