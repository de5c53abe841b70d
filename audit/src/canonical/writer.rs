//! A `serde` serializer that writes canonical JSON directly.
//!
//! It writes what [`super::value_to_canonical`] writes for the `serde_json::Value` that
//! `serde_json::to_value` would build, without building it: every record's analysis used to be
//! turned into a tree of owned strings and maps (one allocation per key and value) only to be
//! walked once. Objects are written in the order their fields arrive; one whose keys arrived out
//! of order is re-emitted sorted when it ends (a duplicate key keeps its last value, as a map
//! insert would). The unit tests and the `audit_record` fuzz target hold the two encoders to the
//! same bytes.
//!
//! Where `to_value` would accept something this does not (a floating-point map key, which it
//! turns into text), this refuses: an audit record has no such field, and refusing records
//! nothing rather than something that may hash differently.

use serde::{
    Serialize,
    ser::{self, Impossible},
};

use super::{CanonicalError, write_string as write_str};

/// The name `serde_json` gives its raw-JSON wrapper; `to_value` parses what it wraps.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl ser::Error for CanonicalError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Schema(msg.to_string())
    }
}

/// Appends the canonical bytes of `value` to `out`.
pub(super) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    value.serialize(Writer { out })
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

fn write_int(n: impl itoa::Integer, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn out_of_range() -> CanonicalError {
    CanonicalError::Schema("number out of range".to_owned())
}

/// Integers that always fit: their decimal text.
macro_rules! integers {
    ($($method:ident : $t:ty),+) => {$(
        fn $method(self, v: $t) -> Result<(), CanonicalError> {
            write_int(v, self.out);
            Ok(())
        }
    )+};
}

impl<'o> ser::Serializer for Writer<'o> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'o>;
    type SerializeTuple = Array<'o>;
    type SerializeTupleStruct = Array<'o>;
    type SerializeTupleVariant = Array<'o>;
    type SerializeMap = Object<'o>;
    type SerializeStruct = Object<'o>;
    type SerializeStructVariant = Object<'o>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    integers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );

    fn serialize_i128(self, v: i128) -> Result<(), CanonicalError> {
        // `to_value` keeps what fits in u64 or i64 and refuses the rest.
        if let Ok(u) = u64::try_from(v) {
            write_int(u, self.out);
        } else if let Ok(i) = i64::try_from(v) {
            write_int(i, self.out);
        } else {
            return Err(out_of_range());
        }
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), CanonicalError> {
        write_int(u64::try_from(v).map_err(|_| out_of_range())?, self.out);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), CanonicalError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), CanonicalError> {
        // `to_value` makes a non-finite float `null`; a finite one is a number with no single
        // decimal form, which the canonical form refuses.
        if v.is_finite() {
            return Err(CanonicalError::Float);
        }
        self.serialize_unit()
    }

    fn serialize_char(self, v: char) -> Result<(), CanonicalError> {
        write_str(v.encode_utf8(&mut [0; 4]), self.out)
    }

    fn serialize_str(self, v: &str) -> Result<(), CanonicalError> {
        write_str(v, self.out)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalError> {
        // An array of numbers, as `to_value` makes bytes.
        self.out.push(b'[');
        for (i, b) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_int(*b, self.out);
        }
        self.out.push(b']');
        Ok(())
    }

    fn serialize_none(self) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), CanonicalError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), CanonicalError> {
        write_str(variant, self.out)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        // An object of one key: nothing to sort.
        self.out.push(b'{');
        write_str(variant, self.out)?;
        self.out.push(b':');
        value.serialize(Writer {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'o>, CanonicalError> {
        Ok(Array::open(self.out, false))
    }

    fn serialize_tuple(self, len: usize) -> Result<Array<'o>, CanonicalError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'o>, CanonicalError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'o>, CanonicalError> {
        self.out.push(b'{');
        write_str(variant, self.out)?;
        self.out.push(b':');
        Ok(Array::open(self.out, true))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'o>, CanonicalError> {
        Ok(Object::open(self.out, false))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Object<'o>, CanonicalError> {
        let mut object = Object::open(self.out, false);
        object.raw = name == RAW_VALUE_TOKEN;
        Ok(object)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'o>, CanonicalError> {
        self.out.push(b'{');
        write_str(variant, self.out)?;
        self.out.push(b':');
        Ok(Object::open(self.out, true))
    }
}

