//! Which parts of the input a Rego policy can read, found on its syntax
//! tree at load time. The decision cache ([`crate::cache`]) keys decisions
//! on exactly these parts, so two inputs that agree on them get the same
//! decision from the engine, and the cache may answer for it.
//!
//! The analysis is conservative: every reference rooted at `input` anywhere
//! in the policy's modules (rule heads, bodies, defaults, function bodies,
//! comprehensions, `with` values) adds the path it names up to its first
//! non-constant index (`input.a[x].b` reads all of `input.a`). A policy is
//! not cached at all when its decision could depend on something other than
//! the input and `data`: an impure builtin ([`IMPURE`]), `with input…`, an
//! `import input…` alias, or a variable named `input`.
//!
//! Fields that change on every request ([`VOLATILE`]: `time`, `request.id`)
//! never enter the key. A read of one must sit in a body (or comprehension)
//! that also has a top-level literal which is undefined when some other
//! input field is missing (`input.requester.approval.verified == true`):
//! when that field is missing the body fails whatever the volatile value
//! is, so the read cannot change the decision. Inputs that have the field
//! go to the engine. A volatile read without such a guard makes the policy
//! uncacheable. This rests on Rego's rule, which regorus follows, that an
//! undefined operand, argument or element makes its expression undefined,
//! and on non-strict builtin errors (a bad timestamp is undefined, not an
//! error). The one case it does not cover is an expression next to a
//! missing guard that fails with a hard error for some volatile values only
//! (not a builtin error: say, a conflict between rule values computed from
//! `time`); the engine would deny such a request with `policy_error`.

use regorus::unstable::{Expr, Literal, LiteralStmt, Module, Query, Rule, RuleHead};

/// An input path: object keys from the root of `input`.
pub(crate) type InputPath = Vec<String>;

/// Input fields the gateway sets anew for every request.
pub(crate) const VOLATILE: [&[&str]; 2] = [&["time"], &["request", "id"]];

/// Builtins whose result does not follow from their arguments (clock,
/// randomness, network, environment) or that exist for their side effect.
pub(crate) const IMPURE: [&str; 10] = [
    "time.now_ns",
    "rand.intn",
    "uuid.rfc4122",
    "http.send",
    "net.lookup_ip_addr",
    "opa.runtime",
    "io.jwt.decode_verify",
    "trace",
    "print",
    "test.sleep",
];

/// What a policy's decision depends on in its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Footprint {
    /// The non-volatile paths read, sorted, none a prefix of another.
    pub(crate) paths: Vec<InputPath>,
    /// One entry per guarded read of a volatile field: the paths of which
    /// any one missing from the input means the read cannot matter.
    pub(crate) guarded: Vec<Vec<InputPath>>,
}

impl Footprint {
    /// Whether no guarded volatile read can matter for `input`.
    pub(crate) fn volatile_irrelevant(&self, input: &serde_json::Value) -> bool {
        self.guarded
            .iter()
            .all(|guards| guards.iter().any(|g| lookup(input, g).is_none()))
    }
}

/// The value at `path`, following object keys only (as Rego's `input.a.b`
/// does on JSON: a key into anything but an object is undefined).
pub(crate) fn lookup<'v>(
    input: &'v serde_json::Value,
    path: &[String],
) -> Option<&'v serde_json::Value> {
    path.iter()
        .try_fold(input, |v, key| v.as_object().and_then(|o| o.get(key)))
}

/// Analyses `modules`: `Ok` with the footprint, or `Err` saying why the
/// policy's decisions must not be cached.
pub(crate) fn analyse<'m>(
    modules: impl IntoIterator<Item = &'m Module>,
) -> Result<Footprint, String> {
    let mut walker = Walker::default();
    for module in modules {
        for import in &module.imports {
            if root_is_input(&import.refr) {
                walker.problem("an `import input…` alias");
            }
        }
        for rule in &module.policy {
            walker.rule(rule);
        }
    }
    if let Some(why) = walker.problem {
        return Err(why);
    }
    let mut paths: Vec<InputPath> = Vec::new();
    let mut guarded: Vec<Vec<InputPath>> = Vec::new();
    for (path, mut guards) in walker.reads {
        // A volatile field is in every input: it guards nothing.
        guards.retain(|g| !touches_volatile(g));
        if !touches_volatile(&path) {
            paths.push(path);
        } else if guards.is_empty() {
            return Err(format!(
                "`input{}` is read outside any body that a missing input field makes fail",
                dotted(&path)
            ));
        } else if !guarded.contains(&guards) {
            guarded.push(guards);
        }
    }
    paths.sort();
    paths.dedup();
    let minimal = paths
        .iter()
        .filter(|p| !paths.iter().any(|q| q.len() < p.len() && p.starts_with(q)))
        .cloned()
        .collect();
    Ok(Footprint {
        paths: minimal,
        guarded,
    })
}

