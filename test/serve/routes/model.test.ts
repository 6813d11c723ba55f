import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { quickRunDir } from '../../helpers/quick-run.js';
import { captureStderr } from '../fixtures/http.js';

let server: RunningServer;
before(async () => {
  server = await startServer({ runDir: await quickRunDir(), port: 0 });
});
after(() => server.close());

test('/model/:file serves the two model files and nothing else: names of Object.prototype are 404s, not 500s, and nothing is logged', async () => {
  const { stderr } = await captureStderr(async () => {
    for (const name of ['model.json', 'weights.bin'])
      assert.equal((await fetch(`${server.url}/model/${name}`)).status, 200, name);
    for (const name of [
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
      'metadata.json',
      '..%2Fmetadata.json',
    ]) {
      for (const prefix of ['/model/', '/page/']) {
        const response = await fetch(`${server.url}${prefix}${name}`);
        assert.equal(response.status, 404, `${prefix}${name}`);
        const body = await response.json();
        assert.deepEqual(Object.keys(body.error), ['status', 'code', 'message']);
        assert.equal(body.error.code, 'not_found');
      }
    }
  });
  assert.equal(stderr, '');
});

test('/v1/model describes the served model and its preprocessing', async () => {
  const info = await (await fetch(`${server.url}/v1/model`)).json();
  assert.equal(info.arch, 'default');
  assert.equal(info.inputShape.join('x'), '28x28x1');
  assert.equal(typeof info.preprocessing.size, 'number');
});

test("/v1/model gives the calibration temperature the answers went through (1 for a run without one), for the page's in-browser mode", async () => {
  const { readMetadata, runTemperature } = await import('../../../src/model/run.js');
  const info = await (await fetch(`${server.url}/v1/model`)).json();
  assert.equal(info.temperature, runTemperature(await readMetadata(await quickRunDir())));
  const { calibratedRun } = await import('../../helpers/calibrated-run.js');
  const calibrated = await calibratedRun(await quickRunDir());
  const served = await startServer({ runDir: calibrated.dir, port: 0 });
  try {
    assert.equal((await (await fetch(`${served.url}/v1/model`)).json()).temperature, calibrated.temperature);
  } finally {
    await served.close();
    await calibrated.remove();
  }
});