/// An array being written; `variant` closes the one-key object a tuple variant opened.
pub(super) struct Array<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl<'o> Array<'o> {
    fn open(out: &'o mut Vec<u8>, variant: bool) -> Self {
        out.push(b'[');
        Self {
            out,
            first: true,
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }

    fn close(self) -> Result<(), CanonicalError> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// The four sequence traits of `serde`, each an array element by element.
macro_rules! array_of {
    ($($trait:ident :: $method:ident),+) => {$(
        impl ser::$trait for Array<'_> {
            type Ok = ();
            type Error = CanonicalError;

            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonicalError> {
                self.element(v)
            }

            fn end(self) -> Result<(), CanonicalError> {
                self.close()
            }
        }
    )+};
}

array_of!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// One member of an object being written: where its `"key":value` bytes lie in the buffer, and
/// its key unescaped (the sort order is that of the keys' UTF-8 bytes, not of their escapes).
struct Member {
    key: Key,
    start: usize,
    end: usize,
}

enum Key {
    Field(&'static str),
    Owned(String),
}

impl Key {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Field(s) => s.as_bytes(),
            Self::Owned(s) => s.as_bytes(),
        }
    }
}

/// An object being written member by member into the buffer, sorted when it ends if its keys
/// did not arrive in order.
pub(super) struct Object<'o> {
    out: &'o mut Vec<u8>,
    /// Where the first member starts (just after `{`).
    body: usize,
    members: Vec<Member>,
    /// Every key so far came after the one before it (no sorting, no duplicates).
    in_order: bool,
    /// A map key waiting for its value.
    pending: Option<Key>,
    /// Closes the one-key object a struct variant opened.
    variant: bool,
    /// `serde_json`'s raw JSON wrapper: its one field is JSON text, parsed and written as a
    /// value, as `to_value` does.
    raw: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>, variant: bool) -> Self {
        out.push(b'{');
        let body = out.len();
        Self {
            out,
            body,
            members: Vec::new(),
            in_order: true,
            pending: None,
            variant,
            raw: false,
        }
    }

    fn member<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result<(), CanonicalError> {
        if let Some(last) = self.members.last()
            && last.key.as_bytes() >= key.as_bytes()
        {
            self.in_order = false;
        }
        if !self.members.is_empty() {
            self.out.push(b',');
        }
        let start = self.out.len();
        write_str(
            match &key {
                Key::Field(s) => s,
                Key::Owned(s) => s,
            },
            self.out,
        )?;
        self.out.push(b':');
        value.serialize(Writer {
            out: &mut *self.out,
        })?;
        self.members.push(Member {
            key,
            start,
            end: self.out.len(),
        });
        Ok(())
    }

    fn close(mut self) -> Result<(), CanonicalError> {
        if !self.in_order {
            // Stable, so that of equal keys the last one written is the last one here.
            self.members
                .sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
            let written = self.out.split_off(self.body);
            let mut first = true;
            for (i, m) in self.members.iter().enumerate() {
                let shadowed = self
                    .members
                    .get(i + 1)
                    .is_some_and(|next| next.key.as_bytes() == m.key.as_bytes());
                if shadowed {
                    continue;
                }
                if !first {
                    self.out.push(b',');
                }
                first = false;
                let member = m
                    .start
                    .checked_sub(self.body)
                    .zip(m.end.checked_sub(self.body))
                    .and_then(|(start, end)| written.get(start..end))
                    .ok_or_else(|| {
                        CanonicalError::Schema("an object member outside its object".to_owned())
                    })?;
                self.out.extend_from_slice(member);
            }
        }
        self.out.push(b'}');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }

    fn raw_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        // Undo the `{` and write the wrapped JSON as a value.
        self.out.truncate(self.body - 1);
        let text = value.serialize(KeyWriter)?;
        let parsed: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CanonicalError::Schema(e.to_string()))?;
        super::write_value(&parsed, self.out)
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        self.pending = Some(Key::Owned(key.serialize(KeyWriter)?));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonicalError> {
        let key = self.pending.take().ok_or_else(|| {
            CanonicalError::Schema("a map value was serialized before its key".to_owned())
        })?;
        self.member(key, v)
    }

    fn end(self) -> Result<(), CanonicalError> {
        self.close()
    }
}

