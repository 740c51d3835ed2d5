#!/usr/bin/env node
// validate.js - checks sealtrace dataset files against a JSON Schema (draft
// 2020-12) with Ajv in strict mode, so a schema with a typo'd or unknown
// keyword fails to compile instead of silently allowing everything.
//
//   node validate.js [--expect-invalid] SCHEMA FILE...
//   node validate.js --compile SCHEMA...
//   node validate.js --export DIR...
//
// FILE ending in .jsonl: every line is one instance (an episode); any other
// FILE holds one JSON value. --export checks a whole export folder against
// docs/schema/dataset-*.schema.json (found next to this script) and then what
// a schema cannot say: the files listed are the files there, with those
// hashes and sizes; every count in the manifest is the count of the steps
// (levels: of the segments); every step's episode, index and times agree
// with its file, its line and the episode's first step.
// Exit 0 when everything is valid (with --expect-invalid: when every file or
// folder is invalid), 1 otherwise, 2 on a usage error, an unreadable file or
// a schema that does not compile. Problems go to stderr as
// "FILE:LINE: /json/pointer: message".
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

// Bounds on outside input: an episode line longer than this is refused
// unparsed, and at most this many errors are printed per instance.
const MAX_LINE_BYTES = 1 << 20;
const MAX_ERRORS_SHOWN = 20;
// Problems printed per export folder before the rest are only counted.
const MAX_EXPORT_PROBLEMS = 200;

const SCHEMA_DIR = path.join(__dirname, '..', '..', 'docs', 'schema');
const ACTION_TYPES = ['type', 'key', 'hotkey', 'click', 'double_click', 'right_click',
	'middle_click', 'drag', 'scroll', 'move', 'wait', 'redacted'];

function usage(msg) {
	if (msg) process.stderr.write(`validate.js: ${msg}\n`);
	process.stderr.write(
		'usage: node validate.js [--expect-invalid] SCHEMA FILE...\n' +
		'       node validate.js --compile SCHEMA...\n' +
		'       node validate.js [--expect-invalid] --export DIR...\n' +
		'FILE is .json (one value) or .jsonl (one value a line).\n' +
		'Exit 0 all valid (--expect-invalid: all invalid), 1 otherwise, 2 usage.\n');
	process.exit(2);
}

function newAjv() {
	// allErrors: report every problem of an instance, not the first only.
	// discriminator: "action" is a oneOf told apart by its "type", so an
	// error names the branch's problem instead of all twelve branches'.
	const ajv = new Ajv2020({strict: true, allErrors: true, discriminator: true});
	addFormats(ajv);
	return ajv;
}

function readText(file) {
	try {
		return fs.readFileSync(file, 'utf8');
	} catch (e) {
		usage(`${file}: cannot read (${e.code || e.message})`);
	}
	return null;
}

function compile(ajv, schemaFile) {
	let schema;
	try {
		schema = JSON.parse(readText(schemaFile));
	} catch (e) {
		process.stderr.write(`${schemaFile}: not JSON: ${e.message}\n`);
		process.exit(2);
	}
	try {
		return ajv.compile(schema);
	} catch (e) {
		process.stderr.write(`${schemaFile}: does not compile: ${e.message}\n`);
		process.exit(2);
	}
	return null;
}

function formatError(e) {
	let msg = e.message || e.keyword;
	if (e.keyword === 'additionalProperties')
		msg += ` (${JSON.stringify(e.params.additionalProperty)})`;
	else if (e.keyword === 'enum')
		msg += ` (${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')})`;
	else if (e.keyword === 'const')
		msg += ` (${JSON.stringify(e.params.allowedValue)})`;
	else if (e.keyword === 'discriminator' && e.params && e.params.tagValue !== undefined)
		msg += ` (${JSON.stringify(e.params.tagValue)})`;
	return `${e.instancePath || '/'}: ${msg}`;
}

// Checks one file. Returns {problems, values}: problems as "FILE:LINE: ..."
// strings (none: valid), values as [{line, value}] for every instance that
// passed the schema.
function checkFile(validate, file, label) {
	const where0 = label || file;
	const text = readText(file);
	const problems = [];
	const values = [];
	const checkOne = (line, src) => {
		const where = `${where0}:${line}`;
		if (Buffer.byteLength(src, 'utf8') > MAX_LINE_BYTES) {
			problems.push(`${where}: longer than ${MAX_LINE_BYTES} bytes`);
			return;
		}
		let value;
		try {
			value = JSON.parse(src);
		} catch (e) {
			problems.push(`${where}: not JSON: ${e.message}`);
			return;
		}
		if (validate(value)) {
			values.push({line, value});
			return;
		}
		const errs = validate.errors || [];
		for (const e of errs.slice(0, MAX_ERRORS_SHOWN))
			problems.push(`${where}: ${formatError(e)}`);
		if (errs.length > MAX_ERRORS_SHOWN)
			problems.push(`${where}: ... and ${errs.length - MAX_ERRORS_SHOWN} more`);
	};

	if (file.endsWith('.jsonl')) {
		// One step a line. Only the newline after the last line may be
		// missing; an empty line or an empty file is an error, since the
		// writer never makes one.
		const lines = text.split('\n');
		if (lines[lines.length - 1] === '') lines.pop();
		if (lines.length === 0) problems.push(`${where0}:1: empty file: an episode has at least one step`);
		lines.forEach((line, i) => {
			if (line.trim() === '') problems.push(`${where0}:${i + 1}: empty line`);
			else checkOne(i + 1, line);
		});
	} else {
		// One value; its errors are reported at the line where it starts.
		const lead = text.match(/^\s*/)[0];
		checkOne(lead.split('\n').length, text);
	}
	return {problems, values};
}

