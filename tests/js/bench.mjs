// ns/value of keyed hash, regex mask and FF1 through the Node.js build
// (dist/js/node/), one scalar call a value as a JS UDF makes them, on the same
// 2048 inputs as tests/benches/wasm.rs. Not a test: `node tests/js/bench.mjs`.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const veil = createRequire(import.meta.url)(path.join(root, 'dist/js/node/veil.js'));
const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const N = 2048;
const col = (f) => Array.from({ length: N }, (_, i) => f(i));
const pad = (n) => String(n).padStart(4, '0');

const cases = [
  ['keyed_hash', col((i) => `user${i}@example.com`), (v) => veil.veilHash(v, KEY, 'shop.customers')],
  ['regex_mask', col((i) => `164.16.${i % 256}.${(i * 7) % 256}`), (v) => veil.veilMaskRegex(v, '\\d+$', 'XXX')],
  ['ff1', col((i) => `4111-1111-${pad(i % 10000)}-${pad((i * 7919) % 10000)}`), (v) => veil.veilFpeEncrypt(v, KEY, 'shop.payments')],
  ['boundary_email_mask', col((i) => `user${i}@example.com`), (v) => veil.veilEmailMask(v)],
];

console.log('| function | node scalar ns/value |');
console.log('|---|---|');
for (const [name, values, f] of cases) {
  let sink = 0;
  for (let r = 0; r < 5; r++) for (const v of values) sink += f(v).length; // warm up
  let best = Infinity;
  for (let r = 0; r < 15; r++) {
    const t0 = process.hrtime.bigint();
    for (const v of values) sink += f(v).length;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / N);
  }
  if (sink === 0) throw new Error('nothing computed');
  console.log(`| ${name} | ${best.toFixed(0)} |`);
}
