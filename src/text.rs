//! Text hygiene: which characters a value may hold, and how any text is
//! shown in a message so that it stays on one line and shows what it holds.
//!
//! Invisible characters make lookalikes (`ana@` and `ana\u{200b}@` print the
//! same), bidirectional controls reorder what a terminal shows, and control
//! characters rewrite the terminal itself. None of them belongs in an email
//! or a name; free text keeps its newlines.

use std::borrow::Cow;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Code points that are invisible or change how their neighbours are shown:
/// the format characters (general category Cf), the default-ignorable code
/// points, and the line and paragraph separators. Inclusive ranges.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x0600, 0x0605),   // Arabic number signs
    (0x061C, 0x061C),   // Arabic letter mark
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x115F, 0x1160),   // Hangul fillers
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian variation selectors, vowel separator
    (0x200B, 0x200F),   // zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),   // line and paragraph separators; bidi embeddings, overrides
    (0x2060, 0x206F),   // word joiner, invisible operators, bidi isolates
    (0x3164, 0x3164),   // Hangul filler
    (0xFE00, 0xFE0F),   // variation selectors
    (0xFEFF, 0xFEFF),   // zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),   // halfwidth Hangul filler
    (0xFFF0, 0xFFFB),   // interlinear annotation and unassigned specials
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0000, 0xE0FFF), // tags, variation selectors supplement
];

/// The characters that reorder text: embeddings, overrides, isolates and
/// the directional marks.
const BIDI: &[(u32, u32)] = &[
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
];

fn within(ranges: &[(u32, u32)], c: char) -> bool {
    let c = u32::from(c);
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// A control character (category Cc) or an invisible one (see [`INVISIBLE`]).
pub fn is_hidden(c: char) -> bool {
    c.is_control() || within(INVISIBLE, c)
}

/// A bidirectional control: embedding, override, isolate or mark.
pub fn is_bidi_control(c: char) -> bool {
    within(BIDI, c)
}

/// The first character of `s` that an email or a name may not hold.
pub fn first_hidden(s: &str) -> Option<char> {
    s.chars().find(|&c| is_hidden(c))
}

/// The first character free text may not hold: a control character other
/// than a newline, a bidirectional control, or a line or paragraph
/// separator. (Zero-width joiners stay: emoji and several scripts need them.)
pub fn first_unfit_for_free_text(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        (c.is_control() && c != '\n') || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
    })
}

/// Format characters that real text needs and that rewrite nothing on a
/// screen: the joiners of emoji and of several scripts, variation
/// selectors, emoji tag sequences (subdivision flags), and the format
/// marks of particular scripts. Every other hidden character is shown as
/// an escape on output (see [`shown`]).
const NEEDED_FORMAT: &[(u32, u32)] = &[
    (0x0600, 0x0605),   // Arabic number signs
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x180B, 0x180D),   // Mongolian free variation selectors
    (0x180F, 0x180F),   // Mongolian free variation selector four
    (0x200C, 0x200D),   // zero-width non-joiner and joiner
    (0xFE00, 0xFE0F),   // variation selectors (emoji presentation)
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0020, 0xE007F), // tag characters of emoji flag sequences
    (0xE0100, 0xE01EF), // variation selectors supplement
];

/// A character no output for people or spreadsheets carries as it is:
/// control characters (C0, DEL, C1), bidirectional controls, line and
/// paragraph separators, zero-width and other invisible characters; what
/// text input refuses, found in text that came another way (an older
/// version, direct SQL).
pub fn is_unfit_to_show(c: char) -> bool {
    is_hidden(c) && !within(NEEDED_FORMAT, c)
}

/// Text for a screen, a table cell or a spreadsheet, on one line: a
/// newline or tab becomes a space; any other character of
/// [`is_unfit_to_show`] its escape (`\u{001b}`, as [`escaped`] writes it),
/// so nothing stored can move the cursor, set the clipboard, reorder a line
/// or hide itself.
pub fn shown(s: &str) -> Cow<'_, str> {
    neutralised(s, false)
}

/// [`shown`], keeping newlines: for multi-line output (a CSV cell, an email
/// body, a field shown over several lines).
pub fn shown_lines(s: &str) -> Cow<'_, str> {
    neutralised(s, true)
}

