//! Project VIC VICS JSON (1.2, 1.3, 2.0), streamed one `Media` item at a time.
//!
//! Shape: `{"odata.metadata" | "@odata.context": URL, "value": [Case, …]}` with each Case
//! holding `"Media": [item, …]`. In 1.x an item carries `MD5`, `SHA1`, `PhotoDNA` itself; in
//! 2.0 they sit in the item's `MediaFiles` array (each file is a record of its own). The
//! profile segment of the context URL (`…/US/$metadata#Cases` -> `US`; none -> `Default`)
//! names the label scheme `vics-<profile>`, whose value is the item's `Category`.
//!
//! Only one item is held in memory at a time, so a multi-gigabyte export streams. Lines are
//! counted under the JSON parser, so each record carries the line where its item ends.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{algorithm_of_name, norm_name, Ctx, Label, RejectReason};
use crate::error::{Error, Result};

/// Counts newlines in the bytes the JSON parser has consumed.
struct LineCount<R> {
    inner: R,
    lines: Rc<Cell<u64>>,
}

impl<R: Read> Read for LineCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let nl = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.lines.set(self.lines.get() + nl);
        Ok(n)
    }
}

struct State<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    /// The real error behind a serde "aborted" error (a sink failure, a strict reject).
    err: Option<Error>,
    lines: Rc<Cell<u64>>,
    scheme: String,
}

pub(super) fn read_vics(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    let lines = Rc::new(Cell::new(0));
    let mut state = State {
        ctx,
        err: None,
        lines: lines.clone(),
        scheme: "vics-Default".to_string(),
    };
    let mut de = serde_json::Deserializer::from_reader(LineCount { inner: r, lines });
    let res = Top(&mut state).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = state.err.take() {
        return Err(e);
    }
    res.map_err(|e| state.ctx.fail(format!("not VICS JSON: {e}")))
}

/// Stops deserialisation, keeping the real error for `read_vics` to return.
fn abort<E: de::Error>(state: &mut State<'_, '_>, e: Error) -> E {
    state.err = Some(e);
    E::custom("import aborted")
}

/// The profile named in a context URL: the path segment before `$metadata`, if it is a plain
/// word (`US`, `UK`, `CUSTOM`, `Default`) rather than a version or a repository segment.
pub(super) fn profile_of(url: &str) -> String {
    let segs: Vec<&str> = url.split('/').collect();
    let meta = segs.iter().position(|s| s.starts_with("$metadata"));
    if let Some(i) = meta.filter(|&i| i > 0) {
        let p = segs[i - 1];
        let known_not = ["vics", "projectvic", "datamodels", "odata", ""];
        if p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !p.chars().next().is_some_and(|c| c.is_ascii_digit())
            && !known_not.contains(&p.to_ascii_lowercase().as_str())
        {
            return p.to_string();
        }
    }
    "Default".to_string()
}

struct Top<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a VICS JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "odata.metadata" | "@odata.context" => {
                    let url: String = map.next_value()?;
                    self.0.scheme = format!("vics-{}", profile_of(&url));
                }
                "value" => map.next_value_seed(Cases(self.0))?,
                "Media" => map.next_value_seed(Items(self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Cases<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> DeserializeSeed<'de> for Cases<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Cases<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of VICS cases")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Case(self.0))?.is_some() {}
        Ok(())
    }
}

struct Case<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> DeserializeSeed<'de> for Case<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Case<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a VICS case object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key.eq_ignore_ascii_case("media") {
                map.next_value_seed(Items(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Items<'s, 'c, 'a>(&'s mut State<'c, 'a>);

impl<'de> DeserializeSeed<'de> for Items<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of VICS media items")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            let line = self.0.lines.get() + 1;
            if let Err(e) = media_item(self.0, &item, line) {
                return Err(abort(self.0, e));
            }
        }
        Ok(())
    }
}

/// A field by case-insensitive name.
fn field<'v>(obj: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A scalar as text: strings as they are, numbers and booleans printed, `"True"` -> `true`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some("true".into()),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some("false".into()),
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Item fields carried as labels (besides the category), under the `vics` scheme name.
const ITEM_LABELS: [&str; 6] = [
    "IsPrecategorized",
    "VictimIdentified",
    "OffenderIdentified",
    "IsDistributed",
    "Series",
    "Tags",
];

fn media_item(state: &mut State<'_, '_>, item: &Value, line: u64) -> Result<()> {
    let ctx = &mut *state.ctx;
    let Some(obj) = item.as_object() else {
        return ctx.reject(RejectReason::Malformed, line, "Media item is not an object");
    };
    let id = field(obj, "MediaID").and_then(text).unwrap_or_default();
    let mut base = Vec::new();
    if let Some(c) = field(obj, "Category").and_then(text) {
        base.push(Label::new(state.scheme.clone(), c));
    }
    for name in ITEM_LABELS {
        if let Some(v) = field(obj, name).and_then(text) {
            if !v.is_empty() {
                base.push(Label::new(format!("vics:{name}"), v));
            }
        }
    }
    // 2.0 nests the hashes in MediaFiles; 1.x keeps them on the item.
    let holders: Vec<&serde_json::Map<String, Value>> = match field(obj, "MediaFiles") {
        Some(Value::Array(files)) => files.iter().filter_map(Value::as_object).collect(),
        _ => vec![obj],
    };
    if holders.is_empty() {
        return ctx.reject(
            RejectReason::WrongAlgorithm,
            line,
            format!("item {id:?} has no MediaFiles"),
        );
    }
    let target = ctx.opts.algorithm;
    for h in holders {
        let mut hash = None;
        let mut labels = base.clone();
        let mut note = String::new();
        for (k, v) in h {
            let Some(t) = text(v) else { continue };
            if t.is_empty() {
                continue;
            }
            let kn = norm_name(k);
            if kn == "photodna" {
                // Carried through, never computed or matched.
                labels.push(Label::new("photodna", t));
            } else if let Some(a) = algorithm_of_name(k) {
                if a == target {
                    hash = Some(t);
                } else {
                    labels.push(Label::new(a.name(), t));
                }
            } else if kn == "filename" || kn == "name" {
                note = t;
            }
        }
        match hash {
            Some(hx) => ctx.emit(&hx, line, id.clone(), labels, note)?,
            None => ctx.reject(
                RejectReason::WrongAlgorithm,
                line,
                format!("item {id:?} has no {target} hash"),
            )?,
        }
    }
    Ok(())
}
