//! The abstract syntax tree of one `.seam` file.
//!
//! This is the contract between the parser (`syntax::parse`) and every later stage. Names are
//! still unresolved here: a [`Path`] is just dotted identifiers; `resolve` turns them into
//! catalogue references. Every node carries the [`Span`] of the text it came from, so any stage
//! can point a diagnostic at it. Literals keep the text as written (`text`) so `fmt` can print
//! them back unchanged.

use crate::span::Span;
use compact_str::CompactString;

/// An identifier as written, with its span. The name is a [`CompactString`]: names of up to
/// 24 bytes (all but the rarest) live inside the node, so parsing a large spec does not make
/// one heap allocation per name (at 100,000 mappings, over a million).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: CompactString,
    pub span: Span,
}

/// A dotted path: `sf.Case.Subject`, `sf.Case.Account.Tier__c`, `bridge`, `dead_letter`.
/// INVARIANT: `segments` is never empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

/// A whole file. `items` are in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct SeamFile {
    pub items: Vec<Item>,
    /// `//` comments, in source order (the formatter puts them back; checks ignore them).
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The text after `//`, without the line break.
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Seam(SeamDecl),
    System(SystemDecl),
    Object(ObjectDecl),
    Identity(IdentityDecl),
    Own(OwnDecl),
    Link(LinkDecl),
    Workflow(WorkflowDecl),
    Policy(PolicyDecl),
}

impl Item {
    /// The span of the whole declaration.
    pub fn span(&self) -> Span {
        match self {
            Item::Seam(d) => d.span,
            Item::System(d) => d.span,
            Item::Object(d) => d.span,
            Item::Identity(d) => d.span,
            Item::Own(d) => d.span,
            Item::Link(d) => d.span,
            Item::Workflow(d) => d.span,
            Item::Policy(d) => d.span,
        }
    }
}

/// `seam NAME`
#[derive(Clone, Debug, PartialEq)]
pub struct SeamDecl {
    pub name: Ident,
    pub span: Span,
}

/// `system ALIAS: KIND { setting = value ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct SystemDecl {
    pub alias: Ident,
    pub kind: Ident,
    pub settings: Vec<Setting>,
    pub span: Span,
}

