#!/usr/bin/env bash
# Checks the monitoring artifacts in infra/:
#   - Prometheus config and alert rules are valid (promtool check config / check rules);
#   - the Alertmanager config is valid (amtool check-config);
#   - the alert rule unit tests pass (promtool test rules);
#   - every alert has a `severity` label, `summary`, `description` and `runbook_url`, and at least
#     one test case where it fires and one where it stays quiet;
#   - the Grafana dashboard is valid JSON with unique panel ids and the datasource variable, and
#     every panel query parses as PromQL;
#   - every assistant_* metric used by the rules and the dashboard is declared in
#     packages/telemetry/src/metrics.ts (no invented metrics);
#   - the Dockerfile passes dockerfilelint (its contract, the compose file and the Kubernetes
#     manifests are checked by scripts/*.test.ts in `npm test`).
#
# Needs promtool and amtool (Debian/Ubuntu: `apt-get install prometheus prometheus-alertmanager`), node and python3 (PyYAML for
# the rule-contract checks; skipped with a warning without it). Exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROM_DIR=infra/prometheus
DASHBOARD=infra/grafana/dashboards/assistant.json
METRICS_TS=packages/telemetry/src/metrics.ts

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found. Install it, e.g.: apt-get install -y prometheus (Debian/Ubuntu)," >&2
  echo "or download prometheus from https://prometheus.io/download/ and put promtool on PATH." >&2
  exit 1
fi

if ! command -v amtool >/dev/null 2>&1; then
  echo "amtool not found. Install it, e.g.: apt-get install -y prometheus-alertmanager (Debian/Ubuntu)." >&2
  exit 1
fi

echo "== amtool check-config"
amtool check-config infra/alertmanager/alertmanager.yml

echo "== promtool check config"
promtool check config "$PROM_DIR/prometheus.yml"

echo "== promtool check rules"
promtool check rules "$PROM_DIR/rules.yml" "$PROM_DIR/alerts.yml"

echo "== promtool test rules"
promtool test rules "$PROM_DIR/rules.test.yml" "$PROM_DIR/alerts.test.yml"

echo "== alert rule contract"
if python3 -c 'import yaml' >/dev/null 2>&1; then
  python3 - "$PROM_DIR/alerts.yml" "$PROM_DIR/alerts.test.yml" <<'PY'
import sys
import yaml

rules_path, tests_path = sys.argv[1], sys.argv[2]
rules = [r for g in yaml.safe_load(open(rules_path))["groups"] for r in g["rules"] if "alert" in r]
tests = yaml.safe_load(open(tests_path))["tests"]
fires, quiet = set(), set()
for test in tests:
    for case in test.get("alert_rule_test", []):
        (fires if case.get("exp_alerts") else quiet).add(case["alertname"])

problems = []
for rule in rules:
    name = rule["alert"]
    if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
        problems.append(f"{name}: severity label must be critical or warning")
    for key in ("summary", "description", "runbook_url"):
        if not rule.get("annotations", {}).get(key):
            problems.append(f"{name}: missing annotation {key}")
    if "#" not in rule.get("annotations", {}).get("runbook_url", "#"):
        problems.append(f"{name}: runbook_url has no #anchor")
    if name not in fires:
        problems.append(f"{name}: no test case where it fires")
    if name not in quiet:
        problems.append(f"{name}: no test case where it stays quiet")
known = {r["alert"] for r in rules}
for name in sorted((fires | quiet) - known):
    problems.append(f"{tests_path}: tests an unknown alert {name}")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"  SUCCESS: {len(rules)} alerts with severity, summary, description, runbook_url and tests")
PY
else
  echo "  WARNING: python3 with PyYAML not found; rule contract checks skipped" >&2
fi

echo "== dashboard and metric names"
exprs_file="$(mktemp --suffix=.yml)"
trap 'rm -f "$exprs_file"' EXIT
node - "$DASHBOARD" "$METRICS_TS" "$PROM_DIR/alerts.yml" "$PROM_DIR/rules.yml" "$exprs_file" <<'JS'
const fs = require('node:fs');
const [dashboardPath, metricsPath, rulesPath, recordingPath, exprsPath] = process.argv.slice(2);
const fail = (message) => {
  console.error(`  FAILED: ${message}`);
  process.exit(1);
};

let dashboard;
try {
  dashboard = JSON.parse(fs.readFileSync(dashboardPath, 'utf8'));
} catch (error) {
  fail(`${dashboardPath} is not valid JSON: ${error.message}`);
}
if (typeof dashboard.schemaVersion !== 'number') fail('dashboard has no schemaVersion');
const variables = dashboard.templating?.list ?? [];
if (!variables.some((v) => v.type === 'datasource' && v.name === 'datasource')) {
  fail('dashboard has no `datasource` variable');
}
const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
const ids = panels.map((p) => p.id);
if (new Set(ids).size !== ids.length) fail('dashboard panel ids are not unique');
const exprs = [];
for (const panel of panels.filter((p) => p.type !== 'row')) {
  if (!panel.gridPos) fail(`panel "${panel.title}" has no gridPos`);
  if (panel.datasource?.uid !== '${datasource}') fail(`panel "${panel.title}" does not use $datasource`);
  if (!panel.targets?.length) fail(`panel "${panel.title}" has no queries`);
  for (const target of panel.targets) exprs.push(target.expr);
}

// Metric names declared in metrics.ts; a histogram also exposes _bucket, _count and _sum.
const declared = new Set();
for (const match of fs.readFileSync(metricsPath, 'utf8').matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '([a-z_:]+)'/g)) {
  const [, kind, name] = match;
  declared.add(name);
  if (kind === 'Histogram') for (const suffix of ['_bucket', '_count', '_sum']) declared.add(name + suffix);
}
if (declared.size === 0) fail(`no metrics found in ${metricsPath}`);
// The recording rules' names (the plan's rates) are declared too.
const recording = fs.readFileSync(recordingPath, 'utf8');
for (const [, name] of recording.matchAll(/^\s*- record: ([a-z_:]+)$/gm)) declared.add(name);
const used = new Set();
for (const text of [...exprs, fs.readFileSync(rulesPath, 'utf8'), recording]) {
  for (const [name] of text.matchAll(/\bassistant_[a-z_]+/g)) used.add(name);
}
const unknown = [...used].filter((name) => !declared.has(name));
if (unknown.length > 0) fail(`metrics not declared in ${metricsPath} or ${recordingPath}: ${unknown.join(', ')}`);
console.log(`  SUCCESS: ${dashboardPath}: ${panels.length} panels, ${exprs.length} queries`);
console.log(`  SUCCESS: ${used.size} assistant_* metric names used, all declared in ${metricsPath}`);

// Every panel query as a recording rule (JSON is YAML), so promtool parses the PromQL too.
const rules = exprs.map((expr, i) => ({
  record: `dashboard:query_${i + 1}`,
  expr: expr.replaceAll('$__rate_interval', '5m'),
}));
fs.writeFileSync(exprsPath, JSON.stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
JS
echo "== dashboard PromQL (promtool check rules)"
promtool check rules "$exprs_file"

echo "== Dockerfile (dockerfilelint)"
node node_modules/dockerfilelint/bin/dockerfilelint Dockerfile

echo "infra checks passed"