// "2026-12-06T15:00:00.123Z" for a Unix time in ms, or null past year 9999.
function isoMs(ms) {
	const d = new Date(ms);
	if (Number.isNaN(d.getTime()) || d.getUTCFullYear() > 9999) return null;
	return d.toISOString();
}

// Compares two {name: count} maps, leaving out zero counts.
function sameCounts(a, b) {
	const norm = (m) => Object.keys(m).filter((k) => m[k] !== 0).sort()
		.map((k) => `${k}=${m[k]}`).join(',');
	return norm(a) === norm(b);
}

// Checks an export folder. Returns its problems; none: valid.
function checkExport(dir) {
	const out = [];
	const problem = (msg) => { out.push(msg); };
	const vManifest = compile(newAjv(), path.join(SCHEMA_DIR, 'dataset-manifest.schema.json'));
	const vStep = compile(newAjv(), path.join(SCHEMA_DIR, 'dataset-step.schema.json'));

	let st;
	try {
		st = fs.statSync(dir);
	} catch (e) {
		usage(`${dir}: cannot read (${e.code || e.message})`);
	}
	if (!st.isDirectory()) usage(`${dir}: not a folder`);
	// An export holds people's data in the clear: only its owner may enter.
	if ((st.mode & 0o077) !== 0)
		problem(`${dir}: mode ${(st.mode & 0o777).toString(8)}, expected 700 (run chmod 700 ${dir})`);

	// Nothing but the manifest, the episodes and (later) frames: a stray file
	// in an export is content no manifest lists and no erasure finds.
	for (const name of fs.readdirSync(dir).sort())
		if (!['manifest.json', 'episodes', 'frames'].includes(name))
			problem(`${path.join(dir, name)}: not part of an export (only manifest.json, episodes/, frames/)`);

	const mfile = path.join(dir, 'manifest.json');
	if (!fs.existsSync(mfile)) {
		problem(`${mfile}: missing`);
		return out;
	}
	const m = checkFile(vManifest, mfile);
	out.push(...m.problems);
	if (m.values.length !== 1) return out;
	const man = m.values[0].value;

	if (!man.purpose.stewards.includes(man.steward))
		problem(`${mfile}:1: /steward: not one of purpose.stewards`);

	// The files listed are exactly the files there.
	const edir = path.join(dir, 'episodes');
	let onDisk = [];
	if (fs.existsSync(edir)) {
		for (const ent of fs.readdirSync(edir, {withFileTypes: true})) {
			if (ent.isFile() && ent.name.endsWith('.jsonl')) onDisk.push(`episodes/${ent.name}`);
			else problem(`${path.join(edir, ent.name)}: not an episode file (*.jsonl)`);
		}
	}
	onDisk = onDisk.sort();
	const listed = man.files.map((f) => f.path);
	for (const p of listed)
		if (!onDisk.includes(p)) problem(`${mfile}:1: /files: ${p} is listed but not in the folder`);
	for (const p of onDisk)
		if (!listed.includes(p)) problem(`${path.join(dir, p)}: not listed in manifest.json files`);
	if (new Set(listed).size !== listed.length) problem(`${mfile}:1: /files: a path is listed twice`);
	if (man.episodes !== man.files.length)
		problem(`${mfile}:1: /episodes: ${man.episodes}, but files lists ${man.files.length}`);

	const actions = Object.fromEntries(ACTION_TYPES.map((t) => [t, 0]));
	const levelsSeen = new Set();
	const redactions = {};
	let steps = 0;
	man.files.forEach((f, i) => {
		const file = path.join(dir, f.path);
		if (!onDisk.includes(f.path)) return;
		const bytes = fs.readFileSync(file);
		if (bytes.length !== f.bytes)
			problem(`${mfile}:1: /files/${i}/bytes: ${f.bytes}, but ${f.path} has ${bytes.length}`);
		const sum = crypto.createHash('sha256').update(bytes).digest('hex');
		if (sum !== f.sha256)
			problem(`${mfile}:1: /files/${i}/sha256: does not match ${f.path} (${sum})`);
		const episode = path.basename(f.path, '.jsonl');
		const r = checkFile(vStep, file);
		out.push(...r.problems);
		// time_ms counts from the episode's first step, so time - time_ms
		// is that step's time on every line.
		let prevMs = -1;
		let start = null;
		for (const {line, value: s} of r.values) {
			const where = `${file}:${line}`;
			if (s.episode !== episode) problem(`${where}: /episode: ${s.episode} in the file of ${episode}`);
			if (s.index !== line - 1) problem(`${where}: /index: ${s.index} on line ${line} (expected ${line - 1})`);
			if (line === 1 && s.time_ms !== 0) problem(`${where}: /time_ms: ${s.time_ms} on the first step (expected 0)`);
			const t0 = Date.parse(s.time) - s.time_ms;
			if (start === null) start = t0;
			else if (t0 !== start)
				problem(`${where}: /time: ${s.time} minus time_ms ${s.time_ms} is ${isoMs(t0)}, not the first step's ${isoMs(start)}`);
			if (s.time_ms < prevMs) problem(`${where}: /time_ms: goes back in time`);
			prevMs = s.time_ms;
			if (s.level > man.purpose.level)
				problem(`${where}: /level: ${s.level}, above the purpose's level ${man.purpose.level}`);
			actions[s.action.type]++;
			levelsSeen.add(String(s.level));
			if (s.action.type === 'redacted')
				redactions[s.action.kind] = (redactions[s.action.kind] || 0) + 1;
			steps++;
		}
	});
	if (out.length === 0) {
		// The counts are only worth comparing when every step was read.
		if (man.steps !== steps) problem(`${mfile}:1: /steps: ${man.steps}, but the episodes hold ${steps}`);
		for (const t of ACTION_TYPES)
			if (man.actions[t] !== actions[t])
				problem(`${mfile}:1: /actions/${t}: ${man.actions[t]}, but the episodes hold ${actions[t]}`);
		const segs = man.levels['1'] + man.levels['2'] + man.levels['3'];
		if (segs !== man.segments.exported)
			problem(`${mfile}:1: /levels: ${segs} segments in all, but segments.exported is ${man.segments.exported}`);
		for (const l of levelsSeen)
			if (man.levels[l] === 0)
				problem(`${mfile}:1: /levels/${l}: 0, but the episodes hold steps at level ${l}`);
		if (!sameCounts(man.redactions, redactions))
			problem(`${mfile}:1: /redactions: ${JSON.stringify(man.redactions)}, but the episodes hold ${JSON.stringify(redactions)}`);
	}
	if (out.length > MAX_EXPORT_PROBLEMS) {
		const n = out.length - MAX_EXPORT_PROBLEMS;
		out.length = MAX_EXPORT_PROBLEMS;
		out.push(`${dir}: ... and ${n} more problems`);
	}
	return out;
}

