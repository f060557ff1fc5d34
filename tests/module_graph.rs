//! The module graph of src/ has no circles: a lower module needs nothing
//! above it (README, "Development"). Built from the source text: every
//! `crate::x` path (and every `super::x` among src/cli's modules), outside
//! comments and strings, is an arrow from the file's module to `x`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// module -> module it names -> the first file that names it there.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// The code of a file with comments, strings and char literals blanked,
/// so that only real paths remain.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // a raw string: r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (next == Some('\\') || b.get(i + 2) == Some(&'\'')) {
            // a char literal ('x', '\n', '\''); a lifetime has no closing quote
            i += if next == Some('\\') { 2 } else { 1 };
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// The first segment of every path that follows `prefix`: `crate::a::b`
/// gives `a`, `crate::{a, b::c}` gives `a` and `b`.
fn named_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        if at > 0 {
            let before = code[..at].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' {
                continue;
            }
        }
        let rest = code[at + prefix.len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(ch);
                }
            }
            out.push(first_segment(&item));
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first_segment(s: &str) -> String {
    s.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The modules directly in `dir` (files and folders), but the root file.
fn modules_in(dir: &Path, root_files: &[&str]) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            if p.is_dir() {
                Some(name)
            } else {
                let stem = name.strip_suffix(".rs")?;
                (!root_files.contains(&name.as_str())).then(|| stem.to_string())
            }
        })
        .collect()
}

/// The arrows among the modules directly in `dir` (shown as `shown`), from
/// the paths that start with any of `prefixes`.
fn graph_of(dir: &Path, shown: &str, root_files: &[&str], prefixes: &[&str]) -> Graph {
    let modules = modules_in(dir, root_files);
    let mut graph = Graph::new();
    for file in rust_files(dir) {
        let rel = file.strip_prefix(dir).expect("under dir");
        let first = rel.components().next().expect("a component");
        let first = first.as_os_str().to_str().expect("utf-8 name");
        if root_files.contains(&first) {
            continue;
        }
        let from = first.strip_suffix(".rs").unwrap_or(first).to_string();
        let code = code_only(&std::fs::read_to_string(&file).expect("read a source file"));
        for prefix in prefixes {
            for to in named_after(&code, prefix) {
                if to != from && modules.contains(&to) {
                    let at = Path::new(shown).join(rel);
                    graph
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| at.display().to_string());
                }
            }
        }
    }
    graph
}

/// Every circle of the graph, each named by one closed path through it
/// with the file that makes each arrow, e.g. `a -> b (src/a.rs) -> a (src/b.rs)`.
fn circles(graph: &Graph) -> Vec<String> {
    // Tarjan's strongly connected components
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<&'g str>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flat_map(|m| m.keys()) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().expect("on the stack");
                s.on_stack.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.found.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
        .iter()
        .map(|comp| {
            let members: BTreeSet<&str> = comp.iter().copied().collect();
            let start = *members.iter().next().expect("a member");
            format!(
                "{} (knotted: {})",
                closed_path(graph, &members, start),
                members.iter().copied().collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

/// The shortest way from `start` back to itself inside one component.
fn closed_path(graph: &Graph, members: &BTreeSet<&str>, start: &str) -> String {
    let mut prev: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    let mut back = None;
    while let Some(v) = queue.pop_front() {
        for w in graph.get(&v).into_iter().flat_map(|m| m.keys()) {
            if !members.contains(w.as_str()) {
                continue;
            }
            if w == start {
                back = Some(v.clone());
                break;
            }
            if !prev.contains_key(w) {
                prev.insert(w.clone(), v.clone());
                queue.push_back(w.clone());
            }
        }
        if back.is_some() {
            break;
        }
    }
    let mut path = vec![start.to_string()];
    let mut v = back.expect("a component closes");
    while v != start {
        path.push(v.clone());
        v = prev[&v].clone();
    }
    path.push(start.to_string());
    path.reverse();
    let mut text = path[0].clone();
    for pair in path.windows(2) {
        text.push_str(&format!(" -> {} ({})", pair[1], graph[&pair[0]][&pair[1]]));
    }
    text
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_top_level_modules_of_src_import_each_other_in_no_circle() {
    let graph = graph_of(&src(), "src", &["lib.rs", "main.rs"], &["crate::"]);
    assert!(graph.len() > 20, "the graph was not read: {graph:#?}");
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "module circles in src/ (a lower module imports one above it; move the shared piece down):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_modules_of_src_cli_import_each_other_in_no_circle() {
    let graph = graph_of(
        &src().join("cli"),
        "src/cli",
        &["mod.rs"],
        &["super::", "crate::cli::"],
    );
    assert!(
        graph.contains_key("output"),
        "the graph was not read: {graph:#?}"
    );
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "module circles in src/cli/ (a lower module imports one above it; move the shared piece down):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_circle_is_found_and_named_with_the_files_that_make_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("lib.rs", "pub mod a; pub mod b; pub mod c;");
    write("a.rs", "use crate::{b::{X, Y}, c};\n");
    write("b/mod.rs", "// crate::c in a comment\nmod inner;\n");
    write(
        "b/inner.rs",
        "fn f() { let _ = \"crate::c\"; crate::a::g(); }\n",
    );
    write(
        "c.rs",
        "fn f<'a>(x: &'a str) -> char { let _ = x; '\"' }\nfn g() { let _ = \"crate::a\"; }\n",
    );
    let graph = graph_of(dir.path(), "src", &["lib.rs"], &["crate::"]);
    let found = circles(&graph);
    assert_eq!(
        found,
        ["a -> b (src/a.rs) -> a (src/b/inner.rs) (knotted: a, b)"],
        "{graph:#?}"
    );
    assert!(!graph.contains_key("c"), "{graph:#?}");
    assert!(
        !graph["b"].contains_key("c"),
        "comments and strings are not code"
    );
}
