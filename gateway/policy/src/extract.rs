//! Reads input paths straight from a value's `Serialize` impl, without
//! building a `serde_json::Value`: the decision cache ([`crate::cache`])
//! keys a typed [`crate::PolicyInput`] this way, so a cache hit costs no
//! JSON tree.
//!
//! The answer is the one [`crate::footprint::lookup`] gives on
//! `serde_json::to_value(input)` (for inputs that `to_value` accepts): only
//! object keys are followed (struct fields, map entries, flattened fields,
//! the variant name of an externally tagged enum), so a key into a string,
//! number, bool, array, `None` or unit is missing, a field skipped by
//! `skip_serializing_if` is missing, and a repeated key counts with its last
//! value. The value at a path is written as `serde_json::to_writer` would
//! write the `Value` there, `f32` widened to `f64` as `to_value` does.
//!
//! Where that equality cannot be kept cheaply, [`PathTree::extract`] fails
//! and the caller builds the `Value` instead: a map key that is not a string
//! on the way to a path or inside a written value, a key repeated inside a
//! written value, or a written path that ends at a tuple or struct enum
//! variant (whose content arrives in pieces). `PolicyInput` has none of
//! these. This module does not look at parts of the input off the paths, so
//! it cannot tell whether `to_value` would have failed there.

use std::ops::Range;

use serde::Serialize;
use serde::ser::{
    self, Error as _, Impossible, SerializeMap, SerializeSeq, SerializeStruct,
    SerializeStructVariant, SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
    Serializer,
};
use serde_json::Error;

use crate::footprint::InputPath;

/// Input paths as a tree of object keys, so one walk of an input finds
/// them all.
#[derive(Debug)]
pub(crate) struct PathTree {
    /// `nodes[0]` is the input itself.
    nodes: Vec<Node>,
    /// The slot in [`Found`] of each path given to the constructor, in the
    /// order given. Repeated paths share a slot.
    slots: Vec<usize>,
    /// How many distinct paths (slots) there are.
    distinct: usize,
    /// Whether the value at each path is written, or only its presence noted.
    write: bool,
}

#[derive(Debug, Default)]
struct Node {
    /// Object keys under this node, with their nodes.
    children: Vec<(String, usize)>,
    /// The slot of the path that ends here.
    slot: Option<usize>,
    /// The slots of the paths that end here or below. Slots follow the
    /// sorted order of the paths, so these are contiguous; they are cleared
    /// whenever the node's key comes again, as a JSON object keeps only a
    /// repeated key's last value.
    below: Range<usize>,
}

/// What one walk found: per slot, where its value is in `bytes`.
#[derive(Debug)]
pub(crate) struct Found {
    bytes: Vec<u8>,
    spans: Vec<Option<Range<usize>>>,
}

impl Found {
    /// The value at the path in `slot`, as compact JSON (empty for a tree
    /// that only notes presence), or `None` when the path is missing.
    pub(crate) fn get(&self, slot: usize) -> Option<&[u8]> {
        self.spans[slot].clone().map(|span| &self.bytes[span])
    }
}

impl PathTree {
    /// A tree that writes the value at each of `paths`.
    pub(crate) fn values(paths: &[InputPath]) -> Self {
        Self::new(paths, true)
    }

    /// A tree that only notes which of `paths` are present.
    pub(crate) fn presence(paths: &[InputPath]) -> Self {
        Self::new(paths, false)
    }

    fn new(paths: &[InputPath], write: bool) -> Self {
        let mut order: Vec<usize> = (0..paths.len()).collect();
        order.sort_by(|&a, &b| paths[a].cmp(&paths[b]));
        let mut slots = vec![0; paths.len()];
        let mut nodes = vec![Node::default()];
        let mut distinct = 0;
        for (i, &at) in order.iter().enumerate() {
            if i > 0 && paths[order[i - 1]] == paths[at] {
                slots[at] = distinct - 1;
                continue;
            }
            let slot = distinct;
            distinct += 1;
            slots[at] = slot;
            let mut node = 0;
            cover(&mut nodes[0].below, slot);
            for key in &paths[at] {
                let existing = nodes[node].children.iter().find(|(k, _)| k == key);
                node = match existing {
                    Some(&(_, child)) => child,
                    None => {
                        let child = nodes.len();
                        nodes.push(Node::default());
                        nodes[node].children.push((key.clone(), child));
                        child
                    }
                };
                cover(&mut nodes[node].below, slot);
            }
            nodes[node].slot = Some(slot);
        }
        Self {
            nodes,
            slots,
            distinct,
            write,
        }
    }

