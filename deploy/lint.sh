#!/usr/bin/env bash
# Lints the deployment files without Docker or a cluster (docs/deploy.md, "What was checked"):
#   - yamllint (Debian: apt-get install yamllint) on every YAML file under deploy/;
#   - kubectl kustomize (Debian: apt-get install kubectl; no cluster needed) renders base and scale-out;
#   - the rendered objects validated against the Kubernetes OpenAPI schemas (npm: kubernetes-models);
#   - dockerfile-utils lint (npm: the Dockerfile checker of the Docker language server) on the Dockerfile.
# The npm tools go to a temporary folder, not into the project's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

yamllint -c deploy/yamllint.yaml deploy/
kubectl kustomize deploy/kubernetes/base >"$tmp/base.yaml"
kubectl kustomize deploy/kubernetes/scale-out >"$tmp/scale-out.yaml"

npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
  kubernetes-models@5.1.0 yaml@2.9.1 dockerfile-utils@0.16.3 >/dev/null
cat >"$tmp/validate.mjs" <<'JS'
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
let bad = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJS();
    const group = obj.apiVersion.includes('/') ? obj.apiVersion : `v1`;
    const mod = await import(`kubernetes-models/${group === 'v1' ? 'v1' : group}/${obj.kind}`);
    try {
      new mod[obj.kind](obj).validate();
      console.log(`ok   ${file.replace(/.*\//, '')}: ${obj.kind} ${obj.metadata.name}`);
    } catch (err) {
      bad++;
      console.log(`FAIL ${file.replace(/.*\//, '')}: ${obj.kind} ${obj.metadata.name}: ${err.message}`);
    }
  }
}
process.exit(bad === 0 ? 0 : 1);
JS
node "$tmp/validate.mjs" "$tmp/base.yaml" "$tmp/scale-out.yaml"
"$tmp/node_modules/.bin/dockerfile-utils" lint Dockerfile
echo "deploy: all checks passed"
