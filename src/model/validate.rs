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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use toml_edit::{ImDocument, Item, TableLike, Value};

use super::config::{
    Architecture, Config, FunctionSettings, HealthCheck, HttpsSettings, IngressCidr, Ipv4Cidr,
    LoadBalancerSettings, Network, Route, Scheme, SecretRef, StackSettings, Warning, DEFAULT_HSTS,
    DEFAULT_SSL_POLICY,
};
use super::ids::{CertificateArn, HostedZoneId, SubnetId, VpcId};
use super::tls;

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
    fn new(path: &Path, text: String, problems: Vec<Problem>) -> Self {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
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
    let fail = |message: String, help: String| {
        ConfigError::new(
            path,
            String::new(),
            vec![Problem {
                key: String::new(),
                message,
                help,
                span: None,
            }],
        )
    };
    let shown = path.display();
    let too_large = |len: u64| {
        fail(
            format!("{shown} is {len} bytes; albkit reads configuration files of at most 1 MiB"),
            "check that -c points at albkit.toml and not at another file; a configuration \
             this large is almost certainly not one"
                .to_owned(),
        )
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(
                format!("{shown} does not exist"),
                "run `albkit init` to create one, or pass `-c PATH`".to_owned(),
            ));
        }
        Err(e) => {
            return Err(fail(
                format!("cannot read {shown}: {e}"),
                "check the file's permissions, or pass another file with `-c PATH`".to_owned(),
            ));
        }
    };
    if meta.is_dir() {
        return Err(fail(
            format!("{shown} is a directory, not a file"),
            format!(
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
            "check the file's permissions, or pass another file with `-c PATH`".to_owned(),
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
                "save the file as UTF-8 (TOML files must be UTF-8)".to_owned(),
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
    };
    let top = Tbl {
        t: doc.as_table(),
        path: String::new(),
        header: None,
    };
    c.check_unknown_keys(
        &top,
        &["stack", "network", "load_balancer", "https", "functions"],
    );
    let stack = c.stack(&top);
    let network = c.network(&top);
    let load_balancer = c.load_balancer(&top);
    let https = c.https(&top, stack.region.as_deref());
    let (root, functions) = c.functions(&top, root);

    let mut problems = c.problems;
    if problems.is_empty() {
        let mut warnings = c.warnings;
        warnings.sort_by_key(|w| (w.line.unwrap_or(usize::MAX), w.column));
        return Ok(Config {
            root,
            stack,
            network,
            load_balancer,
            https,
            functions,
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

/// A value quoted for a message, shortened when long.
fn q(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let short: String = s.chars().take(MAX - 1).collect();
        format!("\"{}…\"", short.escape_debug())
    } else {
        format!("{s:?}")
    }
}

/// Keys that have a home in another table, for the help of an unknown key.
const HOMES: &[(&str, &str)] = &[
    ("region", "[stack]"),
    ("tags", "[stack]"),
    ("cidr", "[network]"),
    ("availability_zones", "[network]"),
    ("vpc_id", "[network]"),
    ("subnet_ids", "[network]"),
    ("scheme", "[load_balancer]"),
    ("ingress_cidrs", "[load_balancer]"),
    ("idle_timeout_seconds", "[load_balancer]"),
    ("deletion_protection", "[load_balancer]"),
    ("access_logs", "[load_balancer]"),
    ("access_log_retention_days", "[load_balancer]"),
    ("memory_mb", "[[functions]]"),
    ("architecture", "[[functions]]"),
    ("environment", "[[functions]]"),
    ("log_retention_days", "[[functions]]"),
    ("multi_value_headers", "[[functions]]"),
    ("health_check", "[[functions]]"),
    ("routes", "[[functions]]"),
    ("priority", "[[functions.routes]]"),
    ("paths", "[[functions.routes]]"),
    ("methods", "[[functions.routes]]"),
    ("hosts", "[[functions.routes]]"),
];

/// Keys of `[https]`; found anywhere else they are always pointed there.
const HTTPS_KEYS: &[&str] = &[
    "domain",
    "certificate_arn",
    "hosted_zone_id",
    "ssl_policy",
    "hsts",
];

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The allowed key closest to `key`, if it is close enough to be a typo.
fn did_you_mean<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    allowed
        .iter()
        .filter_map(|&a| {
            let d = levenshtein(&key, a);
            let close = d <= 2 && d < key.chars().count();
            let prefix = key.len().min(a.len()) >= 4 && (a.starts_with(&key) || key.starts_with(a));
            // `interval` or `intervall` for `interval_seconds`.
            let word = a.split('_').next().unwrap_or(a);
            let word_d = levenshtein(&key, word);
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
}

impl Checker<'_> {
    fn push(&mut self, key: &str, span: Span, message: String, help: String) {
        self.problems.push(Problem {
            key: key.to_owned(),
            message,
            help,
            span,
        });
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

    fn missing(&mut self, t: &Tbl, key: &str, what: &str, help: String) {
        let message = match t.path.as_str() {
            "" => format!("missing {what}"),
            _ => format!("missing {what} in {}", section(&t.path)),
        };
        self.push(&join(&t.path, key), t.header.clone(), message, help);
    }

    fn check_unknown_keys(&mut self, t: &Tbl, allowed: &[&str]) {
        let here = place(&t.path);
        let listed = allowed.join(", ");
        for (key, _) in t.t.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let path = join(&t.path, key);
            let span = t.t.key(key).and_then(|k| k.span());
            let message = format!("unknown key `{key}` {here}");
            let help = if HTTPS_KEYS.contains(&key) {
                format!("`{key}` belongs in the [https] table, together with `domain`")
            } else if let Some(best) = did_you_mean(key, allowed) {
                format!("did you mean `{best}`?")
            } else if let Some((_, home)) = HOMES.iter().find(|(k, _)| *k == key) {
                format!("`{key}` belongs in {home}; move it there")
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

    fn sub_table<'a>(&mut self, t: &Tbl<'a>, key: &str) -> Got<Tbl<'a>> {
        let Some((item, path, span)) = Self::lookup(t, key) else {
            return Got::Missing;
        };
        match item.as_table_like() {
            Some(table) => Got::Val(Tbl {
                t: table,
                path,
                header: self.header_span(span),
            }),
            None => {
                self.wrong_type(&path, span, Kind::Table, item);
                Got::Bad
            }
        }
    }

    /// An array of tables: `[[key]]` sections or an array of inline tables.
    fn table_list<'a>(&mut self, t: &Tbl<'a>, key: &str) -> Got<Vec<Tbl<'a>>> {
        let Some((item, path, span)) = Self::lookup(t, key) else {
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

    fn get_str(&mut self, t: &Tbl, key: &str) -> Got<Str> {
        let Some((item, path, span)) = Self::lookup(t, key) else {
            return Got::Missing;
        };
        match item.as_str() {
            Some(s) => Got::Val(Str {
                value: s.to_owned(),
                span,
                path,
            }),
            None => {
                self.wrong_type(&path, span, Kind::Str, item);
                Got::Bad
            }
        }
    }

    /// A required string: reports it at the table header when missing.
    fn require_str(&mut self, t: &Tbl, key: &str, example: &str) -> Option<Str> {
        match self.get_str(t, key) {
            Got::Val(s) => Some(s),
            Got::Bad => None,
            Got::Missing => {
                self.missing(
                    t,
                    key,
                    &format!("required key `{key}`"),
                    format!("add `{key} = {example}`"),
                );
                None
            }
        }
    }

    fn get_int(&mut self, t: &Tbl, key: &str) -> Got<(i64, String, Span)> {
        let Some((item, path, span)) = Self::lookup(t, key) else {
            return Got::Missing;
        };
        match item.as_integer() {
            Some(n) => Got::Val((n, path, span)),
            None => {
                self.wrong_type(&path, span, Kind::Int, item);
                Got::Bad
            }
        }
    }

    /// An integer in `lo..=hi`, or `default` when absent; `None` when wrong (reported).
    fn get_int_in_range(
        &mut self,
        t: &Tbl,
        key: &str,
        lo: u32,
        hi: u32,
        default: u32,
    ) -> Option<u32> {
        let (n, path, span) = match self.get_int(t, key) {
            Got::Val(v) => v,
            Got::Missing => return Some(default),
            Got::Bad => return None,
        };
        match u32::try_from(n) {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            _ => {
                let near = n.clamp(i64::from(lo), i64::from(hi));
                self.push(
                    &path,
                    span,
                    format!("{key} {n} is out of range ({lo}–{hi})"),
                    format!("use a value from {lo} to {hi}, e.g. `{key} = {near}`"),
                );
                None
            }
        }
    }

    fn get_bool(&mut self, t: &Tbl, key: &str, default: bool) -> Option<bool> {
        let Some((item, path, span)) = Self::lookup(t, key) else {
            return Some(default);
        };
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(&path, span, Kind::Bool, item);
                None
            }
        }
    }

    /// One of a fixed set of strings, or `default` when absent.
    fn get_enum<T: Copy>(
        &mut self,
        t: &Tbl,
        key: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> Option<T> {
        let s = match self.get_str(t, key) {
            Got::Val(s) => s,
            Got::Missing => return Some(default),
            Got::Bad => return None,
        };
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == s.value) {
            return Some(*v);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let alias = match s.value.to_ascii_lowercase().as_str() {
            "aarch64" | "arm" => Some("arm64"),
            "amd64" | "x64" | "x86" | "x86-64" => Some("x86_64"),
            "public" | "internet_facing" | "internetfacing" => Some("internet-facing"),
            "private" => Some("internal"),
            _ => None,
        }
        .filter(|a| names.contains(a));
        let guess = alias.or_else(|| did_you_mean(&s.value, &names));
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        let help = match guess {
            Some(g) => format!("did you mean \"{g}\"? `{key}` must be {list}"),
            None => format!("`{key}` must be {list}"),
        };
        self.push(
            &s.path,
            s.span,
            format!("{key} {} is not one of {list}", q(&s.value)),
            help,
        );
        None
    }

    /// An array of strings; elements of another type are reported and skipped.
    fn get_str_array(&mut self, t: &Tbl, key: &str) -> Got<Vec<Str>> {
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
            match value.as_str() {
                Some(s) => out.push(Str {
                    value: s.to_owned(),
                    span: value.span(),
                    path: elem,
                }),
                None => {
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
                self.push(
                    &s.path,
                    s.span.clone(),
                    format!("{what} {} is listed twice", q(&s.value)),
                    format!("remove this entry; it is already listed at {first}"),
                );
            } else {
                seen.insert(c, &s.path);
            }
        }
    }

    /// A table of strings to strings (tags, environment).
    fn get_str_map<'a>(&mut self, t: &Tbl<'a>, key: &str) -> Got<(Tbl<'a>, Vec<Entry>)> {
        let table = match self.sub_table(t, key) {
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
                    key_span: table.t.key(k).and_then(|k| k.span()),
                    value: v.to_owned(),
                    value_span: span,
                    path,
                }),
                None => self.wrong_type(&path, span, Kind::Str, item),
            }
        }
        Got::Val((table, entries))
    }

    // -----------------------------------------------------------------------------------
    // [stack]

    fn stack(&mut self, top: &Tbl) -> StackSettings {
        let mut out = StackSettings {
            name: String::new(),
            region: None,
            tags: BTreeMap::new(),
            permissions_boundary: None,
        };
        let t = match self.sub_table(top, "stack") {
            Got::Val(t) => t,
            Got::Bad => return out,
            Got::Missing => {
                self.missing(
                    top,
                    "stack",
                    "required table [stack]",
                    "add a [stack] table with at least `name = \"my-app\"`".to_owned(),
                );
                return out;
            }
        };
        self.check_unknown_keys(&t, &["name", "region", "tags", "permissions_boundary"]);
        if let Got::Val(b) = self.get_str(&t, "permissions_boundary") {
            match check_arn(&b.value, "iam", |r| r.starts_with("policy/") && r.len() > 7) {
                Ok(()) => out.permissions_boundary = Some(b.value),
                Err(why) => self.push(
                    &b.path,
                    b.span,
                    format!("permissions_boundary {} is not an IAM policy ARN: {why}", q(&b.value)),
                    "use the ARN of a managed policy, e.g. \"arn:aws:iam::123456789012:policy/albkit-boundary\", \
                     or remove `permissions_boundary`"
                        .to_owned(),
                ),
            }
        }
        if let Some(name) = self.require_str(&t, "name", "\"my-app\"") {
            if self.check_name("stack name", &name, 24) {
                out.name = name.value;
            }
        }
        if let Got::Val(region) = self.get_str(&t, "region") {
            if is_aws_region(&region.value) {
                out.region = Some(region.value);
            } else {
                let lower = region.value.trim().to_ascii_lowercase();
                let help = if is_aws_region(&lower) {
                    format!("use {lower:?} (region codes are lower-case)")
                } else {
                    "use a region code such as \"us-east-1\" or \"eu-west-1\", or remove \
                     `region` to use the region of your AWS profile"
                        .to_owned()
                };
                self.push(
                    &region.path,
                    region.span,
                    format!("region {} is not an AWS region code", q(&region.value)),
                    help,
                );
            }
        }
        if let Got::Val((table, entries)) = self.get_str_map(&t, "tags") {
            if entries.len() > 45 {
                self.push(
                    &table.path,
                    table.header.clone(),
                    format!("stack has {} tags; at most 45 are allowed", entries.len()),
                    format!(
                        "remove {} tags (AWS allows 50 per resource and albkit adds its own)",
                        entries.len() - 45
                    ),
                );
            }
            for e in entries {
                if self.check_tag(&e) {
                    out.tags.insert(e.key, e.value);
                }
            }
        }
        out
    }

    fn check_tag(&mut self, e: &Entry) -> bool {
        let lower = e.key.to_ascii_lowercase();
        let key_len = e.key.chars().count();
        if key_len == 0 || key_len > 128 {
            self.push(
                &e.path,
                e.key_span.clone(),
                format!("tag key {} is {key_len} characters long", q(&e.key)),
                "tag keys must be 1 to 128 characters long".to_owned(),
            );
            return false;
        }
        if lower.starts_with("aws:") || lower.starts_with("albkit:") {
            self.push(
                &e.path,
                e.key_span.clone(),
                format!("tag key {} uses a reserved prefix", q(&e.key)),
                "keys starting with \"aws:\" are reserved by AWS and keys starting with \
                 \"albkit:\" by albkit; choose another key"
                    .to_owned(),
            );
            return false;
        }
        let value_len = e.value.chars().count();
        if value_len > 256 {
            self.push(
                &e.path,
                e.value_span.clone(),
                format!(
                    "tag {} has a value of {value_len} characters; the limit is 256",
                    q(&e.key)
                ),
                "shorten the tag value to at most 256 characters".to_owned(),
            );
            return false;
        }
        true
    }

    /// Names of stacks and functions: `[a-z0-9-]`, starting with a letter, no `--` (a
    /// function's target group is `<stack>-<function>-<n>`, and ELB refuses `--`).
    fn check_name(&mut self, what: &str, s: &Str, max: usize) -> bool {
        let value = &s.value;
        let fix = suggest_name(value, max);
        let len = value.chars().count();
        let (message, help) = if value.is_empty() {
            (
                format!("{what} is empty"),
                format!("use 1 to {max} characters of a-z, 0-9 and '-', e.g. \"my-app\""),
            )
        } else if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            (
                format!("{what} {} may contain only a-z, 0-9 and '-'", q(value)),
                format!("use {fix:?}"),
            )
        } else if len > max {
            (
                format!(
                    "{what} {} is {len} characters long; the limit is {max}",
                    q(value)
                ),
                format!("shorten it, e.g. to {fix:?}"),
            )
        } else if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            (
                format!("{what} {} must start with a letter", q(value)),
                format!("use {fix:?}"),
            )
        } else if value.ends_with('-') {
            (
                format!("{what} {} must not end with '-'", q(value)),
                format!("use {fix:?}"),
            )
        } else if value.contains("--") {
            (
                format!("{what} {} must not contain \"--\"", q(value)),
                format!("use {fix:?}"),
            )
        } else {
            return true;
        };
        self.push(&s.path, s.span.clone(), message, help);
        false
    }

    // -----------------------------------------------------------------------------------
    // [network]

    fn network(&mut self, top: &Tbl) -> Network {
        let default_cidr = Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 0),
            prefix: 16,
        };
        let mut managed = Network::Managed {
            cidr: default_cidr,
            availability_zones: 2,
        };
        let Got::Val(t) = self.sub_table(top, "network") else {
            return managed;
        };
        self.check_unknown_keys(&t, &["cidr", "availability_zones", "vpc_id", "subnet_ids"]);
        if t.t.contains_key("vpc_id") {
            return self.existing_network(&t).unwrap_or(managed);
        }
        if let Some((_, path, span)) = Self::lookup(&t, "subnet_ids") {
            self.push(
                &path,
                span,
                "`subnet_ids` needs `vpc_id`: subnets can only be reused together with their VPC"
                    .to_owned(),
                "add `vpc_id = \"vpc-...\"` for the VPC these subnets belong to, or remove \
                 `subnet_ids` to let albkit create a VPC"
                    .to_owned(),
            );
        }
        let cidr = match self.get_str(&t, "cidr") {
            Got::Val(s) => self.check_vpc_cidr(&s),
            Got::Missing => Some(default_cidr),
            Got::Bad => None,
        };
        let azs = self.get_int_in_range(&t, "availability_zones", 2, 6, 2);
        if let (Some(cidr), Some(azs)) = (cidr, azs) {
            managed = Network::Managed {
                cidr,
                availability_zones: u8::try_from(azs).unwrap_or(2),
            };
        }
        managed
    }

    fn existing_network(&mut self, t: &Tbl) -> Option<Network> {
        for key in ["cidr", "availability_zones"] {
            if let Some((_, path, span)) = Self::lookup(t, key) {
                self.push(
                    &path,
                    span,
                    format!("`{key}` cannot be combined with `vpc_id`"),
                    format!(
                        "remove `{key}` (albkit does not create a VPC when reusing one), or \
                         remove `vpc_id` and `subnet_ids` to let albkit create the VPC"
                    ),
                );
            }
        }
        let vpc = self.get_str(t, "vpc_id").val().and_then(|s| {
            if is_aws_id(&s.value, "vpc") {
                Some(VpcId::new(s.value))
            } else {
                self.push(
                    &s.path,
                    s.span,
                    format!("vpc_id {} is not a VPC id", q(&s.value)),
                    "use the id shown by `aws ec2 describe-vpcs`: \"vpc-\" followed by 8 or 17 \
                     lower-case hex digits, e.g. \"vpc-0123456789abcdef0\""
                        .to_owned(),
                );
                None
            }
        });
        let subnets = match self.get_str_array(t, "subnet_ids") {
            Got::Missing => {
                self.missing(
                    t,
                    "subnet_ids",
                    "`subnet_ids` (required with `vpc_id`)",
                    "add `subnet_ids = [\"subnet-...\", \"subnet-...\"]`: at least two subnets \
                     of the VPC, in different availability zones"
                        .to_owned(),
                );
                None
            }
            Got::Bad => None,
            Got::Val(list) => self.check_subnets(t, list),
        };
        Some(Network::Existing {
            vpc_id: vpc?,
            subnet_ids: subnets?,
        })
    }

    fn check_subnets(&mut self, t: &Tbl, list: Vec<Str>) -> Option<Vec<SubnetId>> {
        let mut ok = true;
        if list.len() < 2 {
            let span = Self::lookup(t, "subnet_ids").and_then(|(_, _, s)| s);
            self.push(
                &join(&t.path, "subnet_ids"),
                span,
                format!(
                    "subnet_ids lists {} subnet{}; an ALB needs at least 2",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                ),
                "list at least two subnets of the VPC, in different availability zones".to_owned(),
            );
            ok = false;
        }
        for s in &list {
            if !is_aws_id(&s.value, "subnet") {
                self.push(
                    &s.path,
                    s.span.clone(),
                    format!("subnet id {} is not a subnet id", q(&s.value)),
                    "use ids shown by `aws ec2 describe-subnets`: \"subnet-\" followed by 8 or \
                     17 lower-case hex digits"
                        .to_owned(),
                );
                ok = false;
            }
        }
        let before = self.problems.len();
        self.check_duplicates("subnet", &list, str::to_owned);
        ok &= self.problems.len() == before;
        ok.then(|| list.into_iter().map(|s| SubnetId::new(s.value)).collect())
    }

    fn check_vpc_cidr(&mut self, s: &Str) -> Option<Ipv4Cidr> {
        let (addr, prefix) = match parse_v4_cidr(&s.value) {
            Ok(v) => v,
            Err(why) => {
                self.push(
                    &s.path,
                    s.span.clone(),
                    format!("network cidr {} {why}", q(&s.value)),
                    "write an IPv4 block such as \"10.0.0.0/16\"".to_owned(),
                );
                return None;
            }
        };
        let net = v4_network(addr, prefix);
        if !(16..=23).contains(&prefix) {
            let (why, fix) = if prefix < 16 {
                ("too large: AWS VPCs are at most /16", 16)
            } else {
                (
                    "too small: albkit cuts it into /(prefix+4) subnets and an ALB needs \
                     subnets of at least /27",
                    23,
                )
            };
            self.push(
                &s.path,
                s.span.clone(),
                format!("network cidr {} is {why}", q(&s.value)),
                format!(
                    "use a prefix from /16 to /23, e.g. \"{}/{fix}\"",
                    v4_network(addr, fix)
                ),
            );
            return None;
        }
        if net != addr {
            self.push(
                &s.path,
                s.span.clone(),
                format!("network cidr {} has host bits set", q(&s.value)),
                format!("use \"{net}/{prefix}\""),
            );
            return None;
        }
        Some(Ipv4Cidr { addr, prefix })
    }

    // -----------------------------------------------------------------------------------
    // [load_balancer]

    fn load_balancer(&mut self, top: &Tbl) -> LoadBalancerSettings {
        let mut out = LoadBalancerSettings {
            scheme: Scheme::InternetFacing,
            ingress_cidrs: None,
            idle_timeout_seconds: 60,
            deletion_protection: false,
            access_logs: true,
            access_log_retention_days: 30,
        };
        let Got::Val(t) = self.sub_table(top, "load_balancer") else {
            return out;
        };
        self.check_unknown_keys(
            &t,
            &[
                "scheme",
                "ingress_cidrs",
                "idle_timeout_seconds",
                "deletion_protection",
                "access_logs",
                "access_log_retention_days",
            ],
        );
        let schemes = [
            ("internet-facing", Scheme::InternetFacing),
            ("internal", Scheme::Internal),
        ];
        if let Some(s) = self.get_enum(&t, "scheme", &schemes, out.scheme) {
            out.scheme = s;
        }
        if let Got::Val(list) = self.get_str_array(&t, "ingress_cidrs") {
            out.ingress_cidrs = self.check_ingress(&t, list);
        }
        if let Some(v) = self.get_int_in_range(&t, "idle_timeout_seconds", 1, 4000, 60) {
            out.idle_timeout_seconds = v;
        }
        if let Some(v) = self.get_bool(&t, "deletion_protection", false) {
            out.deletion_protection = v;
        }
        if let Some(v) = self.get_bool(&t, "access_logs", true) {
            out.access_logs = v;
        }
        if let Some(v) = self.get_int_in_range(&t, "access_log_retention_days", 1, 3650, 30) {
            out.access_log_retention_days = v;
        }
        out
    }

    fn check_ingress(&mut self, t: &Tbl, list: Vec<Str>) -> Option<Vec<IngressCidr>> {
        let span = Self::lookup(t, "ingress_cidrs").and_then(|(_, _, s)| s);
        let path = join(&t.path, "ingress_cidrs");
        if list.is_empty() {
            self.push(
                &path,
                span,
                "ingress_cidrs is empty: nothing could reach the load balancer".to_owned(),
                "list at least one CIDR such as \"0.0.0.0/0\", or remove `ingress_cidrs` to use \
                 the default"
                    .to_owned(),
            );
            return None;
        }
        if list.len() > 50 {
            self.push(
                &path,
                span,
                format!(
                    "ingress_cidrs lists {} CIDRs; at most 50 are allowed",
                    list.len()
                ),
                "merge neighbouring blocks into larger ones (a security group holds at most 60 \
                 rules)"
                    .to_owned(),
            );
            return None;
        }
        let before = self.problems.len();
        let mut out = Vec::new();
        let mut canon = Vec::new();
        for s in list {
            match parse_ingress_cidr(&s.value) {
                Ok(c) => {
                    canon.push(Str {
                        value: c.as_str().to_owned(),
                        span: s.span.clone(),
                        path: s.path.clone(),
                    });
                    out.push(c);
                }
                Err((why, help)) => {
                    self.push(
                        &s.path,
                        s.span,
                        format!("ingress CIDR {} {why}", q(&s.value)),
                        help,
                    );
                }
            }
        }
        self.check_duplicates("ingress CIDR", &canon, str::to_owned);
        (self.problems.len() == before).then_some(out)
    }

    // -----------------------------------------------------------------------------------
    // [https]

    fn https(&mut self, top: &Tbl, region: Option<&str>) -> Option<HttpsSettings> {
        let Got::Val(t) = self.sub_table(top, "https") else {
            return None;
        };
        self.check_unknown_keys(&t, HTTPS_KEYS);
        let domain = self
            .require_str(&t, "domain", "\"api.example.com\"")
            .and_then(|s| match check_domain(&s.value) {
                Ok(d) => Some(d),
                Err((why, help)) => {
                    self.push(
                        &s.path,
                        s.span,
                        format!("domain {} is not a valid DNS name: {why}", q(&s.value)),
                        help,
                    );
                    None
                }
            });
        let certificate = match self.get_str(&t, "certificate_arn") {
            Got::Val(s) => self.check_certificate(&s, region).map(Some),
            Got::Missing => Some(None),
            Got::Bad => None,
        };
        let zone = match self.get_str(&t, "hosted_zone_id") {
            Got::Val(s) => {
                let id = HostedZoneId::parse(&s.value);
                if is_zone_id(id.as_str()) {
                    Some(Some(id))
                } else {
                    let upper = id.as_str().to_ascii_uppercase();
                    let help = if is_zone_id(&upper) {
                        format!("use {upper:?} (hosted zone ids are upper-case)")
                    } else {
                        "copy the id from `aws route53 list-hosted-zones`: 2 to 32 upper-case \
                         letters and digits, e.g. \"Z0123456789ABCDEFGHIJ\""
                            .to_owned()
                    };
                    self.push(
                        &s.path,
                        s.span,
                        format!("hosted zone id {} is not valid", q(&s.value)),
                        help,
                    );
                    None
                }
            }
            Got::Missing => Some(None),
            Got::Bad => None,
        };
        let policy = match self.get_str(&t, "ssl_policy") {
            Got::Val(s) => self.check_ssl_policy(s),
            Got::Missing => Some(DEFAULT_SSL_POLICY.to_owned()),
            Got::Bad => None,
        };
        let hsts = self.hsts(&t);
        Some(HttpsSettings {
            domain: domain?,
            certificate_arn: certificate?,
            hosted_zone_id: zone?,
            ssl_policy: policy?,
            hsts: hsts?,
        })
    }

    /// `hsts`: a `Strict-Transport-Security` value, `true` for the default, `false` for
    /// no header. `None` when wrong (reported).
    fn hsts(&mut self, t: &Tbl) -> Option<Option<String>> {
        let Some((item, path, span)) = Self::lookup(t, "hsts") else {
            return Some(Some(DEFAULT_HSTS.to_owned()));
        };
        if let Some(on) = item.as_bool() {
            return Some(on.then(|| DEFAULT_HSTS.to_owned()));
        }
        let Some(raw) = item.as_str() else {
            self.push(
                &path,
                span,
                format!("expected a string or a boolean, found {}", describe(item)),
                format!(
                    "write a Strict-Transport-Security value, e.g. `hsts = {DEFAULT_HSTS:?}` \
                     (the default), or `hsts = false` to send no such header"
                ),
            );
            return None;
        };
        match check_hsts(raw) {
            Ok(hsts) => {
                if hsts.preload && !(hsts.include_subdomains && hsts.max_age >= 31_536_000) {
                    self.warn(
                        &path,
                        span,
                        format!(
                            "hsts {} asks for preload without includeSubDomains and a max-age \
                             of at least 31536000: browsers' preload lists refuse such a domain",
                            q(raw)
                        ),
                        format!(
                            "use {:?}, or drop `preload`",
                            "max-age=31536000; includeSubDomains; preload"
                        ),
                    );
                }
                Some(Some(hsts.value))
            }
            Err((why, help)) => {
                self.push(
                    &path,
                    span,
                    format!(
                        "hsts {} is not a Strict-Transport-Security value: {why}",
                        q(raw)
                    ),
                    help,
                );
                None
            }
        }
    }

    /// An ELB security policy allowing TLS below 1.2 is refused; one without TLS 1.3, or
    /// one albkit's table does not know, is accepted with a warning (see `tls.rs`).
    fn check_ssl_policy(&mut self, s: Str) -> Option<String> {
        let use_default = format!(
            "remove `ssl_policy` to use the default {DEFAULT_SSL_POLICY:?} (TLS 1.2 and TLS 1.3), \
             or choose a policy that starts at TLS 1.2 (see docs/tls-policies.md)"
        );
        let ok = s
            .value
            .strip_prefix("ELBSecurityPolicy-")
            .is_some_and(|rest| !rest.is_empty());
        if !ok {
            self.push(
                &s.path,
                s.span,
                format!("ssl_policy {} is not an ELB security policy", q(&s.value)),
                format!(
                    "use a name starting with \"ELBSecurityPolicy-\", e.g. the default \
                     {DEFAULT_SSL_POLICY:?}, or remove `ssl_policy`"
                ),
            );
            return None;
        }
        match tls::judge(&s.value) {
            tls::Verdict::Good => {}
            tls::Verdict::Weak(versions) => {
                self.push(
                    &s.path,
                    s.span,
                    format!(
                        "{} {} allows {}, which RFC 8996 deprecates: clients could be served \
                         over a protocol with known weaknesses",
                        s.path,
                        q(&s.value),
                        tls::list(&versions)
                    ),
                    use_default,
                );
                return None;
            }
            tls::Verdict::NoTls13 => {
                self.warn(
                    &s.path,
                    s.span,
                    format!("{} {} allows TLS 1.2 but not TLS 1.3", s.path, q(&s.value)),
                    format!(
                        "clients that could use TLS 1.3 will be served over TLS 1.2; {use_default}"
                    ),
                );
            }
            tls::Verdict::Unknown => {
                let names: Vec<&str> = tls::POLICIES.iter().map(|p| p.name).collect();
                let close = names
                    .iter()
                    .map(|n| (levenshtein(&s.value, n), *n))
                    .filter(|(d, _)| *d <= 3)
                    .min_by_key(|(d, _)| *d)
                    .map(|(_, n)| n);
                let help = match close {
                    Some(n) => format!("did you mean {n:?}? Otherwise {use_default}"),
                    None => format!(
                        "if AWS added this policy after albkit's table, check on AWS's page \
                         that it does not allow TLS 1.0 or 1.1; otherwise {use_default}"
                    ),
                };
                self.warn(
                    &s.path,
                    s.span,
                    format!(
                        "{} {} is not one of the ELB security policies albkit knows, so its TLS \
                         versions were not checked (ELB refuses an unknown name when the \
                         listener is created)",
                        s.path,
                        q(&s.value)
                    ),
                    help,
                );
            }
        }
        Some(s.value)
    }

    fn check_certificate(&mut self, s: &Str, region: Option<&str>) -> Option<CertificateArn> {
        let cert_region = match cert_arn_region(&s.value) {
            Ok(r) => r,
            Err(why) => {
                self.push(
                    &s.path,
                    s.span.clone(),
                    format!(
                        "certificate_arn {} is not an ACM certificate ARN: {why}",
                        q(&s.value)
                    ),
                    "copy the ARN from `aws acm list-certificates`; it looks like \
                     \"arn:aws:acm:us-east-1:123456789012:certificate/…\""
                        .to_owned(),
                );
                return None;
            }
        };
        if let Some(region) = region {
            if region != cert_region {
                self.push(
                    &s.path,
                    s.span.clone(),
                    format!(
                        "certificate {} is in {cert_region}, but the stack is in {region}",
                        q(&s.value)
                    ),
                    format!(
                        "an ALB can only use certificates of its own region: use a certificate \
                         from {region}, or remove `certificate_arn` to let albkit request one"
                    ),
                );
                return None;
            }
        }
        Some(CertificateArn::new(s.value.clone()))
    }

    // -----------------------------------------------------------------------------------
    // [[functions]]

    fn functions(&mut self, top: &Tbl, root: &Path) -> (PathBuf, Vec<FunctionSettings>) {
        let base = root.canonicalize();
        let root_out = base
            .as_ref()
            .map_or_else(|_| root.to_path_buf(), Clone::clone);
        let example = "add a function:\n[[functions]]\nname = \"api\"\npath = \"functions/api\"";
        let list = match self.table_list(top, "functions") {
            Got::Val(list) => list,
            Got::Bad => return (root_out, Vec::new()),
            Got::Missing => {
                self.missing(
                    top,
                    "functions",
                    "[[functions]]: at least one function is required",
                    example.to_owned(),
                );
                return (root_out, Vec::new());
            }
        };
        if list.is_empty() {
            let span = Self::lookup(top, "functions").and_then(|(_, _, s)| s);
            self.push(
                "functions",
                span,
                "functions is empty: at least one function is required".to_owned(),
                example.to_owned(),
            );
        }
        let base = base.map_err(|e| format!("cannot resolve {}: {e}", root.display()));
        let mut names: HashMap<String, String> = HashMap::new();
        let mut priorities: Vec<PriorityUse> = Vec::new();
        let mut out = Vec::new();
        for t in &list {
            if let Some(f) = self.function(t, &base, &mut names, &mut priorities) {
                out.push(f);
            }
        }
        self.check_priorities(&priorities);
        (root_out, out)
    }

    fn function(
        &mut self,
        t: &Tbl,
        base: &Result<PathBuf, String>,
        names: &mut HashMap<String, String>,
        priorities: &mut Vec<PriorityUse>,
    ) -> Option<FunctionSettings> {
        self.check_unknown_keys(
            t,
            &[
                "name",
                "path",
                "memory_mb",
                "timeout_seconds",
                "architecture",
                "environment",
                "secrets",
                "kms_key_arn",
                "log_retention_days",
                "multi_value_headers",
                "health_check",
                "routes",
            ],
        );
        let name = self
            .require_str(t, "name", "\"api\"")
            .filter(|s| self.check_name("function name", s, 32))
            .and_then(|s| {
                if let Some(first) = names.get(&s.value) {
                    self.push(
                        &s.path,
                        s.span,
                        format!("function name {} is used twice", q(&s.value)),
                        format!(
                            "{first} is already named {}; give each function a unique name, \
                             e.g. \"{}-2\"",
                            q(&s.value),
                            s.value
                        ),
                    );
                    None
                } else {
                    names.insert(s.value.clone(), t.path.clone());
                    Some(s.value)
                }
            });
        let path = self
            .require_str(t, "path", "\"functions/api\"")
            .and_then(|s| self.check_function_path(&s, base));
        let memory = self.get_int_in_range(t, "memory_mb", 128, 10240, 128);
        let timeout = self.get_int_in_range(t, "timeout_seconds", 1, 900, 10);
        let arch = self.get_enum(
            t,
            "architecture",
            &[
                ("x86_64", Architecture::X86_64),
                ("arm64", Architecture::Arm64),
            ],
            Architecture::X86_64,
        );
        let environment = match self.get_str_map(t, "environment") {
            Got::Val((table, entries)) => self.check_environment(&table, entries),
            Got::Missing => Some(BTreeMap::new()),
            Got::Bad => None,
        };
        let secrets = match self.get_str_map(t, "secrets") {
            Got::Val((_, entries)) => self.check_secrets(entries, environment.as_ref()),
            Got::Missing => Some(BTreeMap::new()),
            Got::Bad => None,
        };
        let kms_key_arn = match self.get_str(t, "kms_key_arn") {
            Got::Val(k) => match check_arn(&k.value, "kms", |r| {
                r.strip_prefix("key/").is_some_and(|id| !id.is_empty())
            }) {
                Ok(()) => Some(Some(k.value)),
                Err(why) => {
                    self.push(
                        &k.path,
                        k.span,
                        format!("kms_key_arn {} is not a KMS key ARN: {why}", q(&k.value)),
                        "use the key's ARN (not an alias), e.g. \
                         \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\""
                            .to_owned(),
                    );
                    None
                }
            },
            Got::Missing => Some(None),
            Got::Bad => None,
        };
        let retention = self.log_retention(t);
        let multi = self.get_bool(t, "multi_value_headers", false);
        let health = match self.sub_table(t, "health_check") {
            Got::Val(h) => self.health_check(&h).map(Some),
            Got::Missing => Some(None),
            Got::Bad => None,
        };
        let label = name.clone().unwrap_or_else(|| t.path.clone());
        let routes = match self.table_list(t, "routes") {
            Got::Val(list) => {
                let mut routes = Some(Vec::new());
                for r in &list {
                    let route = self.route(r, &label, priorities);
                    routes = routes.zip(route).map(|(mut v, r)| {
                        v.push(r);
                        v
                    });
                }
                routes
            }
            Got::Missing => Some(Vec::new()),
            Got::Bad => None,
        };
        Some(FunctionSettings {
            name: name?,
            path: path?,
            memory_mb: memory?,
            timeout_seconds: timeout?,
            architecture: arch?,
            environment: environment?,
            secrets: secrets?,
            kms_key_arn: kms_key_arn?,
            log_retention_days: retention?,
            multi_value_headers: multi?,
            health_check: health?,
            routes: routes?,
        })
    }

    fn check_function_path(&mut self, s: &Str, base: &Result<PathBuf, String>) -> Option<PathBuf> {
        match resolve_function_path(&s.value, base) {
            Ok(p) => Some(p),
            Err((message, help)) => {
                self.push(&s.path, s.span.clone(), message, help);
                None
            }
        }
    }

    fn check_environment(
        &mut self,
        table: &Tbl,
        entries: Vec<Entry>,
    ) -> Option<BTreeMap<String, String>> {
        let mut ok = true;
        let mut size = 0usize;
        let mut out = BTreeMap::new();
        for e in entries {
            size += e.key.len() + e.value.len();
            if RESERVED_ENV.contains(&e.key.as_str()) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!("environment variable {} is reserved by Lambda", e.key),
                    format!("remove {}; Lambda sets it for every function", e.key),
                );
                ok = false;
            } else if !is_env_name(&e.key) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!("environment variable name {} is not valid", q(&e.key)),
                    "use a letter followed by letters, digits and '_', e.g. \"RUST_LOG\""
                        .to_owned(),
                );
                ok = false;
            } else {
                out.insert(e.key, e.value);
            }
        }
        if size > 4096 {
            self.push(
                &table.path,
                table.header.clone(),
                format!("environment is {size} bytes; Lambda allows at most 4096"),
                format!(
                    "shorten or remove variables ({} bytes too many), or load large settings at \
                     run time (e.g. from SSM Parameter Store)",
                    size - 4096
                ),
            );
            ok = false;
        }
        ok.then_some(out)
    }

    /// `secrets = { DB_URL = "arn:aws:secretsmanager:…", API_KEY = "ssm:/shop/api-key" }`.
    fn check_secrets(
        &mut self,
        entries: Vec<Entry>,
        environment: Option<&BTreeMap<String, String>>,
    ) -> Option<BTreeMap<String, SecretRef>> {
        let mut ok = true;
        let mut out = BTreeMap::new();
        for e in entries {
            if RESERVED_ENV.contains(&e.key.as_str()) || !is_env_name(&e.key) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!(
                        "secret {} cannot be an environment variable name",
                        q(&e.key)
                    ),
                    "name it as an environment variable: a letter followed by letters, digits \
                     and '_', not one Lambda reserves, e.g. \"DB_URL\""
                        .to_owned(),
                );
                ok = false;
                continue;
            }
            if environment.is_some_and(|env| env.contains_key(&e.key)) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!(
                        "variable {} is both in `environment` and in `secrets`",
                        e.key
                    ),
                    format!(
                        "keep {} in one of them: the secret's variable holds its reference",
                        e.key
                    ),
                );
                ok = false;
                continue;
            }
            match parse_secret(&e.value) {
                Ok(r) => {
                    out.insert(e.key, r);
                }
                Err(why) => {
                    self.push(
                        &e.path,
                        e.value_span,
                        format!("secret {} is not a secret reference: {why}", e.key),
                        "use a Secrets Manager secret ARN \
                         (\"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf\") \
                         or an SSM parameter name prefixed with \"ssm:\" (\"ssm:/shop/api-key\")"
                            .to_owned(),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn log_retention(&mut self, t: &Tbl) -> Option<u32> {
        let (n, path, span) = match self.get_int(t, "log_retention_days") {
            Got::Val(v) => v,
            Got::Missing => return Some(14),
            Got::Bad => return None,
        };
        if let Some(v) = u32::try_from(n)
            .ok()
            .filter(|v| LOG_RETENTION_DAYS.contains(v))
        {
            return Some(v);
        }
        let below = LOG_RETENTION_DAYS.iter().rev().find(|&&d| i64::from(d) < n);
        let above = LOG_RETENTION_DAYS.iter().find(|&&d| i64::from(d) > n);
        let nearest = match (below, above) {
            (Some(b), Some(a)) => format!("{b} or {a}"),
            (Some(x), None) | (None, Some(x)) => x.to_string(),
            (None, None) => "14".to_owned(),
        };
        self.push(
            &path,
            span,
            format!("log_retention_days {n} is not a retention period CloudWatch Logs offers"),
            format!("the nearest allowed values are {nearest}"),
        );
        None
    }

    fn health_check(&mut self, t: &Tbl) -> Option<HealthCheck> {
        self.check_unknown_keys(
            t,
            &[
                "path",
                "interval_seconds",
                "timeout_seconds",
                "healthy_threshold",
                "unhealthy_threshold",
                "matcher",
            ],
        );
        let path = self.require_str(t, "path", "\"/health\"").and_then(|s| {
            let len = s.value.chars().count();
            if s.value.starts_with('/') && len <= 1024 {
                Some(s.value)
            } else {
                let message = if len > 1024 {
                    format!("health check path is {len} characters long; the limit is 1024")
                } else {
                    format!("health check path {} must start with '/'", q(&s.value))
                };
                self.push(
                    &s.path,
                    s.span,
                    message,
                    format!(
                        "use a path such as \"/{}\"",
                        s.value.trim_start_matches('/')
                    ),
                );
                None
            }
        });
        let interval = self.get_int_in_range(t, "interval_seconds", 5, 300, 35);
        let timeout = self.get_int_in_range(t, "timeout_seconds", 2, 120, 30);
        if let (Some(i), Some(to)) = (interval, timeout) {
            if to >= i {
                let key = if t.t.contains_key("timeout_seconds") {
                    "timeout_seconds"
                } else {
                    "interval_seconds"
                };
                let span = Self::lookup(t, key).and_then(|(_, _, s)| s);
                self.push(
                    &join(&t.path, key),
                    span,
                    format!(
                        "health check timeout_seconds {to} must be less than interval_seconds {i}"
                    ),
                    format!(
                        "set `timeout_seconds` to at most {} or `interval_seconds` to at least {}",
                        i.saturating_sub(1).max(2),
                        to + 1
                    ),
                );
            }
        }
        let healthy = self.get_int_in_range(t, "healthy_threshold", 2, 10, 5);
        let unhealthy = self.get_int_in_range(t, "unhealthy_threshold", 2, 10, 2);
        let matcher = match self.get_str(t, "matcher") {
            Got::Val(s) => match check_matcher(&s.value) {
                Ok(()) => Some(s.value),
                Err(why) => {
                    self.push(
                        &s.path,
                        s.span,
                        format!("health check matcher {} is not valid: {why}", q(&s.value)),
                        "use HTTP codes from 200 to 499: one code \"200\", a range \"200-299\" \
                         or a list \"200,204\""
                            .to_owned(),
                    );
                    None
                }
            },
            Got::Missing => Some("200".to_owned()),
            Got::Bad => None,
        };
        let (interval, timeout) = (interval?, timeout?);
        if timeout >= interval {
            return None;
        }
        Some(HealthCheck {
            path: path?,
            interval_seconds: interval,
            timeout_seconds: timeout,
            healthy_threshold: healthy?,
            unhealthy_threshold: unhealthy?,
            matcher: matcher?,
        })
    }

    // -----------------------------------------------------------------------------------
    // [[functions.routes]]

    fn route(
        &mut self,
        t: &Tbl,
        function: &str,
        priorities: &mut Vec<PriorityUse>,
    ) -> Option<Route> {
        self.check_unknown_keys(t, &["priority", "paths", "methods", "hosts"]);
        let priority = match self.get_int(t, "priority") {
            Got::Val((n, path, span)) => match u32::try_from(n) {
                Ok(p) if (1..=50000).contains(&p) => {
                    priorities.push(PriorityUse {
                        priority: p,
                        span,
                        path,
                        route: t.path.clone(),
                        function: function.to_owned(),
                    });
                    Some(p)
                }
                _ => {
                    self.push(
                        &path,
                        span,
                        format!("route priority {n} is out of range (1–50000)"),
                        format!(
                            "use a value from 1 to 50000, e.g. `priority = {}`",
                            n.clamp(1, 50000)
                        ),
                    );
                    None
                }
            },
            Got::Missing => {
                self.missing(
                    t,
                    "priority",
                    "required key `priority`",
                    "add `priority = N` (1 to 50000, unique across the stack; lower numbers are \
                     matched first)"
                        .to_owned(),
                );
                None
            }
            Got::Bad => None,
        };
        let paths = self.route_values(t, "paths", "path", check_route_path);
        let methods = self.route_values(t, "methods", "method", check_method);
        let hosts = self.route_values(t, "hosts", "host", check_host);

        let count = |v: &Option<Vec<String>>| v.as_ref().map_or(0, Vec::len);
        let all_known = paths.is_some() && methods.is_some() && hosts.is_some();
        let total = count(&paths) + count(&methods) + count(&hosts);
        if all_known && total == 0 {
            self.push(
                &t.path,
                t.header.clone(),
                format!("route {} has no condition", t.path),
                "set at least one of `paths`, `hosts` or `methods`, e.g. `paths = [\"/*\"]` to \
                 send every request to this function"
                    .to_owned(),
            );
        }
        if total > 5 {
            self.push(
                &t.path,
                t.header.clone(),
                format!(
                    "route {} has {total} condition values (paths + methods + hosts); an ALB \
                     rule allows at most 5",
                    t.path
                ),
                "split it into two routes with different priorities, each with at most 5 values"
                    .to_owned(),
            );
        }
        let wildcards: usize = [&paths, &hosts]
            .iter()
            .filter_map(|v| v.as_ref())
            .flatten()
            .map(|s| s.chars().filter(|c| matches!(c, '*' | '?')).count())
            .sum();
        if wildcards > 5 {
            self.push(
                &t.path,
                t.header.clone(),
                format!(
                    "route {} uses {wildcards} wildcards ('*' and '?') in paths and hosts; an ALB \
                     rule allows at most 5",
                    t.path
                ),
                "split it into two routes with different priorities, or use fewer wildcards"
                    .to_owned(),
            );
        }
        if total > 5 || wildcards > 5 || total == 0 {
            return None;
        }
        Some(Route {
            priority: priority?,
            paths: paths?,
            methods: methods?,
            hosts: hosts?,
        })
    }

    /// A list of route condition values, each checked by `check` (which returns the problem
    /// message tail and help), without duplicates.
    fn route_values(
        &mut self,
        t: &Tbl,
        key: &str,
        what: &str,
        check: fn(&str) -> Result<(), (String, String)>,
    ) -> Option<Vec<String>> {
        let list = match self.get_str_array(t, key) {
            Got::Val(list) => list,
            Got::Missing => return Some(Vec::new()),
            Got::Bad => return None,
        };
        let before = self.problems.len();
        for s in &list {
            if let Err((why, help)) = check(&s.value) {
                self.push(
                    &s.path,
                    s.span.clone(),
                    format!("{what} {} {why}", q(&s.value)),
                    help,
                );
            }
        }
        self.check_duplicates(what, &list, str::to_owned);
        (self.problems.len() == before).then(|| list.into_iter().map(|s| s.value).collect())
    }

    fn check_priorities(&mut self, uses: &[PriorityUse]) {
        let taken: HashSet<u32> = uses.iter().map(|u| u.priority).collect();
        let mut first: HashMap<u32, &PriorityUse> = HashMap::new();
        for u in uses {
            match first.get(&u.priority) {
                None => {
                    first.insert(u.priority, u);
                }
                Some(f) => {
                    let free = (u.priority..=50000)
                        .chain(1..u.priority)
                        .find(|p| !taken.contains(p))
                        .unwrap_or(u.priority);
                    self.push(
                        &u.path,
                        u.span.clone(),
                        format!("route priority {} is used twice", u.priority),
                        format!(
                            "{} (function {}) already has priority {}; priorities must be \
                             unique across the stack: use a free one such as {free}",
                            f.route,
                            q(&f.function),
                            u.priority
                        ),
                    );
                }
            }
        }
    }
}

struct PriorityUse {
    priority: u32,
    span: Span,
    path: String,
    route: String,
    function: String,
}

// ---------------------------------------------------------------------------------------
// Value rules.

/// CloudWatch Logs retention periods, in days.
const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Environment variables Lambda sets itself and refuses in a function's configuration.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// A valid name close to `raw`: lower-case, `[a-z0-9-]`, starting with a letter.
fn suggest_name(raw: &str, max: usize) -> String {
    let mut out = String::new();
    for c in raw.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if out.is_empty() && c.is_ascii_digit() {
                out.push_str("app-");
            }
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "my-app".to_owned()
    } else {
        out.to_owned()
    }
}

fn is_lower_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$`
pub fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let country = |p: &str| p.len() == 2 && is_lower_word(p);
    let number = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [c, w, n] => country(c) && is_lower_word(w) && number(n),
        [c, qual, w, n] => {
            let qual_ok = *qual == "gov"
                || (qual.starts_with("iso") && qual.len() <= 4 && is_lower_word(qual));
            country(c) && qual_ok && is_lower_word(w) && number(n)
        }
        _ => false,
    }
}

/// `^<prefix>-[0-9a-f]{8}([0-9a-f]{9})?$`
fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `^[A-Z0-9]{2,32}$`. Route 53 ids start with `Z`, but AWS does not promise that and
/// local emulators (moto) hand out ids that do not, so only the alphabet is checked.
fn is_zone_id(s: &str) -> bool {
    (2..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The canonical crate directory of a function: relative to `base`, inside it, a directory
/// holding `Cargo.toml`. The error is the message and the help.
fn resolve_function_path(
    raw: &str,
    base: &Result<PathBuf, String>,
) -> Result<PathBuf, (String, String)> {
    if raw.trim().is_empty() {
        return Err((
            "function path is empty".to_owned(),
            "set `path` to the function's crate directory, relative to albkit.toml, e.g. \
             \"functions/api\""
                .to_owned(),
        ));
    }
    let p = Path::new(raw);
    if p.is_absolute() || p.has_root() {
        return Err((
            format!("function path {} is absolute", q(raw)),
            "write it relative to the directory of albkit.toml, e.g. \"functions/api\"".to_owned(),
        ));
    }
    let outside = || {
        (
            format!(
                "function path {} points outside the project directory",
                q(raw)
            ),
            "move the function crate into the directory holding albkit.toml (or below it) \
             and point `path` there"
                .to_owned(),
        )
    };
    let mut depth = 0usize;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir if depth == 0 => return Err(outside()),
            Component::ParentDir => depth -= 1,
            _ => {}
        }
    }
    let base = base.as_ref().map_err(|why| {
        (
            format!("cannot check function path {}: {why}", q(raw)),
            "run albkit from a directory that exists, or pass `-c PATH`".to_owned(),
        )
    })?;
    let canon = base.join(p).canonicalize().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            (
                format!("function path {} does not exist", q(raw)),
                format!(
                    "create the crate with `cargo new {raw}` in {}, or correct `path`",
                    base.display()
                ),
            )
        } else {
            (
                format!("cannot read function path {}: {e}", q(raw)),
                "check that the directory exists and is readable".to_owned(),
            )
        }
    })?;
    if !canon.starts_with(base) {
        return Err(outside());
    }
    if !canon.is_dir() {
        let help = if canon.file_name().is_some_and(|n| n == "Cargo.toml") {
            let dir = p
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            format!("point `path` at the crate directory instead: {dir:?}")
        } else {
            "point `path` at the function's crate directory (the one holding Cargo.toml)".to_owned()
        };
        return Err((format!("function path {} is not a directory", q(raw)), help));
    }
    if !canon.join("Cargo.toml").is_file() {
        return Err((
            format!("function path {} has no Cargo.toml", q(raw)),
            "point `path` at the function's crate directory, or run `cargo init` in it".to_owned(),
        ));
    }
    Ok(canon)
}

/// `^[A-Za-z][A-Za-z0-9_]*$`
fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_prefix(p: &str, max: u8) -> Result<u8, String> {
    p.parse::<u8>()
        .ok()
        .filter(|n| *n <= max && !p.starts_with('+'))
        .ok_or_else(|| format!("has an invalid prefix length /{p} (0 to {max})"))
}

fn parse_v4_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or("has no prefix length (such as /16)")?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("has an invalid IPv4 address {addr:?}"))?;
    Ok((addr, parse_prefix(prefix, 32)?))
}

fn v4_network(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(addr) & mask)
}

fn v6_network(addr: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(addr) & mask)
}

/// An IPv4 or IPv6 CIDR with host bits zero, in canonical text form. The error is the
/// message tail and the help.
fn parse_ingress_cidr(s: &str) -> Result<IngressCidr, (String, String)> {
    let example = "write a CIDR such as \"203.0.113.0/24\" or \"2001:db8::/32\"".to_owned();
    let Some((addr, prefix)) = s.split_once('/') else {
        return Err(("has no prefix length (such as /24)".to_owned(), example));
    };
    if addr.contains(':') {
        let a: Ipv6Addr = addr.parse().map_err(|_| {
            (
                format!("has an invalid IPv6 address {addr:?}"),
                example.clone(),
            )
        })?;
        let p = parse_prefix(prefix, 128).map_err(|why| (why, example.clone()))?;
        let net = v6_network(a, p);
        if net != a {
            return Err(("has host bits set".to_owned(), format!("use \"{net}/{p}\"")));
        }
        Ok(IngressCidr::V6(format!("{net}/{p}")))
    } else {
        let a: Ipv4Addr = addr.parse().map_err(|_| {
            (
                format!("has an invalid IPv4 address {addr:?}"),
                example.clone(),
            )
        })?;
        let p = parse_prefix(prefix, 32).map_err(|why| (why, example.clone()))?;
        let net = v4_network(a, p);
        if net != a {
            return Err(("has host bits set".to_owned(), format!("use \"{net}/{p}\"")));
        }
        Ok(IngressCidr::V4(format!("{net}/{p}")))
    }
}

/// A DNS name (optionally `*.`-prefixed), returned in lower case. The error is the reason
/// and the help.
fn check_domain(raw: &str) -> Result<String, (String, String)> {
    let example = "use a name such as \"api.example.com\" or \"*.example.com\"".to_owned();
    let d = raw.to_ascii_lowercase();
    if d.len() > 253 {
        return Err((
            format!("it is {} characters long; the limit is 253", d.len()),
            "use a shorter name".to_owned(),
        ));
    }
    if let Some(stripped) = d.strip_suffix('.') {
        return Err((
            "it ends with '.'".to_owned(),
            format!("remove the trailing dot: {stripped:?}"),
        ));
    }
    let name = d.strip_prefix("*.").unwrap_or(&d);
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err((
            "it needs at least two labels".to_owned(),
            format!("use a fully qualified name such as \"{name}.example.com\""),
        ));
    }
    for label in labels {
        let why = if label.is_empty() {
            "it has an empty label (\"..\")".to_owned()
        } else if label.len() > 63 {
            format!("label {} is longer than 63 characters", q(label))
        } else if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            let extra = if label.contains('*') {
                " (a wildcard is only allowed as a leading \"*.\")"
            } else {
                ""
            };
            format!(
                "label {} may contain only a-z, 0-9 and '-'{extra}",
                q(label)
            )
        } else if label.starts_with('-') || label.ends_with('-') {
            format!("label {} starts or ends with '-'", q(label))
        } else {
            continue;
        };
        return Err((why, example));
    }
    Ok(d)
}

/// Checks an ARN of `service` whose resource part passes `resource_ok`; the region may be
/// empty (IAM), the account is 12 digits (or `aws` for AWS managed IAM policies).
fn check_arn(arn: &str, service: &str, resource_ok: impl Fn(&str) -> bool) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, svc, region, account, resource] = parts.as_slice() else {
        return Err("it does not have the six ':'-separated parts of an ARN".to_owned());
    };
    if *scheme != "arn" || !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err("it must start with \"arn:aws:\"".to_owned());
    }
    if *svc != service {
        return Err(format!("it belongs to service {svc:?}, not {service:?}"));
    }
    if !(region.is_empty() || is_aws_region(region)) {
        return Err(format!("{region:?} is not a region"));
    }
    let managed = service == "iam" && *account == "aws";
    if !managed && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("{account:?} is not a 12-digit account id"));
    }
    if !resource_ok(resource) || resource.chars().any(char::is_whitespace) {
        return Err(format!(
            "{resource:?} is not the resource part this ARN needs"
        ));
    }
    Ok(())
}

/// A secret reference: a Secrets Manager ARN, or `ssm:` and a parameter name.
fn parse_secret(value: &str) -> Result<SecretRef, String> {
    if let Some(name) = value.strip_prefix("ssm:") {
        let ok = !name.is_empty()
            && name.len() <= 2048
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
            && !name.ends_with('/');
        return if ok {
            Ok(SecretRef::Parameter(name.to_string()))
        } else {
            Err(format!(
                "{name:?} is not an SSM parameter name (letters, digits, _ . - /)"
            ))
        };
    }
    check_arn(value, "secretsmanager", |r| {
        r.strip_prefix("secret:").is_some_and(|n| !n.is_empty())
    })?;
    Ok(SecretRef::SecretsManager(value.to_string()))
}

/// A checked `Strict-Transport-Security` value.
#[derive(Debug, PartialEq, Eq)]
struct Hsts {
    /// Canonical text: directives in the order given, names spelled as RFC 6797 does,
    /// separated by "; ".
    value: String,
    max_age: u64,
    include_subdomains: bool,
    preload: bool,
}

/// Checks a `Strict-Transport-Security` value (RFC 6797 §6.1): `max-age=<seconds>`
/// exactly once, optionally `includeSubDomains` and `preload` (each at most once, names
/// case-insensitive), separated by `;`.
fn check_hsts(raw: &str) -> Result<Hsts, (String, String)> {
    let example = format!("e.g. {DEFAULT_HSTS:?}, or `hsts = false` to send no such header");
    if let Some(c) = raw.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err((
            format!("it contains {c:?}, which a header value cannot hold"),
            format!("use printable ASCII only, {example}"),
        ));
    }
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    let mut parts = Vec::new();
    for directive in raw.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (directive, None),
        };
        let twice = || {
            (
                format!("`{name}` appears twice"),
                format!("give each directive once, {example}"),
            )
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("max-age", Some(v)) => {
                if max_age.is_some() {
                    return Err(twice());
                }
                let seconds = v
                    .parse::<u64>()
                    .ok()
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        (
                            format!("max-age {v:?} is not a number of seconds"),
                            format!("write the seconds as digits, {example}"),
                        )
                    })?;
                max_age = Some(seconds);
                parts.push(format!("max-age={seconds}"));
            }
            ("includesubdomains", None) => {
                if include_subdomains {
                    return Err(twice());
                }
                include_subdomains = true;
                parts.push("includeSubDomains".to_owned());
            }
            ("preload", None) => {
                if preload {
                    return Err(twice());
                }
                preload = true;
                parts.push("preload".to_owned());
            }
            ("max-age", None) => {
                return Err((
                    "max-age has no value".to_owned(),
                    format!("write `max-age=<seconds>`, {example}"),
                ))
            }
            ("includesubdomains" | "preload", Some(_)) => {
                return Err((
                    format!("`{name}` takes no value"),
                    format!("write it alone, {example}"),
                ))
            }
            (other, _) => {
                let known = ["max-age", "includeSubDomains", "preload"];
                let hint = known
                    .iter()
                    .find(|k| levenshtein(other, &k.to_ascii_lowercase()) <= 3)
                    .map(|k| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                return Err((
                    format!("unknown directive `{name}`"),
                    format!("{hint}the directives are max-age, includeSubDomains and preload, {example}"),
                ));
            }
        }
    }
    let Some(max_age) = max_age else {
        return Err((
            "max-age is missing".to_owned(),
            format!("browsers ignore the header without it: {example}"),
        ));
    };
    Ok(Hsts {
        value: parts.join("; "),
        max_age,
        include_subdomains,
        preload,
    })
}

/// `^arn:aws(-cn|-us-gov)?:acm:<region>:\d{12}:certificate/[A-Za-z0-9-]+$`, returning the
/// region.
fn cert_arn_region(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts.as_slice() else {
        return Err("it does not have the six ':'-separated parts of an ARN".to_owned());
    };
    if *scheme != "arn" || !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err("it must start with \"arn:aws:\"".to_owned());
    }
    if *service != "acm" {
        return Err(format!("it belongs to service {service:?}, not \"acm\""));
    }
    if !is_aws_region(region) {
        return Err(format!("{region:?} is not a region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{account:?} is not a 12-digit account id"));
    }
    let id_ok = resource.strip_prefix("certificate/").is_some_and(|id| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !id_ok {
        return Err(format!("{resource:?} is not \"certificate/<id>\""));
    }
    Ok(region)
}

/// An ELB matcher: `200`, `200-299` or `200,204`, codes 200 to 499.
fn check_matcher(m: &str) -> Result<(), String> {
    let code = |c: &str| -> Result<u16, String> {
        match c.parse::<u16>() {
            Ok(n) if c.len() == 3 && (200..=499).contains(&n) => Ok(n),
            Ok(_) if c.bytes().all(|b| b.is_ascii_digit()) => {
                Err(format!("{c} is outside 200–499"))
            }
            _ => Err(format!("{c:?} is not an HTTP status code")),
        }
    };
    if m.contains('-') && m.contains(',') {
        return Err("use either a range or a list, not both".to_owned());
    }
    if let Some((lo, hi)) = m.split_once('-') {
        let (lo, hi) = (code(lo)?, code(hi)?);
        if lo >= hi {
            return Err(format!("the range {lo}-{hi} is empty or reversed"));
        }
        return Ok(());
    }
    for c in m.split(',') {
        code(c)?;
    }
    Ok(())
}

fn check_route_path(p: &str) -> Result<(), (String, String)> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?".contains(c);
    let len = p.chars().count();
    if len == 0 || len > 128 {
        return Err((
            format!("is {len} characters long"),
            "path patterns must be 1 to 128 characters long".to_owned(),
        ));
    }
    if !p.starts_with(['/', '*']) {
        return Err((
            "must start with '/' or '*'".to_owned(),
            format!("use \"/{p}\""),
        ));
    }
    if let Some(c) = p.chars().find(|c| !allowed(*c)) {
        return Err((
            format!("contains {c:?}, which ALB path patterns do not allow"),
            "use only A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & and the wildcards * and ?".to_owned(),
        ));
    }
    Ok(())
}

fn check_method(m: &str) -> Result<(), (String, String)> {
    let upper = m.to_ascii_uppercase();
    let valid = |s: &str| {
        (1..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    };
    if valid(m) {
        Ok(())
    } else if valid(&upper) {
        Err((
            "is not upper-case".to_owned(),
            format!("methods are case-sensitive on ALB: write {upper:?}"),
        ))
    } else {
        Err((
            "is not an HTTP method".to_owned(),
            "use 1 to 40 characters of A-Z, '_' and '-', e.g. \"GET\" or \"POST\"".to_owned(),
        ))
    }
}

fn check_host(h: &str) -> Result<(), (String, String)> {
    let len = h.chars().count();
    if len == 0 || len > 128 {
        return Err((
            format!("is {len} characters long"),
            "host patterns must be 1 to 128 characters long".to_owned(),
        ));
    }
    if let Some(c) = h
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '?')))
    {
        return Err((
            format!("contains {c:?}, which ALB host patterns do not allow"),
            "use only A-Z a-z 0-9 - . and the wildcards * and ?, e.g. \"api.example.com\""
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A project directory holding two function crates: `functions/api` and `functions/web`.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["functions/api", "functions/web"] {
            let d = dir.path().join(f);
            fs::create_dir_all(&d).expect("mkdir");
            fs::write(d.join("Cargo.toml"), "[package]\nname = \"f\"\n").expect("write");
        }
        dir
    }

    const STACK: &str = "[stack]\nname = \"hello\"\n";
    const FUNCTION: &str = "[[functions]]\nname = \"api\"\npath = \"functions/api\"\n";

    /// `[stack]` (with `stack_extra` inside it), then `sections`, then one function with
    /// `function_extra` appended.
    fn doc(stack_extra: &str, sections: &str, function_extra: &str) -> String {
        format!("{STACK}{stack_extra}\n{sections}\n{FUNCTION}{function_extra}")
    }

    fn stack(extra: &str) -> String {
        doc(extra, "", "")
    }

    fn section(text: &str) -> String {
        doc("", text, "")
    }

    fn function(extra: &str) -> String {
        doc("", "", extra)
    }

    fn problems_of(text: &str) -> Vec<Problem> {
        let dir = project();
        match parse_str(text, dir.path()) {
            Ok(c) => panic!("expected problems, got {c:#?}\n--- input ---\n{text}"),
            Err(p) => p,
        }
    }

    fn parse_ok(text: &str) -> (tempfile::TempDir, Config) {
        let dir = project();
        let config = match parse_str(text, dir.path()) {
            Ok(c) => c,
            Err(p) => panic!("expected a valid config, got {p:#?}\n--- input ---\n{text}"),
        };
        (dir, config)
    }

    #[track_caller]
    fn assert_problem(text: &str, key: &str, needle: &str) -> Problem {
        let ps = problems_of(text);
        let found = ps
            .iter()
            .find(|p| p.key == key && p.message.contains(needle))
            .cloned()
            .unwrap_or_else(|| {
                panic!("no problem at {key:?} containing {needle:?}; got {ps:#?}\n{text}")
            });
        assert!(!found.help.trim().is_empty(), "empty help: {found:#?}");
        assert!(
            found.message.starts_with(|c: char| !c.is_uppercase()),
            "message must start lower-case: {found:#?}"
        );
        found
    }

    /// One test per rule: the input, the key of the problem and part of its message.
    macro_rules! rule {
        ($($name:ident: $text:expr, $key:expr, $needle:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_problem(&$text, $key, $needle);
            }
        )*};
    }

    /// Like `rule!`, also checking part of the help.
    macro_rules! rule_help {
        ($($name:ident: $text:expr, $key:expr, $needle:expr, $help:expr;)*) => {$(
            #[test]
            fn $name() {
                let p = assert_problem(&$text, $key, $needle);
                assert!(p.help.contains($help), "help {:?} lacks {:?}", p.help, $help);
            }
        )*};
    }

    // ---- top level and structure --------------------------------------------------

    rule! {
        stack_table_missing: FUNCTION, "stack", "missing required table [stack]";
        stack_wrong_type: format!("stack = \"hello\"\n{FUNCTION}"), "stack", "expected a table, found a string";
        stack_array_of_tables: format!("[[stack]]\nname = \"a\"\n{FUNCTION}"), "stack", "expected a table, found an array of tables";
        functions_missing: STACK, "functions", "at least one function is required";
        functions_empty: format!("functions = []\n{STACK}"), "functions", "functions is empty";
        functions_string: format!("functions = \"api\"\n{STACK}"), "functions", "expected an array of tables, found a string";
        functions_element_not_table: format!("functions = [1]\n{STACK}"), "functions[0]", "expected a table, found an integer";
        network_wrong_type: format!("network = 1\n{STACK}{FUNCTION}"), "network", "expected a table, found an integer";
        health_check_wrong_type: function("health_check = \"/health\"\n"), "functions[0].health_check", "expected a table, found a string";
        routes_single_table: function("[functions.routes]\npriority = 1\npaths = [\"/\"]\n"), "functions[0].routes", "expected an array of tables, found a table";
        environment_wrong_type: function("environment = [\"A=1\"]\n"), "functions[0].environment", "expected a table, found an array";
        tags_wrong_type: stack("tags = \"team=api\"\n"), "stack.tags", "expected a table, found a string";
    }

    rule_help! {
        functions_single_table: format!("{STACK}[functions]\nname = \"api\"\npath = \"functions/api\"\n"), "functions", "expected an array of tables, found a table", "[[functions]]";
        unknown_key_typo: stack("regoin = \"us-east-1\"\n"), "stack.regoin", "unknown key `regoin` in [stack]", "did you mean `region`?";
        unknown_table_typo: format!("{STACK}[netwrok]\ncidr = \"10.0.0.0/16\"\n{FUNCTION}"), "netwrok", "unknown key `netwrok` at the top level", "did you mean `network`?";
        unknown_key_in_function: function("memroy_mb = 256\n"), "functions[0].memroy_mb", "unknown key", "did you mean `memory_mb`?";
        unknown_key_in_route: function("[[functions.routes]]\npriority = 1\npath = \"/api\"\n"), "functions[0].routes[0].path", "unknown key", "did you mean `paths`?";
        unknown_key_in_health_check: function("health_check = { path = \"/h\", intervall = 10 }\n"), "functions[0].health_check.intervall", "unknown key", "did you mean `interval_seconds`?";
        unknown_key_without_suggestion: stack("colour = \"blue\"\n"), "stack.colour", "unknown key `colour`", "remove it; the keys allowed in [stack] are: name, region, tags";
        misplaced_key_names_its_table: section("[network]\nregion = \"us-east-1\"\n"), "network.region", "unknown key", "belongs in [stack]";
        hosted_zone_id_outside_https: stack("hosted_zone_id = \"Z123\"\n"), "stack.hosted_zone_id", "unknown key", "belongs in the [https] table, together with `domain`";
        certificate_arn_at_top_level: format!("certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/x\"\n{STACK}{FUNCTION}"), "certificate_arn", "unknown key", "belongs in the [https] table";
    }

    // ---- [stack] --------------------------------------------------------------------

    rule! {
        stack_name_missing: format!("[stack]\nregion = \"us-east-1\"\n{FUNCTION}"), "stack.name", "missing required key `name` in [stack]";
        stack_name_not_string: format!("[stack]\nname = 7\n{FUNCTION}"), "stack.name", "expected a string, found an integer";
        stack_name_empty: format!("[stack]\nname = \"\"\n{FUNCTION}"), "stack.name", "stack name is empty";
        stack_name_too_long: format!("[stack]\nname = \"{}\"\n{FUNCTION}", "a".repeat(25)), "stack.name", "is 25 characters long; the limit is 24";
        stack_name_starts_with_digit: format!("[stack]\nname = \"1app\"\n{FUNCTION}"), "stack.name", "must start with a letter";
        stack_name_trailing_dash: format!("[stack]\nname = \"app-\"\n{FUNCTION}"), "stack.name", "must not end with '-'";
        stack_name_double_dash: format!("[stack]\nname = \"my--app\"\n{FUNCTION}"), "stack.name", "must not contain \"--\"";
        stack_region_invalid: stack("region = \"us-east\"\n"), "stack.region", "region \"us-east\" is not an AWS region code";
        tag_value_not_string: stack("tags = { team = 1 }\n"), "stack.tags.team", "expected a string, found an integer";
        tag_key_empty: stack("tags = { \"\" = \"x\" }\n"), "stack.tags.\"\"", "is 0 characters long";
        tag_key_too_long: stack(&format!("tags = {{ {} = \"x\" }}\n", "k".repeat(129))), &format!("stack.tags.{}", "k".repeat(129)), "is 129 characters long";
        tag_value_too_long: stack(&format!("tags = {{ team = \"{}\" }}\n", "v".repeat(257))), "stack.tags.team", "257 characters; the limit is 256";
        tag_key_aws_prefix: stack("tags = { \"AWS:owner\" = \"me\" }\n"), "stack.tags.\"AWS:owner\"", "reserved prefix";
        tag_key_albkit_prefix: stack("[stack.tags]\n\"albkit:stack\" = \"x\"\n"), "stack.tags.\"albkit:stack\"", "reserved prefix";
        too_many_tags: stack(&format!("[stack.tags]\n{}", (0..46).map(|i| format!("t{i} = \"v\"\n")).collect::<String>())), "stack.tags", "stack has 46 tags; at most 45";
    }

    rule_help! {
        stack_name_charset: format!("[stack]\nname = \"Hello_World\"\n{FUNCTION}"), "stack.name", "stack name \"Hello_World\" may contain only a-z, 0-9 and '-'", "use \"hello-world\"";
        stack_region_upper_case: stack("region = \"US-EAST-1\"\n"), "stack.region", "not an AWS region code", "use \"us-east-1\"";
    }

    #[test]
    fn region_pattern() {
        for ok in [
            "us-east-1",
            "eu-west-3",
            "ap-southeast-12",
            "us-gov-west-1",
            "cn-north-1",
            "us-iso-east-1",
            "us-isob-east-1",
        ] {
            assert!(is_aws_region(ok), "{ok}");
        }
        for bad in [
            "us-east",
            "useast1",
            "us-east-123",
            "USA-east-1",
            "us-isobb-east-1",
            "us-east-1a",
            "",
        ] {
            assert!(!is_aws_region(bad), "{bad}");
        }
    }

    #[test]
    fn name_suggestions() {
        assert_eq!(suggest_name("Hello_World", 24), "hello-world");
        assert_eq!(suggest_name("1app", 24), "app-1app");
        assert_eq!(suggest_name("app--", 24), "app");
        assert_eq!(suggest_name("___", 24), "my-app");
        assert_eq!(suggest_name(&"ab-".repeat(20), 24).len(), 23);
    }

    // ---- [network] ------------------------------------------------------------------

    rule! {
        cidr_not_a_cidr: section("[network]\ncidr = \"10.0.0/16\"\n"), "network.cidr", "invalid IPv4 address";
        cidr_without_prefix: section("[network]\ncidr = \"10.0.0.0\"\n"), "network.cidr", "has no prefix length";
        cidr_prefix_too_short: section("[network]\ncidr = \"10.0.0.0/8\"\n"), "network.cidr", "is too large";
        cidr_prefix_too_long: section("[network]\ncidr = \"10.0.0.0/24\"\n"), "network.cidr", "is too small";
        availability_zones_too_few: section("[network]\navailability_zones = 1\n"), "network.availability_zones", "availability_zones 1 is out of range (2–6)";
        availability_zones_too_many: section("[network]\navailability_zones = 7\n"), "network.availability_zones", "out of range";
        vpc_id_invalid: section("[network]\nvpc_id = \"vpc-123\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n"), "network.vpc_id", "is not a VPC id";
        vpc_id_without_subnets: section("[network]\nvpc_id = \"vpc-0123abcd\"\n"), "network.subnet_ids", "missing `subnet_ids`";
        subnets_too_few: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\"]\n"), "network.subnet_ids", "an ALB needs at least 2";
        subnet_id_invalid: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-XYZ\"]\n"), "network.subnet_ids[1]", "is not a subnet id";
        subnet_id_duplicate: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-0123abcd\"]\n"), "network.subnet_ids[1]", "listed twice";
        subnets_without_vpc: section("[network]\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n"), "network.subnet_ids", "needs `vpc_id`";
        vpc_id_conflicts_with_cidr: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\ncidr = \"10.0.0.0/16\"\n"), "network.cidr", "cannot be combined with `vpc_id`";
        vpc_id_conflicts_with_azs: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\navailability_zones = 3\n"), "network.availability_zones", "cannot be combined with `vpc_id`";
    }

    rule_help! {
        cidr_host_bits: section("[network]\ncidr = \"10.0.1.0/16\"\n"), "network.cidr", "has host bits set", "use \"10.0.0.0/16\"";
    }

    #[test]
    fn existing_network() {
        let (_dir, c) = parse_ok(&section(
            "[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n",
        ));
        assert_eq!(
            c.network,
            Network::Existing {
                vpc_id: VpcId::new("vpc-0123456789abcdef0"),
                subnet_ids: vec![
                    SubnetId::new("subnet-0123abcd"),
                    SubnetId::new("subnet-4567abcd")
                ],
            }
        );
    }

    // ---- [load_balancer] ------------------------------------------------------------

    rule! {
        ingress_not_a_cidr: section("[load_balancer]\ningress_cidrs = [\"10.0.0.0\"]\n"), "load_balancer.ingress_cidrs[0]", "has no prefix length";
        ingress_bad_address: section("[load_balancer]\ningress_cidrs = [\"300.0.0.0/8\"]\n"), "load_balancer.ingress_cidrs[0]", "invalid IPv4 address";
        ingress_bad_prefix: section("[load_balancer]\ningress_cidrs = [\"::/129\"]\n"), "load_balancer.ingress_cidrs[0]", "invalid prefix length";
        ingress_empty: section("[load_balancer]\ningress_cidrs = []\n"), "load_balancer.ingress_cidrs", "ingress_cidrs is empty";
        ingress_too_many: section(&format!("[load_balancer]\ningress_cidrs = [{}]\n", (0..51).map(|i| format!("\"10.0.{i}.0/24\"")).collect::<Vec<_>>().join(", "))), "load_balancer.ingress_cidrs", "lists 51 CIDRs; at most 50";
        ingress_duplicate_after_canonicalising: section("[load_balancer]\ningress_cidrs = [\"2001:db8::/32\", \"2001:DB8:0::/32\"]\n"), "load_balancer.ingress_cidrs[1]", "listed twice";
        ingress_not_strings: section("[load_balancer]\ningress_cidrs = \"0.0.0.0/0\"\n"), "load_balancer.ingress_cidrs", "expected an array of strings, found a string";
        idle_timeout_zero: section("[load_balancer]\nidle_timeout_seconds = 0\n"), "load_balancer.idle_timeout_seconds", "out of range (1–4000)";
        idle_timeout_too_long: section("[load_balancer]\nidle_timeout_seconds = 4001\n"), "load_balancer.idle_timeout_seconds", "out of range";
        deletion_protection_not_bool: section("[load_balancer]\ndeletion_protection = \"yes\"\n"), "load_balancer.deletion_protection", "expected a boolean, found a string";
        access_log_retention_zero: section("[load_balancer]\naccess_log_retention_days = 0\n"), "load_balancer.access_log_retention_days", "out of range (1–3650)";
        access_log_retention_too_long: section("[load_balancer]\naccess_log_retention_days = 3651\n"), "load_balancer.access_log_retention_days", "out of range";
    }

    rule_help! {
        scheme_invalid: section("[load_balancer]\nscheme = \"public\"\n"), "load_balancer.scheme", "scheme \"public\" is not one of", "did you mean \"internet-facing\"?";
        ingress_v4_host_bits: section("[load_balancer]\ningress_cidrs = [\"10.1.2.3/8\"]\n"), "load_balancer.ingress_cidrs[0]", "has host bits set", "use \"10.0.0.0/8\"";
        ingress_v6_host_bits: section("[load_balancer]\ningress_cidrs = [\"2001:db8::1/32\"]\n"), "load_balancer.ingress_cidrs[0]", "has host bits set", "use \"2001:db8::/32\"";
        access_logs_quoted_bool: section("[load_balancer]\naccess_logs = \"false\"\n"), "load_balancer.access_logs", "expected a boolean, found a string", "remove the quotes: `access_logs = false`";
    }

    // ---- [https] --------------------------------------------------------------------

    rule! {
        https_domain_missing: section("[https]\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n"), "https.domain", "missing required key `domain` in [https]";
        domain_bad_chars: section("[https]\ndomain = \"api_x.example.com\"\n"), "https.domain", "label \"api_x\" may contain only a-z, 0-9 and '-'";
        domain_single_label: section("[https]\ndomain = \"localhost\"\n"), "https.domain", "needs at least two labels";
        domain_too_long: section(&format!("[https]\ndomain = \"{}.com\"\n", vec!["a".repeat(60); 5].join("."))), "https.domain", "the limit is 253";
        domain_label_too_long: section(&format!("[https]\ndomain = \"{}.com\"\n", "a".repeat(64))), "https.domain", "longer than 63 characters";
        domain_label_dash: section("[https]\ndomain = \"-api.example.com\"\n"), "https.domain", "starts or ends with '-'";
        domain_empty_label: section("[https]\ndomain = \"api..example.com\"\n"), "https.domain", "empty label";
        domain_inner_wildcard: section("[https]\ndomain = \"api.*.example.com\"\n"), "https.domain", "wildcard is only allowed as a leading";
        certificate_arn_invalid: section("[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:acm:us-east-1:123:certificate/x\"\n"), "https.certificate_arn", "is not a 12-digit account id";
        certificate_arn_wrong_service: section("[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:iam:us-east-1:123456789012:certificate/x\"\n"), "https.certificate_arn", "not \"acm\"";
        certificate_arn_region_mismatch: doc("region = \"us-east-1\"\n", "[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc-123\"\n", ""), "https.certificate_arn", "is in eu-west-1, but the stack is in us-east-1";
        ssl_policy_invalid: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"TLS13\"\n"), "https.ssl_policy", "is not an ELB security policy";
    }

    rule_help! {
        ssl_policy_tls_1_0: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n"), "https.ssl_policy", "https.ssl_policy \"ELBSecurityPolicy-2016-08\" allows TLS 1.0 and TLS 1.1, which RFC 8996 deprecates", "remove `ssl_policy` to use the default \"ELBSecurityPolicy-TLS13-1-2-2021-06\"";
        ssl_policy_tls_1_1: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS-1-1-2017-01\"\n"), "https.ssl_policy", "allows TLS 1.1, which", "docs/tls-policies.md";
        ssl_policy_tls13_from_1_0: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS13-1-0-2021-06\"\n"), "https.ssl_policy", "allows TLS 1.0 and TLS 1.1", "ELBSecurityPolicy-TLS13-1-2-2021-06";
        hosted_zone_id_invalid: section("[https]\ndomain = \"api.example.com\"\nhosted_zone_id = \"z0123abc\"\n"), "https.hosted_zone_id", "is not valid", "use \"Z0123ABC\"";
    }

    /// The warnings of a valid config.
    fn warnings_of(text: &str) -> Vec<Warning> {
        parse_ok(text).1.warnings
    }

    #[test]
    fn ssl_policy_without_tls_1_3_is_accepted_with_a_warning() {
        let text = section(
            "[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS-1-2-2017-01\"\n",
        );
        let (_dir, c) = parse_ok(&text);
        assert_eq!(
            c.https.map(|h| h.ssl_policy).as_deref(),
            Some("ELBSecurityPolicy-TLS-1-2-2017-01")
        );
        let [w] = c.warnings.as_slice() else {
            panic!("expected one warning, got {:#?}", c.warnings);
        };
        assert_eq!(w.key, "https.ssl_policy");
        assert!(
            w.message.contains("allows TLS 1.2 but not TLS 1.3"),
            "{w:#?}"
        );
        assert!(w.help.contains(DEFAULT_SSL_POLICY), "{w:#?}");
        let line = text
            .lines()
            .position(|l| l.starts_with("ssl_policy"))
            .map(|i| i + 1);
        assert_eq!(w.line, line);
        assert_eq!(w.column, Some("ssl_policy = ".len() + 1));
    }

    #[test]
    fn tls_1_3_policies_raise_no_warning() {
        for policy in [
            DEFAULT_SSL_POLICY,
            "ELBSecurityPolicy-TLS13-1-3-2021-06",
            "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        ] {
            let text = section(&format!(
                "[https]\ndomain = \"api.example.com\"\nssl_policy = \"{policy}\"\n"
            ));
            assert_eq!(warnings_of(&text), vec![], "{policy}");
        }
        assert_eq!(warnings_of(&format!("{STACK}{FUNCTION}")), vec![]);
    }

    #[test]
    fn an_unknown_policy_is_accepted_with_a_warning_and_a_suggestion() {
        let ws = warnings_of(&section(
            "[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021-6\"\n",
        ));
        let [w] = ws.as_slice() else {
            panic!("expected one warning, got {ws:#?}");
        };
        assert_eq!(w.key, "https.ssl_policy");
        assert!(w
            .message
            .contains("not one of the ELB security policies albkit knows"));
        assert!(
            w.help
                .contains("did you mean \"ELBSecurityPolicy-TLS13-1-2-2021-06\"?"),
            "{w:#?}"
        );
        let ws = warnings_of(&section(
            "[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-Future-2031-01\"\n",
        ));
        assert!(
            ws.first()
                .is_some_and(|w| w.help.contains("after albkit's table")),
            "{ws:#?}"
        );
    }

    fn hsts_of(value: &str) -> Option<String> {
        let (_dir, c) = parse_ok(&section(&format!(
            "[https]\ndomain = \"api.example.com\"\nhsts = {value}\n"
        )));
        c.https.and_then(|h| h.hsts)
    }

    #[test]
    fn hsts_defaults_and_switches() {
        let (_dir, c) = parse_ok(&section("[https]\ndomain = \"api.example.com\"\n"));
        assert_eq!(
            c.https.and_then(|h| h.hsts).as_deref(),
            Some("max-age=31536000; includeSubDomains")
        );
        assert_eq!(hsts_of("true").as_deref(), Some(DEFAULT_HSTS));
        assert_eq!(hsts_of("false"), None);
        assert_eq!(
            hsts_of("\" max-age=300 ;\"").as_deref(),
            Some("max-age=300")
        );
        assert_eq!(
            hsts_of("\"INCLUDESUBDOMAINS; MAX-AGE=0\"").as_deref(),
            Some("includeSubDomains; max-age=0")
        );
    }

    rule! {
        hsts_wrong_type: section("[https]\ndomain = \"api.example.com\"\nhsts = 31536000\n"), "https.hsts", "expected a string or a boolean, found an integer";
        hsts_without_max_age: section("[https]\ndomain = \"api.example.com\"\nhsts = \"includeSubDomains\"\n"), "https.hsts", "max-age is missing";
        hsts_max_age_not_a_number: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1y\"\n"), "https.hsts", "max-age \"1y\" is not a number of seconds";
        hsts_max_age_negative: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=-1\"\n"), "https.hsts", "is not a number of seconds";
        hsts_max_age_empty: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age\"\n"), "https.hsts", "max-age has no value";
        hsts_twice: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1; max-age=2\"\n"), "https.hsts", "`max-age` appears twice";
        hsts_flag_with_value: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1; preload=yes\"\n"), "https.hsts", "`preload` takes no value";
        hsts_control_character: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1\\r\\nX-Evil: 1\"\n"), "https.hsts", "which a header value cannot hold";
        hsts_outside_https: stack("hsts = false\n"), "stack.hsts", "unknown key";
    }

    rule_help! {
        hsts_typo: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1; includeSubdomain\"\n"), "https.hsts", "unknown directive `includeSubdomain`", "did you mean `includeSubDomains`?";
    }

    #[test]
    fn hsts_preload_without_its_requirements_is_warned_about() {
        let ws = warnings_of(&section(
            "[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=300; preload\"\n",
        ));
        assert_eq!(ws.len(), 1, "{ws:#?}");
        assert_eq!(ws[0].key, "https.hsts");
        assert!(ws[0].message.contains("preload"), "{ws:#?}");
        let ws = warnings_of(&section(
            "[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=31536000; includeSubDomains; preload\"\n",
        ));
        assert_eq!(ws, vec![]);
    }

    #[test]
    fn https_is_normalised() {
        let (_dir, c) = parse_ok(&section(
            "[https]\ndomain = \"*.Example.COM\"\nhosted_zone_id = \"/hostedzone/Z0123ABC\"\n",
        ));
        assert_eq!(
            c.https,
            Some(HttpsSettings {
                domain: "*.example.com".to_owned(),
                certificate_arn: None,
                hosted_zone_id: Some(HostedZoneId::new("Z0123ABC")),
                ssl_policy: DEFAULT_SSL_POLICY.to_owned(),
                hsts: Some(DEFAULT_HSTS.to_owned()),
            })
        );
    }

    #[test]
    fn certificate_region_is_free_without_stack_region() {
        let (_dir, c) = parse_ok(&section(
            "[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc-123\"\n",
        ));
        let https = c.https.expect("https");
        assert_eq!(
            https.certificate_arn.expect("arn").region(),
            Some("cn-north-1")
        );
    }

    // ---- [[functions]] --------------------------------------------------------------

    rule_help! {
        // ELB refuses `--` in target group names, and a function's is `<stack>-<name>-<n>`.
        function_name_double_dash: format!("{STACK}[[functions]]\nname = \"api--v2\"\npath = \"functions/api\"\n"), "functions[0].name", "function name \"api--v2\" must not contain \"--\"", "use \"api-v2\"";
    }

    rule! {
        function_name_missing: format!("{STACK}[[functions]]\npath = \"functions/api\"\n"), "functions[0].name", "missing required key `name` in functions[0]";
        function_name_charset: format!("{STACK}[[functions]]\nname = \"API\"\npath = \"functions/api\"\n"), "functions[0].name", "function name \"API\" may contain only a-z, 0-9 and '-'";
        function_name_too_long: format!("{STACK}[[functions]]\nname = \"{}\"\npath = \"functions/api\"\n", "f".repeat(33)), "functions[0].name", "the limit is 32";
        function_name_starts_with_digit: format!("{STACK}[[functions]]\nname = \"9lives\"\npath = \"functions/api\"\n"), "functions[0].name", "must start with a letter";
        function_name_trailing_dash: format!("{STACK}[[functions]]\nname = \"api-\"\npath = \"functions/api\"\n"), "functions[0].name", "must not end with '-'";
        function_path_missing: format!("{STACK}[[functions]]\nname = \"api\"\n"), "functions[0].path", "missing required key `path`";
        function_path_absolute: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"/usr/src/api\"\n"), "functions[0].path", "is absolute";
        function_path_escapes: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/../../api\"\n"), "functions[0].path", "points outside the project directory";
        function_path_does_not_exist: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/nope\"\n"), "functions[0].path", "does not exist";
        memory_too_small: function("memory_mb = 64\n"), "functions[0].memory_mb", "memory_mb 64 is out of range (128–10240)";
        memory_too_large: function("memory_mb = 10241\n"), "functions[0].memory_mb", "out of range";
        memory_float: function("memory_mb = 256.5\n"), "functions[0].memory_mb", "expected an integer, found a float";
        timeout_zero: function("timeout_seconds = 0\n"), "functions[0].timeout_seconds", "out of range (1–900)";
        timeout_too_long: function("timeout_seconds = 901\n"), "functions[0].timeout_seconds", "out of range";
        environment_bad_name: function("environment = { \"1BAD\" = \"x\" }\n"), "functions[0].environment.1BAD", "is not valid";
        environment_reserved: function("environment = { AWS_REGION = \"us-east-1\" }\n"), "functions[0].environment.AWS_REGION", "reserved by Lambda";
        environment_reserved_handler: function("[functions.environment]\n_HANDLER = \"x\"\n"), "functions[0].environment._HANDLER", "reserved by Lambda";
        environment_value_not_string: function("environment = { PORT = 8080 }\n"), "functions[0].environment.PORT", "expected a string, found an integer";
        environment_too_large: function(&format!("environment = {{ BIG = \"{}\" }}\n", "x".repeat(4094))), "functions[0].environment", "4097 bytes; Lambda allows at most 4096";
        multi_value_headers_not_bool: function("multi_value_headers = 1\n"), "functions[0].multi_value_headers", "expected a boolean, found an integer";
    }

    rule_help! {
        function_name_duplicate: format!("{STACK}{FUNCTION}[[functions]]\nname = \"api\"\npath = \"functions/web\"\n"), "functions[1].name", "function name \"api\" is used twice", "functions[0] is already named \"api\"";
        function_path_is_a_file: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/api/Cargo.toml\"\n"), "functions[0].path", "is not a directory", "\"functions/api\"";
        memory_quoted: function("memory_mb = \"256\"\n"), "functions[0].memory_mb", "expected an integer, found a string", "remove the quotes: `memory_mb = 256`";
        architecture_invalid: function("architecture = \"aarch64\"\n"), "functions[0].architecture", "architecture \"aarch64\" is not one of", "did you mean \"arm64\"?";
        log_retention_not_allowed: function("log_retention_days = 15\n"), "functions[0].log_retention_days", "log_retention_days 15 is not a retention period", "14 or 30";
        secret_not_a_reference: function("secrets = { DB_URL = \"postgres://u:p@db/x\" }\n"), "functions[0].secrets.DB_URL", "secret DB_URL is not a secret reference", "\"ssm:/shop/api-key\"";
        secret_arn_of_another_service: function("secrets = { DB_URL = \"arn:aws:s3:::bucket/key\" }\n"), "functions[0].secrets.DB_URL", "not \"secretsmanager\"", "Secrets Manager secret ARN";
        secret_parameter_name_invalid: function("secrets = { KEY = \"ssm:/shop/a key\" }\n"), "functions[0].secrets.KEY", "is not an SSM parameter name", "\"ssm:/shop/api-key\"";
        secret_also_in_environment: function("environment = { DB_URL = \"x\" }\nsecrets = { DB_URL = \"ssm:/shop/db\" }\n"), "functions[0].secrets.DB_URL", "variable DB_URL is both in `environment` and in `secrets`", "keep DB_URL in one of them";
        secret_name_reserved: function("secrets = { AWS_REGION = \"ssm:/shop/db\" }\n"), "functions[0].secrets.AWS_REGION", "cannot be an environment variable name", "not one Lambda reserves";
        kms_key_is_an_alias: function("kms_key_arn = \"arn:aws:kms:us-east-1:123456789012:alias/shop\"\n"), "functions[0].kms_key_arn", "is not a KMS key ARN", "not an alias";
        boundary_not_a_policy: stack("permissions_boundary = \"arn:aws:iam::123456789012:role/boundary\"\n"), "stack.permissions_boundary", "is not an IAM policy ARN", "managed policy";
    }

    #[test]
    fn secrets_kms_key_and_boundary_are_read() {
        let dir = project();
        let text = doc(
            "permissions_boundary = \"arn:aws:iam::123456789012:policy/albkit-boundary\"\n",
            "",
            "secrets = { DB_URL = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf\", API_KEY = \"ssm:/shop/api-key\" }\n\
             kms_key_arn = \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab\"\n",
        );
        let config = parse_str(&text, dir.path()).expect("valid");
        assert_eq!(
            config.stack.permissions_boundary.as_deref(),
            Some("arn:aws:iam::123456789012:policy/albkit-boundary")
        );
        let f = &config.functions[0];
        assert_eq!(
            f.secrets.get("API_KEY"),
            Some(&SecretRef::Parameter("/shop/api-key".into()))
        );
        assert_eq!(
            f.lambda_environment().get("DB_URL").map(String::as_str),
            Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf")
        );
        assert_eq!(
            f.kms_key_arn.as_deref(),
            Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab")
        );
    }

    #[test]
    fn function_path_without_cargo_toml() {
        let dir = project();
        fs::create_dir_all(dir.path().join("functions/empty")).expect("mkdir");
        let text = format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/empty\"\n");
        let ps = parse_str(&text, dir.path()).expect_err("must fail");
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert_eq!(ps[0].key, "functions[0].path");
        assert!(ps[0].message.contains("has no Cargo.toml"), "{ps:#?}");
    }

    #[cfg(unix)]
    #[test]
    fn function_path_symlink_escaping_root() {
        let outside = project();
        let dir = project();
        std::os::unix::fs::symlink(
            outside.path().join("functions/api"),
            dir.path().join("link"),
        )
        .expect("symlink");
        let text = format!("{STACK}[[functions]]\nname = \"api\"\npath = \"link\"\n");
        let ps = parse_str(&text, dir.path()).expect_err("must fail");
        assert_eq!(ps[0].key, "functions[0].path");
        assert!(
            ps[0]
                .message
                .contains("points outside the project directory"),
            "{ps:#?}"
        );
    }

    #[test]
    fn function_path_is_canonical() {
        let (dir, c) = parse_ok(&format!(
            "{STACK}[[functions]]\nname = \"api\"\npath = \"./functions/../functions/api/\"\n"
        ));
        let root = dir.path().canonicalize().expect("canonical");
        assert_eq!(c.root, root);
        assert_eq!(c.functions[0].path, root.join("functions/api"));
    }

    // ---- health_check ---------------------------------------------------------------

    rule! {
        health_check_path_missing: function("health_check = { interval_seconds = 30 }\n"), "functions[0].health_check.path", "missing required key `path`";
        health_check_path_relative: function("health_check = { path = \"health\" }\n"), "functions[0].health_check.path", "must start with '/'";
        health_check_path_too_long: function(&format!("health_check = {{ path = \"/{}\" }}\n", "h".repeat(1024))), "functions[0].health_check.path", "the limit is 1024";
        health_check_interval_range: function("health_check = { path = \"/h\", interval_seconds = 4 }\n"), "functions[0].health_check.interval_seconds", "out of range (5–300)";
        health_check_timeout_range: function("health_check = { path = \"/h\", timeout_seconds = 1 }\n"), "functions[0].health_check.timeout_seconds", "out of range (2–120)";
        health_check_healthy_range: function("health_check = { path = \"/h\", healthy_threshold = 11 }\n"), "functions[0].health_check.healthy_threshold", "out of range (2–10)";
        health_check_unhealthy_range: function("health_check = { path = \"/h\", unhealthy_threshold = 1 }\n"), "functions[0].health_check.unhealthy_threshold", "out of range (2–10)";
        health_check_default_timeout_not_below_interval: function("health_check = { path = \"/h\", interval_seconds = 20 }\n"), "functions[0].health_check.interval_seconds", "timeout_seconds 30 must be less than interval_seconds 20";
        health_check_timeout_not_below_interval: function("[functions.health_check]\npath = \"/h\"\ninterval_seconds = 30\ntimeout_seconds = 30\n"), "functions[0].health_check.timeout_seconds", "must be less than interval_seconds 30";
        matcher_out_of_range: function("health_check = { path = \"/h\", matcher = \"600\" }\n"), "functions[0].health_check.matcher", "600 is outside 200–499";
        matcher_not_a_code: function("health_check = { path = \"/h\", matcher = \"ok\" }\n"), "functions[0].health_check.matcher", "is not an HTTP status code";
        matcher_reversed_range: function("health_check = { path = \"/h\", matcher = \"299-200\" }\n"), "functions[0].health_check.matcher", "empty or reversed";
        matcher_range_and_list: function("health_check = { path = \"/h\", matcher = \"200-299,404\" }\n"), "functions[0].health_check.matcher", "either a range or a list";
    }

    #[test]
    fn matcher_forms() {
        for ok in ["200", "200-299", "200,204", "499"] {
            assert_eq!(check_matcher(ok), Ok(()), "{ok}");
        }
        for bad in ["", "199", "500", "200,", "2000", "200-", "+200"] {
            assert!(check_matcher(bad).is_err(), "{bad}");
        }
    }

    // ---- [[functions.routes]] -------------------------------------------------------

    const ROUTE: &str = "[[functions.routes]]\n";

    rule! {
        route_priority_missing: function(&format!("{ROUTE}paths = [\"/\"]\n")), "functions[0].routes[0].priority", "missing required key `priority`";
        route_priority_zero: function(&format!("{ROUTE}priority = 0\npaths = [\"/\"]\n")), "functions[0].routes[0].priority", "out of range (1–50000)";
        route_priority_too_large: function(&format!("{ROUTE}priority = 50001\npaths = [\"/\"]\n")), "functions[0].routes[0].priority", "out of range";
        route_priority_string: function(&format!("{ROUTE}priority = \"1\"\npaths = [\"/\"]\n")), "functions[0].routes[0].priority", "expected an integer, found a string";
        route_path_bad_char: function(&format!("{ROUTE}priority = 1\npaths = [\"/a b\"]\n")), "functions[0].routes[0].paths[0]", "contains ' '";
        route_path_no_slash: function(&format!("{ROUTE}priority = 1\npaths = [\"api\"]\n")), "functions[0].routes[0].paths[0]", "must start with '/' or '*'";
        route_path_empty: function(&format!("{ROUTE}priority = 1\npaths = [\"\"]\n")), "functions[0].routes[0].paths[0]", "is 0 characters long";
        route_path_too_long: function(&format!("{ROUTE}priority = 1\npaths = [\"/{}\"]\n", "p".repeat(128))), "functions[0].routes[0].paths[0]", "is 129 characters long";
        route_path_duplicate: function(&format!("{ROUTE}priority = 1\npaths = [\"/api\", \"/api\"]\n")), "functions[0].routes[0].paths[1]", "path \"/api\" is listed twice";
        route_paths_not_array: function(&format!("{ROUTE}priority = 1\npaths = \"/api\"\n")), "functions[0].routes[0].paths", "expected an array of strings, found a string";
        route_path_not_string: function(&format!("{ROUTE}priority = 1\npaths = [1]\n")), "functions[0].routes[0].paths[0]", "expected a string, found an integer";
        route_method_invalid: function(&format!("{ROUTE}priority = 1\nmethods = [\"GET ALL\"]\n")), "functions[0].routes[0].methods[0]", "is not an HTTP method";
        route_method_too_long: function(&format!("{ROUTE}priority = 1\nmethods = [\"{}\"]\n", "M".repeat(41))), "functions[0].routes[0].methods[0]", "is not an HTTP method";
        route_method_duplicate: function(&format!("{ROUTE}priority = 1\nmethods = [\"GET\", \"GET\"]\n")), "functions[0].routes[0].methods[1]", "listed twice";
        route_host_bad_char: function(&format!("{ROUTE}priority = 1\nhosts = [\"api_x.example.com\"]\n")), "functions[0].routes[0].hosts[0]", "contains '_'";
        route_host_too_long: function(&format!("{ROUTE}priority = 1\nhosts = [\"{}\"]\n", "h".repeat(129))), "functions[0].routes[0].hosts[0]", "is 129 characters long";
        route_host_duplicate: function(&format!("{ROUTE}priority = 1\nhosts = [\"a.example.com\", \"a.example.com\"]\n")), "functions[0].routes[0].hosts[1]", "listed twice";
        route_without_condition: function(&format!("{ROUTE}priority = 1\n")), "functions[0].routes[0]", "has no condition";
        route_with_empty_conditions: function(&format!("{ROUTE}priority = 1\npaths = []\nhosts = []\n")), "functions[0].routes[0]", "has no condition";
    }

    rule_help! {
        route_method_lower_case: function(&format!("{ROUTE}priority = 1\nmethods = [\"get\"]\n")), "functions[0].routes[0].methods[0]", "method \"get\" is not upper-case", "methods are case-sensitive on ALB: write \"GET\"";
        route_too_many_values: function(&format!("{ROUTE}priority = 1\npaths = [\"/a\", \"/b\", \"/c\"]\nmethods = [\"GET\", \"PUT\", \"POST\"]\n")), "functions[0].routes[0]", "has 6 condition values", "split it into two routes";
        route_too_many_wildcards: function(&format!("{ROUTE}priority = 1\npaths = [\"/a*b*c*\"]\nhosts = [\"*.ex?mple.*\"]\n")), "functions[0].routes[0]", "uses 6 wildcards", "split it into two routes";
        route_priority_duplicate_across_functions: format!("{STACK}{FUNCTION}{ROUTE}priority = 10\npaths = [\"/a\"]\n[[functions]]\nname = \"web\"\npath = \"functions/web\"\n{ROUTE}priority = 10\npaths = [\"/b\"]\n"), "functions[1].routes[0].priority", "route priority 10 is used twice", "functions[0].routes[0] (function \"api\") already has priority 10";
    }

    #[test]
    fn duplicate_priority_suggests_a_free_one() {
        let text = function(&format!(
            "{ROUTE}priority = 10\npaths = [\"/a\"]\n{ROUTE}priority = 11\npaths = [\"/b\"]\n{ROUTE}priority = 10\npaths = [\"/c\"]\n"
        ));
        let p = assert_problem(&text, "functions[0].routes[2].priority", "used twice");
        assert!(p.help.contains("such as 12"), "{}", p.help);
    }

    // ---- whole files ----------------------------------------------------------------

    const FULL: &str = r#"
[stack]
name = "hello"
region = "us-east-1"
tags = { team = "api", "cost-center" = "42" }

[network]
cidr = "10.1.0.0/16"
availability_zones = 3

[load_balancer]
scheme = "internal"
ingress_cidrs = ["10.0.0.0/8", "2001:DB8:0::/32"]
idle_timeout_seconds = 120
deletion_protection = true
access_logs = false
access_log_retention_days = 90

[https]
domain = "API.Example.com"
certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234"
hosted_zone_id = "/hostedzone/Z0123ABC"
ssl_policy = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
hsts = "max-age=63072000;includesubdomains ; Preload"

[[functions]]
name = "api"
path = "functions/api"
memory_mb = 512
timeout_seconds = 30
architecture = "arm64"
environment = { RUST_LOG = "info", GREETING = "hi" }
log_retention_days = 30
multi_value_headers = true
health_check = { path = "/health", interval_seconds = 60, timeout_seconds = 10, healthy_threshold = 3, unhealthy_threshold = 4, matcher = "200-299" }

[[functions.routes]]
priority = 10
paths = ["/api", "/api/*"]
methods = ["GET", "POST"]

[[functions.routes]]
priority = 20
hosts = ["api.example.com"]

[[functions]]
name = "web"
path = "./functions/web/"
health_check = { path = "/" }
"#;

    #[test]
    fn full_example() {
        let (dir, c) = parse_ok(FULL);
        let root = dir.path().canonicalize().expect("canonical");
        let expected = Config {
            root: root.clone(),
            stack: StackSettings {
                name: "hello".to_owned(),
                region: Some("us-east-1".to_owned()),
                tags: BTreeMap::from([
                    ("team".to_owned(), "api".to_owned()),
                    ("cost-center".to_owned(), "42".to_owned()),
                ]),
                permissions_boundary: None,
            },
            network: Network::Managed {
                cidr: Ipv4Cidr {
                    addr: Ipv4Addr::new(10, 1, 0, 0),
                    prefix: 16,
                },
                availability_zones: 3,
            },
            load_balancer: LoadBalancerSettings {
                scheme: Scheme::Internal,
                ingress_cidrs: Some(vec![
                    IngressCidr::V4("10.0.0.0/8".to_owned()),
                    IngressCidr::V6("2001:db8::/32".to_owned()),
                ]),
                idle_timeout_seconds: 120,
                deletion_protection: true,
                access_logs: false,
                access_log_retention_days: 90,
            },
            https: Some(HttpsSettings {
                domain: "api.example.com".to_owned(),
                certificate_arn: Some(CertificateArn::new(
                    "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234",
                )),
                hosted_zone_id: Some(HostedZoneId::new("Z0123ABC")),
                ssl_policy: "ELBSecurityPolicy-TLS13-1-2-Res-2021-06".to_owned(),
                hsts: Some("max-age=63072000; includeSubDomains; preload".to_owned()),
            }),
            functions: vec![
                FunctionSettings {
                    name: "api".to_owned(),
                    path: root.join("functions/api"),
                    memory_mb: 512,
                    timeout_seconds: 30,
                    architecture: Architecture::Arm64,
                    environment: BTreeMap::from([
                        ("RUST_LOG".to_owned(), "info".to_owned()),
                        ("GREETING".to_owned(), "hi".to_owned()),
                    ]),
                    secrets: BTreeMap::new(),
                    kms_key_arn: None,
                    log_retention_days: 30,
                    multi_value_headers: true,
                    health_check: Some(HealthCheck {
                        path: "/health".to_owned(),
                        interval_seconds: 60,
                        timeout_seconds: 10,
                        healthy_threshold: 3,
                        unhealthy_threshold: 4,
                        matcher: "200-299".to_owned(),
                    }),
                    routes: vec![
                        Route {
                            priority: 10,
                            paths: vec!["/api".to_owned(), "/api/*".to_owned()],
                            methods: vec!["GET".to_owned(), "POST".to_owned()],
                            hosts: vec![],
                        },
                        Route {
                            priority: 20,
                            paths: vec![],
                            methods: vec![],
                            hosts: vec!["api.example.com".to_owned()],
                        },
                    ],
                },
                FunctionSettings {
                    name: "web".to_owned(),
                    path: root.join("functions/web"),
                    memory_mb: 128,
                    timeout_seconds: 10,
                    architecture: Architecture::X86_64,
                    environment: BTreeMap::new(),
                    secrets: BTreeMap::new(),
                    kms_key_arn: None,
                    log_retention_days: 14,
                    multi_value_headers: false,
                    health_check: Some(HealthCheck {
                        path: "/".to_owned(),
                        interval_seconds: 35,
                        timeout_seconds: 30,
                        healthy_threshold: 5,
                        unhealthy_threshold: 2,
                        matcher: "200".to_owned(),
                    }),
                    routes: vec![],
                },
            ],
            warnings: vec![],
        };
        assert_eq!(c, expected);
    }

    #[test]
    fn minimal_config_gets_all_defaults() {
        let (dir, c) = parse_ok(&format!("{STACK}{FUNCTION}"));
        let root = dir.path().canonicalize().expect("canonical");
        let expected = Config {
            root: root.clone(),
            stack: StackSettings {
                name: "hello".to_owned(),
                region: None,
                tags: BTreeMap::new(),
                permissions_boundary: None,
            },
            network: Network::Managed {
                cidr: Ipv4Cidr {
                    addr: Ipv4Addr::new(10, 0, 0, 0),
                    prefix: 16,
                },
                availability_zones: 2,
            },
            load_balancer: LoadBalancerSettings {
                scheme: Scheme::InternetFacing,
                ingress_cidrs: None,
                idle_timeout_seconds: 60,
                deletion_protection: false,
                access_logs: true,
                access_log_retention_days: 30,
            },
            https: None,
            functions: vec![FunctionSettings {
                name: "api".to_owned(),
                path: root.join("functions/api"),
                memory_mb: 128,
                timeout_seconds: 10,
                architecture: Architecture::X86_64,
                environment: BTreeMap::new(),
                secrets: BTreeMap::new(),
                kms_key_arn: None,
                log_retention_days: 14,
                multi_value_headers: false,
                health_check: None,
                routes: vec![],
            }],
            warnings: vec![],
        };
        assert_eq!(c, expected);
    }

    #[test]
    fn inline_tables_and_dotted_keys_are_accepted() {
        let text = "stack = { name = \"hello\" }\nnetwork.cidr = \"10.2.0.0/20\"\n\
                    functions = [{ name = \"api\", path = \"functions/api\", routes = [{ priority = 1, paths = [\"/*\"] }] }]\n";
        let (_dir, c) = parse_ok(text);
        assert_eq!(c.stack.name, "hello");
        assert_eq!(
            c.network,
            Network::Managed {
                cidr: Ipv4Cidr {
                    addr: Ipv4Addr::new(10, 2, 0, 0),
                    prefix: 20
                },
                availability_zones: 2
            }
        );
        assert_eq!(c.functions[0].routes[0].paths, vec!["/*".to_owned()]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
[stack]
name = "Hello_World"
region = "mars-1"

[load_balancer]
idle_timeout_seconds = 0

[[functions]]
name = "api"
path = "functions/api"
memory_mb = "lots"

[[functions.routes]]
priority = 1
methods = ["get"]
"#;
        let ps = problems_of(text);
        let keys: Vec<&str> = ps.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "stack.name",
                "stack.region",
                "load_balancer.idle_timeout_seconds",
                "functions[0].memory_mb",
                "functions[0].routes[0].methods[0]",
            ],
            "{ps:#?}"
        );
        assert!(ps.iter().all(|p| p.span.is_some() && !p.help.is_empty()));
    }

    #[test]
    fn spans_point_at_values_keys_and_headers() {
        let text = "[stack]\nname = \"Hello_World\"\nnmae = \"x\"\n[[functions]]\nname = \"api\"\n";
        let ps = problems_of(text);
        let span_of = |key: &str| {
            let p = ps
                .iter()
                .find(|p| p.key == key)
                .unwrap_or_else(|| panic!("{key}: {ps:#?}"));
            let span = p
                .span
                .clone()
                .unwrap_or_else(|| panic!("{key} has no span"));
            &text[span]
        };
        assert_eq!(span_of("stack.name"), "\"Hello_World\"");
        assert_eq!(span_of("stack.nmae"), "nmae");
        assert_eq!(span_of("functions[0].path"), "[[functions]]");
    }

    #[test]
    fn syntax_error_has_a_span() {
        let text = "[stack]\nname = \"hello\nregion = 1\n";
        let ps = problems_of(text);
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert_eq!(ps[0].key, "");
        assert!(ps[0].message.starts_with("invalid TOML"), "{ps:#?}");
        assert!(ps[0].help.contains("line 2"), "{ps:#?}");
        let span = ps[0].span.clone().expect("span");
        assert!(
            span.start >= "[stack]\n".len() && span.end <= text.len(),
            "{span:?}"
        );
    }

    #[test]
    fn duplicate_key_is_a_syntax_error() {
        let ps = problems_of("[stack]\nname = \"a\"\nname = \"b\"\n");
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert!(ps[0].span.is_some());
        assert!(ps[0].message.contains("invalid TOML"));
    }

    // ---- load and rendering ---------------------------------------------------------

    #[test]
    fn load_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("albkit.toml");
        let err = load(&path).expect_err("missing");
        assert_eq!(err.path(), path);
        assert_eq!(err.problems().len(), 1);
        assert_eq!(err.problems()[0].key, "");
        assert!(err.problems()[0].message.contains("does not exist"));
        assert!(err.problems()[0].help.contains("albkit init"));
        assert!(err.problems()[0].help.contains("-c PATH"));
        assert_eq!(err.to_string(), "albkit.toml has 1 problem");
    }

    #[test]
    fn load_refuses_large_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("albkit.toml");
        fs::write(&path, "#".repeat(1024 * 1024 + 1)).expect("write");
        let err = load(&path).expect_err("too large");
        assert!(
            err.problems()[0].message.contains("at most 1 MiB"),
            "{:?}",
            err.problems()
        );
        assert!(!err.problems()[0].help.is_empty());
    }

    #[test]
    fn load_refuses_non_utf8() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("albkit.toml");
        fs::write(&path, b"[stack]\nname = \"h\xe9llo\"\n").expect("write");
        let err = load(&path).expect_err("not utf-8");
        assert_eq!(err.problems()[0].key, "");
        assert!(
            err.problems()[0].message.contains("not valid UTF-8"),
            "{:?}",
            err.problems()
        );
        assert!(err.problems()[0].help.contains("UTF-8"));
    }

    #[test]
    fn load_valid_file() {
        let dir = project();
        let path = dir.path().join("albkit.toml");
        fs::write(&path, format!("{STACK}{FUNCTION}")).expect("write");
        let c = load(&path).expect("valid");
        assert_eq!(c.root, dir.path().canonicalize().expect("canonical"));
        assert_eq!(c.functions[0].name, "api");
    }

    #[test]
    fn load_reports_problems_with_the_source() {
        let dir = project();
        let path = dir.path().join("albkit.toml");
        fs::write(&path, "[stack]\nname = \"A\"\n").expect("write");
        let err = load(&path).expect_err("invalid");
        assert_eq!(err.problems().len(), 2, "{:?}", err.problems());
        assert_eq!(err.to_string(), "albkit.toml has 2 problems");
        let related: Vec<_> = err.related().expect("related").collect();
        assert_eq!(related.len(), 2);
    }

    #[test]
    fn rendered_report() {
        let dir = project();
        let text = r#"[stack]
name = "Hello_World"

[[functions]]
name = "api"
path = "functions/api"
memroy_mb = 256

[[functions.routes]]
priority = 10
methods = ["get"]
"#;
        let problems = parse_str(text, dir.path()).expect_err("three problems");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        let err = ConfigError::new(Path::new("albkit.toml"), text.to_owned(), problems);
        let mut out = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .render_report(&mut out, &err)
            .expect("render");
        insta::assert_snapshot!(out);
    }
}