    /// The slot of each path given to the constructor, in the order given.
    pub(crate) fn slots(&self) -> &[usize] {
        &self.slots
    }

    /// Walks `input` once and returns what is at the paths.
    ///
    /// # Errors
    /// When `input` holds something this walk cannot render exactly as
    /// `to_value` would (see the module docs): build the `Value` instead.
    pub(crate) fn extract<T: Serialize + ?Sized>(&self, input: &T) -> Result<Found, Error> {
        let capacity = if self.write { 32 * self.distinct } else { 0 };
        let mut walk = Walk {
            tree: self,
            found: Found {
                bytes: Vec::with_capacity(capacity),
                spans: vec![None; self.distinct],
            },
        };
        walk.visit(0, input)?;
        Ok(walk.found)
    }
}

/// Adds `slot` (the next one in sorted order) to `range`.
fn cover(range: &mut Range<usize>, slot: usize) {
    if range.start == range.end {
        *range = slot..slot + 1;
    } else {
        range.end = slot + 1;
    }
}

/// One walk of an input through a [`PathTree`].
struct Walk<'t> {
    tree: &'t PathTree,
    found: Found,
}

impl Walk<'_> {
    /// Records `value`, found at `node`'s key, and walks into it.
    fn visit<T: Serialize + ?Sized>(&mut self, node: usize, value: &T) -> Result<(), Error> {
        let tree = self.tree;
        let n = &tree.nodes[node];
        self.found.spans[n.below.clone()].fill(None);
        if let Some(slot) = n.slot {
            let start = self.found.bytes.len();
            if tree.write {
                let mut json = serde_json::Serializer::new(&mut self.found.bytes);
                value.serialize(Exact(&mut json))?;
            }
            self.found.spans[slot] = Some(start..self.found.bytes.len());
        }
        if n.children.is_empty() {
            return Ok(());
        }
        value.serialize(At { walk: self, node })
    }

    /// Records a value found at `node`'s key that arrives in pieces (a tuple
    /// or struct variant's content): its presence can be noted, not written.
    fn enter_in_pieces(&mut self, node: usize) -> Result<(), Error> {
        let n = &self.tree.nodes[node];
        self.found.spans[n.below.clone()].fill(None);
        if let Some(slot) = n.slot {
            if self.tree.write {
                return Err(Error::custom(
                    "a path ends at a tuple or struct variant: read it from the Value",
                ));
            }
            let end = self.found.bytes.len();
            self.found.spans[slot] = Some(end..end);
        }
        Ok(())
    }

    /// The node under `node` for object key `key`.
    fn child(&self, node: usize, key: &str) -> Option<usize> {
        self.tree.nodes[node]
            .children
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, child)| child)
    }
}

/// Serialises the value at `node`, whose children are still to be found:
/// objects are walked by key, everything else has no keys and is skipped.
struct At<'w, 't> {
    walk: &'w mut Walk<'t>,
    node: usize,
}

/// Scalars (and anything else that is not an object in JSON) hold no keys.
macro_rules! no_keys {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), Error> {
            Ok(())
        })*
    };
}

