import { describe, expect, it } from 'vitest';
import { storeFeatures } from '../src/query/store-features.js';
import { freePort } from './helpers/ports.js';

describe('the store features the explorer reads', () => {
  it('are all off, with the reason, when the store cannot be asked, and are asked again next time', async () => {
    const port = await freePort();
    const features = storeFeatures({ url: `http://127.0.0.1:${port}`, username: 'telemetry', password: 'x', timeoutMs: 2_000 }, 'telemetry');
    const first = await features();
    expect(first).toMatchObject({ events: false, links: false, logs: false });
    expect(first.error).toBeTruthy();
    const second = await features();
    expect(second).not.toBe(first); // not cached: a new answer object
    expect(second.error).toBeTruthy();
  });
});
