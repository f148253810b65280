//! Reading and validating `albkit.toml`.
//!
//! The text is parsed with `toml_edit` (which keeps the byte span of every key and value)
//! and then walked by hand, so that *every* problem in the file is reported at once:
//! unknown keys (with a "did you mean" hint), values of the wrong type, missing required
//! keys and every semantic rule. The result is either a validated [`Config`] or the list
//! of [`Problem`]s, which [`ConfigError`] renders with miette.
//!
//! The only I/O performed here is reading the file ([`load`]) and checking that each
//! function's crate directory exists inside the project root.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use toml_edit::{ImDocument, Item, TableLike, Value};

use super::fields::{self, Field, Section, Ty};
use super::rules::q;
use super::{Config, Warning};

mod alarms;
mod attach;
mod auth;
mod functions;
mod headers;
mod mtls;
mod routes;
mod sections;
mod waf;

/// Largest configuration file albkit reads.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One problem in albkit.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path: `stack.name`, `functions[0].routes[1].priority`, `network` for a
    /// whole table, empty for the file as a whole.
    pub key: String,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// What to do about it; never empty.
    pub help: String,
    /// Byte range in the source text (the value, or the key for unknown keys).
    pub span: Option<Range<usize>>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        let label = if self.key.is_empty() {
            "here".to_owned()
        } else {
            self.key.clone()
        };
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(label),
            span,
        ))))
    }
}

/// All the problems of a file, renderable with miette: a top-level message
/// "albkit.toml has N problem(s)" and each problem as a related diagnostic with its
/// labelled span, its help and its key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .inner.title)]
pub struct ConfigError {
    // Boxed: the error travels up through `Result`s and should stay small.
    inner: Box<ConfigErrorInner>,
}

#[derive(Debug)]
struct ConfigErrorInner {
    path: PathBuf,
    title: String,
    text: NamedSource<String>,
    problems: Vec<Problem>,
}

impl ConfigError {
    pub(super) fn new(path: &Path, text: String, problems: Vec<Problem>) -> Self {
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let n = problems.len();
        let title = format!("{file} has {n} problem{}", if n == 1 { "" } else { "s" });
        ConfigError {
            inner: Box::new(ConfigErrorInner {
                path: path.to_path_buf(),
                title,
                text: NamedSource::new(path.display().to_string(), text),
                problems,
            }),
        }
    }

    /// Every problem found, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.inner.problems
    }

    /// The file that was read.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Diagnostic for ConfigError {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.inner.text)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.inner.problems.iter().map(|p| p as &dyn Diagnostic),
        ))
    }
}

/// Reads and validates the file. Refuses files over 1 MiB, non-UTF-8 content and a
/// missing file, each as a single problem with key `""`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let fail = |message: String, help: &str| {
        ConfigError::new(
            path,
            String::new(),
            vec![Problem {
                key: String::new(),
                message,
                help: help.to_owned(),
                span: None,
            }],
        )
    };
    let shown = path.display();
    let too_large = |len: u64| {
        fail(
            format!("{shown} is {len} bytes; albkit reads configuration files of at most 1 MiB"),
            "check that -c points at albkit.toml and not at another file; a configuration \
             this large is almost certainly not one",
        )
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(
                format!("{shown} does not exist"),
                "run `albkit init` to create one, or pass `-c PATH`",
            ));
        }
        Err(e) => {
            return Err(fail(
                format!("cannot read {shown}: {e}"),
                "check the file's permissions, or pass another file with `-c PATH`",
            ));
        }
    };
    if meta.is_dir() {
        return Err(fail(
            format!("{shown} is a directory, not a file"),
            &format!(
                "pass the file itself: `-c {}`",
                path.join("albkit.toml").display()
            ),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Err(fail(
            format!("cannot read {shown}: {e}"),
            "check the file's permissions, or pass another file with `-c PATH`",
        ));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            return Err(fail(
                format!("{shown} is not valid UTF-8 (invalid byte at offset {at})"),
                "save the file as UTF-8 (TOML files must be UTF-8)",
            ));
        }
    };
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parse_str(&text, &root).map_err(|problems| ConfigError::new(path, text, problems))
}