impl<'w, 't> Serializer for At<'w, 't> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Skip;
    type SerializeTuple = Skip;
    type SerializeTupleStruct = Skip;
    type SerializeTupleVariant = Skip;
    type SerializeMap = Fields<'w, 't>;
    type SerializeStruct = Fields<'w, 't>;
    type SerializeStructVariant = Fields<'w, 't>;

    no_keys!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_none(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    /// `{"<variant>": value}` in JSON.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        match self.walk.child(self.node, variant) {
            Some(child) => self.walk.visit(child, value),
            None => Ok(()),
        }
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Skip, Error> {
        Ok(Skip)
    }

    fn serialize_tuple(self, _: usize) -> Result<Skip, Error> {
        Ok(Skip)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Skip, Error> {
        Ok(Skip)
    }

    /// `{"<variant>": [...]}` in JSON: the variant's key is there, nothing
    /// under it.
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Skip, Error> {
        if let Some(child) = self.walk.child(self.node, variant) {
            self.walk.enter_in_pieces(child)?;
        }
        Ok(Skip)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'w, 't>, Error> {
        Ok(Fields::under(self.walk, Some(self.node)))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'w, 't>, Error> {
        Ok(Fields::under(self.walk, Some(self.node)))
    }

    /// `{"<variant>": {fields}}` in JSON.
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Fields<'w, 't>, Error> {
        let child = self.walk.child(self.node, variant);
        if let Some(child) = child {
            self.walk.enter_in_pieces(child)?;
        }
        let inner = child.filter(|&c| !self.walk.tree.nodes[c].children.is_empty());
        Ok(Fields::under(self.walk, inner))
    }

    /// Display output is a string: no keys, and no need to format it.
    fn collect_str<T: std::fmt::Display + ?Sized>(self, _: &T) -> Result<(), Error> {
        Ok(())
    }
}

/// The entries of an object whose keys may lead to paths.
struct Fields<'w, 't> {
    walk: &'w mut Walk<'t>,
    /// The object's node; `None` when no path goes inside.
    node: Option<usize>,
    /// The node of the map entry whose key was just given.
    pending: Option<usize>,
}

impl<'w, 't> Fields<'w, 't> {
    fn under(walk: &'w mut Walk<'t>, node: Option<usize>) -> Self {
        Self {
            walk,
            node,
            pending: None,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        match self.node.and_then(|node| self.walk.child(node, key)) {
            Some(child) => self.walk.visit(child, value),
            None => Ok(()),
        }
    }
}

impl SerializeMap for Fields<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending = match self.node {
            Some(node) => {
                let walk = &*self.walk;
                key.serialize(KeyStr(|k: &str| walk.child(node, k)))?
            }
            None => None,
        };
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match self.pending.take() {
            Some(child) => self.walk.visit(child, value),
            None => Ok(()),
        }
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl SerializeStruct for Fields<'_, '_> {
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
        Ok(())
    }
}

impl SerializeStructVariant for Fields<'_, '_> {
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
        Ok(())
    }
}

/// The elements of an array: no object keys lead into them.
struct Skip;

macro_rules! skip_elements {
    ($($trait:ident :: $method:ident),*) => {
        $(impl $trait for Skip {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Error> {
                Ok(())
            }

            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        })*
    };
}

skip_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Hands a map key to `F` as the string `to_value` would make of it; keys
/// that `to_value` would turn into strings from numbers or bools are
/// refused rather than formatted.
struct KeyStr<F>(F);

fn not_a_string() -> Error {
    Error::custom("a map key that is not a string: read it from the Value")
}

macro_rules! not_a_string {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<R, Error> {
            Err(not_a_string())
        })*
    };
}

impl<R, F: FnOnce(&str) -> R> Serializer for KeyStr<F> {
    type Ok = R;
    type Error = Error;
    type SerializeSeq = Impossible<R, Error>;
    type SerializeTuple = Impossible<R, Error>;
    type SerializeTupleStruct = Impossible<R, Error>;
    type SerializeTupleVariant = Impossible<R, Error>;
    type SerializeMap = Impossible<R, Error>;
    type SerializeStruct = Impossible<R, Error>;
    type SerializeStructVariant = Impossible<R, Error>;

    fn serialize_str(self, key: &str) -> Result<R, Error> {
        Ok((self.0)(key))
    }

