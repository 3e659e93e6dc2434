//! Field definitions and name resolution. `resolve` does all the string work once, at
//! compile time; the resulting [`Field`] extracts with a `match` on a small enum.

use super::value::{Borrowed, FieldType, Value};
use super::{container, evt, fd, proc, user};
use peregrine_event::{Event, EventType, ParamKind};
use regex::Regex;
use std::sync::{Arc, OnceLock};

/// Which argument a field takes, and how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSpec {
    None,
    /// A number in brackets: `proc.aname[2]`.
    Index {
        required: bool,
    },
    /// Any text in brackets: `proc.env[HOME]`.
    Key {
        required: bool,
    },
    /// A key after a dot, as part of the name: `container.label.app`. The bracket form
    /// `container.label[app]` is accepted too.
    DotSuffix {
        required: bool,
    },
    /// A number in brackets or a parameter name after a dot: `evt.arg[0]`, `evt.arg.flags`.
    IndexOrName {
        required: bool,
    },
    /// A number or a pattern in brackets: `container.mount.dest[0]`, `container.mount.dest[/proc*]`.
    IndexOrKey {
        required: bool,
    },
}

impl ArgSpec {
    pub fn required(self) -> bool {
        match self {
            ArgSpec::None => false,
            ArgSpec::Index { required }
            | ArgSpec::Key { required }
            | ArgSpec::DotSuffix { required }
            | ArgSpec::IndexOrName { required }
            | ArgSpec::IndexOrKey { required } => required,
        }
    }
}

/// How `!=` reads a [`Value::Any`]. Falco is not uniform here: for the ancestor fields
/// (`proc.aname`…) `!=` holds when *some* ancestor differs; for the endpoint fields
/// (`fd.ip`, `fd.port`, `fd.net`) it holds only when *every* endpoint differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyNe {
    /// `!=` holds when no candidate is equal (endpoint fields).
    NoneEqual,
    /// `!=` holds when at least one candidate differs (ancestor fields).
    SomeDiffers,
}

/// One supported field, as `peregrine list-fields` shows it.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub ftype: FieldType,
    pub desc: &'static str,
    /// Falco's field class: `evt`, `process`, `user`, `group`, `fd`, `container`, `k8s`.
    pub category: &'static str,
    pub arg: ArgSpec,
    /// Cannot be the argument of `val()` (Falco's EPF_NO_RHS).
    pub no_rhs: bool,
    /// Only meaningful in conditions, not in outputs (Falco's EPF_FILTER_ONLY).
    pub filter_only: bool,
    /// For fields that can extract [`Value::Any`]: how `!=` treats the candidates.
    pub any_ne: AnyNe,
    /// Why this field has no source yet, for a field Falco fills that Peregrine cannot:
    /// it never has a value (every check on it is false), and `list-fields` and the
    /// agent's startup warnings say so.
    pub no_source: Option<&'static str>,
    pub(crate) id: Id,
}

impl FieldDef {
    pub(crate) const fn new(
        name: &'static str,
        ftype: FieldType,
        category: &'static str,
        desc: &'static str,
        id: Id,
    ) -> FieldDef {
        FieldDef {
            name,
            ftype,
            desc,
            category,
            arg: ArgSpec::None,
            no_rhs: false,
            filter_only: false,
            any_ne: AnyNe::NoneEqual,
            no_source: None,
            id,
        }
    }

    /// A field with no source yet, and why (see [`FieldDef::no_source`]). No field needs it
    /// today: the way to declare one that Falco fills and Peregrine cannot yet.
    #[allow(dead_code)]
    pub(crate) const fn no_source(mut self, reason: &'static str) -> FieldDef {
        self.no_source = Some(reason);
        self
    }

    pub(crate) const fn arg(mut self, arg: ArgSpec) -> FieldDef {
        self.arg = arg;
        self
    }

    /// An ancestor field: optional index, `Any` of the ancestors without one, no `val()`.
    pub(crate) const fn ancestor(mut self) -> FieldDef {
        self.arg = ArgSpec::Index { required: false };
        self.no_rhs = true;
        self.any_ne = AnyNe::SomeDiffers;
        self
    }

