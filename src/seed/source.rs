//! A seed file as a tree of values that know where they were written, so
//! that every problem found later names the file's line. TOML comes with
//! spans from the `toml` parser; JSON gets them from `serde_json`'s raw
//! values, which are slices of the input.

use std::collections::HashMap;
use std::ops::Range;

use serde_json::value::RawValue;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One value of the file and the bytes it was written in.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// A number with a fraction, a date-time literal, null: never valid here.
    Other(&'static str),
    /// Keys with their own spans, in the file's order where the format keeps it.
    Table(Vec<(String, Range<usize>, Node)>),
    Array(Vec<Node>),
}

impl Value {
    /// What a person calls this kind of value, for "expected a ..., not ...".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "a whole number",
            Value::Bool(_) => "true or false",
            Value::Other(k) => k,
            Value::Table(_) => "a table",
            Value::Array(_) => "a list",
        }
    }
}

/// Which syntax a file is in: by its extension, else by its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Toml,
    Json,
}

impl Syntax {
    pub fn of(file_name: &str, text: &str) -> Syntax {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Syntax::Json
        } else if lower.ends_with(".toml") {
            Syntax::Toml
        } else if text.trim_start().starts_with('{') {
            Syntax::Json
        } else {
            Syntax::Toml
        }
    }
}

/// A syntax error: where, and what.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub at: usize,
    pub message: String,
}

/// Where each line starts, for turning byte offsets into line numbers in
/// O(log n) (a file of 10,000 declarations asks for tens of thousands).
pub(crate) struct Lines(Vec<usize>);

impl Lines {
    pub fn of(text: &str) -> Lines {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, at: usize) -> usize {
        self.0.partition_point(|nl| *nl < at) + 1
    }
}

/// The 1-based line of a byte offset (one lookup).
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    Lines::of(text).line(at)
}

