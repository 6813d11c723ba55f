import { test } from 'node:test';
import assert from 'node:assert/strict';
import { worstErrorsGallery } from '../../src/evaluate/galleries.js';
import { assertValidPicture, constructedSet } from '../helpers/pictures.js';

const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

test('the worst-errors gallery holds one tile per error, with its captions', async () => {
  const { set, metrics } = constructedSet();
  const picture = await worstErrorsGallery(set, metrics.worstErrors, CLASSES);
  await assertValidPicture(picture);
  assert.equal((picture.svg.match(/<image /g) ?? []).length, metrics.worstErrors.length);
  assert.equal((picture.svg.match(/data:image\/png;base64,/g) ?? []).length, metrics.worstErrors.length);
  const first = metrics.worstErrors[0];
  assert.ok(picture.svg.includes(`#${first.index}`));
  assert.ok(picture.svg.includes(`true ${first.true}`));
  assert.ok(picture.svg.includes(`pred ${first.predicted} 82%`));
});
