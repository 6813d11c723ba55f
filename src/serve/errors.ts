/**
 * Every error the API returns is JSON `{error: {status, code, message}}` with the right status,
 * never a stack trace; a server fault is logged as one line. Every `code` an answer carries is in
 * API_ERRORS, the one registry: the OpenAPI document lists them (routes/schemas.ts) and so does
 * docs/serving.md (test/serve/errors.test.ts holds both to it).
 */

/** Each error code of the API: the statuses it comes with, and what it means to a client. */
export const API_ERRORS = {
  bad_request: {
    statuses: [400],
    description:
      'the request is malformed: a JSON body of the wrong shape, a form with no file, no Host header (or another 4xx that Fastify itself gives, with its status)',
  },
  bad_json: { statuses: [400], description: 'the body is not valid JSON, or is empty' },
  bad_multipart: { statuses: [400], description: 'the multipart body is cut off, malformed or has no boundary' },
  bad_url: { statuses: [400], description: 'the URL is not valid (a bad percent-encoding)' },
  bad_http: { statuses: [400], description: 'the request is not valid HTTP (answered by the server before any route)' },
  bad_image: { statuses: [400], description: 'an image is empty, not base64, unrecognised or corrupt' },
  too_many_files: { statuses: [400], description: 'a multipart form holds more files than the route reads' },
  too_many_fields: { statuses: [400], description: 'a multipart form holds too many fields that are not files' },
  too_many_parts: { statuses: [400], description: 'a multipart form holds too many parts' },
  not_found: { statuses: [404], description: 'no route, model file or page file of that name' },
  corrections_off: {
    statuses: [404],
    description: 'this server files no corrections: it was started without serve --corrections DIR',
  },
  request_timeout: { statuses: [408], description: 'the request was not received within the request timeout' },
  body_too_large: { statuses: [413], description: 'the body is larger than the body limit' },
  image_too_large: {
    statuses: [413],
    description: 'an image is over the pixel limit (its header says so: nothing is decoded)',
  },
  request_too_large: {
    statuses: [413],
    description: "the images of one request add up to more than the request's pixel limit",
  },
  unsupported_media_type: { statuses: [415], description: 'the content type is not one the route reads' },
  unsupported_image_format: { statuses: [415], description: 'an image format other than PNG, JPEG, WebP or BMP' },
  content_type_mismatch: { statuses: [415], description: 'the bytes are not what their content type says' },
  wrong_pixel_count: { statuses: [422], description: '`pixels` does not hold 784 values' },
  pixel_out_of_range: { statuses: [422], description: 'a pixel value is outside 0-255' },
  image_too_complex: { statuses: [422], description: 'an image took too long to decode' },
  rate_limited: {
    statuses: [429],
    description: 'over the rate limit (serve --rate-limit); Retry-After says when to retry',
  },
  headers_too_large: { statuses: [431], description: 'the request headers are too large' },
  client_gone: {
    statuses: [499],
    description:
      'the client closed the connection before the answer (never sent: the reason work for the request stops)',
  },
  internal: { statuses: [500], description: 'a fault of the server (logged as one line)' },
  data_invalid: {
    statuses: [500],
    description: "the server's MNIST file is not the original (its SHA-256 differs): it is not sent",
  },
  corrections_full: {
    statuses: [507],
    description: 'the corrections folder is at its limit of files or bytes: nothing was filed',
  },
  busy: {
    statuses: [503],
    description:
      'the server is at its limit of requests in flight or connections, or a large image waited too long for decoding memory; Retry-After says when to retry',
  },
  draining: { statuses: [503], description: 'the server is shutting down: retry (another server will answer)' },
  starting: { statuses: [503], description: 'the server is loading and warming its model: retry in a second' },
  timeout: { statuses: [503], description: 'the answer took longer than its time limit' },
} as const satisfies Record<string, { statuses: readonly number[]; description: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers (Retry-After on a 503 or 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ApiErrorBody {
  error: { status: number; code: ApiErrorCode; message: string };
}

/** The limits the messages name. */
export interface ErrorLimits {
  bodyLimit: number;
  maxFiles?: number;
}

type KnownError = { status: number; code: ApiErrorCode; message?: (err: Error, limits: ErrorLimits) => string };

const tooLarge = (_err: Error, limits: ErrorLimits) => `the body is larger than the limit of ${limits.bodyLimit} bytes`;

/** Fastify's, @fastify/multipart's and busboy's own error codes → our status, code and a message a client can act on. */
const KNOWN_ERRORS: Record<string, KnownError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', message: tooLarge },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'body_too_large', message: tooLarge },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_json', message: () => 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_json' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'bad_request',
    message: () => 'the Content-Length header does not match the body',
  },
  FST_ERR_VALIDATION: { status: 400, code: 'bad_request' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_url', message: () => 'the URL is not valid (a bad percent-encoding?)' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'bad_request', message: () => 'the request could not be routed' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: {
    status: 400,
    code: 'bad_request',
    message: () => 'the body is not a multipart form',
  },
  FST_FILES_LIMIT: {
    status: 400,
    code: 'too_many_files',
    message: (_err, limits) => `the form holds more than ${limits.maxFiles ?? 'the allowed number of'} files`,
  },
  FST_FIELDS_LIMIT: {
    status: 400,
    code: 'too_many_fields',
    message: () => `the form holds more than ${MAX_FIELDS} fields that are not files`,
  },
  FST_PARTS_LIMIT: { status: 400, code: 'too_many_parts', message: () => 'the form holds too many parts' },
  FST_PROTO_VIOLATION: {
    status: 400,
    code: 'bad_request',
    message: () => 'a form field name is not allowed (__proto__, constructor, ...)',
  },
  FST_INVALID_JSON_FIELD_ERROR: {
    status: 400,
    code: 'bad_request',
    message: () => 'a form field declared as JSON is not valid JSON',
  },
  FST_MP_PREMATURE_CLOSE: {
    status: 400,
    code: 'bad_multipart',
    message: () => 'the multipart body ended before its last part did',
  },
};

