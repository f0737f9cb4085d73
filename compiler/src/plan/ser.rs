//! A `serde::Serializer` writing serde_json's pretty form (two-space indent, what
//! `serde_json::to_writer_pretty` writes), its compact form (`serde_json::to_writer`), or both
//! in one pass, byte for byte, without serde_json's per-byte escape scan.
//!
//! Why: serialising a Plan through serde_json spent ~40% of its instructions in
//! `format_escaped_str` (a table lookup and a branch per byte, and a formatter call per
//! fragment), on strings that are almost all identifiers and field names needing no escape,
//! and a further share calling the two formatters of a dual pass structure by structure.
//! Here a string is checked for the only bytes serde_json escapes (`"`, `\` and the control
//! bytes below 0x20; anything else, non-ASCII included, is written as it is) in one tight
//! loop and copied whole; a string that has one is handed to serde_json itself, so every
//! escape is serde_json's. Structure follows serde_json's `Serializer` and `PrettyFormatter`
//! call for call (one `has_value` flag, not a stack, as there), and numbers are rendered by
//! serde_json's `CompactFormatter` (itoa, ryu; non-finite floats as `null`).
//!
//! Map keys: the Plan has no maps; a map key is rendered as serde_json does for strings,
//! integers and booleans (quoted), and refused otherwise (serde_json refuses most of those
//! too).

use serde::ser::{self, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};
use std::io;

type Error = serde_json::Error;

/// A line break followed by enough spaces for the deepest line a Plan has, with room to spare.
pub(super) const BREAK_AND_INDENT: &[u8] =
    b"\n                                                                ";

/// Where a pass writes: the pretty form, the compact form, or both.
pub(super) trait Out {
    /// Bytes both forms have.
    fn put(&mut self, bytes: &[u8]);
    /// `pretty` in the pretty form, `compact` in the compact one.
    fn either(&mut self, pretty: &[u8], compact: &[u8]);
}

/// The pretty form only.
pub(super) struct PrettyOut<'a>(pub(super) &'a mut Vec<u8>);

/// The compact form only.
pub(super) struct CompactOut<'a>(pub(super) &'a mut Vec<u8>);

/// Both forms, each into its buffer.
pub(super) struct BothOut<'a> {
    pub(super) pretty: &'a mut Vec<u8>,
    pub(super) compact: &'a mut Vec<u8>,
}

impl Out for PrettyOut<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    #[inline]
    fn either(&mut self, pretty: &[u8], _compact: &[u8]) {
        self.0.extend_from_slice(pretty);
    }
}

impl Out for CompactOut<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    #[inline]
    fn either(&mut self, _pretty: &[u8], compact: &[u8]) {
        self.0.extend_from_slice(compact);
    }
}

impl Out for BothOut<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.pretty.extend_from_slice(bytes);
        self.compact.extend_from_slice(bytes);
    }
    #[inline]
    fn either(&mut self, pretty: &[u8], compact: &[u8]) {
        self.pretty.extend_from_slice(pretty);
        self.compact.extend_from_slice(compact);
    }
}

