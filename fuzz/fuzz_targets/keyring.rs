//! Keyring text: parsed; an error message never repeats key material (the hex
//! digits after a `=`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::keyring::Keyring;

fuzz_target!(|text: &str| {
    match Keyring::parse("ring.txt", text) {
        Ok(ring) => {
            let ids: Vec<String> = ring.ids().map(str::to_owned).collect();
            for id in ids {
                assert!(ring.get(&id).is_ok());
            }
        }
        Err(e) => {
            let message = e.to_string();
            let lines = || text.lines().map(|l| l.split_once('#').map_or(l, |(before, _)| before));
            let ids: Vec<&str> = lines().filter_map(|l| l.split_once('=')).map(|(id, _)| id.trim()).collect();
            for (_, key) in lines().filter_map(|l| l.split_once('=')) {
                let key = key.trim();
                // Key material: a run of hex digits (fixed message text has none that long).
                let material = key.len() >= 16 && key.chars().all(|c| c.is_ascii_hexdigit());
                if material && !ids.iter().any(|id| id.contains(key)) {
                    assert!(!message.contains(key), "key material in `{message}`");
                }
            }
        }
    }
});