/** Text fields (not files) a multipart form may hold. */
export const MAX_FIELDS = 10;

/** busboy throws plain Errors for malformed multipart bodies: these are the client's, 400s. */
const MULTIPART_MESSAGES = [
  [/boundary not found/i, 'the multipart Content-Type has no boundary (multipart/form-data; boundary=...)'],
  [/unsupported content type|missing content type/i, 'the multipart Content-Type is not understood'],
  [/terminated early|unexpected end of (multipart data|form)|malformed/i, 'the multipart body is cut off or malformed'],
] as const;

export function toApiError(
  err: Error & { code?: string; statusCode?: number; validation?: unknown },
  limits: ErrorLimits | number,
): ApiError {
  const lim = typeof limits === 'number' ? { bodyLimit: limits } : limits;
  if (err instanceof ApiError) return err;
  if (err instanceof SyntaxError) return new ApiError(400, 'bad_json', `the body is not valid JSON: ${err.message}`);
  const known = err.code ? KNOWN_ERRORS[err.code] : undefined;
  if (known) return new ApiError(known.status, known.code, known.message?.(err, lim) ?? err.message);
  for (const [pattern, message] of MULTIPART_MESSAGES)
    if (pattern.test(err.message ?? '')) return new ApiError(400, 'bad_multipart', message);
  const status = err.statusCode;
  if (status === 413) return new ApiError(413, 'body_too_large', tooLarge(err, lim));
  if (status === 429)
    return new ApiError(429, 'rate_limited', err.message || 'too many requests', { 'retry-after': '60' });
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
  const where = err.stack
    ?.split('\n')
    .find((line) => /^\s+at /.test(line))
    ?.trim()
    .replace(/^at /, '');
  const message = `${err.name}: ${err.message}`.replace(/\s+/g, ' ').slice(0, 300);
  return `error: ${method} ${url.slice(0, 200)}: ${message}${where ? ` (${where})` : ''}`;
}
