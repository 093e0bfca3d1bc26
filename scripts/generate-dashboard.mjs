// Writes templates/grafana/dashboards/overview.json from the typed definition in src/dashboard/grafana.ts (built).
// Run: npm run build && npm run dashboards. The tests fail when the file and the definition differ.
import { writeFileSync } from 'node:fs';
import { overviewDashboard } from '../dist/src/dashboard/grafana.js';

const file = new URL('../templates/grafana/dashboards/overview.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(overviewDashboard(), null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