    fn serialize_char(self, key: char) -> Result<R, Error> {
        Ok((self.0)(key.encode_utf8(&mut [0; 4])))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<R, Error> {
        Ok((self.0)(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<R, Error> {
        value.serialize(self)
    }

    not_a_string!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_none(self) -> Result<R, Error> {
        Err(not_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<R, Error> {
        Err(not_a_string())
    }

    fn serialize_unit(self) -> Result<R, Error> {
        Err(not_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<R, Error> {
        Err(not_a_string())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_string())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_string())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_string())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_string())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_string())
    }
}

/// Wraps a serializer so that it writes what it would write for the
/// `serde_json::Value` of the data: `f32` widened to `f64`, 128-bit
/// integers only within 64 bits, and an object's keys written once each
/// (a repeat, which the `Value` would have merged, is an error).
struct Exact<S>(S);

/// `Serialize` for a value inside an [`Exact`] one.
struct Wrap<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Exact(serializer))
    }
}

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
            self.0.$method(v)
        })*
    };
}

impl<S: Serializer> Serializer for Exact<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Exact<S::SerializeSeq>;
    type SerializeTuple = Exact<S::SerializeTuple>;
    type SerializeTupleStruct = Exact<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Exact<S::SerializeTupleVariant>;
    type SerializeMap = Unique<S::SerializeMap>;
    type SerializeStruct = Unique<S::SerializeStruct>;
    type SerializeStructVariant = Unique<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    /// `to_value` stores an `f32` as the `f64` it converts to.
    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        self.0.serialize_f64(f64::from(v))
    }

    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        if let Ok(v) = u64::try_from(v) {
            self.0.serialize_u64(v)
        } else if let Ok(v) = i64::try_from(v) {
            self.0.serialize_i64(v)
        } else {
            Err(S::Error::custom("number out of range"))
        }
    }

    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        match u64::try_from(v) {
            Ok(v) => self.0.serialize_u64(v),
            Err(_) => Err(S::Error::custom("number out of range")),
        }
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Wrap(value))
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Wrap(value))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Wrap(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Exact)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Exact)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Exact)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0
            .serialize_tuple_variant(name, index, variant, len)
            .map(Exact)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Unique::new)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len).map(Unique::new)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0
            .serialize_struct_variant(name, index, variant, len)
            .map(Unique::new)
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! exact_elements {
    ($($trait:ident :: $method:ident),*) => {
        $(impl<C: $trait> $trait for Exact<C> {
            type Ok = C::Ok;
            type Error = C::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                self.0.$method(&Wrap(value))
            }

            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        })*
    };
}

exact_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// An object being written inside an [`Exact`] value, with the keys seen.
struct Unique<C> {
    inner: C,
    seen: Seen,
}

impl<C> Unique<C> {
    fn new(inner: C) -> Self {
        Self {
            inner,
            seen: Seen::default(),
        }
    }

    /// `Ok` when no earlier key of this object had the key hash `hash`.
    fn first_time<E: ser::Error>(&mut self, hash: u64) -> Result<(), E> {
        if self.seen.insert(hash) {
            Ok(())
        } else {
            Err(E::custom("a repeated object key: read it from the Value"))
        }
    }
}

impl<C: SerializeMap> SerializeMap for Unique<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        let hash = key.serialize(KeyStr(fnv1a)).map_err(C::Error::custom)?;
        self.first_time(hash)?;
        self.inner.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&Wrap(value))
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStruct> SerializeStruct for Unique<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        self.first_time(fnv1a(key))?;
        self.inner.serialize_field(key, &Wrap(value))
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStructVariant> SerializeStructVariant for Unique<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        self.first_time(fnv1a(key))?;
        self.inner.serialize_field(key, &Wrap(value))
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

/// Hashes of the keys of one object. A collision reads as a repeat and so
/// only costs the fall-back to the `Value`; objects of up to eight keys
/// (nearly all) need no allocation.
#[derive(Default)]
struct Seen {
    first: [u64; 8],
    len: usize,
    rest: Vec<u64>,
}

