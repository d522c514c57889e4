//! Hiding secret values in everything that leaves the runner: the report,
//! error messages and logs.

use std::fmt;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets shorter than this are not masked. Masking a one- or two-character
/// value would star out every occurrence of it in ordinary text (a secret `a`
/// would leave nothing readable), while such a value keeps almost nothing
/// secret anyway. The runner logs a warning, naming the variable, when it
/// meets one.
pub const MIN_SECRET_CHARS: usize = 3;

/// The secrets seen so far, and how they may be written. Deliberately not
/// `Debug`-derived: printing a masker must not print what it hides.
#[derive(Clone, Default)]
pub struct Masker {
    patterns: Vec<String>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masker({} patterns)", self.patterns.len())
    }
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Adds a secret. Returns false, masking nothing, when it is shorter
    /// than [`MIN_SECRET_CHARS`].
    pub fn add(&mut self, secret: &str) -> bool {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return false;
        }
        // A secret travels in more than one spelling: inside a JSON string
        // (a response echoing it) and percent-encoded, fully or the way a URL
        // parser encodes a query or a path (a server echoing the request).
        let json = serde_json::to_string(secret).expect("a string serialises");
        let forms = [
            secret.to_string(),
            json[1..json.len() - 1].to_string(),
            percent_encode(secret, |b| {
                b.is_ascii_alphanumeric() || b"-._~".contains(&b)
            }),
            percent_encode(secret, |b| b.is_ascii_graphic() && !b"\"#<>'".contains(&b)),
            percent_encode(secret, |b| {
                b.is_ascii_graphic() && !b"\"#<>`?{}".contains(&b)
            }),
        ];
        for form in forms {
            if !self.patterns.contains(&form) {
                self.patterns.push(form);
            }
        }
        true
    }

    /// `text` with every occurrence of every secret replaced by [`MASK`].
    /// Occurrences that overlap or touch become one mask, so no character of
    /// any secret survives (replacing secrets one after another could leave
    /// the edge of a secret that straddles another one).
    pub fn mask(&self, text: &str) -> String {
        let mut covered = vec![false; text.len()];
        let mut any = false;
        for pattern in &self.patterns {
            let mut from = 0;
            while let Some(i) = text[from..].find(pattern.as_str()) {
                let start = from + i;
                covered[start..start + pattern.len()].fill(true);
                any = true;
                // One character on, not past the match: overlapping
                // occurrences of the same secret are covered too.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if !any {
            return text.to_string();
        }
        // Patterns are whole strings, so covered runs start and end on
        // character boundaries.
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            let end = (i..text.len())
                .find(|&j| covered[j] != covered[i])
                .unwrap_or(text.len());
            if covered[i] {
                out.push_str(MASK);
            } else {
                out.push_str(&text[i..end]);
            }
            i = end;
        }
        out
    }
}

/// Every byte of `s` that `keep` rejects as `%XX`.
fn percent_encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// At most `max` characters of `text`, cut on a character boundary and
/// marked with `…` when cut. Mask first, then shorten: cutting first could
/// leave a part of a secret that the masker no longer recognises.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(secrets: &[&str]) -> Masker {
        let mut m = Masker::new();
        for s in secrets {
            m.add(s);
        }
        m
    }

    #[test]
    fn masks_every_occurrence() {
        let m = masker(&["hunter22"]);
        assert_eq!(m.mask("pass=hunter22&again=hunter22"), "pass=***&again=***");
        assert_eq!(m.mask("nothing here"), "nothing here");
    }

    #[test]
    fn longer_secrets_win_and_overlaps_leave_nothing_behind() {
        let m = masker(&["abc", "abcdef"]);
        assert_eq!(m.mask("x abcdef y abc z"), "x *** y *** z");
        // "zab" straddles "abc": replacing one after the other would leave "z".
        let m = masker(&["abc", "zab"]);
        assert_eq!(m.mask("xyzabc!"), "xy***!");
        // Overlapping occurrences of one secret.
        let m = masker(&["aaa"]);
        assert_eq!(m.mask("baaaab"), "b***b");
    }

    #[test]
    fn short_secrets_are_not_masked() {
        let mut m = Masker::new();
        assert!(!m.add(""));
        assert!(!m.add("a"));
        assert!(!m.add("ab"));
        assert!(m.add("abc"));
        assert_eq!(m.mask("a b ab abc"), "a b ab ***");
    }

    #[test]
    fn json_escaped_and_percent_encoded_spellings_are_masked() {
        let m = masker(&["p\"w/ d"]);
        assert_eq!(m.mask(r#"{"pass":"p\"w/ d"}"#), r#"{"pass":"***"}"#);
        assert_eq!(m.mask("/login?pass=p%22w%2F%20d"), "/login?pass=***");
        // As a URL parser writes it into a query (`/` kept) and a path (`?` encoded).
        assert_eq!(m.mask("/login?pass=p%22w/%20d"), "/login?pass=***");
        let m = masker(&["a?b c"]);
        assert_eq!(m.mask("GET /x/a%3Fb%20c"), "GET /x/***");
        assert_eq!(m.mask("GET /x?k=a?b%20c"), "GET /x?k=***");
    }

    #[test]
    fn multibyte_text_and_secrets() {
        let m = masker(&["clé-😀"]);
        assert_eq!(m.mask("ünïcode clé-😀 ok"), "ünïcode *** ok");
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let m = masker(&["topsecret"]);
        assert!(!format!("{m:?}").contains("topsecret"));
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten(&"x".repeat(300), 200).chars().count(), 200);
    }
}