    pub(crate) const fn no_rhs(mut self) -> FieldDef {
        self.no_rhs = true;
        self
    }

    pub(crate) const fn filter_only(mut self) -> FieldDef {
        self.filter_only = true;
        self
    }
}

/// Which extractor a definition uses: one small enum per field family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    Evt(evt::F),
    Proc(proc::F),
    Fd(fd::F),
    User(user::F),
    Container(container::F),
}

/// Every supported field.
pub fn registry() -> &'static [FieldDef] {
    static ALL: OnceLock<Vec<FieldDef>> = OnceLock::new();
    ALL.get_or_init(|| {
        [evt::DEFS, proc::DEFS, user::DEFS, fd::DEFS, container::DEFS]
            .iter()
            .flat_map(|defs| defs.iter().copied())
            .collect()
    })
}

/// Why a field reference does not resolve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldError {
    /// Falco's wording, which the loader's `skip-if-unknown-filter` handling recognises.
    #[error("filter_check called with nonexistent field {name}")]
    Unknown { name: String },
    #[error("invalid argument '{arg}' for field '{name}': {reason}")]
    BadArg {
        name: String,
        arg: String,
        reason: String,
    },
    #[error("field '{name}' requires an argument")]
    MissingArg { name: String },
    #[error("field '{name}' does not take an argument (got '{arg}')")]
    UnexpectedArg { name: String, arg: String },
}

/// The resolved argument of a field reference.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    None,
    Index(usize),
    Key(Arc<str>),
    /// `evt.arg.NAME` / `evt.rawarg.NAME`.
    Param(Arc<ParamSel>),
    EventType(EventType),
    Mount(Arc<MountSel>),
}

/// A parameter selected by name, with its index for every modelled event type, so
/// extraction is a table lookup instead of a string search.
#[derive(Debug)]
pub(crate) struct ParamSel {
    by_type: Box<[u8]>,
}

const NO_PARAM: u8 = u8::MAX;

impl ParamSel {
    fn new(name: &str) -> ParamSel {
        let by_type = EventType::all()
            .take_while(|t| t.is_modelled())
            .map(|t| {
                t.param_index(name)
                    .and_then(|i| u8::try_from(i).ok())
                    .unwrap_or(NO_PARAM)
            })
            .collect();
        ParamSel { by_type }
    }

    /// The index of this parameter in `etype`'s schema.
    pub(crate) fn index(&self, etype: EventType) -> Option<usize> {
        match self.by_type.get(etype.index()) {
            Some(&i) if i != NO_PARAM => Some(i as usize),
            _ => None,
        }
    }

    fn known(&self) -> bool {
        self.by_type.iter().any(|&i| i != NO_PARAM)
    }
}

/// A container mount picked by position or by a pattern on its source (or destination).
#[derive(Debug)]
pub(crate) enum MountSel {
    Index(usize),
    Pattern(Regex),
}

/// A resolved field reference; cheap to clone.
#[derive(Clone, Debug)]
pub struct Field {
    def: &'static FieldDef,
    name: Arc<str>,
    ftype: FieldType,
    any: bool,
    arg: Arg,
}

impl Field {
    pub fn ftype(&self) -> FieldType {
        self.ftype
    }