/// Whether serde_json writes `s` as it is between quotes: it escapes only `"`, `\` and bytes
/// below 0x20. Eight bytes at a time (the last word overlapping the one before it; a string
/// shorter than a word padded with a plain byte), with no branch per byte.
#[inline]
pub(super) fn plain(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() < 8 {
        let mut word = [b'a'; 8];
        if let Some(head) = word.get_mut(..bytes.len()) {
            head.copy_from_slice(bytes);
        }
        return word_plain(u64::from_le_bytes(word));
    }
    let mut bad = 0u64;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        if let Ok(word) = <[u8; 8]>::try_from(chunk) {
            bad |= word_bad(u64::from_le_bytes(word));
        }
    }
    if !words.remainder().is_empty() {
        if let Some(Ok(word)) = bytes.get(bytes.len() - 8..).map(<[u8; 8]>::try_from) {
            bad |= word_bad(u64::from_le_bytes(word));
        }
    }
    bad == 0
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Non-zero iff a byte of `x` is below 0x20, `"` or `\` (the "has a byte less than n" and
/// "has a zero byte" word tricks: a borrow can only mark bytes above one that really
/// matches, so the test as a whole is exact).
#[inline(always)]
fn word_bad(x: u64) -> u64 {
    let below = x.wrapping_sub(ONES * 0x20) & !x;
    let q = x ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = x ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (below | quote | backslash) & HIGHS
}

#[inline(always)]
fn word_plain(x: u64) -> bool {
    word_bad(x) == 0
}

/// The serializer: a value starting at `depth` of the pretty form (what serde_json's
/// `PrettyFormatter` writes there after `depth` levels of nesting).
pub(super) struct Ser<O> {
    out: O,
    depth: usize,
    has_value: bool,
    /// For numbers and escaped strings, rendered by serde_json and then copied.
    scratch: Vec<u8>,
}

impl<O: Out> Ser<O> {
    pub(super) fn new(out: O, depth: usize) -> Ser<O> {
        Ser {
            out,
            depth,
            has_value: false,
            scratch: Vec::new(),
        }
    }

    /// `\n` and the current indentation, in the pretty form only.
    fn break_line(&mut self) {
        let width = 1 + 2 * self.depth;
        match BREAK_AND_INDENT.get(..width) {
            Some(bytes) => self.out.either(bytes, b""),
            None => {
                self.out.either(b"\n", b"");
                for _ in 0..self.depth {
                    self.out.either(b"  ", b"");
                }
            }
        }
    }

    fn open(&mut self, bracket: &[u8]) {
        self.depth += 1;
        self.has_value = false;
        self.out.put(bracket);
    }

    fn close(&mut self, bracket: &[u8]) {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.break_line();
        }
        self.out.put(bracket);
    }

    /// Before an array element or an object key.
    fn item(&mut self, first: bool) {
        if !first {
            self.out.put(b",");
        }
        self.break_line();
    }

    fn string(&mut self, s: &str) -> Result<(), Error> {
        if plain(s) {
            // A short string and its quotes are copied in one piece.
            let mut quoted = [b'"'; 64];
            let n = s.len();
            if let Some(inner) = quoted.get_mut(1..=n) {
                inner.copy_from_slice(s.as_bytes());
                if let Some(whole) = quoted.get(..n + 2) {
                    self.out.put(whole);
                    return Ok(());
                }
            }
            self.out.put(b"\"");
            self.out.put(s.as_bytes());
            self.out.put(b"\"");
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let written = serde_json::to_writer(&mut scratch, s);
        self.out.put(&scratch);
        self.scratch = scratch;
        written
    }

    /// An object key (after [`Ser::item`]) and the separator after it.
    fn key(&mut self, first: bool, key: &str) -> Result<(), Error> {
        self.item(first);
        self.string(key)?;
        self.out.either(b": ", b":");
        Ok(())
    }

    /// A number (or other scalar) rendered by serde_json's compact formatter.
    fn rendered<F>(&mut self, render: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Vec<u8>) -> io::Result<()>,
    {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let written = render(&mut scratch);
        self.out.put(&scratch);
        self.scratch = scratch;
        written.map_err(Error::io)
    }

    fn compound(&mut self, kind: Kind) -> Compound<'_, O> {
        Compound {
            ser: self,
            first: true,
            kind,
        }
    }

    /// `{"variant":` opened for an externally tagged variant with content.
    fn variant_open(&mut self, variant: &str) -> Result<(), Error> {
        self.open(b"{");
        self.key(true, variant)
    }

    fn variant_close(&mut self) {
        self.has_value = true;
        self.close(b"}");
    }
}

/// What a [`Compound`] closes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Object,
    /// An array inside `{"variant": ...}`.
    ArrayInVariant,
    /// An object inside `{"variant": ...}`.
    ObjectInVariant,
}

pub(super) struct Compound<'s, O> {
    ser: &'s mut Ser<O>,
    first: bool,
    kind: Kind,
}

impl<O: Out> Compound<'_, O> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.ser.item(self.first);
        self.first = false;
        value.serialize(&mut *self.ser)?;
        self.ser.has_value = true;
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.ser.key(self.first, key)?;
        self.first = false;
        value.serialize(&mut *self.ser)?;
        self.ser.has_value = true;
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        match self.kind {
            Kind::Array => self.ser.close(b"]"),
            Kind::Object => self.ser.close(b"}"),
            Kind::ArrayInVariant => {
                self.ser.close(b"]");
                self.ser.variant_close();
            }
            Kind::ObjectInVariant => {
                self.ser.close(b"}");
                self.ser.variant_close();
            }
        }
        Ok(())
    }
}

impl<'s, O: Out> ser::Serializer for &'s mut Ser<O> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, O>;
    type SerializeTuple = Compound<'s, O>;
    type SerializeTupleStruct = Compound<'s, O>;
    type SerializeTupleVariant = Compound<'s, O>;
    type SerializeMap = Compound<'s, O>;
    type SerializeStruct = Compound<'s, O>;
    type SerializeStructVariant = Compound<'s, O>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.put(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_i8(w, v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_i16(w, v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_i32(w, v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_i64(w, v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_i128(w, v))
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_u8(w, v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_u16(w, v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_u32(w, v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_u64(w, v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.rendered(|w| CompactFormatter.write_u128(w, v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        self.rendered(|w| CompactFormatter.write_f32(w, v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        self.rendered(|w| CompactFormatter.write_f64(w, v))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v)
    }

    /// An array of numbers, as serde_json writes bytes.
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.open(b"[");
        let mut seq = self.compound(Kind::Array);
        for b in v {
            seq.element(b)?;
        }
        seq.finish()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.put(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant_open(variant)?;
        value.serialize(&mut *self)?;
        self.variant_close();
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'s, O>, Error> {
        self.open(b"[");
        Ok(self.compound(Kind::Array))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, O>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'s, O>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, O>, Error> {
        self.variant_open(variant)?;
        self.open(b"[");
        Ok(self.compound(Kind::ArrayInVariant))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'s, O>, Error> {
        self.open(b"{");
        Ok(self.compound(Kind::Object))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'s, O>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, O>, Error> {
        self.variant_open(variant)?;
        self.open(b"{");
        Ok(self.compound(Kind::ObjectInVariant))
    }
}

impl<O: Out> ser::SerializeSeq for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeTuple for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeTupleStruct for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeTupleVariant for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeStruct for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeStructVariant for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeMap for Compound<'_, O> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // Rare (the Plan has no maps): render the key through serde_json's value model.
        let text = match serde_json::to_value(key)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return Err(ser::Error::custom("key must be a string")),
        };
        self.ser.key(self.first, &text)?;
        self.first = false;
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)?;
        self.ser.has_value = true;
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pretty<T: Serialize + ?Sized>(v: &T) -> String {
        let mut out = Vec::new();
        v.serialize(&mut Ser::new(PrettyOut(&mut out), 0)).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn compact<T: Serialize + ?Sized>(v: &T) -> String {
        let mut out = Vec::new();
        v.serialize(&mut Ser::new(CompactOut(&mut out), 0)).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn both<T: Serialize + ?Sized>(v: &T) -> (String, String) {
        let (mut p, mut c) = (Vec::new(), Vec::new());
        v.serialize(&mut Ser::new(
            BothOut {
                pretty: &mut p,
                compact: &mut c,
            },
            0,
        ))
        .unwrap();
        (String::from_utf8(p).unwrap(), String::from_utf8(c).unwrap())
    }

    /// Every form of `v` equals serde_json's.
    fn same_as_serde_json<T: Serialize + ?Sized>(v: &T) {
        let p = serde_json::to_string_pretty(v).unwrap();
        let c = serde_json::to_string(v).unwrap();
        assert_eq!(pretty(v), p);
        assert_eq!(compact(v), c);
        assert_eq!(both(v), (p, c));
    }

    /// Strings serde_json escapes, strings it does not, and mixes, alone and as keys.
    const STRINGS: &[&str] = &[
        "",
        "plain",
        "Account.Name__c",
        "a\"b",
        "\"",
        "back\\slash",
        "\\",
        "line\nbreak",
        "tab\tcr\r",
        "\u{0}nul",
        "\u{1}\u{8}\u{b}\u{c}\u{1f}",
        "\u{7f} del is not escaped",
        "é non-ASCII ✓ 𝄞",
        "/slash is not escaped",
        "</script>",
        "ends with quote\"",
        "\u{2028}\u{2029} separators",
        "mixed é\"\\\n\u{1}x",
        "sixty-three bytes, one past the stack copy: xxxxxxxxxxxxxxxxxxx",
        "sixty-two bytes, the longest stack copy: xxxxxxxxxxxxxxxxxxxxx",
        "a long string that needs no escape at all and is longer than sixty-four bytes",
    ];

    #[test]
    fn plain_is_exactly_what_serde_json_writes_unescaped() {
        for b in 0u8..=0x7f {
            let s = String::from(char::from(b));
            let escaped = serde_json::to_string(&s).unwrap() != format!("\"{s}\"");
            assert_eq!(plain(&s), !escaped, "byte {b:#x}");
        }
        for s in STRINGS {
            let escaped = serde_json::to_string(s).unwrap() != format!("\"{s}\"");
            assert_eq!(plain(s), !escaped, "{s:?}");
        }
    }

    #[test]
    fn plain_finds_an_escaped_byte_at_every_position_of_every_length() {
        let bad = ['\u{0}', '\u{1f}', '"', '\\', '\n'];
        // Bytes next to the escaped ones (and non-ASCII) are plain.
        let good = ['\u{20}', '!', '#', '[', ']', '\u{7f}', 'a', 'é', '✓'];
        for len in 0..=70 {
            for g in good {
                let s: String = std::iter::repeat_n(g, len).collect();
                assert!(plain(&s), "{s:?}");
                for pos in 0..len {
                    for b in bad {
                        let t: String = s
                            .chars()
                            .enumerate()
                            .map(|(i, c)| if i == pos { b } else { c })
                            .collect();
                        assert!(!plain(&t), "{t:?}");
                        same_as_serde_json(&t);
                    }
                }
            }
        }
    }

    #[test]
    fn strings_that_need_escaping_and_those_that_do_not_match_serde_json() {
        for s in STRINGS {
            same_as_serde_json(s);
            same_as_serde_json(&vec![*s, "x", *s]);
            let mut map = std::collections::BTreeMap::new();
            map.insert(*s, *s);
            map.insert("k", "v");
            same_as_serde_json(&map);
        }
        for c in ['a', '"', '\\', '\n', '\u{0}', 'é', '𝄞'] {
            same_as_serde_json(&c);
        }
    }

    #[derive(serde::Serialize)]
    struct Unit;

    #[derive(serde::Serialize)]
    struct Newtype(u8);

    #[derive(serde::Serialize)]
    struct Tuple(i32, &'static str);

    #[derive(serde::Serialize)]
    #[allow(dead_code)]
    enum External {
        Unit,
        Newtype(Vec<u8>),
        Tuple(i8, String),
        Struct { a: Option<u32>, b: Vec<External> },
        EmptyStruct {},
        EmptyTuple(),
    }

    #[derive(serde::Serialize)]
    #[serde(tag = "kind")]
    #[allow(dead_code)]
    enum Internal {
        Unit,
        Struct { x: f64, y: Box<Internal> },
        Newtype(Inner),
    }

    #[derive(serde::Serialize)]
    struct Inner {
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        kept: Option<u8>,
        empty: Vec<u8>,
        nested: Vec<Vec<u8>>,
    }

    #[derive(serde::Serialize)]
    #[serde(tag = "type", content = "value")]
    #[allow(dead_code)]
    enum Adjacent {
        S(String),
        N(f64),
        U,
    }

    #[derive(serde::Serialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Untagged {
        A(String),
        B { b: bool },
    }

    #[test]
    fn every_shape_serde_can_make_matches_serde_json() {
        same_as_serde_json(&Unit);
        same_as_serde_json(&Newtype(7));
        same_as_serde_json(&Tuple(-3, "t\""));
        same_as_serde_json(&(1u8, 2i16, 3u32, -4i64, 5u64, i128::MIN, u128::MAX));
        same_as_serde_json(&(1.5f32, -0.0f64, 1e300, f64::NAN, f64::INFINITY, f32::NAN));
        same_as_serde_json(&(true, false, (), None::<u8>, Some("x")));
        same_as_serde_json(&serde_bytes_like());
        same_as_serde_json(&External::Unit);
        same_as_serde_json(&External::Newtype(vec![]));
        same_as_serde_json(&External::Newtype(vec![1, 2]));
        same_as_serde_json(&External::Tuple(1, "é\n".into()));
        same_as_serde_json(&External::EmptyStruct {});
        same_as_serde_json(&External::EmptyTuple());
        same_as_serde_json(&External::Struct {
            a: None,
            b: vec![
                External::Struct {
                    a: Some(1),
                    b: vec![External::Unit, External::Newtype(vec![3])],
                },
                External::EmptyStruct {},
            ],
        });
        let inner = || Inner {
            skipped: None,
            kept: None,
            empty: vec![],
            nested: vec![vec![], vec![1], vec![]],
        };
        same_as_serde_json(&Internal::Unit);
        same_as_serde_json(&Internal::Newtype(inner()));
        same_as_serde_json(&Internal::Struct {
            x: 0.1,
            y: Box::new(Internal::Struct {
                x: -2.0,
                y: Box::new(Internal::Newtype(Inner {
                    skipped: Some(1),
                    ..inner()
                })),
            }),
        });
        for a in [Adjacent::S("s\\".into()), Adjacent::N(3.25), Adjacent::U] {
            same_as_serde_json(&a);
        }
        same_as_serde_json(&vec![Untagged::A("a".into()), Untagged::B { b: true }]);
        let mut numbers = std::collections::BTreeMap::new();
        numbers.insert(3u32, vec![Unit]);
        numbers.insert(10u32, vec![]);
        same_as_serde_json(&numbers);
        let empty: std::collections::BTreeMap<String, u8> = Default::default();
        same_as_serde_json(&empty);
        same_as_serde_json(&vec![empty.clone(), empty]);
    }

    /// `serialize_bytes`, as a `Serialize` that calls it.
    fn serde_bytes_like() -> impl Serialize {
        struct Bytes(&'static [u8]);
        impl Serialize for Bytes {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        (Bytes(b""), Bytes(b"\x00\xffab"))
    }

    #[test]
    fn a_value_at_depth_is_indented_as_serde_json_indents_it_there() {
        let v = serde_json::json!({"a": [1, {"b": [], "c": {"d": "e\"f"}}], "g": {}});
        let whole = serde_json::to_string_pretty(&serde_json::json!({ "x": [v.clone()] })).unwrap();
        let mut at_two = Vec::new();
        v.serialize(&mut Ser::new(PrettyOut(&mut at_two), 2))
            .unwrap();
        let at_two = String::from_utf8(at_two).unwrap();
        assert!(whole.contains(&at_two), "{whole}\n---\n{at_two}");
        // Deeper than the constant's indentation takes the slow path.
        let mut deep = serde_json::json!("leaf");
        for i in 0..40 {
            deep = if i % 2 == 0 {
                serde_json::json!({ "k": deep, "empty": {}, "list": [] })
            } else {
                serde_json::json!([deep, 1.5, null, true, "a\"b\\n"])
            };
        }
        same_as_serde_json(&deep);
    }
}
