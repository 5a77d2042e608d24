#!/usr/bin/env node
// Assemble dist/js/veil.inline.js: wasm-bindgen's `--target no-modules` glue plus the
// Wasm bytes as base64, wrapped so that the file is one plain script with no
// require/import, no Buffer, no fetch and no TextEncoder/TextDecoder needed (a
// warehouse JS UDF body may have none of them). It declares plain functions
// (`veilHash(value, keyHex, scope, reader)`, ...) and, under CommonJS, exports them.
//
// usage: node inline.js [--deflate] <no-modules veil.js> <veil_bg.wasm> <out.js>
//        node inline.js --core <veil-singlestore hash-only module.wasm> <out.js>
// --deflate: the Wasm raw-DEFLATE-compressed, with a small inflater, for the slim
// per-family bundles (dist/js/slim/veil-<family>.inline.js, crates/veil-js-slim)
// that must fit a warehouse UDF body (Snowflake ~100 KB). --core: a core module
// with the older canonical ABI (crates/veil-singlestore built without features:
// `veil-hash` and `veil-hash-reader` only) in a few lines of glue instead of
// wasm-bindgen's, deflated, for a `veilHash` under BigQuery's 32 KB inline code.
'use strict';
const fs = require('fs');
const zlib = require('zlib');

const args = process.argv.slice(2);
const core = args[0] === '--core';
const deflate = core || args[0] === '--deflate';
if (deflate) args.shift();
const [gluePath, wasmPath, outPath] = core ? [null, ...args] : args;
if (!outPath) {
  console.error('usage: node inline.js [--deflate] <no-modules veil.js> <veil_bg.wasm> <out.js>\n' +
    '       node inline.js --core <module.wasm> <out.js>');
  process.exit(2);
}
const wasm = fs.readFileSync(wasmPath);
// The canonical-ABI glue: strings in through canonical_abi_realloc, the result's
// (ptr, len) read from the returned area and freed; `veil-error:` text thrown as
// `<kind>: <message>`, as veil-js's errors read.
const coreGlue = `
  function coreExports(bytes) {
    var x = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
    var enc = new TextEncoder(), dec = new TextDecoder();
    function call(name, args) {
      var flat = [], i, b, p;
      for (i = 0; i < args.length; i++) {
        b = enc.encode(String(args[i]));
        p = x.canonical_abi_realloc(0, 0, 1, b.length);
        new Uint8Array(x.memory.buffer, p, b.length).set(b);
        flat.push(p, b.length);
      }
      var area = x[name].apply(null, flat), m = new Uint32Array(x.memory.buffer, area, 2), at = m[0], n = m[1];
      var out = dec.decode(new Uint8Array(x.memory.buffer, at, n).slice());
      x.canonical_abi_free(at, n, 1);
      if (out.indexOf('veil-error:') === 0) throw new Error(out.slice(11));
      return out;
    }
    return {
      veilHash: function (value, keyHex, scope, reader) {
        if (value === null || value === undefined) return null;
        return reader === null || reader === undefined
          ? call('veil-hash', [value, keyHex, scope])
          : call('veil-hash-reader', [value, keyHex, scope, reader]);
      },
    };
  }
`;
const glue = core ? coreGlue : fs.readFileSync(gluePath, 'utf8');
// One global slot per build, so two builds in one JS global never mix.
const slot = `__veil_${require('crypto').createHash('sha256').update(wasm).digest('hex').slice(0, 16)}`;

