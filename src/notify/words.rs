//! Header text outside ASCII as RFC 2047 encoded-words split only at spaces.
//!
//! lettre splits a long name wherever a line fills up and writes the pieces
//! back to back, so readers that do not join adjacent encoded-words show
//! "Ång" and "ström" apart. Here each word travels in an encoded-word of its
//! own with its following space inside it: a reader that drops the folding
//! whitespace between encoded-words (as RFC 2047 says) shows the name
//! exactly, and one that keeps it shows whole words with a wider gap.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The longest encoded-word RFC 2047 allows.
const MAX_WORD: usize = 75;
/// Bytes of text that fit one encoded-word: `=?utf-8?b?` + base64 + `?=`.
const MAX_TEXT: usize = (MAX_WORD - 12) / 4 * 3;

/// Whether `text` can go into a header as it is.
pub fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `text` as encoded-words, folded between words so that no line passes 76
/// columns after a header name of `lead` characters (`To: ` is 4).
pub fn encode(text: &str, lead: usize) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut pieces = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let piece = if i + 1 < words.len() {
            format!("{w} ")
        } else {
            (*w).to_string()
        };
        // a word too long for one encoded-word is cut at characters
        let mut rest = piece.as_str();
        while !rest.is_empty() {
            let mut end = rest.len().min(MAX_TEXT);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            pieces.push(format!("=?utf-8?b?{}?=", STANDARD.encode(&rest[..end])));
            rest = &rest[end..];
        }
    }
    let mut out = String::new();
    let mut line = lead;
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            if line + 1 + p.len() > 76 {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(p);
        line += p.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode as a strict RFC 2047 reader does: whitespace between
    /// encoded-words is dropped.
    fn decode(header: &str) -> String {
        header
            .split_whitespace()
            .map(|w| {
                let b64 = w.trim_start_matches("=?utf-8?b?").trim_end_matches("?=");
                String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn each_word_is_an_encoded_word_of_its_own_and_decodes_whole() {
        let name = "Zoë Ångström-Łukasiewicz de la Peña y Muñoz Dvořáková";
        let h = encode(name, 4);
        assert_eq!(decode(&h), name);
        for w in h.split_whitespace() {
            let text = decode(w);
            assert!(
                name.split(' ').any(|n| text.trim_end() == n),
                "{text:?} is not a whole word of the name"
            );
            assert!(w.len() <= MAX_WORD);
        }
        for (i, line) in h.split("\r\n").enumerate() {
            let lead = if i == 0 { 4 } else { 0 };
            assert!(lead + line.len() <= 76, "{line}");
        }
    }

    #[test]
    fn a_word_longer_than_an_encoded_word_is_cut_at_characters() {
        let name = "Ł".repeat(40);
        let h = encode(&name, 4);
        assert_eq!(decode(&h), name);
        assert!(h.split_whitespace().all(|w| w.len() <= MAX_WORD));
    }

    #[test]
    fn plain_ascii_needs_no_encoding() {
        assert!(is_plain("Ana Coach"));
        assert!(!is_plain("Zoë"));
        assert!(!is_plain("tab\there"));
    }
}