    pub fn def(&self) -> &'static FieldDef {
        self.def
    }

    /// The canonical text: `proc.aname[2]`, `evt.arg.flags`, `proc.env[HOME]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether extraction yields [`Value::Any`] (several candidates).
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Extracts this field from `ev` into `out`. False means the field has no value for
    /// this event (every comparison on it is then false).
    pub fn extract(&self, ev: &Event, out: &mut Value) -> bool {
        if self.def.no_source.is_some() {
            return false;
        }
        match self.def.id {
            Id::Evt(f) => evt::extract(f, &self.arg, self.ftype, ev, out),
            Id::Proc(f) => proc::extract(f, &self.arg, ev, out),
            Id::Fd(f) => fd::extract(f, ev, out),
            Id::User(f) => user::extract(f, ev, out),
            Id::Container(f) => container::extract(f, &self.arg, ev, out),
        }
    }

    /// This field's value read straight from `ev`, without copying, when the event model
    /// stores it as it is: the same value [`Field::extract`] gives, or
    /// [`Borrowed::NotBorrowable`] when it has to be computed (then use `extract`).
    /// Fields with several candidates ([`Field::is_any`]) are never borrowable.
    #[inline]
    pub fn borrow<'a>(&self, ev: &'a Event) -> Borrowed<'a> {
        if self.any {
            return Borrowed::NotBorrowable;
        }
        if self.def.no_source.is_some() {
            return Borrowed::Missing;
        }
        match self.def.id {
            Id::Evt(f) => evt::borrow(f, &self.arg, self.ftype, ev),
            Id::Proc(f) => proc::borrow(f, &self.arg, ev),
            Id::Fd(f) => fd::borrow(f, ev),
            Id::User(f) => user::borrow(f, ev),
            Id::Container(f) => container::borrow(f, &self.arg, ev),
        }
    }

    /// The field's value as [`super::Pieces`], for the text fields that join pieces with
    /// spaces (`proc.cmdline`, `proc.args`, `proc.env`); `None` for every other field.
    pub(crate) fn pieces<'a>(&self, ev: &'a Event) -> Option<super::Pieces<'a>> {
        match self.def.id {
            Id::Proc(f) if !self.any => proc::pieces(f, &self.arg, ev),
            _ => None,
        }
    }

    /// Whether this field's value depends only on the event's process snapshot and
    /// container (`ev.process`, `ev.container`), so that results on it can be kept per
    /// process (see `eval::procmemo`). Not the fields that read the event's time or
    /// thread (`proc.duration`, `thread.tid`).
    pub(crate) fn per_process(&self) -> bool {
        match self.def.id {
            Id::Proc(f) => proc::per_process(f),
            Id::User(_) => true,
            Id::Container(f) => container::per_process(f),
            Id::Evt(_) | Id::Fd(_) => false,
        }
    }

    /// Which `evt.is_open_*` flag this field is, if one: those are read together through
    /// [`super::OpenFlags`].
    pub(crate) fn open_flag(&self) -> Option<super::OpenFlag> {
        match self.def.id {
            Id::Evt(f) if !self.any => super::OpenFlag::of(f),
            _ => None,
        }
    }

    /// Whether [`Field::pieces`] reads this field.
    pub(crate) fn has_pieces(&self) -> bool {
        match self.def.id {
            Id::Proc(f) => !self.any && proc::has_pieces(f, &self.arg),
            _ => false,
        }
    }

    /// For `evt.arg.NAME` / `evt.arg[N]`: the index of the parameter it renders on events
    /// of type `t`.
    pub(crate) fn rendered_param(&self, t: EventType) -> Option<usize> {
        if self.any || !matches!(self.def.id, Id::Evt(evt::F::Arg)) {
            return None;
        }
        let idx = match &self.arg {
            Arg::Index(i) => *i,
            Arg::Param(sel) => sel.index(t)?,
            _ => return None,
        };
        (idx < t.params().len()).then_some(idx)
    }

    /// Which of `fd.name`, `fd.directory`, `fd.filename`, `fd.nameraw` this field is, if
    /// one: those are read together through [`super::PathParts`].
    pub(crate) fn path_part(&self) -> Option<super::PathPart> {
        match self.def.id {
            Id::Fd(f) if !self.any => super::PathPart::of(f),
            _ => None,
        }
    }

    /// Whether [`super::SockKey`] decides this field's value.
    pub(crate) fn on_server_side(&self) -> bool {
        match self.def.id {
            Id::Fd(f) => !self.any && super::fd::on_server_side(f),
            _ => false,
        }
    }

    /// Whether [`Field::borrow`] can give a value for some events (it may still answer
    /// [`Borrowed::NotBorrowable`] for others, e.g. `fd.name` of a failed open).
    pub fn can_borrow(&self) -> bool {
        !self.any
            && match self.def.id {
                Id::Evt(f) => evt::can_borrow(f),
                Id::Proc(f) => proc::can_borrow(f),
                Id::Fd(f) => fd::can_borrow(f),
                Id::User(_) => true,
                Id::Container(f) => container::can_borrow(f),
            }
    }

    /// [`Field::can_borrow`] for events of type `t` only: `evt.arg.X` is read in place
    /// only when X is a text parameter of `t` (a number or flags are rendered; a parameter
    /// `t` lacks is missing, which costs nothing).
    pub fn can_borrow_on(&self, t: EventType) -> bool {
        if !self.can_borrow() {
            return false;
        }
        match (self.def.id, &self.arg) {
            (Id::Evt(evt::F::Arg), arg) => {
                let idx = match arg {
                    Arg::Index(i) => Some(*i),
                    Arg::Param(sel) => sel.index(t),
                    _ => None,
                };
                match idx.and_then(|i| t.params().get(i)) {
                    Some(spec) => matches!(
                        spec.kind,
                        ParamKind::FsPath | ParamKind::FsRelPath { .. } | ParamKind::CharBuf
                    ),
                    None => true,
                }
            }
            _ => true,
        }
    }

    /// Whether this field has no value on any event of type `t` (`extract` and `borrow`
    /// always report it missing), so every check on it is false: a parameter `t` lacks
    /// (`evt.arg.newpath` on `openat`), or a field with no source yet (`fd.sip.name`).
    pub fn never_present_on(&self, t: EventType) -> bool {
        match (self.def.id, &self.arg) {
            (Id::Evt(evt::F::Arg | evt::F::RawArg), Arg::Param(sel)) => sel.index(t).is_none(),
            (Id::Evt(evt::F::Arg), Arg::Index(i)) => *i >= t.params().len(),
            _ => self.def.no_source.is_some(),
        }
    }

    /// `Some(Some(s))` when this field is a string stored in `ev`, `Some(None)` when it is
    /// missing, `None` when it cannot be borrowed as a string.
    pub fn borrow_str<'a>(&self, ev: &'a Event) -> Option<Option<&'a str>> {
        match self.borrow(ev) {
            Borrowed::Value(super::ValueRef::Str(s)) => Some(Some(s)),
            Borrowed::Missing => Some(None),
            _ => None,
        }
    }

    /// `Some(Some(n))` for a cheap integer (or boolean, as 0/1) field, `Some(None)` when it
    /// is missing, `None` when it cannot be read as an integer without extraction.
    pub fn get_int(&self, ev: &Event) -> Option<Option<i128>> {
        use super::ValueRef as R;
        match self.borrow(ev) {
            Borrowed::Value(R::U64(v)) => Some(Some(v as i128)),
            Borrowed::Value(R::I64(v)) => Some(Some(v as i128)),
            Borrowed::Value(R::Bool(b)) => Some(Some(b as i128)),
            Borrowed::Missing => Some(None),
            _ => None,
        }
    }
}