/// `name = value` inside a `system` block (and unknown policy settings).
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `object ALIAS.Object { Field: type [unique] [from(a, b)] ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectDecl {
    pub system: Ident,
    pub object: Ident,
    pub fields: Vec<FieldDecl>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    /// The span of the `unique` modifier, when present.
    pub unique: Option<Span>,
    /// `from(a, b)`: a derived field computed from these fields of the same record.
    pub derived_from: Option<Vec<Ident>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `text` or `text(N)`
    Text(Option<u32>),
    Number,
    Bool,
    Datetime,
    Id,
    /// `ref(Object)`
    Ref(Ident),
    /// `picklist("a", "b")`
    Picklist(Vec<StrLit>),
}

/// `identity NAME = A.Obj.key <-> B.Obj.key`
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityDecl {
    pub name: Ident,
    pub left: Path,
    pub right: Path,
    pub span: Span,
}

/// `own ALIAS { Object.field, Object.* ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct OwnDecl {
    pub system: Ident,
    pub entries: Vec<OwnEntry>,
    pub span: Span,
}

/// `Object.field` or `Object.*`
#[derive(Clone, Debug, PartialEq)]
pub struct OwnEntry {
    pub object: Ident,
    pub field: OwnField,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OwnField {
    Named(Ident),
    /// `*`, with the span of the star.
    All(Span),
}

/// `link NAME: A.Obj <-> B.Obj { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct LinkDecl {
    pub name: Ident,
    pub left: Path,
    pub right: Path,
    pub items: Vec<LinkItem>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LinkItem {
    /// `key A.Obj.f <-> B.Obj.g`
    Key(LinkKey),
    /// `open B.Obj when CONDITION` (boxed: a link has one or two, and its condition would
    /// otherwise make every item, mappings included, as large as itself)
    Open(Box<OpenRule>),
    /// `A.Obj.f -> B.Obj.g [map {...}] [via IDENTITY]`
    Mapping(Mapping),
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkKey {
    pub left: Path,
    pub right: Path,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OpenRule {
    pub target: Path,
    pub condition: Cond,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub source: Path,
    pub target: Path,
    pub map: Option<ValueMap>,
    pub via: Option<Ident>,
    pub span: Span,
}

/// `map { "a" => "x" ... _ => "y" }`
#[derive(Clone, Debug, PartialEq)]
pub struct ValueMap {
    pub arms: Vec<MapArm>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapArm {
    pub pattern: MapPattern,
    pub value: Literal,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MapPattern {
    Value(Literal),
    /// `_`, with its span.
    Default(Span),
}

/// `workflow NAME { on ... when ... do { ... } }`
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowDecl {
    pub name: Ident,
    pub trigger: Trigger,
    pub guard: Option<Cond>,
    pub steps: Vec<Step>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// `on PATH becomes VALUE`
    Becomes {
        path: Path,
        value: Literal,
        span: Span,
    },
    /// `on PATH changes`
    Changes { path: Path, span: Span },
    /// `on A.Obj created`
    Created { object: Path, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// `open B.Obj via LINK`
    Open {
        target: Path,
        link: Ident,
        span: Span,
    },
    /// `SYS.create Object { f = expr ... }`
    Create(RecordWrite),
    /// `SYS.update Object [via LINK] { f = expr ... }`
    Update(RecordWrite),
    /// `let NAME = SYS.action(arg = expr, ...)`
    Let { name: Ident, call: Call, span: Span },
    /// `SYS.action(arg = expr, ...)`
    Call(Call),
}

/// The body of `SYS.create Object { ... }` and `SYS.update Object [via LINK] { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordWrite {
    pub system: Ident,
    pub object: Ident,
    /// Only for `update`: the link through which the twin is found.
    pub via: Option<Ident>,
    pub assignments: Vec<Assignment>,
    pub span: Span,
}

/// `field = expr`
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub field: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `SYS.action(arg = expr, ...)`
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub system: Ident,
    pub action: Ident,
    pub args: Vec<NamedArg>,
    pub span: Span,
}

/// `name = expr` inside `( )`.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArg {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// A value: in settings, assignments and call arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Literal),
    Path(Path),
    /// `env("VAR")`
    Env {
        var: StrLit,
        span: Span,
    },
    /// `fn(arg = expr, ...)` with a bare function name, e.g. `basic(user = env("U"), ...)`.
    Func {
        name: Ident,
        args: Vec<NamedArg>,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Literal(l) => l.span,
            Expr::Path(p) => p.span,
            Expr::Env { span, .. } | Expr::Func { span, .. } => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    pub kind: LitKind,
    /// The literal exactly as written (quotes included for strings).
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LitKind {
    Str(StrLit),
    /// Signed integer or decimal, as written (`-5`, `2.5`).
    Number(f64),
    Bool(bool),
    Duration(Duration),
}

/// A string literal. `value` has the escapes (`\"`, `\\`, `\n`) resolved; `raw` is the text
/// between the quotes as written, which template parsing works on so that interpolations keep
/// exact spans.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub raw: String,
    pub span: Span,
}

/// `500ms`, `30s`, `5m`, `2h`, `1d`
#[derive(Clone, Debug, PartialEq)]
pub struct Duration {
    pub millis: u64,
    pub span: Span,
}

/// A condition: `open ... when`, workflow guards, `alert ... when`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Compare {
        left: Operand,
        op: CmpOp,
        right: Operand,
        span: Span,
    },
    /// `operand in ["a", "b"]`
    In {
        left: Operand,
        list: Vec<Literal>,
        span: Span,
    },
    And(Box<Cond>, Box<Cond>, Span),
    Or(Box<Cond>, Box<Cond>, Span),
    Not(Box<Cond>, Span),
    /// `( cond )`, kept so `fmt` can print the author's parentheses back.
    Group(Box<Cond>, Span),
}

impl Cond {
    pub fn span(&self) -> Span {
        match self {
            Cond::Compare { span, .. }
            | Cond::In { span, .. }
            | Cond::And(_, _, span)
            | Cond::Or(_, _, span)
            | Cond::Not(_, span)
            | Cond::Group(_, span) => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Path(Path),
    Literal(Literal),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Path(p) => p.span,
            Operand::Literal(l) => l.span,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// `policy { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDecl {
    pub items: Vec<PolicyItem>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PolicyItem {
    /// `retry = N attempts[, backoff D .. D]`
    Retry {
        attempts: u32,
        attempts_span: Span,
        backoff: Option<(Duration, Duration)>,
        span: Span,
    },
    /// `dead_letter = after retry`
    DeadLetter { span: Span },
    /// `alert STEP when CONDITION`
    Alert {
        call: Call,
        condition: Cond,
        span: Span,
    },
    /// `reconcile = every D`
    Reconcile { every: Duration, span: Span },
    /// Any other `name = value`: reported by `resolve` as `seam::name::unknown`.
    Unknown(Setting),
}

/// A template string (workflow step strings and alert texts): text and `{...}` holes.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Text(String),
    /// `{path}`: a field path, a `let` name or a policy metric.
    Hole(Path),
}
