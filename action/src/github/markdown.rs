//! Making text safe to put in Markdown. The text comes from the execution
//! (test names, reasons, response snippets) and must not break the layout:
//! a `|` ends a table cell, a newline ends a row, and HTML such as
//! `</details>` would close the collapsible timeline.

/// Text for a table cell.
pub(crate) fn cell(text: &str) -> String {
    html(text)
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// Text on one line outside a table.
pub(crate) fn inline(text: &str) -> String {
    html(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text inside backticks; a backtick would end the code span early.
pub(crate) fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace(['\n', '\r'], " "))
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_the_table_intact() {
        assert_eq!(cell("a|b\nc\r\nd"), "a\\|b<br>c<br>d");
        assert_eq!(cell("</details> & <b>"), "&lt;/details&gt; &amp; &lt;b&gt;");
        assert_eq!(inline("one\n  two\tthree"), "one two three");
        assert_eq!(code("v`1\n"), "`v'1 `");
    }
}
