//! The Plan's pretty JSON, written fast: byte for byte what `serde_json::to_writer_pretty`
//! writes (two-space indent), but a line break and its indentation are one write instead of
//! one per level. A 100,000-mapping plan is ~100 MB of short lines several levels deep, so
//! the per-level writes were a large share of serialising it.

use super::Plan;
use serde::Serialize;
use serde_json::ser::Formatter;
use std::io::{self, Write};

/// A line break followed by enough spaces for the deepest line a Plan has, with room to spare.
const BREAK_AND_INDENT: &[u8] =
    b"\n                                                                ";

impl Plan {
    /// Writes the plan as pretty JSON (no final line break): the bytes of
    /// `serde_json::to_writer_pretty`.
    pub fn write_pretty<W: Write>(&self, out: W) -> serde_json::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(out, Pretty::default());
        self.serialize(&mut ser)
    }
}

/// serde_json's `PrettyFormatter` with a two-space indent; strings and numbers are written by
/// the trait's default methods, as `PrettyFormatter` does.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// `\n` and the current indentation, in one write when it fits the constant.
    fn break_line<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        let width = 1 + 2 * self.depth;
        match BREAK_AND_INDENT.get(..width) {
            Some(bytes) => w.write_all(bytes),
            None => {
                w.write_all(b"\n")?;
                for _ in 0..self.depth {
                    w.write_all(b"  ")?;
                }
                Ok(())
            }
        }
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.break_line(w)?;
        }
        w.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.break_line(w)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pretty_of(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
        v.serialize(&mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nesting_empty_containers_and_deep_lines_match_serde_json() {
        let mut deep = serde_json::json!("leaf");
        // Deeper than the constant's indentation, to take the slow path too.
        for i in 0..40 {
            deep = if i % 2 == 0 {
                serde_json::json!({ "k": deep, "empty": {}, "list": [] })
            } else {
                serde_json::json!([deep, 1.5, null, true, "a\"b\\n"])
            };
        }
        for v in [
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"a": [1, {"b": []}], "c": {"d": {}}}),
            deep,
        ] {
            let expected = serde_json::to_string_pretty(&v).unwrap();
            assert_eq!(pretty_of(&v), expected);
        }
    }
}