// Prints the problems of one file or folder; returns 1 when it counts as bad.
function report(name, problems, expectInvalid) {
	if (problems.length === 0) {
		if (!expectInvalid) return 0;
		process.stderr.write(`${name}: valid, but expected invalid\n`);
		return 1;
	}
	// With --expect-invalid the errors are what was expected: still shown,
	// so a test can check the reason.
	for (const p of problems) process.stderr.write(p + '\n');
	return expectInvalid ? 0 : 1;
}

function main(argv) {
	let expectInvalid = false;
	let compileOnly = false;
	let exportMode = false;
	const args = [];
	for (const a of argv) {
		if (a === '--expect-invalid') expectInvalid = true;
		else if (a === '--compile') compileOnly = true;
		else if (a === '--export') exportMode = true;
		else if (a === '-h' || a === '--help') {
			process.stdout.write('usage: node validate.js [--expect-invalid] SCHEMA FILE...\n' +
				'       node validate.js --compile SCHEMA...\n' +
				'       node validate.js [--expect-invalid] --export DIR...\n');
			process.exit(0);
		} else if (a.startsWith('--')) usage(`unknown option ${a}`);
		else args.push(a);
	}
	if (compileOnly) {
		if (expectInvalid || exportMode || args.length === 0) usage('--compile takes schemas only');
		for (const s of args) {
			compile(newAjv(), s);
			process.stdout.write(`${s}: compiles\n`);
		}
		return 0;
	}
	let bad = 0;
	if (exportMode) {
		if (args.length === 0) usage('--export needs at least one DIR');
		for (const dir of args) bad += report(dir, checkExport(dir), expectInvalid);
		return bad === 0 ? 0 : 1;
	}
	if (args.length < 2) usage('need a SCHEMA and at least one FILE');
	const validate = compile(newAjv(), args[0]);
	for (const file of args.slice(1))
		bad += report(file, checkFile(validate, file).problems, expectInvalid);
	return bad === 0 ? 0 : 1;
}

process.exit(main(process.argv.slice(2)));
