#!/usr/bin/env node
// redact-pii.js - the comparison side of bench/filter.sh: the npm package
// redact-pii 3.4.0 (default SyncRedactor: its built-in regular expressions
// and the name list) on the same text slice bench-filter wrote, one call per
// line as the filter calls st_detect, and on the same located corpus values.
// Installed by bench/filter.sh into bench/node_modules, never by the main
// install script.
//
// Usage: node bench/redact-pii.js --text SLICE --cases CASES.tsv
//   SLICE      lines of text (bench-filter --text-out)
//   CASES.tsv  kind<TAB>value<TAB>text (bench-filter --cases-out)
// Prints "name: value unit" lines. Timing: process.cpuUsage() (user +
// system CPU of the process) around one pass, after a short untimed warm-up
// so the JIT has compiled the expressions.
'use strict';

const fs = require('fs');
const path = require('path');

let SyncRedactor;
try {
  ({ SyncRedactor } = require(path.join(__dirname, 'node_modules', 'redact-pii')));
} catch (e) {
  console.error('redact-pii.js: redact-pii is not installed; run: ' +
                'npm install --prefix bench redact-pii@3.4.0');
  process.exit(2);
}

const WARMUP_LINES = 2000;

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error('usage: node bench/redact-pii.js --text SLICE --cases CASES.tsv');
    process.exit(2);
  }
  return process.argv[i + 1];
}

const text = fs.readFileSync(arg('--text'), 'utf8');
const cases = fs.readFileSync(arg('--cases'), 'utf8');
const redactor = new SyncRedactor();

const lines = text.split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
for (let i = 0; i < Math.min(WARMUP_LINES, lines.length); i++) redactor.redact(lines[i]);

let changed = 0;
const cpu0 = process.cpuUsage();
for (const l of lines) {
  if (redactor.redact(l) !== l) changed++;
}
const cpu = process.cpuUsage(cpu0);
const secs = (cpu.user + cpu.system) / 1e6;
const bytes = Buffer.byteLength(text, 'utf8');

console.log(`redact_pii_version: ${require(path.join(__dirname, 'node_modules', 'redact-pii', 'package.json')).version}`);
console.log(`redact_pii_slice_bytes: ${bytes} bytes`);
console.log(`redact_pii_slice_lines: ${lines.length} lines`);
console.log(`redact_pii_scan_s: ${secs.toFixed(3)} s`);
console.log(`redact_pii_mb_per_s: ${(bytes / 1e6 / secs).toFixed(2)} MB/s`);
console.log(`redact_pii_ns_per_keystroke: ${(secs * 1e9 / bytes).toFixed(1)} ns`);
console.log(`redact_pii_lines_changed: ${changed} lines`);

// Recall: a case counts as detected when redact-pii's output no longer
// holds the sensitive value intact, i.e. it changed something inside it.
const kinds = ['email', 'phone', 'card', 'ssn', 'iban', 'ip'];
const pos = {}, hit = {};
for (const k of kinds) pos[k] = hit[k] = 0;
let all = 0, allHit = 0;
for (const row of cases.split('\n')) {
  if (!row) continue;
  const t1 = row.indexOf('\t'), t2 = row.indexOf('\t', t1 + 1);
  const kind = row.slice(0, t1), value = row.slice(t1 + 1, t2), line = row.slice(t2 + 1);
  if (!(kind in pos)) continue;
  const found = !redactor.redact(line).includes(value);
  pos[kind]++; all++;
  if (found) { hit[kind]++; allHit++; }
}
for (const k of kinds) {
  console.log(`redact_pii_recall_${k}: ${(pos[k] ? hit[k] / pos[k] : 1).toFixed(3)} ratio`);
}
console.log(`redact_pii_recall_personal: ${(all ? allHit / all : 1).toFixed(3)} ratio`);
