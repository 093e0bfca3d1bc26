#!/usr/bin/env node
import { main } from '../src/cli/main.js';

const code = await main(process.argv.slice(2));
// Done: exit once what was written has left (an idle keep-alive socket must not hold a shell loop for its timeout).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