/// Parse a whole document into a tree; every syntax error TOML's parser
/// can recover from is reported, JSON stops at the first.
pub(crate) fn parse(syntax: Syntax, text: &str) -> Result<Node, Vec<SyntaxError>> {
    match syntax {
        Syntax::Toml => {
            let (doc, errors) = DeTable::parse_recoverable(text);
            if errors.is_empty() {
                Ok(toml_table(doc))
            } else {
                Err(errors
                    .into_iter()
                    .map(|e| {
                        let mut message = first_line(e.message());
                        // toml says "duplicate key" and points at it: name it.
                        if message == "duplicate key"
                            && let Some(key) = e.span().and_then(|s| text.get(s))
                        {
                            message = format!("duplicate key {:?}", key.trim().trim_matches('"'));
                        }
                        SyntaxError {
                            at: e.span().map(|s| s.start).unwrap_or(0),
                            message,
                        }
                    })
                    .collect())
            }
        }
        Syntax::Json => {
            let raw: &RawValue =
                serde_json::from_str(text).map_err(|e| vec![json_error(text, &e)])?;
            json_node(text, raw, 0).map_err(|e| vec![e])
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

fn toml_table(doc: Spanned<DeTable<'_>>) -> Node {
    let span = doc.span();
    let entries = doc
        .into_inner()
        .into_iter()
        .map(|(k, v)| (k.get_ref().to_string(), k.span(), toml_node(v)))
        .collect();
    Node {
        span,
        value: Value::Table(entries),
    }
}

fn toml_node(v: Spanned<DeValue<'_>>) -> Node {
    let span = v.span();
    let value = match v.into_inner() {
        DeValue::String(s) => Value::Str(s.into_owned()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(Value::Int)
            .unwrap_or(Value::Other("a number too large")),
        DeValue::Float(_) => Value::Other("a number with a fraction"),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(_) => Value::Other("a TOML date-time (write it as a quoted string)"),
        DeValue::Array(a) => Value::Array(a.into_iter().map(toml_node).collect()),
        DeValue::Table(t) => {
            return toml_table(Spanned::new(span, t));
        }
    };
    Node { span, value }
}

fn json_error(text: &str, e: &serde_json::Error) -> SyntaxError {
    // serde_json counts lines and columns from 1; turn them into an offset.
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    SyntaxError {
        at: line_start + e.column().saturating_sub(1),
        message,
    }
}

/// How deep JSON may nest: serde_json's own limit. Raw values skip that
/// limit (serde_json skips over them without recursing), so the walk below,
/// which does recurse, keeps it itself; a seed file needs four levels.
const MAX_DEPTH: usize = 128;

/// A raw JSON value borrows its bytes from the input: its address within
/// the input is its offset.
fn offset_in(text: &str, raw: &RawValue) -> Range<usize> {
    let start = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    start..start + raw.get().len()
}

fn json_node(text: &str, raw: &RawValue, depth: usize) -> Result<Node, SyntaxError> {
    let span = offset_in(text, raw);
    let src = raw.get();
    // An error inside a value: serde_json counts from the value's start.
    let inner = |e: serde_json::Error| {
        let mut err = json_error(src, &e);
        err.at += span.start;
        err
    };
    let nested = matches!(src.as_bytes().first(), Some(b'{' | b'['));
    if nested && depth >= MAX_DEPTH {
        return Err(SyntaxError {
            at: span.start,
            message: format!("lists and objects nest more than {MAX_DEPTH} levels deep"),
        });
    }
    let value = match src.as_bytes().first() {
        Some(b'{') => {
            let map: Vec<(String, &RawValue)> = serde_json::from_str::<JsonObject<'_>>(src)
                .map_err(inner)?
                .0;
            let mut entries: Vec<(String, Range<usize>, Node)> = Vec::with_capacity(map.len());
            let mut seen: HashMap<String, usize> = HashMap::with_capacity(map.len());
            for (k, v) in map {
                let node = json_node(text, v, depth + 1)?;
                // The key sits just before its value; its line is the value's.
                let at = node.span.start;
                // JSON leaves a repeated key to the reader; TOML refuses it,
                // and so does a seed file in either syntax.
                if let Some(first) = seen.get(&k) {
                    return Err(SyntaxError {
                        at,
                        message: format!(
                            "duplicate key {k:?} (first on line {})",
                            line_of(text, *first)
                        ),
                    });
                }
                seen.insert(k.clone(), at);
                entries.push((k, at..at, node));
            }
            Value::Table(entries)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(src).map_err(inner)?;
            Value::Array(
                items
                    .into_iter()
                    .map(|v| json_node(text, v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => match serde_json::from_str::<serde_json::Value>(src).map_err(inner)? {
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Other("a number with a fraction"),
            },
            serde_json::Value::Null => Value::Other("null"),
            _ => Value::Other("an unexpected value"),
        },
    };
    Ok(Node { span, value })
}

/// A JSON object's entries in the file's order, values left raw.
struct JsonObject<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for JsonObject<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Entries<'a> {
            type Value = JsonObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(JsonObject(out))
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(n: &'a Node, key: &str) -> &'a Node {
        match &n.value {
            Value::Table(t) => &t.iter().find(|(k, _, _)| k == key).unwrap().2,
            _ => panic!("not a table"),
        }
    }

    #[test]
    fn toml_and_json_values_know_their_lines() {
        let toml =
            "[[member]]\nemail = \"bo@example.com\"\n\n[[member]]\nemail = \"cy@example.com\"\n";
        let doc = parse(Syntax::Toml, toml).unwrap();
        let Value::Array(members) = &find(&doc, "member").value else {
            panic!()
        };
        assert_eq!(line_of(toml, find(&members[1], "email").span.start), 5);

        let json = "{\n \"member\": [\n  {\"email\": \"bo@example.com\"},\n  {\n   \"email\": 7\n  }\n ]\n}";
        let doc = parse(Syntax::Json, json).unwrap();
        let Value::Array(members) = &find(&doc, "member").value else {
            panic!()
        };
        assert_eq!(line_of(json, find(&members[0], "email").span.start), 3);
        let email = find(&members[1], "email");
        assert_eq!(line_of(json, email.span.start), 5);
        assert!(matches!(email.value, Value::Int(7)));
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let errs = parse(Syntax::Toml, "a = 1\nb = \n").unwrap_err();
        assert_eq!(line_of("a = 1\nb = \n", errs[0].at), 2);
        let json = "{\n\"a\": 1,\n\"b\": }";
        let errs = parse(Syntax::Json, json).unwrap_err();
        assert_eq!(line_of(json, errs[0].at), 3);
    }

    #[test]
    fn json_nested_ten_thousand_deep_is_refused_without_exhausting_the_stack() {
        for json in [
            format!(
                "{{\"coach\": {}{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)),
        ] {
            let errs = parse(Syntax::Json, &json).unwrap_err();
            assert!(errs[0].message.contains("more than 128 levels"), "{errs:?}");
        }
        // as deep as serde_json itself allows is still read
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(Syntax::Json, &ok).is_ok());
    }

    #[test]
    fn a_json_key_given_twice_is_refused_with_its_name_and_line() {
        let json =
            "{\"coach\": [{\n  \"email\": \"a@example.com\",\n  \"email\": \"b@example.com\"\n}]}";
        let errs = parse(Syntax::Json, json).unwrap_err();
        assert_eq!(line_of(json, errs[0].at), 3, "{errs:?}");
        assert_eq!(errs[0].message, "duplicate key \"email\" (first on line 2)");
        let toml = "[[coach]]\nemail = \"a@example.com\"\nemail = \"b@example.com\"\n";
        let errs = parse(Syntax::Toml, toml).unwrap_err();
        assert_eq!(line_of(toml, errs[0].at), 3, "{errs:?}");
        assert_eq!(errs[0].message, "duplicate key \"email\"");
    }

    #[test]
    fn the_syntax_is_chosen_by_extension_then_content() {
        assert_eq!(Syntax::of("org.JSON", ""), Syntax::Json);
        assert_eq!(Syntax::of("org.toml", "{"), Syntax::Toml);
        assert_eq!(Syntax::of("-", "  {\"coach\": []}"), Syntax::Json);
        assert_eq!(Syntax::of("-", "[[coach]]"), Syntax::Toml);
    }
}
