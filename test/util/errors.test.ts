import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asUserError, DataError, describeExpectedFailure, UserError } from '../../src/util/errors.js';

/** An error as Node's fs and net modules make them: code, syscall, path or address. */
function systemError(code: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(`${code}: as Node words it`), { code, ...fields });
}

test('expected failures get one line naming the path or address; anything else is not expected', () => {
  assert.equal(describeExpectedFailure(new UserError('runs/a: no such run')), 'runs/a: no such run');
  assert.equal(
    describeExpectedFailure(new DataError('t10k-labels', 'label 11 at index 42 is outside 0-9')),
    't10k-labels: label 11 at index 42 is outside 0-9',
  );
  assert.equal(
    describeExpectedFailure(systemError('EACCES', { syscall: 'mkdir', path: '/srv/runs/a' })),
    '/srv/runs/a: permission denied (EACCES, mkdir)',
  );
  assert.equal(
    describeExpectedFailure(systemError('ENOSPC', { syscall: 'write' })),
    'no space left on the device (ENOSPC, write)',
  );
  assert.equal(
    describeExpectedFailure(systemError('EADDRINUSE', { syscall: 'listen', address: '127.0.0.1', port: 3000 })),
    '127.0.0.1:3000: address already in use (EADDRINUSE, listen)',
  );
  assert.equal(
    describeExpectedFailure(systemError('EADDRNOTAVAIL', { syscall: 'listen', address: '10.1.2.3', port: 0 })),
    '10.1.2.3:0: address not available on this machine (EADDRNOTAVAIL, listen)',
  );
  const badPort = Object.assign(
    new RangeError('options.port should be >= 0 and < 65536. Received type number (70000).'),
    { code: 'ERR_SOCKET_BAD_PORT' },
  );
  assert.match(describeExpectedFailure(badPort)!, /70000/);
  // Bugs: a TypeError, an error with an unknown code, something thrown that is not an Error.
  assert.equal(describeExpectedFailure(new TypeError("Cannot read properties of undefined (reading 'x')")), undefined);
  assert.equal(describeExpectedFailure(systemError('EBADF', { syscall: 'write' })), undefined);
  assert.equal(describeExpectedFailure('a string'), undefined);
});

test('asUserError names the action and the final path, not the temporary file the system complained about', () => {
  const wrapped = asUserError(
    systemError('ENOSPC', { syscall: 'write', path: '/runs/a/.weights.bin.12.34.tmp' }),
    'write',
    '/runs/a/weights.bin',
  );
  assert.ok(wrapped instanceof UserError);
  assert.equal(wrapped.message, 'cannot write /runs/a/weights.bin: no space left on the device (ENOSPC, write)');
  const bug = new TypeError('x is not a function');
  assert.equal(asUserError(bug, 'write', '/runs/a/weights.bin'), bug);
});