fn neutralised(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    // Printable ASCII is the common case (a CSV of 100,000 members): one
    // pass over the bytes, not a walk of the ranges for every character.
    let plain = |b: u8| (b' '..=b'~').contains(&b) || (keep_newlines && b == b'\n');
    if s.bytes().all(plain) {
        return Cow::Borrowed(s);
    }
    let unfit = |c: char| is_unfit_to_show(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(unfit) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !unfit(c) => out.push(c),
            '\n' | '\t' => out.push(' '),
            c => out.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

/// How a refused character is named in a message: `U+200B`.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Unicode normalisation form C (composed): `o` + U+0308 becomes `ö`.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// `s` for a message: newlines, tabs, control and invisible characters
/// written as escapes (`\n`, `\u{200b}`), so that a message stays on one
/// line and shows what a value really holds.
pub fn escaped(s: &str) -> Escaped<'_> {
    Escaped(s)
}

/// See [`escaped`].
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if is_hidden(c) => write!(f, "\\u{{{:04x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_width_bidi_and_control_characters_are_hidden() {
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{0007}',
            '\n',
            '\u{2028}',
            '\u{E0041}',
        ] {
            assert!(is_hidden(c), "{}", code_point(c));
        }
        for c in ['a', 'ö', 'ß', 'Σ', '中', '😀', '-', '\''] {
            assert!(!is_hidden(c), "{}", code_point(c));
        }
    }

    #[test]
    fn no_printable_ascii_character_is_unfit_to_show() {
        // JSON output and `shown` pass printable ASCII without a lookup
        for c in ' '..='~' {
            assert!(!is_unfit_to_show(c), "{c:?}");
        }
        assert!(is_unfit_to_show('\u{7f}'));
    }

    #[test]
    fn free_text_keeps_newlines_and_joiners_but_not_other_controls_or_overrides() {
        assert_eq!(first_unfit_for_free_text("one\ntwo 👨\u{200D}👩"), None);
        assert_eq!(first_unfit_for_free_text("a\tb"), Some('\t'));
        assert_eq!(first_unfit_for_free_text("a\u{202E}b"), Some('\u{202E}'));
        assert_eq!(first_unfit_for_free_text("a\u{2029}b"), Some('\u{2029}'));
    }

    #[test]
    fn an_escaped_value_names_what_it_hides() {
        assert_eq!(
            escaped("a\nb\u{200b}c\u{1b}[31m").to_string(),
            "a\\nb\\u{200b}c\\u{001b}[31m"
        );
    }

    #[test]
    fn shown_text_escapes_what_rewrites_a_terminal_and_keeps_what_scripts_need() {
        assert_eq!(
            shown("a\u{1b}]52;c;eA==\u{7}b\u{9b}c\u{202e}d\u{200b}e\u{feff}"),
            "a\\u{001b}]52;c;eA==\\u{0007}b\\u{009b}c\\u{202e}d\\u{200b}e\\u{feff}"
        );
        assert_eq!(shown("one\ntwo\tthree\r"), "one two three\\u{000d}");
        assert_eq!(shown_lines("one\ntwo\u{2028}"), "one\ntwo\\u{2028}");
        for fine in ["Zoë 👨\u{200d}👩 ✌\u{fe0f}", "می\u{200c}خواهم", "plain"] {
            assert!(matches!(shown(fine), Cow::Borrowed(_)), "{fine:?}");
        }
    }

    proptest! {
        #[test]
        fn an_escaped_string_is_one_line_of_visible_characters(s in any::<String>()) {
            let e = escaped(&s).to_string();
            prop_assert!(!e.contains(['\n', '\r']));
            prop_assert!(e.chars().all(|c| !is_hidden(c)));
        }

        #[test]
        fn shown_text_holds_no_unfit_character_and_only_newlines_it_keeps(s in any::<String>()) {
            prop_assert!(!shown(&s).chars().any(is_unfit_to_show));
            prop_assert!(shown_lines(&s).chars().all(|c| c == '\n' || !is_unfit_to_show(c)));
        }
    }
}
