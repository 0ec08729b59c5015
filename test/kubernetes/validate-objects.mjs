// Validates Kubernetes objects (a JSON array on stdin) against their schemas: the Prometheus
// Operator CRDs and core v1, as published in @kubernetes-models/*. Those packages are ES modules
// only, and jest runs our tests as CommonJS, so the test runs this file in a child Node process.
// Prints one result per object: { kind, name, ok, errors }.
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';

const models = {
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'v1/ConfigMap': ConfigMap,
};

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((obj) => {
  const Model = models[`${obj.apiVersion}/${obj.kind}`];
  const name = obj.metadata?.name;
  if (!Model)
    return { kind: obj.kind, name, ok: false, errors: [`no schema for ${obj.apiVersion} ${obj.kind}`] };
  try {
    new Model(obj).validate();
    return { kind: obj.kind, name, ok: true, errors: [] };
  } catch (err) {
    return { kind: obj.kind, name, ok: false, errors: String(err.message).split('\n') };
  }
});
process.stdout.write(JSON.stringify(results));
