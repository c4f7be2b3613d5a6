/**
 * Errors the app backend throws for bad requests. Transports map them by `name` (the name survives
 * worker threads and JSON), so the HTTP server answers 404 / 400 without knowing the classes.
 */

/** The thing asked for (preset, file) does not exist. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The request itself is unusable: a bad preset name or id, a read-only preset, a wrong file extension. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}