/// A struct and a struct variant, field by field (only a struct can be the raw-JSON wrapper).
macro_rules! object_of {
    ($($trait:ident),+) => {$(
        impl ser::$trait for Object<'_> {
            type Ok = ();
            type Error = CanonicalError;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), CanonicalError> {
                if self.raw {
                    return self.raw_field(v);
                }
                self.member(Key::Field(key), v)
            }

            fn end(self) -> Result<(), CanonicalError> {
                if self.raw {
                    return Ok(());
                }
                self.close()
            }
        }
    )+};
}

object_of!(SerializeStruct, SerializeStructVariant);

/// A map key as text: what `serde_json` accepts as a key, except floating-point numbers.
struct KeyWriter;

fn not_a_key() -> CanonicalError {
    CanonicalError::Schema("key must be a string".to_owned())
}

/// Integer keys as their decimal text, as `serde_json` writes them.
macro_rules! integer_keys {
    ($($method:ident : $t:ty),+) => {$(
        fn $method(self, v: $t) -> Result<String, CanonicalError> {
            Ok(itoa::Buffer::new().format(v).to_owned())
        }
    )+};
}

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = Impossible<String, CanonicalError>;
    type SerializeTuple = Impossible<String, CanonicalError>;
    type SerializeTupleStruct = Impossible<String, CanonicalError>;
    type SerializeTupleVariant = Impossible<String, CanonicalError>;
    type SerializeMap = Impossible<String, CanonicalError>;
    type SerializeStruct = Impossible<String, CanonicalError>;
    type SerializeStructVariant = Impossible<String, CanonicalError>;

    fn serialize_bool(self, v: bool) -> Result<String, CanonicalError> {
        Ok(if v { "true" } else { "false" }.to_owned())
    }

    integer_keys!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128
    );

    fn serialize_f32(self, _v: f32) -> Result<String, CanonicalError> {
        Err(CanonicalError::Float)
    }

    fn serialize_f64(self, _v: f64) -> Result<String, CanonicalError> {
        Err(CanonicalError::Float)
    }

    fn serialize_char(self, v: char) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, CanonicalError> {
        Ok(v.to_owned())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_none(self) -> Result<String, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> Result<String, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_unit(self) -> Result<String, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, CanonicalError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, CanonicalError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, CanonicalError> {
        Err(not_a_key())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalError> {
        Err(not_a_key())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::{Value, json};

    use super::super::{CanonicalError, to_canonical, value_to_canonical};

    /// What the canonical bytes were before this writer: `to_value`, then the walk.
    fn reference<T: Serialize>(v: &T) -> Result<Vec<u8>, CanonicalError> {
        let value = serde_json::to_value(v).map_err(|e| CanonicalError::Schema(e.to_string()))?;
        value_to_canonical(&value)
    }

    fn same<T: Serialize>(v: &T) {
        let ours = to_canonical(v);
        let theirs = reference(v);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b),
                "different bytes"
            ),
            (Err(_), Err(_)) => {}
            _ => panic!("one encoder failed: ours {ours:?}, reference {theirs:?}"),
        }
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Unsorted {
        zeta: u64,
        alpha: Option<String>,
        middle_name: Vec<i32>,
        nested: Inner,
        skipped_none: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gone: Option<u8>,
    }

    #[derive(Serialize)]
    struct Inner {
        b: bool,
        a: (),
        c: char,
    }

    #[derive(Serialize)]
    enum Shapes {
        Unit,
        Newtype(u8),
        Tuple(u8, String),
        Struct { y: u8, x: u8 },
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    enum Tagged {
        Transfer { to: String, amount: String },
        Wrapped(Inner),
        Empty,
    }

    #[derive(Serialize)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        One(u8),
        Two { z: u8, a: u8 },
    }

    #[derive(Serialize)]
    struct Flattened {
        b: u8,
        #[serde(flatten)]
        rest: BTreeMap<String, u8>,
        a: u8,
    }

    #[derive(Serialize)]
    struct Bytes<'a>(#[serde(with = "serde_bytes_like")] &'a [u8]);

    mod serde_bytes_like {
        pub(super) fn serialize<S: serde::Serializer>(v: &&[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    #[test]
    fn typed_values_write_the_bytes_their_json_value_writes() {
        same(&Unsorted {
            zeta: u64::MAX,
            alpha: Some("line\nbreak \"quoted\" \\ \u{1} é 😀".to_owned()),
            middle_name: vec![-1, 0, i32::MIN],
            nested: Inner {
                b: true,
                a: (),
                c: '\u{7f}',
            },
            skipped_none: None,
            gone: None,
        });
        same(&[
            Shapes::Unit,
            Shapes::Newtype(7),
            Shapes::Tuple(1, "x".to_owned()),
            Shapes::Struct { y: 2, x: 1 },
        ]);
        same(&vec![
            Tagged::Transfer {
                to: "0xabc".to_owned(),
                amount: "10".to_owned(),
            },
            Tagged::Wrapped(Inner {
                b: false,
                a: (),
                c: 'a',
            }),
            Tagged::Empty,
        ]);
        same(&(Adjacent::One(1), Adjacent::Two { z: 1, a: 2 }));
        // A flattened map whose keys collide with the struct's own: the last one written wins.
        same(&Flattened {
            b: 1,
            rest: BTreeMap::from([
                ("a".to_owned(), 9),
                ("b".to_owned(), 8),
                ("c".to_owned(), 7),
            ]),
            a: 3,
        });
        same(&Bytes(&[0, 1, 255]));
        same(&HashMap::from([(3u32, "three"), (10, "ten"), (1, "one")]));
        same(&BTreeMap::from([(true, 1u8), (false, 0)]));
        // Sorted by the keys' bytes, not by their escaped forms: `"` (0x22) before `#` (0x23),
        // though its escape `\"` starts with 0x5c.
        same(&BTreeMap::from([
            ("a#", 1u8),
            ("a\"", 2),
            ("a\n", 3),
            ("", 4),
        ]));
        same(&json!({"z": {"y": [1, {"b": null, "a": -5}]}, "a": "x"}));
        same(&(u128::from(u64::MAX), i128::from(i64::MIN), -1i128));
    }

    #[test]
    fn what_the_reference_refuses_is_refused() {
        for refused in [
            to_canonical(&1.5f64),
            to_canonical(&0.0f32),
            to_canonical(&(u128::from(u64::MAX) + 1)),
            to_canonical(&(i128::from(i64::MIN) - 1)),
            to_canonical(&HashMap::from([(vec![1u8], 1u8)])),
        ] {
            assert!(refused.is_err(), "{refused:?}");
        }
        assert_eq!(to_canonical(&1.5f64), Err(CanonicalError::Float));
        // A non-finite float is `null` in both, as `to_value` makes it.
        same(&f64::NAN);
        same(&[f64::INFINITY]);
    }

    #[test]
    fn raw_json_is_written_as_the_value_it_holds() {
        let raw =
            serde_json::value::RawValue::from_string(r#"{ "b": 1, "a": [true] }"#.into()).unwrap();
        same(&raw);
        same(&json!({"wrapped": 1}));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}|[\"\\\\\\n\\t\\u{0}-\\u{1f}a-c]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-d\"\\\\é]{0,3}", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_value_writes_what_the_walk_writes(v in json_value()) {
            prop_assert_eq!(to_canonical(&v), value_to_canonical(&v));
        }
    }
}