/// Resolves a field reference as written: `name` may carry a dot-style argument
/// (`evt.arg.flags`, `container.label.app`), `arg` is the bracket argument (`2` in
/// `proc.aname[2]`).
pub fn resolve(name: &str, arg: Option<&str>) -> Result<Field, FieldError> {
    let defs = registry();
    if let Some(def) = defs.iter().find(|d| d.name == name) {
        return resolve_bracket(def, arg);
    }
    // Dot-style arguments: the longest definition name that prefixes `name` at a dot.
    let dotted = defs
        .iter()
        .filter(|d| {
            matches!(
                d.arg,
                ArgSpec::DotSuffix { .. } | ArgSpec::IndexOrName { .. }
            )
        })
        .filter(|d| {
            name.len() > d.name.len() + 1
                && name.starts_with(d.name)
                && name.as_bytes()[d.name.len()] == b'.'
        })
        .max_by_key(|d| d.name.len());
    let Some(def) = dotted else {
        return Err(FieldError::Unknown {
            name: written(name, arg),
        });
    };
    if let Some(a) = arg {
        return Err(FieldError::UnexpectedArg {
            name: name.to_owned(),
            arg: a.to_owned(),
        });
    }
    let suffix = &name[def.name.len() + 1..];
    let resolved = match def.id {
        Id::Evt(f) => evt::resolve_suffix(f, suffix).map_err(|reason| FieldError::BadArg {
            name: def.name.to_owned(),
            arg: suffix.to_owned(),
            reason,
        })?,
        _ => Arg::Key(suffix.into()),
    };
    Ok(build(def, name.into(), resolved))
}

