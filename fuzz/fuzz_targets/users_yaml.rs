//! Users YAML: parse, then every user's subject.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_policy::Directory;

fuzz_target!(|text: &str| {
    let Ok(directory) = Directory::from_yaml_str(text, "users.yaml") else { return };
    let names: Vec<String> = directory.users().map(|u| u.name.clone()).collect();
    for name in names {
        let _ = directory.subject(&name, None);
    }
});
