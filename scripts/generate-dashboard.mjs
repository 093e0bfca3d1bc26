// Writes templates/grafana/dashboards/{overview,logs,metrics}.json from the typed definitions in src/dashboard/ (built).
// Run: npm run build && npm run dashboards. The tests fail when a file and its definition differ.
import { writeFileSync } from 'node:fs';
import { overviewDashboard } from '../dist/src/dashboard/grafana.js';
import { logsDashboard, metricsDashboard } from '../dist/src/dashboard/grafana-signals.js';

for (const [name, build] of [['overview', overviewDashboard], ['logs', logsDashboard], ['metrics', metricsDashboard]]) {
  const file = new URL(`../templates/grafana/dashboards/${name}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(build(), null, 2)}\n`);
  console.log(`wrote ${file.pathname}`);
}