/// Parses and validates text; `root` is the directory of albkit.toml (function paths are
/// relative to it; each must be a directory holding `Cargo.toml` inside `root`).
pub fn parse_str(text: &str, root: &Path) -> Result<Config, Vec<Problem>> {
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => return Err(vec![syntax_problem(text, &e)]),
    };
    let mut c = Checker {
        src: text,
        problems: Vec::new(),
        warnings: Vec::new(),
        region: None,
        attach: false,
    };
    let top = Tbl {
        t: doc.as_table(),
        path: String::new(),
        header: None,
    };
    c.check_unknown_keys(&top, &fields::TOP);
    let stack = c.stack(&top);
    c.region.clone_from(&stack.region);
    let network = c.network(&top);
    let load_balancer = c.load_balancer(&top);
    let https = c.https(&top, stack.region.as_deref(), root);
    let waf = c.waf(&top);
    let alarms = c.alarms(&top);
    let reserved = https
        .as_ref()
        .filter(|h| h.headers.cors())
        .map(|_| crate::model::headers::PREFLIGHT_PRIORITY);
    let mut priorities = Vec::new();
    let routes = c.static_routes(&top, https.is_some(), &mut priorities);
    let (root, functions) = c.functions(&top, root, reserved, priorities);

    let mut problems = c.problems;
    if let (true, Some(network), Some(load_balancer)) =
        (problems.is_empty(), network, load_balancer)
    {
        let mut warnings = c.warnings;
        warnings.sort_by_key(|w| (w.line.unwrap_or(usize::MAX), w.column));
        return Ok(Config {
            root,
            stack,
            network,
            load_balancer,
            https,
            waf,
            alarms,
            functions,
            routes: routes.unwrap_or_default(),
            warnings,
        });
    }
    // File order reads best; problems without a position go last.
    problems.sort_by_key(|p| p.span.as_ref().map_or(usize::MAX, |s| s.start));
    Err(problems)
}

fn syntax_problem(text: &str, e: &toml_edit::TomlError) -> Problem {
    let mut span = e.span();
    // Give a zero-width position one character, so that it can be labelled.
    if let Some(s) = span.as_mut() {
        if s.start == s.end {
            if let Some(c) = text.get(s.start..).and_then(|rest| rest.chars().next()) {
                s.end = s.start + c.len_utf8();
            }
        }
    }
    let detail = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let help = match &span {
        Some(s) => {
            let before = text.get(..s.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(
                "fix the TOML syntax at line {line}, column {column} (see https://toml.io for the format)"
            )
        }
        None => "fix the TOML syntax (see https://toml.io for the format)".to_owned(),
    };
    Problem {
        key: String::new(),
        message: format!("invalid TOML: {detail}"),
        help,
        span,
    }
}

// ---------------------------------------------------------------------------------------
// The generic walker.

type Span = Option<Range<usize>>;

/// A table (standard or inline) being walked, with its key path and header span.
struct Tbl<'a> {
    t: &'a dyn TableLike,
    path: String,
    header: Span,
}

/// Outcome of looking a key up: absent, present but wrong (already reported), or good.
enum Got<T> {
    Missing,
    Bad,
    Val(T),
}

impl<T> Got<T> {
    fn val(self) -> Option<T> {
        match self {
            Got::Val(v) => Some(v),
            _ => None,
        }
    }

    /// The value through `check`, `absent` when missing, `None` when wrong (reported).
    fn check<U>(self, absent: U, check: impl FnOnce(T) -> Option<U>) -> Option<U> {
        match self {
            Got::Val(v) => check(v),
            Got::Missing => Some(absent),
            Got::Bad => None,
        }
    }
}

/// A string with where it came from.
struct Str {
    value: String,
    span: Span,
    path: String,
}

/// One entry of a string-to-string table (tags, environment).
struct Entry {
    key: String,
    key_span: Span,
    value: String,
    value_span: Span,
    path: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    StrArray,
    Table,
    TableArray,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an integer",
            Kind::Bool => "a boolean",
            Kind::StrArray => "an array of strings",
            Kind::Table => "a table",
            Kind::TableArray => "an array of tables",
        }
    }
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => describe_value(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn describe_value(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "an inline table",
    }
}

