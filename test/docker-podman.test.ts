import { afterAll } from 'vitest';
import { podmanEngine } from './helpers/docker.js';
import { dockerStackSuite } from './helpers/docker-suite.js';

// The Docker engine's whole story again, against Podman's Docker-compatible API on a private socket.
const engine = await podmanEngine();
afterAll(() => engine.stop());

dockerStackSuite(engine);
