import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { dockerdEngine } from './helpers/docker.js';
import { dockerStackSuite } from './helpers/docker-suite.js';
import { makeTestHome } from './helpers/home.js';

const engine = await dockerdEngine();
const available = engine.available;
const dockerEnv = engine.env;
afterAll(() => engine.stop());

dockerStackSuite(engine);

describe('a Docker start without a Docker engine', () => {
  it('says where it looked and suggests the embedded engine', async () => {
    const h = await makeTestHome({ DOCKER_HOST: 'unix:///nonexistent/docker.sock', AUTOMAGIK_TELEMETRY_ENGINE: 'docker' });
    const result = await cli(['start'], h.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no Docker engine answered at unix:///nonexistent/docker.sock (DOCKER_HOST)');
    expect(result.stderr).toContain('--engine embedded');
    await h.cleanup();
  });
});

describe('--engine auto', () => {
  it.skipIf(!available)('picks Docker when its engine answers a ping', async () => {
    const h = await makeTestHome({ ...dockerEnv, AUTOMAGIK_TELEMETRY_ENGINE: 'auto' });
    const status = await cli(['status', '--json'], h.env);
    expect(JSON.parse(status.stdout)).toMatchObject({ engine: 'docker', running: false });
    await h.cleanup();
  });

  it('picks the embedded engine when no Docker engine answers', async () => {
    const h = await makeTestHome({ DOCKER_HOST: 'unix:///nonexistent/docker.sock', AUTOMAGIK_TELEMETRY_ENGINE: 'auto' });
    const status = await cli(['status', '--json'], h.env);
    expect(JSON.parse(status.stdout)).toMatchObject({ engine: 'embedded', running: false });
    await h.cleanup();
  });
});