/// `parent.key`, quoting the key when it is not a bare TOML key.
fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// The last component of a key path (`functions[0].memory_mb` → `memory_mb`).
fn leaf(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The TOML header name of a key path: `functions[0].routes` → `functions.routes`.
fn header_name(path: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '[' => skipping = true,
            ']' => skipping = false,
            _ if !skipping => out.push(c),
            _ => {}
        }
    }
    out
}

/// Where a key is, for a message: "at the top level", "in [stack]", "in functions[0]".
fn place(path: &str) -> String {
    if path.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {}", section(path))
    }
}

/// How to name a table in a message.
fn section(path: &str) -> String {
    if path.is_empty() {
        "the top level".to_owned()
    } else if path.contains('[') {
        path.to_owned()
    } else {
        format!("[{path}]")
    }
}

/// The allowed key closest to `key`, if it is close enough to be a typo.
fn did_you_mean<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    allowed
        .iter()
        .filter_map(|&a| {
            let d = strsim::levenshtein(&key, a);
            let close = d <= 2 && d < key.chars().count();
            let prefix = key.len().min(a.len()) >= 4 && (a.starts_with(&key) || key.starts_with(a));
            // `interval` or `intervall` for `interval_seconds`.
            let word = a.split('_').next().unwrap_or(a);
            let word_d = strsim::levenshtein(&key, word);
            let first_word = word.len() >= 4 && word.len() < a.len() && word_d <= 1;
            (close || prefix || first_word).then_some((d.min(word_d + 1), a))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

struct Checker<'s> {
    src: &'s str,
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    /// `[stack].region`, when given and valid: ARNs that must be in it are checked.
    region: Option<String>,
    /// Whether `[load_balancer] listener_arn` is set: attach mode's rules apply.
    attach: bool,
}

impl Checker<'_> {
    fn push(&mut self, key: &str, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            message: message.into(),
            help: help.into(),
            span,
        });
    }

    /// Reports a problem with a string value, at the value.
    fn bad(&mut self, s: &Str, message: impl Into<String>, help: impl Into<String>) {
        self.push(&s.path, s.span.clone(), message, help);
    }

    /// Records a warning: valid, but worth the user's attention.
    fn warn(&mut self, key: &str, span: Span, message: String, help: String) {
        let at = span.and_then(|s| {
            let before = self.src.get(..s.start)?;
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Some((line, column))
        });
        self.warnings.push(Warning {
            key: key.to_owned(),
            message,
            help,
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
        });
    }

    /// The first line of a table's span: its `[header]` (or the whole inline table).
    fn header_span(&self, span: Span) -> Span {
        let span = span?;
        let text = self.src.get(span.clone())?;
        let first = text.split('\n').next().unwrap_or(text).trim_end();
        Some(span.start..span.start + first.len())
    }

    /// The source text of a span, shortened, for messages.
    fn raw(&self, span: &Span) -> Option<String> {
        let text = self.src.get(span.clone()?)?.trim();
        if text.is_empty() || text.contains('\n') {
            return None;
        }
        Some(if text.chars().count() > 60 {
            format!("{}…", text.chars().take(59).collect::<String>())
        } else {
            text.to_owned()
        })
    }

    fn wrong_type(&mut self, path: &str, span: Span, expected: Kind, item: &Item) {
        let found = describe(item);
        let message = match self.raw(&span) {
            Some(raw) if item.is_value() && !item.is_array() && !item.is_inline_table() => {
                format!("expected {}, found {found}: {raw}", expected.noun())
            }
            _ => format!("expected {}, found {found}", expected.noun()),
        };
        let key = leaf(path);
        let header = header_name(path);
        let value = item.as_value();
        let help = match expected {
            Kind::Str => match value {
                Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                    let raw = self.raw(&span).unwrap_or_default();
                    format!("put the value in double quotes: `{key} = \"{raw}\"`")
                }
                _ => format!("write a string in double quotes, e.g. `{key} = \"...\"`"),
            },
            Kind::Int => match value {
                Some(Value::String(s)) if s.value().trim().parse::<i64>().is_ok() => {
                    format!("remove the quotes: `{key} = {}`", s.value().trim())
                }
                Some(Value::Float(f)) if f.value().fract() == 0.0 && f.value().abs() < 1e15 => {
                    format!(
                        "write a whole number without a decimal point: `{key} = {}`",
                        f.value().trunc()
                    )
                }
                _ => format!("write a whole number without quotes, e.g. `{key} = 10`"),
            },
            Kind::Bool => match value {
                Some(Value::String(s)) if matches!(s.value().as_str(), "true" | "false") => {
                    format!("remove the quotes: `{key} = {}`", s.value())
                }
                _ => format!("write `{key} = true` or `{key} = false`, without quotes"),
            },
            Kind::StrArray => match value {
                Some(Value::String(s)) => {
                    format!(
                        "write a list, even for one entry: `{key} = [{:?}]`",
                        s.value()
                    )
                }
                _ => format!("write a list of strings, e.g. `{key} = [\"...\"]`"),
            },
            Kind::Table => match item {
                Item::ArrayOfTables(_) => {
                    format!("write it as a single `[{header}]` table (single brackets)")
                }
                _ => format!(
                    "write it as a `[{header}]` table, or as an inline table `{key} = {{ ... }}`"
                ),
            },
            Kind::TableArray => match item {
                Item::Table(_) | Item::Value(Value::InlineTable(_)) => {
                    format!("write each entry as its own `[[{header}]]` section (double brackets)")
                }
                _ => format!("write one `[[{header}]]` section per entry"),
            },
        };
        self.push(path, span, message, help);
    }

    fn missing(&mut self, t: &Tbl, key: &str, what: &str, help: impl Into<String>) {
        let message = match t.path.as_str() {
            "" => format!("missing {what}"),
            _ => format!("missing {what} in {}", section(&t.path)),
        };
        self.push(&join(&t.path, key), t.header.clone(), message, help);
    }

    /// Reports every key of `t` that `section` does not declare.
    fn check_unknown_keys(&mut self, t: &Tbl, section: &Section) {
        let allowed = section.keys();
        let here = place(&t.path);
        let listed = allowed.join(", ");
        for (key, _) in t.t.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let path = join(&t.path, key);
            let span = t.t.key(key).and_then(toml_edit::Key::span);
            let message = format!("unknown key `{key}` {here}");
            let home = fields::home(key);
            let help = if home.is_some_and(|h| h.path == fields::HTTPS.path) {
                format!("`{key}` belongs in the [https] table, together with `domain`")
            } else if let Some(best) = did_you_mean(key, &allowed) {
                format!("did you mean `{best}`?")
            } else if let Some(home) = home {
                format!("`{key}` belongs in {}; move it there", home.header)
            } else {
                format!("remove it; the keys allowed {here} are: {listed}")
            };
            self.push(&path, span, message, help);
        }
    }

    fn lookup<'a>(t: &Tbl<'a>, key: &str) -> Option<(&'a Item, String, Span)> {
        let item = t.t.get(key)?;
        if item.is_none() {
            return None;
        }
        Some((item, join(&t.path, key), item.span()))
    }

    fn sub_table<'a>(&mut self, t: &Tbl<'a>, f: &Field) -> Got<Tbl<'a>> {
        let Some((item, path, span)) = Self::lookup(t, f.key) else {
            return Got::Missing;
        };
        if let Some(table) = item.as_table_like() {
            Got::Val(Tbl {
                t: table,
                path,
                header: self.header_span(span),
            })
        } else {
            self.wrong_type(&path, span, Kind::Table, item);
            Got::Bad
        }
    }

    /// `f`'s table, or an empty one when it is absent or not a table (reported), so that
    /// every key reads as its default.
    fn table_or_empty<'a>(&mut self, t: &Tbl<'a>, f: &Field) -> Tbl<'a> {
        static EMPTY: LazyLock<toml_edit::Table> = LazyLock::new(toml_edit::Table::new);
        match self.sub_table(t, f) {
            Got::Val(table) => table,
            Got::Missing | Got::Bad => Tbl {
                t: &*EMPTY,
                path: join(&t.path, f.key),
                header: None,
            },
        }
    }

    /// An array of tables: `[[key]]` sections or an array of inline tables.
    fn table_list<'a>(&mut self, t: &Tbl<'a>, f: &Field) -> Got<Vec<Tbl<'a>>> {
        let Some((item, path, span)) = Self::lookup(t, f.key) else {
            return Got::Missing;
        };
        match item {
            Item::ArrayOfTables(list) => Got::Val(
                list.iter()
                    .enumerate()
                    .map(|(i, table)| Tbl {
                        t: table,
                        path: format!("{path}[{i}]"),
                        header: self.header_span(table.span()),
                    })
                    .collect(),
            ),
            Item::Value(Value::Array(list)) => {
                let mut out = Vec::new();
                for (i, value) in list.iter().enumerate() {
                    let elem = format!("{path}[{i}]");
                    match value.as_inline_table() {
                        Some(table) => out.push(Tbl {
                            t: table,
                            path: elem,
                            header: self.header_span(table.span()),
                        }),
                        None => self.push(
                            &elem,
                            value.span(),
                            format!("expected a table, found {}", describe_value(value)),
                            format!(
                                "write each entry as its own `[[{}]]` section",
                                header_name(&path)
                            ),
                        ),
                    }
                }
                if out.is_empty() && !list.is_empty() {
                    Got::Bad
                } else {
                    Got::Val(out)
                }
            }
            _ => {
                self.wrong_type(&path, span, Kind::TableArray, item);
                Got::Bad
            }
        }
    }

    /// A string; a required one missing is reported at the table header (and `Bad`).
    fn get_str(&mut self, t: &Tbl, f: &Field) -> Got<Str> {
        let Some((item, path, span)) = Self::lookup(t, f.key) else {
            if !f.required {
                return Got::Missing;
            }
            let key = f.key;
            let help = format!("add `{key} = {}`", f.example_toml());
            self.missing(t, key, &format!("required key `{key}`"), help);
            return Got::Bad;
        };
        if let Some(s) = item.as_str() {
            Got::Val(Str {
                value: s.to_owned(),
                span,
                path,
            })
        } else {
            self.wrong_type(&path, span, Kind::Str, item);
            Got::Bad
        }
    }

    fn get_int(&mut self, t: &Tbl, key: &str) -> Got<(i64, String, Span)> {
        let Some((item, path, span)) = Self::lookup(t, key) else {
            return Got::Missing;
        };
        if let Some(n) = item.as_integer() {
            Got::Val((n, path, span))
        } else {
            self.wrong_type(&path, span, Kind::Int, item);
            Got::Bad
        }
    }

    /// An integer in the field's range, or its default when absent; `None` when wrong
    /// (reported).
    fn get_int_in_range(&mut self, t: &Tbl, f: &Field) -> Option<u32> {
        let Ty::Int { min, max, default } = f.ty else {
            unreachable!("{} is not a ranged integer", f.key)
        };
        match self.get_int(t, f.key) {
            Got::Val(v) => self.in_range(f.key, min, max, v),
            Got::Missing => Some(default),
            Got::Bad => None,
        }
    }

    /// An optional integer in the field's range: `Some(None)` when absent, `None` when
    /// wrong (reported).
    fn get_opt_int(&mut self, t: &Tbl, f: &Field) -> Option<Option<u32>> {
        let Ty::OptInt { min, max } = f.ty else {
            unreachable!("{} is not an optional integer", f.key)
        };
        match self.get_int(t, f.key) {
            Got::Val(v) => self.in_range(f.key, min, max, v).map(Some),
            Got::Missing => Some(None),
            Got::Bad => None,
        }
    }

    /// `n` when it is in `min..=max`; otherwise reported, with the nearest valid value.
    fn in_range(
        &mut self,
        key: &str,
        min: u32,
        max: u32,
        found: (i64, String, Span),
    ) -> Option<u32> {
        let (n, path, span) = found;
        match u32::try_from(n) {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                let near = n.clamp(i64::from(min), i64::from(max));
                self.push(
                    &path,
                    span,
                    format!("{key} {n} is out of range ({min}–{max})"),
                    format!("use a value from {min} to {max}, e.g. `{key} = {near}`"),
                );
                None
            }
        }
    }

    fn get_bool(&mut self, t: &Tbl, f: &Field) -> Option<bool> {
        let Ty::Bool(default) = f.ty else {
            unreachable!("{} is not a boolean", f.key)
        };
        let Some((item, path, span)) = Self::lookup(t, f.key) else {
            return Some(default);
        };
        if let Some(b) = item.as_bool() {
            Some(b)
        } else {
            self.wrong_type(&path, span, Kind::Bool, item);
            None
        }
    }

    /// One of the field's strings, as the value at the same position in `typed`; its
    /// default when absent.
    fn get_enum<T: Copy>(&mut self, t: &Tbl, f: &Field, typed: &[T]) -> Option<T> {
        let Ty::Enum { values, default } = f.ty else {
            unreachable!("{} is not an enumeration", f.key)
        };
        let pick = |name: &str| values.iter().position(|v| *v == name).map(|i| typed[i]);
        let s = match self.get_str(t, f) {
            Got::Val(s) => s,
            Got::Missing => return pick(default),
            Got::Bad => return None,
        };
        if let Some(v) = pick(&s.value) {
            return Some(v);
        }
        let alias = match s.value.to_ascii_lowercase().as_str() {
            "aarch64" | "arm" => Some("arm64"),
            "amd64" | "x64" | "x86" | "x86-64" => Some("x86_64"),
            "public" | "internet_facing" | "internetfacing" => Some("internet-facing"),
            "private" => Some("internal"),
            _ => None,
        }
        .filter(|a| values.contains(a));
        let guess = alias.or_else(|| did_you_mean(&s.value, values));
        let list = values
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        let key = f.key;
        let help = match guess {
            Some(g) => format!("did you mean \"{g}\"? `{key}` must be {list}"),
            None => format!("`{key}` must be {list}"),
        };
        self.bad(
            &s,
            format!("{key} {} is not one of {list}", q(&s.value)),
            help,
        );
        None
    }

    /// An array of strings; elements of another type are reported and skipped.
    fn get_str_array(&mut self, t: &Tbl, f: &Field) -> Got<Vec<Str>> {
        let key = f.key;
        let Some((item, path, span)) = Self::lookup(t, key) else {
            return Got::Missing;
        };
        let Some(list) = item.as_array() else {
            self.wrong_type(&path, span, Kind::StrArray, item);
            return Got::Bad;
        };
        let mut out = Vec::new();
        let mut bad = false;
        for (i, value) in list.iter().enumerate() {
            let elem = format!("{path}[{i}]");
            if let Some(s) = value.as_str() {
                out.push(Str {
                    value: s.to_owned(),
                    span: value.span(),
                    path: elem,
                });
            } else {
                bad = true;
                let raw = self.raw(&value.span()).unwrap_or_default();
                self.push(
                    &elem,
                    value.span(),
                    format!("expected a string, found {}", describe_value(value)),
                    format!("put each entry of `{key}` in double quotes, e.g. \"{raw}\""),
                );
            }
        }
        if bad {
            Got::Bad
        } else {
            Got::Val(out)
        }
    }

    /// Reports the second and later occurrences of equal values (after `canon`).
    fn check_duplicates(&mut self, what: &str, items: &[Str], canon: impl Fn(&str) -> String) {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for s in items {
            let c = canon(&s.value);
            if let Some(first) = seen.get(&c) {
                self.bad(
                    s,
                    format!("{what} {} is listed twice", q(&s.value)),
                    format!("remove this entry; it is already listed at {first}"),
                );
            } else {
                seen.insert(c, &s.path);
            }
        }
    }

    /// A table of strings to strings (tags, environment).
    fn get_str_map<'a>(&mut self, t: &Tbl<'a>, f: &Field) -> Got<(Tbl<'a>, Vec<Entry>)> {
        let table = match self.sub_table(t, f) {
            Got::Val(table) => table,
            Got::Missing => return Got::Missing,
            Got::Bad => return Got::Bad,
        };
        let mut entries = Vec::new();
        for (k, item) in table.t.iter() {
            let path = join(&table.path, k);
            let span = item.span();
            match item.as_str() {
                Some(v) => entries.push(Entry {
                    key: k.to_owned(),
                    key_span: table.t.key(k).and_then(toml_edit::Key::span),
                    value: v.to_owned(),
                    value_span: span,
                    path,
                }),
                None => self.wrong_type(&path, span, Kind::Str, item),
            }
        }
        Got::Val((table, entries))
    }
}
