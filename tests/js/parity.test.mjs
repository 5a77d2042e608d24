// The shared vectors (tests/vectors/core.json) through both JS builds of veil:
// the Node.js module (dist/js/node/) and the self-contained veil.inline.js, run in a
// bare V8 context (no require, Buffer or TextEncoder, as in a warehouse JS UDF).
// Both must give the native outputs and error kinds, and each other's, byte for byte.
//
// Run `scripts/build-wasm` first; a missing build fails here, never skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const nodeModulePath = path.join(root, 'dist/js/node/veil.js');
const inlinePath = path.join(root, 'dist/js/veil.inline.js');
const smallPath = path.join(root, 'dist/js/veil.small.inline.js');
for (const p of [nodeModulePath, inlinePath, smallPath]) {
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: run scripts/build-wasm first`);
  }
}

// 64-bit integers do not survive JSON.parse as numbers: keep long ones as tagged text.
const BIG = '$big:';
function loadVectors() {
  const text = readFileSync(path.join(root, 'tests/vectors/core.json'), 'utf8');
  const tagged = text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, `$1"${BIG}$2"`);
  return JSON.parse(tagged);
}

/** Text arguments: strings, null, or {repeat, times} expanded. */
function text(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object' && !Array.isArray(v)) return v.repeat.repeat(v.times);
  return v;
}
function big(v) {
  if (v === null) return null;
  return typeof v === 'string' && v.startsWith(BIG) ? BigInt(v.slice(BIG.length)) : BigInt(v);
}
const reader = (args, at) => (typeof args[at] === 'string' ? args[at] : undefined);

/** One case through one build; the raw JS result. */
function call(api, key, f, args) {
  const a0 = text(args[0]);
  switch (f) {
    case 'hash': return api.veilHash(a0, key, args[1], reader(args, 2));
    case 'mask_regex': return api.veilMaskRegex(a0, args[1], args[2]);
    case 'reveal_first': return api.veilRevealFirst(a0, args[1], args[2]);
    case 'reveal_last': return api.veilRevealLast(a0, args[1], args[2]);
    case 'mask_email': return api.veilEmailMask(a0);
    case 'round_int': return api.veilRoundInt(big(args[0]), big(args[1]));
    case 'round_float': return api.veilRoundFloat(args[0], args[1]);
    case 'round_places': return api.veilRoundPlaces(args[0], args[1]);
    case 'trunc_date': return api.veilTruncDate(args[0], args[1]);
    case 'trunc_timestamp': return api.veilTruncTimestamp(big(args[0]), args[1]);
    case 'trunc_iso': return api.veilTruncIso(a0, args[1]);
    case 'fpe_encrypt': return api.veilFpeEncrypt(a0, key, args[1], reader(args, 2));
    case 'fpe_decrypt': return api.veilFpeDecrypt(a0, key, args[1], reader(args, 2));
    case 'token_mask': return api.veilTokenMask(a0, key, args[1], reader(args, 2));
    case 'token_unmask': return api.veilTokenUnmask(a0, key, args[1], reader(args, 2));
    case 'tag_match': return api.veilTagMatches(a0, text(args[1]));
    case 'attribute_in': return api.veilAttributeIn(a0, args[1], args[2]);
    case 'in_window': return api.veilInWindow(big(args[0]), big(args[1]), big(args[2]));
    case 'in_sample': return api.veilInSample(a0, key, args[1], args[2]);
    default: throw new Error(`no JS function for shared vector function \`${f}\``);
  }
}

/** A canonical text of a value: equal texts mean equal bytes (strings) or equal numbers. */
function canon(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v.startsWith(BIG) ? v.slice(BIG.length) : JSON.stringify(v);
  return String(v); // bigint, boolean, number (shortest round-trip form of the double)
}

/** {output|output_sha256|error} as the vectors store it. */
function outcome(api, key, f, args) {
  let value;
  try {
    value = call(api, key, f, args);
  } catch (e) {
    return { error: String(e.message).split(':')[0] };
  }
  if (typeof value === 'string' && Buffer.byteLength(value, 'utf8') > 256) {
    return { output_sha256: createHash('sha256').update(value, 'utf8').digest('hex') };
  }
  return { output: canon(value) };
}