fn touches_volatile(path: &[String]) -> bool {
    VOLATILE.iter().any(|v| {
        let n = v.len().min(path.len());
        v[..n].iter().zip(&path[..n]).all(|(a, b)| *a == b)
    })
}

fn dotted(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// Walks every expression of the policy, collecting input reads with the
/// guards in force where each one is.
#[derive(Default)]
struct Walker {
    reads: Vec<(InputPath, Vec<InputPath>)>,
    /// Guard paths of the enclosing bodies, innermost last.
    guards: Vec<InputPath>,
    problem: Option<String>,
}

impl Walker {
    fn problem(&mut self, what: &str) {
        self.problem
            .get_or_insert_with(|| format!("the policy uses {what}"));
    }

    fn read(&mut self, path: InputPath) {
        let mut guards = self.guards.clone();
        guards.sort();
        guards.dedup();
        self.reads.push((path, guards));
    }

    fn rule(&mut self, rule: &Rule) {
        match rule {
            Rule::Default {
                refr, args, value, ..
            } => {
                self.expr(refr);
                args.iter().for_each(|a| self.expr(a));
                self.expr(value);
            }
            Rule::Spec { head, bodies, .. } => {
                let (refr, key, args, assign) = match head {
                    RuleHead::Compr { refr, assign, .. } => (refr, None, &[][..], assign.as_ref()),
                    RuleHead::Set { refr, key, .. } => (refr, key.as_ref(), &[][..], None),
                    RuleHead::Func {
                        refr, args, assign, ..
                    } => (refr, None, &args[..], assign.as_ref()),
                };
                self.expr(refr);
                args.iter().for_each(|a| self.expr(a));
                // The head's value is computed only when a body succeeds: with
                // one body, that body's guards hold for it too.
                let head_values = |w: &mut Self| {
                    if let Some(k) = key {
                        w.expr(k);
                    }
                    if let Some(a) = assign {
                        w.expr(&a.value);
                    }
                };
                if bodies.len() != 1 {
                    head_values(self);
                }
                for body in bodies {
                    self.query(&body.query, |w| {
                        if bodies.len() == 1 {
                            head_values(w);
                        }
                        if let Some(a) = &body.assign {
                            w.expr(&a.value);
                        }
                    });
                }
            }
        }
    }

    /// Walks `query` and then `inner` (what is evaluated only when the query
    /// succeeds) with the query's guards in force.
    fn query(&mut self, query: &Query, inner: impl FnOnce(&mut Self)) {
        let outer = self.guards.len();
        for stmt in query.stmts.iter().filter(|s| s.with_mods.is_empty()) {
            match &stmt.literal {
                Literal::Expr { expr, .. } => strict_reads(expr, &mut self.guards),
                Literal::SomeIn { collection, .. } => strict_reads(collection, &mut self.guards),
                _ => {}
            }
        }
        for stmt in &query.stmts {
            self.stmt(stmt);
        }
        inner(self);
        self.guards.truncate(outer);
    }

    fn stmt(&mut self, stmt: &LiteralStmt) {
        for with in &stmt.with_mods {
            if root_is_input(&with.refr) {
                self.problem("`with input…`");
            }
            self.expr(&with.r#as);
        }
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                if vars.iter().any(|v| v.text() == "input") {
                    self.problem("a variable named `input`");
                }
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    self.expr(k);
                }
                self.expr(value);
                self.expr(collection);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => self.expr(expr),
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                if key.iter().chain([value]).any(|v| v.text() == "input") {
                    self.problem("a variable named `input`");
                }
                self.expr(domain);
                self.query(query, |_| {});
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => {}
            // A bare `input` (not the root of a reference) is the whole
            // input, or a variable that shadows it: either way nothing can
            // be keyed on.
            Expr::Var { value, .. } => {
                if is_input_var(value) {
                    self.problem("the whole `input` as a value, or a variable named `input`");
                }
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| self.expr(i));
            }
            Expr::Object { fields, .. } => {
                for (_, k, v) in fields {
                    self.expr(k);
                    self.expr(v);
                }
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.query(query, |w| w.expr(term));
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => self.query(query, |w| {
                w.expr(key);
                w.expr(value);
            }),
            Expr::Call { fcn, params, .. } => {
                if let Some(name) = call_name(fcn)
                    && IMPURE.contains(&name.as_str())
                {
                    self.problem(&format!("the impure builtin `{name}`"));
                }
                self.expr(fcn);
                params.iter().for_each(|p| self.expr(p));
            }
            Expr::UnaryExpr { expr, .. } => self.expr(expr),
            Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                let chain = Chain::of(expr);
                if chain.rooted_at_input() {
                    self.read(chain.static_path());
                } else {
                    self.expr(chain.root);
                }
                chain.dynamic.iter().for_each(|i| self.expr(i));
            }
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    self.expr(k);
                }
                self.expr(value);
                self.expr(collection);
            }
        }
    }
}

