//! `veil-wasm-tools component-new <core.wasm> <out.wasm>`: encode a wit-bindgen
//! core module (built for `wasm32-unknown-unknown`) as a component, validate it,
//! and refuse it if it imports anything (`--allow-imports` keeps them: for test
//! components that hosts must refuse).
//!
//! It does what `wasm-tools component new` does, with the `wit-component` crate
//! wasm-tools itself uses, so CI compiles a few crates instead of installing
//! wasm-tools (about 6 minutes on 2 cores).

use std::path::Path;
use std::process::ExitCode;

use wasmparser::{Parser, Payload};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [command, input, output] if command == "component-new" => {
            component_new(Path::new(input), Path::new(output), false)
        }
        // Test components only (a host must refuse them): keep their imports.
        [command, flag, input, output] if command == "component-new" && flag == "--allow-imports" => {
            component_new(Path::new(input), Path::new(output), true)
        }
        [command, input] if command == "imports" => {
            read(Path::new(input)).and_then(|bytes| top_level_imports(&bytes)).map(|imports| {
                for name in imports {
                    println!("{name}");
                }
            })
        }
        _ => Err("usage: veil-wasm-tools component-new [--allow-imports] <core.wasm> <out.wasm>\n       veil-wasm-tools imports <component.wasm>"
            .to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("veil-wasm-tools: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn component_new(input: &Path, output: &Path, allow_imports: bool) -> Result<(), String> {
    let module = read(input)?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("cannot encode `{}` as a component: {e:#}", input.display()))?;
    let imports = top_level_imports(&component)?;
    if !imports.is_empty() && !allow_imports {
        return Err(format!(
            "the component imports {} (the guest must be pure; build it for wasm32-unknown-unknown)",
            imports.join(", ")
        ));
    }
    std::fs::write(output, &component).map_err(|e| format!("cannot write `{}`: {e}", output.display()))?;
    let imported = if imports.is_empty() { "no imports".to_owned() } else { format!("imports {}", imports.join(", ")) };
    println!("{}: component, {} bytes, {imported}", output.display(), component.len());
    Ok(())
}

/// The names a component imports at its top level (not those of the core modules inside).
fn top_level_imports(component: &[u8]) -> Result<Vec<String>, String> {
    let mut depth = 0usize;
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        match payload.map_err(|e| format!("not a valid component: {e}"))? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import.map_err(|e| format!("bad import section: {e}"))?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