fn written(name: &str, arg: Option<&str>) -> String {
    match arg {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_owned(),
    }
}

fn resolve_bracket(def: &'static FieldDef, arg: Option<&str>) -> Result<Field, FieldError> {
    let bad = |a: &str, reason: String| FieldError::BadArg {
        name: def.name.to_owned(),
        arg: a.to_owned(),
        reason,
    };
    let Some(a) = arg else {
        if def.arg.required() {
            return Err(FieldError::MissingArg {
                name: def.name.to_owned(),
            });
        }
        return Ok(build(def, def.name.into(), Arg::None));
    };
    let resolved = match def.arg {
        ArgSpec::None => {
            return Err(FieldError::UnexpectedArg {
                name: def.name.to_owned(),
                arg: a.to_owned(),
            })
        }
        ArgSpec::Index { .. } | ArgSpec::IndexOrName { .. } => {
            Arg::Index(parse_index(a).map_err(|r| bad(a, r))?)
        }
        ArgSpec::DotSuffix { .. } if matches!(def.id, Id::Evt(_)) => {
            return Err(bad(a, format!("write it as {}.{a}", def.name)));
        }
        ArgSpec::Key { .. } | ArgSpec::DotSuffix { .. } => {
            if a.is_empty() {
                return Err(bad(a, "empty key".into()));
            }
            Arg::Key(a.into())
        }
        ArgSpec::IndexOrKey { .. } => match parse_index(a) {
            Ok(i) => Arg::Mount(Arc::new(MountSel::Index(i))),
            // Like the container plugin: the key is a regex searched in the mount path.
            Err(_) => {
                let re = Regex::new(&format!("(?m){a}")).map_err(|e| bad(a, e.to_string()))?;
                Arg::Mount(Arc::new(MountSel::Pattern(re)))
            }
        },
    };
    Ok(build(def, format!("{}[{a}]", def.name).into(), resolved))
}

fn parse_index(a: &str) -> Result<usize, String> {
    if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{a} is not a valid number"));
    }
    a.parse::<u32>()
        .map(|v| v as usize)
        .map_err(|_| format!("{a} is not a valid number"))
}

fn build(def: &'static FieldDef, name: Arc<str>, arg: Arg) -> Field {
    let ftype = match (&def.id, &arg) {
        (Id::Evt(evt::F::RawArg), Arg::Param(sel)) => evt::rawarg_type(sel),
        _ => def.ftype,
    };
    let any = match def.id {
        Id::Proc(f) => proc::is_ancestor(f) && matches!(arg, Arg::None),
        Id::Fd(f) => fd::is_any(f),
        _ => false,
    };
    Field {
        def,
        name,
        ftype,
        any,
        arg,
    }
}

/// Builds the selector for `evt.arg.NAME` / `evt.rawarg.NAME`. Names are only checked for
/// shape: a parameter Peregrine's schemas lack simply never has a value.
pub(crate) fn param_sel(name: &str, must_exist: bool) -> Result<Arg, String> {
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!("unknown event argument {name}"));
    }
    let sel = ParamSel::new(name);
    if must_exist && !sel.known() {
        return Err(format!("unknown event argument {name}"));
    }
    Ok(Arg::Param(Arc::new(sel)))
}

/// The value type of a raw parameter.
pub(crate) fn kind_type(kind: ParamKind) -> FieldType {
    match kind {
        ParamKind::Fd | ParamKind::Errno | ParamKind::Pid | ParamKind::Int | ParamKind::Dynamic => {
            FieldType::I64
        }
        ParamKind::Uid
        | ParamKind::Gid
        | ParamKind::Uint
        | ParamKind::Flags(_)
        | ParamKind::Enum(_)
        | ParamKind::Mode => FieldType::U64,
        ParamKind::AbsTime => FieldType::AbsTime,
        ParamKind::ByteBuf => FieldType::Bytes,
        ParamKind::FsPath
        | ParamKind::FsRelPath { .. }
        | ParamKind::CharBuf
        | ParamKind::StrList
        | ParamKind::SockTuple
        | ParamKind::SockAddr => FieldType::Str,
    }
}