/// The input paths an expression reads *strictly*: such that the
/// expression is undefined when the path is missing. That holds for refs
/// outside comprehensions (an undefined operand, argument, element or index
/// makes the enclosing expression undefined), so a literal made of such an
/// expression fails, and with it its body.
fn strict_reads(expr: &Expr, out: &mut Vec<InputPath>) {
    match expr {
        Expr::RefDot { .. } | Expr::RefBrack { .. } => {
            let chain = Chain::of(expr);
            if chain.rooted_at_input() {
                let path = chain.static_path();
                if !path.is_empty() {
                    out.push(path);
                }
            } else {
                strict_reads(chain.root, out);
            }
            chain.dynamic.iter().for_each(|i| strict_reads(i, out));
        }
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().for_each(|i| strict_reads(i, out));
        }
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                strict_reads(k, out);
                strict_reads(v, out);
            }
        }
        Expr::Call { params, .. } => params.iter().for_each(|p| strict_reads(p, out)),
        Expr::UnaryExpr { expr, .. } => strict_reads(expr, out),
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            strict_reads(lhs, out);
            strict_reads(rhs, out);
        }
        Expr::Membership {
            value, collection, ..
        } => {
            strict_reads(value, out);
            strict_reads(collection, out);
        }
        // Comprehensions are defined (maybe empty) whatever their body reads.
        _ => {}
    }
}

/// A reference `root.a["b"][x]…` taken apart.
struct Chain<'e> {
    root: &'e Expr,
    /// Constant keys from the root outwards; `None` for a computed index.
    keys: Vec<Option<String>>,
    /// The computed index expressions.
    dynamic: Vec<&'e Expr>,
}

impl<'e> Chain<'e> {
    fn of(expr: &'e Expr) -> Self {
        let mut keys = Vec::new();
        let mut dynamic = Vec::new();
        let mut cur = expr;
        loop {
            match cur {
                Expr::RefDot { refr, field, .. } => {
                    keys.push(field.1.as_string().ok().map(ToString::to_string));
                    cur = refr;
                }
                Expr::RefBrack { refr, index, .. } => {
                    match index.as_ref() {
                        Expr::String { value, .. } | Expr::RawString { value, .. } => {
                            keys.push(value.as_string().ok().map(ToString::to_string));
                        }
                        other => {
                            keys.push(None);
                            dynamic.push(other);
                        }
                    }
                    cur = refr;
                }
                _ => break,
            }
        }
        keys.reverse();
        Self {
            root: cur,
            keys,
            dynamic,
        }
    }

    fn rooted_at_input(&self) -> bool {
        matches!(self.root, Expr::Var { value, .. } if is_input_var(value))
    }

    /// The constant keys up to the first computed one.
    fn static_path(&self) -> InputPath {
        self.keys.iter().map_while(Clone::clone).collect()
    }
}

fn is_input_var(value: &regorus::Value) -> bool {
    value.as_string().is_ok_and(|s| s.as_ref() == "input")
}

fn root_is_input(expr: &Expr) -> bool {
    match expr {
        Expr::Var { value, .. } => is_input_var(value),
        Expr::RefDot { .. } | Expr::RefBrack { .. } => Chain::of(expr).rooted_at_input(),
        _ => false,
    }
}

