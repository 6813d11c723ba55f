/**
 * Every error the API returns is JSON `{error: {status, code, message}}` with the right status,
 * never a stack trace.
 */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface ApiErrorBody {
  error: { status: number; code: string; message: string };
}

/** Fastify's own error codes → our status, code and a message a client can act on. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message?: (err: Error) => string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'body_too_large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_json', message: () => 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_json' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 400, code: 'bad_request' },
  FST_ERR_VALIDATION: { status: 400, code: 'bad_request' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 400, code: 'bad_request' },
  FST_FILES_LIMIT: { status: 413, code: 'too_many_files' },
};

export function toApiError(err: Error & { code?: string; statusCode?: number; validation?: unknown }, bodyLimit: number): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof SyntaxError) return new ApiError(400, 'bad_json', `the body is not valid JSON: ${err.message}`);
  const known = err.code ? FASTIFY_ERRORS[err.code] : undefined;
  if (known) {
    const message =
      known.status === 413 ? `the body is larger than the limit of ${bodyLimit} bytes` : known.message?.(err) ?? err.message;
    return new ApiError(known.status, known.code, message);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new ApiError(err.statusCode, 'bad_request', err.message);
  return new ApiError(500, 'internal', 'internal error');
}

export function errorBody(err: ApiError): ApiErrorBody {
  return { error: { status: err.status, code: err.code, message: err.message } };
}
