//! Email addresses, in the one canonical form that is stored and compared.

use std::fmt;
use std::str::FromStr;

use super::text;
use crate::error::Error;

/// An email address in canonical form: trimmed, NFC-normalised and
/// lowercased in full Unicode, so that `ÖLA@x.com`, `öla@x.com` and `o` +
/// U+0308 + `la@x.com` are one address. The database compares with the same
/// key (`email_key()`, migration 20261122000004), whatever its collation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The most octets an address may have (RFC 5321).
    pub const MAX: usize = 254;

    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let bad = |why: &str| Error::invalid(format!("'{s}' is not a valid email address: {why}"));
        if s.is_empty() {
            return Err(Error::invalid("an email address is required"));
        }
        // Before anything else: a lookalike of an existing address must not
        // get through as a different one.
        if let Some(c) = text::first_hidden(s) {
            return Err(bad(&format!(
                "it contains an invisible, control or bidirectional character ({})",
                text::code_point(c)
            )));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(bad("it contains whitespace"));
        }
        let canonical = canonical(s);
        if canonical.len() > Self::MAX {
            return Err(bad("longer than 254 characters"));
        }
        let Some((local, domain)) = canonical.rsplit_once('@') else {
            return Err(bad("it has no '@'"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad(
                "the part before '@' is empty, too long or has another '@'",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(bad(
                "the domain after '@' is not a valid host name like example.com",
            ));
        }
        Ok(Email(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// NFC, full Unicode lowercase, NFC again (lowercasing can decompose, as
/// `İ` becomes `i` + U+0307).
fn canonical(s: &str) -> String {
    text::nfc(&text::nfc(s).to_lowercase())
}

impl FromStr for Email {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Email::parse(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_email_without_at_is_rejected() {
        assert!(Email::parse("bo.example.com").is_err());
    }

    #[test]
    fn an_email_is_trimmed() {
        assert_eq!(
            Email::parse("  bo@example.com ").unwrap().as_str(),
            "bo@example.com"
        );
    }

    #[test]
    fn emails_differing_in_case_or_composition_are_one_address() {
        let composed = Email::parse("öla@x.com").unwrap();
        assert_eq!(Email::parse("ÖLA@x.com").unwrap(), composed);
        assert_eq!(Email::parse("O\u{308}LA@X.COM").unwrap(), composed);
        assert_eq!(composed.as_str(), "öla@x.com");
        assert_eq!(
            Email::parse("BO@Example.com").unwrap().as_str(),
            "bo@example.com"
        );
    }

    #[test]
    fn an_email_with_a_zero_width_or_bidi_character_is_refused() {
        for bad in [
            "a\u{200B}na@example.com",
            "ana@exa\u{200D}mple.com",
            "\u{202E}ana@example.com",
            "ana@example.com\u{2066}x",
            "an\u{00AD}a@example.com",
            "\u{FEFF}ana@example.com",
            "ana\u{7}@example.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{bad:?}");
            assert!(err.to_string().contains("U+"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn an_email_with_an_injected_invisible_character_is_refused(
            local in "[a-z]{1,10}",
            at in 0usize..20,
            c in prop::sample::select(vec![
                '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}',
                '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
                '\u{2068}', '\u{2069}', '\u{FEFF}', '\u{00AD}', '\u{2060}', '\u{0000}',
                '\u{001B}', '\u{007F}', '\u{0085}', '\u{E0001}',
            ]),
        ) {
            let good = format!("{local}@example.com");
            // Inside: at either end, whitespace such as U+0085 is trimmed.
            let at = at.clamp(1, good.len() - 1);
            let mut bad = good.clone();
            bad.insert(at, c);
            prop_assert!(Email::parse(&good).is_ok());
            prop_assert!(matches!(Email::parse(&bad), Err(Error::Invalid(_))));
        }

        #[test]
        fn the_canonical_form_is_a_fixed_point(s in "[a-zA-ZÀ-ÖØ-öø-ÿ0-9.]{1,12}@[a-zA-ZÀ-ÖØ-öø-ÿ]{1,8}\\.[a-z]{2,4}") {
            let once = Email::parse(&s).unwrap();
            let twice = Email::parse(once.as_str()).unwrap();
            prop_assert_eq!(once, twice);
        }
    }
}