impl Seen {
    /// Adds `hash`; `false` when it was there already.
    fn insert(&mut self, hash: u64) -> bool {
        let inline = self.len.min(self.first.len());
        if self.first[..inline].contains(&hash) || self.rest.contains(&hash) {
            return false;
        }
        match self.first.get_mut(self.len) {
            Some(free) => *free = hash,
            None => self.rest.push(hash),
        }
        self.len += 1;
        true
    }
}

/// 64-bit FNV-1a: cheap on the short keys of an input.
fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use jurisgate_attribution::{Approval, Requester, RequesterKind, Source, Subject};
    use proptest::prelude::*;
    use serde::ser::SerializeMap;
    use serde_json::{Value, json};

    use super::*;
    use crate::footprint::lookup;
    use crate::{Destination, PolicyInput, RequestFacts, Resource};

    /// What `lookup` finds at `path` of `input`'s `Value`, written compact.
    fn expected(value: &Value, path: &[String]) -> Option<Vec<u8>> {
        lookup(value, path).map(|v| serde_json::to_vec(v).unwrap())
    }

    /// Extracts `paths` from `input` (values, then presence) and checks
    /// both against `lookup` on `serde_json::to_value(input)`.
    pub(crate) fn assert_agrees<T: Serialize + ?Sized>(input: &T, paths: &[InputPath]) {
        let value = serde_json::to_value(input).unwrap();
        let values = PathTree::values(paths);
        let found = values.extract(input).unwrap();
        let presence = PathTree::presence(paths);
        let present = presence.extract(input).unwrap();
        for (i, path) in paths.iter().enumerate() {
            let want = expected(&value, path);
            let got = found.get(values.slots()[i]).map(<[u8]>::to_vec);
            assert_eq!(
                got.as_deref().map(String::from_utf8_lossy),
                want.as_deref().map(String::from_utf8_lossy),
                "value at {path:?} of {value}"
            );
            assert_eq!(
                present.get(presence.slots()[i]).is_some(),
                want.is_some(),
                "presence of {path:?} in {value}"
            );
        }
    }

    /// Every object-key path of `value` (each prefix included), each also
    /// with a key that is not there, and a key into each non-object.
    fn paths_of(value: &Value) -> Vec<InputPath> {
        fn walk(value: &Value, at: &mut InputPath, out: &mut Vec<InputPath>) {
            out.push(at.clone());
            let mut beyond = at.clone();
            beyond.push("absent".into());
            out.push(beyond);
            if let Value::Object(map) = value {
                for (k, v) in map {
                    at.push(k.clone());
                    walk(v, at, out);
                    at.pop();
                }
            } else {
                let mut into = at.clone();
                into.push("0".into());
                out.push(into);
            }
        }
        let mut out = Vec::new();
        walk(value, &mut Vec::new(), &mut out);
        out
    }

    #[derive(Serialize)]
    struct Inner {
        name: String,
        n: u8,
    }

    fn inner(name: &str) -> Inner {
        Inner {
            name: name.into(),
            n: 7,
        }
    }

    #[derive(Serialize)]
    struct Wrapper(Inner);

    #[derive(Serialize)]
    struct Nothing;

    #[derive(Serialize)]
    enum Kind {
        Unit,
        Newtype(Inner),
        Tuple(u8, String),
        Struct { a: u8, b: Inner },
    }

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Tagged {
        Struct { x: u8 },
        Newtype(Inner),
    }

    #[derive(Serialize)]
    struct Flattened {
        flat_a: Inner,
        flat_b: Option<String>,
    }

    /// A bit of every shape serde gives JSON.
    #[derive(Serialize)]
    struct Everything {
        plain: Inner,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<Inner>,
        none: Option<Inner>,
        some: Option<Inner>,
        unit: (),
        nothing: Nothing,
        wrapped: Wrapper,
        kinds: [Kind; 4],
        unit_kind: Kind,
        newtype_kind: Kind,
        struct_kind: Kind,
        tagged: Vec<Tagged>,
        tagged_struct: Tagged,
        tagged_newtype: Tagged,
        float: f32,
        double: f64,
        not_a_number: f64,
        big: i128,
        letters: BTreeMap<char, String>,
        list: Vec<Inner>,
        pair: (u8, Inner),
        bytes: serde_bytes_like::Bytes,
        #[serde(flatten)]
        flat: Flattened,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
        text: String,
    }

    /// Bytes serialised with `serialize_bytes` (not a sequence).
    mod serde_bytes_like {
        pub(super) struct Bytes(pub(super) Vec<u8>);

        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    fn everything() -> Everything {
        Everything {
            plain: inner("plain"),
            skipped: None,
            none: None,
            some: Some(inner("some")),
            unit: (),
            nothing: Nothing,
            wrapped: Wrapper(inner("wrapped")),
            kinds: [
                Kind::Unit,
                Kind::Newtype(inner("newtype")),
                Kind::Tuple(1, "t".into()),
                Kind::Struct {
                    a: 2,
                    b: inner("b"),
                },
            ],
            unit_kind: Kind::Unit,
            newtype_kind: Kind::Newtype(inner("nt")),
            struct_kind: Kind::Struct {
                a: 3,
                b: inner("sb"),
            },
            tagged: vec![Tagged::Struct { x: 1 }],
            tagged_struct: Tagged::Struct { x: 4 },
            tagged_newtype: Tagged::Newtype(inner("tn")),
            float: 0.1,
            double: 0.1,
            not_a_number: f64::NAN,
            big: -(1 << 62),
            letters: [('a', "x".into()), ('\u{e9}', "y".into())].into(),
            list: vec![inner("l0"), inner("l1")],
            pair: (5, inner("pair")),
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
            flat: Flattened {
                flat_a: inner("flat"),
                flat_b: None,
            },
            extra: [
                ("extra".to_string(), json!({"deep": {"er": [1, "two"]}})),
                ("quote\"d \u{1}".to_string(), json!("\u{1f600}\n")),
            ]
            .into(),
            text: "tab\t\"quote\" \\ \u{0} \u{2028} \u{1f600}".into(),
        }
    }

    #[test]
    fn every_shape_reads_as_its_value() {
        let input = everything();
        let value = serde_json::to_value(&input).unwrap();
        // A path to a tuple or struct variant's name cannot be written (see
        // the next tests); every other one can.
        let paths: Vec<_> = paths_of(&value)
            .into_iter()
            .filter(|p| !p.last().is_some_and(|k| k == "Tuple" || k == "Struct"))
            .collect();
        assert!(paths.len() > 100, "{}", paths.len());
        assert_agrees(&input, &paths);
        // Spot checks of what the comparison covers.
        let spots: [(&[&str], Option<&str>); 5] = [
            (&["float"], Some("0.10000000149011612")),
            (
                &["struct_kind", "Struct", "b"],
                Some(r#"{"name":"sb","n":7}"#),
            ),
            (&["flat_a", "name"], Some(r#""flat""#)),
            (&["skipped"], None),
            (&["none"], Some("null")),
        ];
        let paths: Vec<InputPath> = spots
            .iter()
            .map(|(p, _)| p.iter().map(ToString::to_string).collect())
            .collect();
        let tree = PathTree::values(&paths);
        let found = tree.extract(&input).unwrap();
        for ((path, want), &slot) in spots.iter().zip(tree.slots()) {
            assert_eq!(found.get(slot), want.map(str::as_bytes), "{path:?}");
        }
    }

    /// A map that repeats keys, as a hand-written `Serialize` or a flatten
    /// clash can.
    struct Repeats;

    impl Serialize for Repeats {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("a", &json!({"b": 1}))?;
            map.serialize_entry("c", &1)?;
            map.serialize_entry("a", "x")?;
            map.serialize_entry("d", "y")?;
            map.serialize_entry("d", &json!({"e": 2}))?;
            map.end()
        }
    }

    #[test]
    fn a_repeated_key_counts_with_its_last_value() {
        let paths: Vec<InputPath> = [&["a"][..], &["a", "b"], &["c"], &["d"], &["d", "e"]]
            .iter()
            .map(|p| p.iter().map(ToString::to_string).collect())
            .collect();
        assert_agrees(&Repeats, &paths);
        let tree = PathTree::values(&paths);
        let found = tree.extract(&Repeats).unwrap();
        assert_eq!(
            found.get(tree.slots()[1]),
            None,
            "a.b went with the first `a`"
        );
        assert_eq!(found.get(tree.slots()[4]), Some(&b"2"[..]));
        // Written whole, the object would repeat keys the Value merged.
        assert!(PathTree::values(&[vec![]]).extract(&Repeats).is_err());
        let nested: BTreeMap<&str, Repeats> = [("r", Repeats)].into();
        assert!(PathTree::values(&[vec![]]).extract(&nested).is_err());
        assert!(
            PathTree::values(&[vec!["r".into()]])
                .extract(&nested)
                .is_err()
        );
    }

    #[test]
    fn what_cannot_be_read_exactly_is_an_error_not_a_guess() {
        let numbered: BTreeMap<u32, &str> = [(1, "one")].into();
        let input = json!({"numbered": numbered, "kept": 1});
        let tree = PathTree::values(&[vec!["numbered".into(), "1".into()]]);
        assert!(tree.extract(&input).is_ok(), "a Value's keys are strings");
        let typed: BTreeMap<&str, BTreeMap<u32, &str>> = [("numbered", numbered)].into();
        assert!(tree.extract(&typed).is_err());
        // Off the paths, such a map is never looked at.
        assert_agrees(&typed, &[vec!["kept".into()], vec!["other".into()]]);

        // A tuple or struct variant's content arrives in pieces: its
        // presence is known, its value is left to the Value.
        for (kind, name) in [
            (Kind::Tuple(1, "t".into()), "Tuple"),
            (
                Kind::Struct {
                    a: 1,
                    b: inner("b"),
                },
                "Struct",
            ),
        ] {
            let input: BTreeMap<_, _> = [("k", kind)].into();
            let at_variant = vec!["k".to_string(), name.to_string()];
            let one = std::slice::from_ref(&at_variant);
            assert!(PathTree::values(one).extract(&input).is_err(), "{name}");
            let present = PathTree::presence(one).extract(&input).unwrap();
            assert!(present.get(0).is_some(), "{name}");
            // Written whole from above, or read below, the variant is fine.
            assert_agrees(
                &input,
                &[
                    vec!["k".into()],
                    vec!["k".into(), name.into(), "b".into()],
                    vec!["k".into(), name.into(), "0".into()],
                ],
            );
        }
    }

    #[test]
    fn repeated_and_nested_paths_share_one_walk() {
        let input = everything();
        let paths: Vec<InputPath> = vec![
            vec!["plain".into(), "name".into()],
            vec![],
            vec!["plain".into()],
            vec!["plain".into(), "name".into()],
            vec!["absent".into()],
        ];
        let tree = PathTree::values(&paths);
        assert_eq!(tree.slots()[0], tree.slots()[3]);
        assert_agrees(&input, &paths);
    }

    /// Field names of the input, keys of its maps, and junk.
    const KEYS: [&str; 36] = [
        "request",
        "subject",
        "requester",
        "resource",
        "destinations",
        "time",
        "id",
        "method",
        "host",
        "path",
        "query",
        "headers",
        "jurisdiction",
        "source",
        "verified",
        "pseudonym",
        "kind",
        "org",
        "location",
        "approval",
        "scope",
        "expires",
        "route",
        "service",
        "data_class",
        "pool",
        "region",
        "healthy",
        "page",
        "accept",
        "0",
        "",
        "a\"b",
        "\u{e9}",
        "user",
        "jwt",
    ];

    /// Strings with what JSON must escape, non-ASCII, and control characters.
    pub(crate) fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{0,6}",
            "[\"\\\\/\u{0}-\u{1f}\u{7f}a\u{e9}\u{2028}\u{1f600} ]{0,8}",
            any::<String>(),
            prop::sample::select(&KEYS[..]).prop_map(String::from),
        ]
    }

    /// A key of a path: mostly real names, sometimes anything.
    pub(crate) fn input_path() -> impl Strategy<Value = InputPath> {
        let key = prop_oneof![
            4 => prop::sample::select(&KEYS[..]).prop_map(String::from),
            1 => text(),
        ];
        prop::collection::vec(key, 0..4)
    }

    fn source() -> impl Strategy<Value = Source> {
        prop::sample::select(vec![
            Source::Jwt,
            Source::SignedHeader,
            Source::Directory,
            Source::Mtls,
            Source::Geoip,
            Source::None,
        ])
    }

    fn maybe_text() -> impl Strategy<Value = Option<String>> {
        prop::option::of(text())
    }

    fn request() -> impl Strategy<Value = RequestFacts> {
        (
            text(),
            text(),
            text(),
            text(),
            prop::collection::btree_map(text(), prop::collection::vec(text(), 0..3), 0..3),
            prop::collection::btree_map(text(), text(), 0..3),
        )
            .prop_map(|(id, method, host, path, query, headers)| RequestFacts {
                id,
                method,
                host,
                path,
                query,
                headers,
            })
    }

    fn subject() -> impl Strategy<Value = Subject> {
        (text(), source(), any::<bool>(), maybe_text()).prop_map(
            |(jurisdiction, source, verified, pseudonym)| Subject {
                jurisdiction,
                source,
                verified,
                pseudonym,
            },
        )
    }

    fn requester() -> impl Strategy<Value = Requester> {
        let kind = prop::sample::select(vec![
            RequesterKind::User,
            RequesterKind::Service,
            RequesterKind::Employee,
            RequesterKind::Unknown,
        ]);
        let approval = prop::option::of((text(), text(), text(), any::<bool>()).prop_map(
            |(id, scope, expires, verified)| Approval {
                id,
                scope,
                expires,
                verified,
            },
        ));
        (
            kind,
            maybe_text(),
            maybe_text(),
            maybe_text(),
            source(),
            any::<bool>(),
            approval,
        )
            .prop_map(
                |(kind, id, org, location, source, verified, approval)| Requester {
                    kind,
                    id,
                    org,
                    location,
                    source,
                    verified,
                    approval,
                },
            )
    }

    /// Random policy inputs: every optional field present or not, random
    /// maps and destinations, strings JSON must escape.
    pub(crate) fn policy_input() -> impl Strategy<Value = PolicyInput> {
        let resource = (text(), text(), text()).prop_map(|(route, service, data_class)| Resource {
            route,
            service,
            data_class,
        });
        let destination =
            (text(), text(), any::<bool>()).prop_map(|(pool, region, healthy)| Destination {
                pool,
                region,
                healthy,
            });
        (
            request(),
            subject(),
            requester(),
            resource,
            prop::collection::vec(destination, 0..4),
            text(),
        )
            .prop_map(
                |(request, subject, requester, resource, destinations, time)| PolicyInput {
                    request,
                    subject,
                    requester,
                    resource,
                    destinations,
                    time,
                },
            )
    }

    /// An input with paths into it: some that are there (map keys with
    /// random text included), some made up.
    fn input_and_paths() -> impl Strategy<Value = (PolicyInput, Vec<InputPath>)> {
        policy_input().prop_flat_map(|input| {
            let real = paths_of(&serde_json::to_value(&input).unwrap());
            let path = prop_oneof![prop::sample::select(real), input_path()];
            (Just(input), prop::collection::vec(path, 0..12))
        })
    }

    proptest! {
        // The typed walk and `lookup` on the Value agree on every path, in
        // bytes and in presence.
        #[test]
        fn typed_reads_equal_value_lookups((input, paths) in input_and_paths()) {
            assert_agrees(&input, &paths);
        }
    }
}
