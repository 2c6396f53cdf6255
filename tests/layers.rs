//! The crate's modules form layers (src/lib.rs, docs/architecture.md): each top-level module
//! may import (`crate::x`) only from modules of a lower layer. This test reads the sources and
//! fails on any other edge, so a cycle or a shortcut cannot land.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules and their layers, lowest first.
const LAYERS: &[(&str, u8)] = &[
    ("ids", 0),
    ("wire", 0),
    ("auth", 0),
    ("api", 1),
    ("tables", 1),
    ("proto", 1),
    ("config", 2),
    ("dataplane", 2),
    ("agent", 3),
    ("dpdk", 3),
    ("controller", 3),
    ("host", 4),
    ("cli", 5),
    ("lab", 5),
    ("testkit", 6),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level modules `text` refers to as `crate::x`, leaving out comments and the test
/// module at the end of the file.
fn uses(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Every forbidden edge as "from -> to (why)".
fn forbidden(edges: &[(String, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (from, to) in edges {
        if from == to {
            continue;
        }
        match (layer(from), layer(to)) {
            (Some(a), Some(b)) if b < a => {}
            (Some(a), Some(b)) => bad.push(format!("{from} (layer {a}) -> {to} (layer {b})")),
            (None, _) => bad.push(format!("{from}: not in the layer table")),
            (_, None) => bad.push(format!("{from} -> {to}: {to} is not in the layer table")),
        }
    }
    bad
}

fn collect(dir: &Path, top: Option<&str>, edges: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            collect(&p, Some(top.unwrap_or(&name)), edges);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let module = top.unwrap_or(&name).to_string();
            if module == "main" || module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for to in uses(&text) {
                edges.push((module.clone(), to));
            }
        }
    }
}

#[test]
fn modules_import_only_from_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = Vec::new();
    collect(&src, None, &mut edges);
    edges.sort();
    edges.dedup();
    assert!(edges.len() > 20, "the scan found too few edges: {edges:?}");
    let bad = forbidden(&edges);
    assert!(
        bad.is_empty(),
        "forbidden module edges:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_edge_and_ignores_comments_and_tests() {
    let text =
        "use crate::host::run; // crate::cli\n/// crate::lab\nfn f() { crate::wire::x(); }\n\
                #[cfg(test)]\nmod tests { use crate::testkit::MemIo; }\n";
    let used = uses(text);
    assert_eq!(used, ["host", "wire"].map(String::from).into());
    let edges: Vec<(String, String)> = used.into_iter().map(|t| ("tables".into(), t)).collect();
    assert_eq!(forbidden(&edges), ["tables (layer 1) -> host (layer 4)"]);
    assert_eq!(
        forbidden(&[("nova".into(), "ids".into())]),
        ["nova: not in the layer table"]
    );
}