function expected(c) {
  if ('error' in c) return { error: c.error };
  if ('output_sha256' in c) return { output_sha256: c.output_sha256 };
  return { output: canon(c.output) };
}

const require = createRequire(import.meta.url);
const nodeApi = require(nodeModulePath);
const sandbox = {};
vm.runInNewContext(readFileSync(inlinePath, 'utf8'), sandbox, { filename: inlinePath });
const small = {};
vm.runInNewContext(readFileSync(smallPath, 'utf8'), small, { filename: smallPath });
const vectors = loadVectors();

test('the inline build runs in a bare context', () => {
  assert.equal(vm.runInNewContext('typeof TextEncoder + typeof require + typeof Buffer', {}), 'undefinedundefinedundefined');
  assert.equal(typeof sandbox.veilHash, 'function');
  assert.equal(sandbox.veilAbiVersion(), 1);
  assert.equal(nodeApi.veilAbiVersion(), 1);
});

test('the small inline build has everything but the regex mask', () => {
  assert.equal(small.veilMaskRegex, undefined);
  assert.equal(typeof small.veilHash, 'function');
  // Evaluating the body again (as a warehouse may, once per row) reuses the instance.
  const before = Object.keys(small).filter((k) => k.startsWith('__veil_'));
  vm.runInContext(readFileSync(smallPath, 'utf8'), small);
  assert.deepEqual(Object.keys(small).filter((k) => k.startsWith('__veil_')), before);
  assert.equal(before.length, 1);
});

for (const [name, api] of [['node module', nodeApi], ['inline script', sandbox], ['small inline script', small]]) {
  test(`shared vectors through the ${name}`, () => {
    const failures = [];
    for (const c of vectors.cases) {
      if (api === small && c.fn === 'mask_regex') continue;
      const got = outcome(api, vectors.key, c.fn, c.args);
      const want = expected(c);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        failures.push(`${c.fn} ${JSON.stringify(c.args).slice(0, 120)}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      }
    }
    assert.ok(vectors.cases.length >= 100, `only ${vectors.cases.length} cases`);
    assert.deepEqual(failures, [], `${failures.length} of ${vectors.cases.length} cases differ`);
  });
}

test('both builds agree on readers, bad keys and numbers given as Number', () => {
  const key = vectors.key;
  const cases = [
    ['hash', ['alice@example.com', 'project:growth', 'bob']],
    ['hash', ['alice@example.com', 'project:growth', 'Zoë']],
    ['fpe_encrypt', ['4111-1111-1111-1111', 'shop.payments', 'bob']],
    ['token_mask', ['東京', 'hr.employees', 'bob']],
  ];
  for (const [f, args] of cases) {
    const a = outcome(nodeApi, key, f, args);
    const b = outcome(sandbox, key, f, args);
    assert.deepEqual(a, b, `${f} ${JSON.stringify(args)}`);
    assert.notDeepEqual(a, outcome(nodeApi, key, f, args.slice(0, 2)), `${f}: the reader must change the output`);
  }
  for (const api of [nodeApi, sandbox]) {
    assert.throws(() => api.veilHash('a', 'zz'.repeat(32), 'shop.customers'), /^Error: invalid_key: /);
    const token = api.veilTokenMask('Zoë', key, 'hr.employees');
    assert.equal(api.veilTokenUnmask(token, key, 'hr.employees'), 'Zoë');
    assert.equal(api.veilFpeDecrypt(api.veilFpeEncrypt('123-45-6789', key, 's'), key, 's'), '123-45-6789');
  }
  // The inline script takes plain numbers for 64-bit parameters, as warehouses pass them.
  assert.equal(sandbox.veilRoundInt(1235, 10), 1240n);
  assert.equal(sandbox.veilInWindow(864000000000, 950400000000, 172800000000), true);
  assert.equal(sandbox.veilTruncTimestamp(1715950245123456, 'hour'), 1715947200000000n);
});