// The exported functions, read from the glue (`__exports.veilHash = veilHash;` or
// `function veilHash(`), so a new export needs no change here.
const names = [...new Set([...glue.matchAll(core ? /\b(veil[A-Z][A-Za-z0-9]*): function/g : /\bfunction (veil[A-Za-z0-9]*)\s*\(/g)].map((m) => m[1]))].sort();
if (names.length === 0 || !names.includes('veilHash')) {
  console.error(`inline.js: no veil* functions found in ${gluePath}`);
  process.exit(1);
}
// 64-bit integer parameters are BigInt in wasm-bindgen; warehouses pass numbers.
const bigintParams = { veilRoundInt: [0, 1], veilTruncTimestamp: [0], veilInWindow: [0, 1, 2] };

const utf8 = `
  // UTF-8 for engines without TextEncoder/TextDecoder (only used when missing).
  function VeilTextDecoder() {}
  VeilTextDecoder.prototype.decode = function (bytes) {
    if (!bytes) return '';
    var out = '', chunk = [], i = 0, n = bytes.length, c;
    while (i < n) {
      c = bytes[i++];
      if (c >= 0xf0) c = ((c & 7) << 18) | ((bytes[i++] & 63) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
      else if (c >= 0xe0) c = ((c & 15) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
      else if (c >= 0xc0) c = ((c & 31) << 6) | (bytes[i++] & 63);
      chunk.push(c);
      if (chunk.length === 4096) { out += String.fromCodePoint.apply(null, chunk); chunk = []; }
    }
    return out + String.fromCodePoint.apply(null, chunk);
  };
  function VeilTextEncoder() {}
  VeilTextEncoder.prototype.encode = function (text) {
    text = String(text);
    var out = new Uint8Array(text.length * 3), o = 0, i, c;
    for (i = 0; i < text.length; i++) {
      c = text.codePointAt(i);
      if (c > 0xffff) i++;
      else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate, as TextEncoder does
      if (c < 0x80) out[o++] = c;
      else if (c < 0x800) { out[o++] = 0xc0 | (c >> 6); out[o++] = 0x80 | (c & 63); }
      else if (c < 0x10000) { out[o++] = 0xe0 | (c >> 12); out[o++] = 0x80 | ((c >> 6) & 63); out[o++] = 0x80 | (c & 63); }
      else { out[o++] = 0xf0 | (c >> 18); out[o++] = 0x80 | ((c >> 12) & 63); out[o++] = 0x80 | ((c >> 6) & 63); out[o++] = 0x80 | (c & 63); }
    }
    return out.subarray(0, o);
  };
  VeilTextEncoder.prototype.encodeInto = function (text, view) {
    var bytes = this.encode(text), n = Math.min(bytes.length, view.length);
    view.set(bytes.subarray(0, n));
    return { read: n === bytes.length ? text.length : 0, written: n };
  };
  var TextDecoder = typeof globalThis.TextDecoder === 'function' ? globalThis.TextDecoder : VeilTextDecoder;
  var TextEncoder = typeof globalThis.TextEncoder === 'function' ? globalThis.TextEncoder : VeilTextEncoder;
`;

const base64 = `
  function veilBase64(text) {
    var map = {}, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', i;
    for (i = 0; i < 64; i++) map[alphabet.charAt(i)] = i;
    var clean = text.replace(/=+$/, ''), out = new Uint8Array((clean.length * 3) >> 2), o = 0, bits = 0, acc = 0;
    for (i = 0; i < clean.length; i++) {
      acc = (acc << 6) | map[clean.charAt(i)];
      bits += 6;
      if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 255; }
    }
    return out;
  }
`;

// base64 -> bytes, then raw DEFLATE (RFC 1951) -> bytes.
const inflate = `
  function b64(t) {
    var m = {}, a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', i;
    for (i = 0; i < 64; i++) m[a.charAt(i)] = i;
    t = t.replace(/=+$/, '');
    var o = new Uint8Array((t.length * 3) >> 2), k = 0, bits = 0, acc = 0;
    for (i = 0; i < t.length; i++) {
      acc = ((acc << 6) | m[t.charAt(i)]) & 0xffffff; bits += 6;
      if (bits >= 8) { bits -= 8; o[k++] = (acc >> bits) & 255; }
    }
    return o;
  }
  function inflate(src) {
    var out = [], pos = 0, bit = 0;
    function bits(n) { var v = 0, i; for (i = 0; i < n; i++) { v |= ((src[pos] >> bit) & 1) << i; if (++bit === 8) { bit = 0; pos++; } } return v; }
    function table(lens) {
      var count = [], offs = [], sym = [], i, max = 0;
      for (i = 0; i < lens.length; i++) { count[lens[i]] = (count[lens[i]] || 0) + 1; if (lens[i] > max) max = lens[i]; }
      count[0] = 0; offs[1] = 0;
      for (i = 1; i < max; i++) offs[i + 1] = offs[i] + (count[i] || 0);
      for (i = 0; i < lens.length; i++) if (lens[i]) sym[offs[lens[i]]++] = i;
      return { count: count, sym: sym, max: max };
    }
    function decode(t) {
      var code = 0, first = 0, index = 0, len, c;
      for (len = 1; len <= t.max; len++) {
        code |= bits(1); c = t.count[len] || 0;
        if (code - c < first) return t.sym[index + (code - first)];
        index += c; first = (first + c) << 1; code <<= 1;
      }
      throw new Error('veil: corrupt bundle');
    }
    var LB = [3,4,5,6,7,8,9,10,11,13,15,17,19,23,27,31,35,43,51,59,67,83,99,115,131,163,195,227,258];
    var LE = [0,0,0,0,0,0,0,0,1,1,1,1,2,2,2,2,3,3,3,3,4,4,4,4,5,5,5,5,0];
    var DB = [1,2,3,4,5,7,9,13,17,25,33,49,65,97,129,193,257,385,513,769,1025,1537,2049,3073,4097,6145,8193,12289,16385,24577];
    var DE = [0,0,0,0,1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9,10,10,11,11,12,12,13,13];
    var ORD = [16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1,15];
    var last, type, i, n;
    do {
      last = bits(1); type = bits(2);
      if (type === 0) {
        if (bit) { bit = 0; pos++; }
        n = src[pos] | (src[pos + 1] << 8); pos += 4;
        for (i = 0; i < n; i++) out.push(src[pos++]);
        continue;
      }
      var lt, dt, l = [];
      if (type === 1) {
        for (i = 0; i < 288; i++) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
        lt = table(l); l = []; for (i = 0; i < 30; i++) l[i] = 5; dt = table(l);
      } else {
        var hl = bits(5) + 257, hd = bits(5) + 1, hc = bits(4) + 4, cl = [], s, p;
        for (i = 0; i < 19; i++) cl[i] = 0;
        for (i = 0; i < hc; i++) cl[ORD[i]] = bits(3);
        var ct = table(cl);
        while (l.length < hl + hd) {
          s = decode(ct);
          if (s < 16) l.push(s);
          else if (s === 16) { p = l[l.length - 1]; for (i = bits(2) + 3; i > 0; i--) l.push(p); }
          else for (i = s === 17 ? bits(3) + 3 : bits(7) + 11; i > 0; i--) l.push(0);
        }
        lt = table(l.slice(0, hl)); dt = table(l.slice(hl));
      }
      for (;;) {
        s = decode(lt);
        if (s < 256) out.push(s);
        else if (s === 256) break;
        else {
          s -= 257; n = LB[s] + bits(LE[s]);
          var d = decode(dt), dist = DB[d] + bits(DE[d]), from = out.length - dist;
          for (i = 0; i < n; i++) out.push(out[from + i]);
        }
      }
    } while (!last);
    return new Uint8Array(out);
  }
`;

const wrappers = names
  .map((name) => {
    const big = bigintParams[name];
    if (!big) return `function ${name}() { return veil.${name}.apply(null, arguments); }`;
    const coerce = big.map((i) => `if (typeof a[${i}] === 'number') a[${i}] = BigInt(a[${i}]);`).join(' ');
    return `function ${name}() { var a = Array.prototype.slice.call(arguments); ${coerce} return veil.${name}.apply(null, a); }`;
  })
  .join('\n');

const init = core
  ? `  return coreExports(inflate(b64('${zlib.deflateRawSync(wasm, { level: 9 }).toString('base64')}')));`
  : deflate
    ? `  wasm_bindgen.initSync({ module: inflate(b64('${zlib.deflateRawSync(wasm, { level: 9 }).toString('base64')}')) });
  return wasm_bindgen;`
    : `  wasm_bindgen.initSync({ module: veilBase64('${wasm.toString('base64')}') });
  return wasm_bindgen;`;
const out = `// ${require('path').basename(outPath)}: veil-core compiled to WebAssembly, with its bytes inlined.
// Generated by scripts/build-wasm (crates/veil-js/inline.js); do not edit.
// Plain functions for a JS UDF body: ${names.join(', ')}.
// NULL (null/undefined) in the value argument gives undefined; 64-bit integers are
// BigInt (numbers are accepted as input); errors throw, message "<kind>: <reason>".
// The UDF body may be evaluated for every row: instantiate once per JS global.
var veil = globalThis.${slot} || (globalThis.${slot} = (function () {
${utf8}
${deflate ? inflate : base64}
${glue}
${init}
})());
${wrappers}
if (typeof module !== 'undefined' && module.exports) {
  module.exports = { ${names.join(', ')} };
}
`;
if (deflate && out.includes('$$')) {
  console.error(`inline.js: ${outPath} contains \`$$\`, which would end a $$-quoted UDF body`);
  process.exit(1);
}
fs.writeFileSync(outPath, out);
console.log(`${outPath}: ${out.length} bytes, ${names.length} functions`);
