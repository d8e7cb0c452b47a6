//! The workspace's structure, held as tests: the embeddable engine has a
//! short root API and no server, SQL or CLI dependency, and no module of a
//! host crate imports a module that imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The top-level modules of a crate and the sibling modules each names
/// (`crate::x`, or `super::x` from a top-level module), test modules left
/// out.
fn module_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut texts = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = match (path.is_dir(), path.extension()) {
            (true, _) => path.file_name().unwrap().to_string_lossy().to_string(),
            (false, Some(e)) if e == "rs" => {
                path.file_stem().unwrap().to_string_lossy().to_string()
            }
            _ => continue,
        };
        if name == "lib" || name == "main" {
            continue;
        }
        let file = if path.is_dir() {
            path.join("mod.rs")
        } else {
            path
        };
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let text = text.split("#[cfg(test)]").next().unwrap().to_string();
        texts.insert(name, text);
    }
    let names: BTreeSet<String> = texts.keys().cloned().collect();
    texts
        .iter()
        .map(|(name, text)| {
            let mut used = BTreeSet::new();
            for prefix in ["crate::", "super::"] {
                for (i, _) in text.match_indices(prefix) {
                    let rest = &text[i + prefix.len()..];
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if names.contains(&ident) && ident != *name {
                        used.insert(ident);
                    }
                }
            }
            // `use crate::{a, b::c}` groups.
            for (i, _) in text.match_indices("use crate::{") {
                let group = &text[i + 12..];
                let group = &group[..group.find('}').unwrap_or(0)];
                for item in group.split(',') {
                    let ident = item.trim().split("::").next().unwrap_or("").trim();
                    if names.contains(ident) && ident != name {
                        used.insert(ident.to_string());
                    }
                }
            }
            (name.clone(), used)
        })
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut checked = 0;
    for krate in std::fs::read_dir(repo().join("host")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let imports = module_imports(&src);
        assert!(imports.len() > 1 || src.join("main.rs").exists() || imports.is_empty());
        for (a, used) in &imports {
            for b in used {
                assert!(
                    !imports[b].contains(a),
                    "{}: `{a}` and `{b}` import each other",
                    src.display()
                );
            }
        }
        checked += imports.len();
    }
    assert!(checked > 40, "only {checked} modules found");
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let dir = std::env::temp_dir().join(format!("docket-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::Thing;\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "use super::a;\n#[cfg(test)]\nuse crate::c;",
    )
    .unwrap();
    std::fs::write(dir.join("c.rs"), "").unwrap();
    let imports = module_imports(&dir);
    assert!(imports["a"].contains("b") && imports["b"].contains("a"));
    assert!(imports["b"].len() == 1, "test-only imports do not count");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_engine_root_exports_at_most_twenty_names() {
    let lib = std::fs::read_to_string(repo().join("host/engine/src/lib.rs")).unwrap();
    let mut names = Vec::new();
    for line in lib.lines() {
        if let Some(rest) = line.strip_prefix("pub mod ") {
            names.push(rest.trim_end_matches([';', ' ', '{']).to_string());
        }
    }
    // `pub use` items may span lines: take each statement whole.
    for stmt in lib.split(';') {
        let Some(start) = stmt.find("\npub use ") else {
            continue;
        };
        let body = &stmt[start + 9..];
        let leaf = |s: &str| {
            s.rsplit(" as ")
                .next()
                .unwrap()
                .rsplit("::")
                .next()
                .unwrap()
                .trim()
                .to_string()
        };
        match (body.find('{'), body.rfind('}')) {
            (Some(a), Some(b)) => names.extend(
                body[a + 1..b]
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(leaf),
            ),
            _ => names.push(leaf(body)),
        }
    }
    assert!(names.contains(&"Docket".to_string()), "{names:?}");
    assert!(names.len() <= 20, "{} root names: {names:?}", names.len());
}

#[test]
fn the_engine_depends_on_no_server_sql_or_cli_crate() {
    let out = Command::new(env!("CARGO"))
        .current_dir(repo())
        .args([
            "tree",
            "-p",
            "docket-engine",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("wasmtime"), "{tree}");
    for forbidden in ["axum ", "tokio ", "rusqlite ", "clap ", "hyper "] {
        assert!(
            !tree.contains(forbidden),
            "docket-engine depends on {forbidden}"
        );
    }
}
