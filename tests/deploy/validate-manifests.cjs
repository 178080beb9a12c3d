// Validates every object of one or more multi-document YAML files (the
// output of `kubectl kustomize`) against its schema: the Kubernetes API
// models of `kubernetes-models`, KEDA's CRDs (@kubernetes-models/keda) and
// the Prometheus operator's (@kubernetes-models/prometheus-operator), at the
// versions pinned in package.json / package-lock.json.
//
//   node validate-manifests.cjs FILE...
//
// Prints one line per object; exits 1 if any object is invalid or has an
// apiVersion/kind no model knows (never skipped), 2 on usage errors.
// The schemas check types, required fields, enums and formats; like the API
// server without --validate=strict they do not reject unknown fields, which
// test_kustomize.py covers for the fields this project relies on.
"use strict";

const fs = require("fs");
const YAML = require("yaml");

// Where the model class of an apiVersion lives, first match wins.
const MODEL_PACKAGES = [
  { group: "keda.sh", module: "@kubernetes-models/keda" },
  { group: "monitoring.coreos.com", module: "@kubernetes-models/prometheus-operator" },
  { group: "*", module: "kubernetes-models" },
];

function modelClass(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  for (const pkg of MODEL_PACKAGES) {
    if (pkg.group !== "*" && pkg.group !== group) continue;
    const path = group === "" ? `${pkg.module}/${version}/${kind}`
                              : `${pkg.module}/${group}/${version}/${kind}`;
    try {
      const mod = require(path);
      if (typeof mod[kind] === "function") return mod[kind];
    } catch (err) {
      if (err.code !== "MODULE_NOT_FOUND" && err.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw err;
    }
  }
  return null;
}

function main(files) {
  if (files.length === 0) {
    console.error("usage: node validate-manifests.cjs FILE...");
    return 2;
  }
  let checked = 0;
  let failed = 0;
  for (const file of files) {
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        console.log(`FAIL ${file}: YAML: ${doc.errors[0].message}`);
        failed++;
        continue;
      }
      const object = doc.toJS();
      if (object === null || object === undefined) continue;
      checked++;
      const label = `${file}: ${object.apiVersion}/${object.kind} ${object.metadata && object.metadata.name}`;
      const Model = modelClass(String(object.apiVersion), String(object.kind));
      if (Model === null) {
        console.log(`FAIL ${label}: no schema for this apiVersion/kind`);
        failed++;
        continue;
      }
      try {
        new Model(object).validate();
        console.log(`ok   ${label}`);
      } catch (err) {
        console.log(`FAIL ${label}: ${err.message}`);
        failed++;
      }
    }
  }
  console.log(`${checked} objects checked, ${failed} invalid`);
  return failed === 0 && checked > 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
