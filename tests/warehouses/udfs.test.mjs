// The JS UDF bodies veil generates, executed as the warehouse calls them, against
// the shared vectors (tests/vectors/core.json): each must return what veil-core
// returns, or fail with the same error kind.
// Snowflake: the body is a function body; arguments are visible by their upper-case
// names (V, K, S, R, P); SQL NULL arrives as undefined.
// The SQL comes from the veil CLI (VEIL or ${CARGO_TARGET_DIR:-target}/{release,debug}/veil)
// with the real bundles of dist/js/slim (scripts/build-wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function veil() {
  if (process.env.VEIL) return process.env.VEIL;
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  for (const profile of ['release', 'debug']) {
    const p = path.join(target, profile, 'veil');
    if (existsSync(p)) return p;
  }
  throw new Error('no veil binary: cargo build -p veil-cli');
}

function bind(target, extra = []) {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'veil-wh-')), `${target}.sql`);
  execFileSync(veil(), [
    'bind', '--engine', target,
    '--policies', path.join(root, 'examples/shop/policies'),
    '--users', path.join(root, 'examples/shop/users.yaml'),
    '--dbt-target', path.join(root, 'crates/veil-dbt/tests/fixtures/shop'),
    '--key-id', 'k1', '--udfs', path.join(root, 'dist/js/slim'), '-o', out, ...extra,
  ], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(out, 'utf8');
}

const vectors = JSON.parse(readFileSync(path.join(root, 'tests/vectors/core.json'), 'utf8'));
const text = (v) => (v !== null && typeof v === 'object' ? v.repeat.repeat(v.times) : v);

/** Snowflake JS UDFs: name -> a JS function called with the SQL arguments in order. */
function snowflakeUdfs(sql) {
  const re = /CREATE OR REPLACE SECURE FUNCTION (?:"\w+"\.)?"veil"\."(\w+)"\(([^)]*)\)\n[\s\S]*?LANGUAGE JAVASCRIPT[\s\S]*?AS \$\$\n([\s\S]*?)\n\$\$;/g;
  const out = {};
  for (const [, name, args, body] of sql.matchAll(re)) {
    const names = args.split(',').map((a) => a.trim().split(/\s+/)[0]);
    assert.ok(names.every((n) => n === n.toUpperCase()), `${name}: argument names are upper case`);
    const ctx = vm.createContext({}); // a bare JS global: no require, Buffer or TextEncoder
    const fn = vm.runInContext(`(function (${names.join(', ')}) {\n${body}\n})`, ctx);
    out[name] = { fn, size: Buffer.byteLength(body) };
  }
  return out;
}

// SQL NULL arrives as undefined.
const arg = (v) => (v === null || v === undefined ? undefined : v);

function check(udfs, family, call) {
  let n = 0;
  for (const c of vectors.cases.filter((c) => c.fn === family)) {
    let got;
    try {
      got = call(udfs, c.args.map(text));
    } catch (e) {
      assert.ok(c.error, `${family}(${JSON.stringify(c.args).slice(0, 80)}) threw ${e.message}`);
      assert.ok(String(e.message).startsWith(`${c.error}:`), `${e.message} vs ${c.error}`);
      n++;
      continue;
    }
    if ('output_sha256' in c) continue;
    assert.equal(got ?? null, c.output, `${family}(${JSON.stringify(c.args).slice(0, 80)})`);
    n++;
  }
  return n;
}

test('Snowflake JS UDFs return veil-core values on the shared vectors', () => {
  const udfs = snowflakeUdfs(bind('snowflake'));
  assert.deepEqual(Object.keys(udfs).sort(), ['veil_ff1', 'veil_hash', 'veil_in_sample', 'veil_token']);
  const key = vectors.key;
  let n = 0;
  n += check(udfs, 'hash', (u, a) => u.veil_hash.fn(arg(a[0]), key, a[1], arg(a[2])));
  n += check(udfs, 'in_sample', (u, a) => u.veil_in_sample.fn(arg(a[0]), key, a[1], a[2]));
  n += check(udfs, 'fpe_encrypt', (u, a) => u.veil_ff1.fn(arg(a[0]), key, a[1]));
  n += check(udfs, 'token_mask', (u, a) => u.veil_token.fn(arg(a[0]), key, a[1]));
  assert.ok(n >= 25, `${n} vectors checked`);
  for (const [name, { size }] of Object.entries(udfs)) {
    assert.ok(size < 100_000, `${name}: ${size} bytes, over Snowflake's ~100 KB`);
  }
});

// BigQuery: the library files load first, as scripts, into the UDF's global scope;
// the body is a function body whose parameters are the SQL argument names
// (lower case here: v, k, s, r, p); SQL NULL arrives as null. The keyed hash has
// no library: its body carries the canonical-ABI hash bundle inline.
const BIGQUERY_LIBRARY = 'gs://veil-udfs/slim';

function bigqueryUdfs(sql) {
  const re = /CREATE OR REPLACE FUNCTION (?:`[\w-]+`\.)?`veil`\.`(\w+)`\(([^)]*)\)\n[\s\S]*?LANGUAGE js\n(?:OPTIONS \(library = \['([^']+)'\]\)\n)?AS r"""\n([\s\S]*?)\n""";/g;
  const out = {};
  for (const [, name, args, library, body] of sql.matchAll(re)) {
    const names = args.split(',').map((a) => a.trim().split(/\s+/)[0]);
    const ctx = vm.createContext({}); // a bare JS global, as BigQuery's V8 isolate
    let size = 0;
    if (library) {
      assert.ok(library.startsWith(`${BIGQUERY_LIBRARY}/`), library);
      const file = path.join(root, 'dist/js/slim', library.slice(BIGQUERY_LIBRARY.length + 1));
      vm.runInContext(readFileSync(file, 'utf8'), ctx, { filename: library });
      size = readFileSync(file).length;
    }
    const fn = vm.runInContext(`(function (${names.join(', ')}) {\n${body}\n})`, ctx);
    out[name] = { fn, inline: Buffer.byteLength(body), library: size };
  }
  return out;
}

const nul = (v) => (v === null || v === undefined ? null : v);

test('BigQuery JS UDFs (inline hash, library files) return veil-core values on the shared vectors', () => {
  const udfs = bigqueryUdfs(bind('bigquery', ['--udf-library', BIGQUERY_LIBRARY]));
  assert.deepEqual(Object.keys(udfs).sort(), ['veil_ff1', 'veil_hash', 'veil_in_sample', 'veil_token']);
  const key = vectors.key;
  let n = 0;
  n += check(udfs, 'hash', (u, a) => u.veil_hash.fn(nul(a[0]), key, a[1], nul(a[2])));
  n += check(udfs, 'in_sample', (u, a) => u.veil_in_sample.fn(nul(a[0]), key, a[1], a[2]));
  n += check(udfs, 'fpe_encrypt', (u, a) => u.veil_ff1.fn(nul(a[0]), key, a[1]));
  n += check(udfs, 'token_mask', (u, a) => u.veil_token.fn(nul(a[0]), key, a[1]));
  assert.ok(n >= 25, `${n} vectors checked`);
  for (const [name, { inline, library }] of Object.entries(udfs)) {
    assert.ok(inline < 32_000, `${name}: inline body ${inline} bytes, over BigQuery's 32 KB`);
    assert.ok(library < 1_000_000, `${name}: library ${library} bytes, over BigQuery's 1 MB`);
  }
  assert.equal(udfs.veil_hash.library, 0, 'the keyed hash loads no library');
  assert.ok(udfs.veil_hash.inline > 10_000, 'the keyed hash carries its Wasm inline');
});
