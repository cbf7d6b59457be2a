//! The core's house rules, read from its own sources: no module imports
//! anything outside this crate but its declared pure dependencies, and the
//! modules' imports form no circle (no two modules import each other,
//! directly or round about).

use std::collections::{BTreeMap, BTreeSet};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Crates the core may use: its `[dependencies]` (all pure) and std.
const ALLOWED: [&str; 12] = [
    "std",
    "core",
    "alloc",
    "crate",
    "super",
    "self",
    "serde",
    "serde_json",
    "chrono",
    "chrono_tz",
    "base64",
    "ed25519_dalek",
];
const ALLOWED_MORE: [&str; 2] = ["thiserror", "deunicode"];

/// Module name -> its source text, for every `src/*.rs` but lib.rs.
fn modules() -> BTreeMap<String, String> {
    std::fs::read_dir(SRC)
        .expect("the core's src/")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_stem()?.to_str()?.to_string();
            (path.extension()? == "rs" && name != "lib")
                .then(|| (name, std::fs::read_to_string(&path).unwrap()))
        })
        .collect()
}

/// The first path segment of every `use` and every `x::y` path in code
/// (comments skipped), and the sibling modules named through `crate::` or
/// `super::`.
fn references(text: &str, siblings: &BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut roots = BTreeSet::new();
    let mut uses = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let code = code.trim_start();
        if let Some(rest) = code
            .strip_prefix("use ")
            .or_else(|| code.strip_prefix("pub use "))
        {
            let root: String = rest
                .trim_start_matches("::")
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `use Applied::*` inside a function names a local enum.
            if !root.starts_with(|c: char| c.is_ascii_uppercase()) {
                roots.insert(root);
            }
        }
        for via in ["crate::", "super::"] {
            for (i, _) in code.match_indices(via) {
                let after: String = code[i + via.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if siblings.contains(&after) {
                    uses.insert(after);
                }
            }
        }
        // `use super::{a, b}` / `use crate::{a::X, b}` groups
        for via in ["crate::{", "super::{"] {
            if let Some(i) = code.find(via) {
                for part in code[i + via.len()..].split([',', '}']) {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if siblings.contains(&name) {
                        uses.insert(name);
                    }
                }
            }
        }
    }
    (roots, uses)
}

#[test]
fn the_core_imports_nothing_outside_and_no_circle() {
    let mods = modules();
    assert!(mods.len() >= 10, "read {} modules", mods.len());
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in &mods {
        let (roots, uses) = references(text, &names);
        for root in &roots {
            assert!(
                ALLOWED.contains(&root.as_str()) || ALLOWED_MORE.contains(&root.as_str()),
                "core module `{name}` imports `{root}`, which is outside the pure core"
            );
        }
        graph.insert(
            name.clone(),
            uses.into_iter().filter(|u| u != name).collect(),
        );
    }
    // Depth-first search for a circle.
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == n) {
            panic!(
                "core modules import each other: {} -> {n}",
                path[i..].join(" -> ")
            );
        }
        if done.contains(n) {
            return;
        }
        path.push(n.to_string());
        for next in &graph[n] {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new(), &mut done);
    }
    // The graph was really read: the rules use the booking's shape.
    assert!(graph["checkin"].contains("booking"), "{graph:?}");
}
