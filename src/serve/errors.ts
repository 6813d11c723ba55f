/**
 * Every error the API returns is JSON `{error: {status, code, message}}` with the right status,
 * never a stack trace; a server fault is logged as one line.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers (Retry-After on a 503 or 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ApiErrorBody {
  error: { status: number; code: string; message: string };
}

/** The limits the messages name. */
export interface ErrorLimits {
  bodyLimit: number;
  maxFiles?: number;
}

type KnownError = { status: number; code: string; message?: (err: Error, limits: ErrorLimits) => string };

const tooLarge = (_err: Error, limits: ErrorLimits) => `the body is larger than the limit of ${limits.bodyLimit} bytes`;

/** Fastify's, @fastify/multipart's and busboy's own error codes → our status, code and a message a client can act on. */
const KNOWN_ERRORS: Record<string, KnownError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', message: tooLarge },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'body_too_large', message: tooLarge },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_json', message: () => 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_json' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: () => 'the Content-Length header does not match the body' },
  FST_ERR_VALIDATION: { status: 400, code: 'bad_request' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_url', message: () => 'the URL is not valid (a bad percent-encoding?)' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'bad_request', message: () => 'the request could not be routed' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 400, code: 'bad_request', message: () => 'the body is not a multipart form' },
  FST_FILES_LIMIT: { status: 400, code: 'too_many_files', message: (_err, limits) => `the form holds more than ${limits.maxFiles ?? 'the allowed number of'} files` },
  FST_FIELDS_LIMIT: { status: 400, code: 'too_many_fields', message: () => `the form holds more than ${MAX_FIELDS} fields that are not files` },
  FST_PARTS_LIMIT: { status: 400, code: 'too_many_parts', message: () => 'the form holds too many parts' },
  FST_PROTO_VIOLATION: { status: 400, code: 'bad_request', message: () => 'a form field name is not allowed (__proto__, constructor, ...)' },
  FST_INVALID_JSON_FIELD_ERROR: { status: 400, code: 'bad_request', message: () => 'a form field declared as JSON is not valid JSON' },
  FST_MP_PREMATURE_CLOSE: { status: 400, code: 'bad_multipart', message: () => 'the multipart body ended before its last part did' },
};

/** Text fields (not files) a multipart form may hold. */
export const MAX_FIELDS = 10;

/** busboy throws plain Errors for malformed multipart bodies: these are the client's, 400s. */
const MULTIPART_MESSAGES = [
  [/boundary not found/i, 'the multipart Content-Type has no boundary (multipart/form-data; boundary=...)'],
  [/unsupported content type|missing content type/i, 'the multipart Content-Type is not understood'],
  [/terminated early|unexpected end of (multipart data|form)|malformed/i, 'the multipart body is cut off or malformed'],
] as const;

export function toApiError(err: Error & { code?: string; statusCode?: number; validation?: unknown }, limits: ErrorLimits | number): ApiError {
  const lim = typeof limits === 'number' ? { bodyLimit: limits } : limits;
  if (err instanceof ApiError) return err;
  if (err instanceof SyntaxError) return new ApiError(400, 'bad_json', `the body is not valid JSON: ${err.message}`);
  const known = err.code ? KNOWN_ERRORS[err.code] : undefined;
  if (known) return new ApiError(known.status, known.code, known.message?.(err, lim) ?? err.message);
  for (const [pattern, message] of MULTIPART_MESSAGES) if (pattern.test(err.message ?? '')) return new ApiError(400, 'bad_multipart', message);
  const status = err.statusCode;
  if (status === 413) return new ApiError(413, 'body_too_large', tooLarge(err, lim));
  if (status === 429) return new ApiError(429, 'rate_limited', err.message || 'too many requests', { 'retry-after': '60' });
  if (status && status >= 400 && status < 500) return new ApiError(status, 'bad_request', err.message);
  return new ApiError(500, 'internal', 'internal error');
}

export function errorBody(err: ApiError): ApiErrorBody {
  return { error: { status: err.status, code: err.code, message: err.message } };
}

/**
 * One line for a server fault: the error and where it was thrown, never the whole stack (a
 * crafted request repeated must not flood the log).
 */
export function faultLine(method: string, url: string, err: Error): string {
  const where = err.stack?.split('\n').find((line) => /^\s+at /.test(line))?.trim().replace(/^at /, '');
  const message = `${err.name}: ${err.message}`.replace(/\s+/g, ' ').slice(0, 300);
  return `error: ${method} ${url.slice(0, 200)}: ${message}${where ? ` (${where})` : ''}`;
}
