//! Published vectors: NIST SP 800-38G FF1 samples and RFC 4231 HMAC-SHA-256.
//! (RFC 5297 AES-SIV vectors run as unit tests beside the token code.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use veil_core::mask::{Ff1, KeyedHasher};

fn load(name: &str) -> Value {
    let path = format!("{}/../../tests/vectors/standards/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn numerals(s: &str, radix: u32) -> Vec<u16> {
    s.chars().map(|c| c.to_digit(radix).unwrap() as u16).collect()
}

fn text(n: &[u16], radix: u32) -> String {
    n.iter().map(|&d| char::from_digit(u32::from(d), radix).unwrap()).collect()
}

#[test]
fn nist_ff1_samples() {
    let doc = load("nist-ff1.json");
    let samples = doc["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 9);
    for s in samples {
        let radix = s["radix"].as_u64().unwrap() as u32;
        let ff1 = Ff1::new(&unhex(s["key"].as_str().unwrap()), radix).unwrap();
        let tweak = unhex(s["tweak"].as_str().unwrap());
        let pt = numerals(s["plaintext"].as_str().unwrap(), radix);
        let ct = ff1.encrypt(&tweak, &pt).unwrap();
        assert_eq!(text(&ct, radix), s["ciphertext"].as_str().unwrap(), "sample {}", s["sample"]);
        assert_eq!(ff1.decrypt(&tweak, &ct).unwrap(), pt, "sample {} decrypt", s["sample"]);
    }
}

#[test]
fn rfc4231_hmac_sha256() {
    let doc = load("rfc4231.json");
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for c in cases {
        let mac =
            KeyedHasher::from_raw_key(&unhex(c["key"].as_str().unwrap())).hash_raw(&unhex(c["data"].as_str().unwrap()));
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        let expected = c["mac"].as_str().unwrap();
        assert!(hex.starts_with(expected), "case {}: {hex} vs {expected}", c["case"]);
    }
}