/// `a.b.c` for a function reference made of constant keys.
fn call_name(fcn: &Expr) -> Option<String> {
    let chain = Chain::of(fcn);
    let Expr::Var { value, .. } = chain.root else {
        return None;
    };
    let mut name = value.as_string().ok()?.to_string();
    for key in &chain.keys {
        name.push('.');
        name.push_str(key.as_deref()?);
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse_text(rego: &str) -> Result<Footprint, String> {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(false);
        engine
            .add_policy("p.rego".into(), rego.into())
            .expect("test policy parses");
        let modules = engine.get_modules().clone();
        analyse(modules.iter().map(|m| &**m))
    }

    fn paths(f: &Footprint) -> Vec<String> {
        f.paths.iter().map(|p| p.join(".")).collect()
    }

    #[test]
    fn static_references_give_their_paths_and_computed_indexes_stop_them() {
        let f = analyse_text(
            "package jurisgate\n\
             decision := {\"allow\": true, \"regions\": r} if {\n\
               input.subject.jurisdiction == \"US\"\n\
               input[\"resource\"].data_class == \"public\"\n\
               r := [d.region | some d in input.destinations]\n\
               some k; input.request.headers[k] == \"x\"\n\
               input.requester.approval.id\n\
               input.requester.approval\n\
             }\n",
        )
        .unwrap();
        assert_eq!(
            paths(&f),
            [
                "destinations",
                "request.headers",
                "requester.approval",
                "resource.data_class",
                "subject.jurisdiction"
            ]
        );
        assert!(f.guarded.is_empty());
    }

    #[test]
    fn reads_that_could_depend_on_anything_are_refused() {
        for (rego, why) in [
            ("x := input\ndecision := x", "whole `input`"),
            ("decision := input[k] if { some k }", "input` is read"),
            ("decision := {\"t\": time.now_ns()}", "time.now_ns"),
            (
                "decision := x if { x := data.jurisgate.d with input.a as 1 }\nd := input.a",
                "with input",
            ),
            (
                "import input.subject as s\ndecision := s.jurisdiction",
                "import input",
            ),
            (
                "f(input) := input.a\ndecision := f({\"a\": 1})",
                "named `input`",
            ),
        ] {
            let e = analyse_text(&format!("package jurisgate\n{rego}\n")).unwrap_err();
            assert!(e.contains(why), "{rego}: {e}");
        }
    }

    #[test]
    fn volatile_fields_need_a_guard() {
        let e = analyse_text("package jurisgate\ndecision := {\"t\": input.time}\n").unwrap_err();
        assert!(e.contains("input.time"), "{e}");
        // Inside a comprehension a missing field does not make the body fail.
        let e = analyse_text(
            "package jurisgate\nok if {\n  count([1 | input.a]) == 0\n  input.time > \"x\"\n}\ndecision := ok\n",
        )
        .unwrap_err();
        assert!(e.contains("input.time"), "{e}");
        // A negated literal is no guard either.
        assert!(
            analyse_text(
                "package jurisgate\nok if {\n  not input.a\n  input.time > \"x\"\n}\ndecision := ok\n"
            )
            .is_err()
        );
        let f = analyse_text(
            "package jurisgate\nok if {\n  input.a.b == true\n  input.time > input.a.c\n}\ndecision := ok\n",
        )
        .unwrap();
        assert_eq!(paths(&f), ["a.b", "a.c"]);
        assert_eq!(f.guarded.len(), 1);
        let guards: Vec<String> = f.guarded[0].iter().map(|p| p.join(".")).collect();
        assert_eq!(guards, ["a.b", "a.c"]);
        let absent = serde_json::json!({"time": "now", "a": {"c": "x"}});
        let present = serde_json::json!({"time": "now", "a": {"b": false, "c": "x"}});
        assert!(f.volatile_irrelevant(&absent));
        assert!(!f.volatile_irrelevant(&present));
    }

    #[test]
    fn lookup_follows_object_keys_only() {
        let v = serde_json::json!({"a": {"b": [1]}, "n": null});
        assert_eq!(
            lookup(&v, &["a".into(), "b".into()]),
            Some(&serde_json::json!([1]))
        );
        assert_eq!(lookup(&v, &["a".into(), "b".into(), "0".into()]), None);
        assert_eq!(lookup(&v, &["n".into(), "x".into()]), None);
        assert_eq!(lookup(&v, &["n".into()]), Some(&serde_json::Value::Null));
    }
}
