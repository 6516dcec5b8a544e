//! Classification: the route table. A request's host, normalised path and
//! method pick the first matching route, which names the service, the data
//! class and the candidate pools. Matching runs on the normalised path only,
//! the same path that is forwarded.

use std::sync::Arc;

use jurisgate_config::Route;

/// What a matched route says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Route name.
    pub route: String,
    /// Service behind the route.
    pub service: String,
    /// Data class.
    pub data_class: String,
    /// Candidate pools, in order of preference.
    pub pools: Vec<String>,
}

#[derive(Debug)]
enum PathMatch {
    Any,
    Prefix(String),
    Glob(Vec<GlobPart>),
}

#[derive(Debug, PartialEq, Eq)]
enum GlobPart {
    /// A literal segment.
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: zero or more segments.
    Many,
}

#[derive(Debug)]
struct CompiledRoute {
    host: Option<String>,
    path: PathMatch,
    methods: Vec<String>,
    class: Arc<Classification>,
}

/// The route table, compiled once from config.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<CompiledRoute>,
}

impl RouteTable {
    /// Compiles the config's routes (already validated).
    #[must_use]
    pub fn new(routes: &[Route]) -> Self {
        let routes = routes
            .iter()
            .map(|r| {
                let path = match (&r.matcher.path_prefix, &r.matcher.path_glob) {
                    (Some(p), _) => PathMatch::Prefix(p.trim_end_matches('/').to_string()),
                    (None, Some(g)) => PathMatch::Glob(compile_glob(g)),
                    (None, None) => PathMatch::Any,
                };
                CompiledRoute {
                    host: r.matcher.host.as_ref().map(|h| h.to_ascii_lowercase()),
                    path,
                    methods: r.matcher.methods.clone(),
                    class: Arc::new(Classification {
                        route: r.name.get_ref().clone(),
                        service: r.service().to_string(),
                        data_class: r.data_class.get_ref().clone(),
                        pools: r.pools.iter().map(|p| p.get_ref().clone()).collect(),
                    }),
                }
            })
            .collect();
        Self { routes }
    }

    /// The first route matching `host` (lower-case, no port), `path`
    /// (normalised) and `method`.
    #[must_use]
    pub fn classify(&self, host: &str, path: &str, method: &str) -> Option<Arc<Classification>> {
        self.routes
            .iter()
            .find(|r| {
                r.host.as_deref().is_none_or(|h| h == host)
                    && (r.methods.is_empty() || r.methods.iter().any(|m| m == method))
                    && path_matches(&r.path, path)
            })
            .map(|r| Arc::clone(&r.class))
    }

    /// Every route's classification, in table order.
    pub fn classifications(&self) -> impl Iterator<Item = &Classification> {
        self.routes.iter().map(|r| r.class.as_ref())
    }
}

fn compile_glob(glob: &str) -> Vec<GlobPart> {
    glob.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "*" => GlobPart::One,
            "**" => GlobPart::Many,
            lit => GlobPart::Literal(lit.to_string()),
        })
        .collect()
}

fn path_matches(m: &PathMatch, path: &str) -> bool {
    match m {
        PathMatch::Any => true,
        // On segment boundaries: `/v1/messages` matches `/v1/messages` and
        // `/v1/messages/7`, never `/v1/messagesX`.
        PathMatch::Prefix(prefix) => {
            prefix.is_empty()
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }
        PathMatch::Glob(parts) => {
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            glob_matches(parts, &segments)
        }
    }
}

fn glob_matches(parts: &[GlobPart], segments: &[&str]) -> bool {
    match parts.split_first() {
        None => segments.is_empty(),
        Some((GlobPart::Many, rest)) => {
            (0..=segments.len()).any(|skip| glob_matches(rest, &segments[skip..]))
        }
        Some((part, rest)) => match segments.split_first() {
            None => false,
            Some((seg, more)) => {
                let ok = match part {
                    GlobPart::One => true,
                    GlobPart::Literal(lit) => lit == seg,
                    GlobPart::Many => unreachable!("handled above"),
                };
                ok && glob_matches(rest, more)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml_routes: &str) -> RouteTable {
        #[derive(serde::Deserialize)]
        struct Routes {
            route: Vec<Route>,
        }
        let routes: Routes = toml::from_str(toml_routes).unwrap();
        RouteTable::new(&routes.route)
    }

    const ROUTES: &str = r#"
        [[route]]
        name = "messages"
        match = { host = "api.example.com", path_prefix = "/v1/messages" }
        data_class = "protected"
        pools = ["us"]

        [[route]]
        name = "avatars"
        match = { path_glob = "/v1/users/*/avatar" , methods = ["GET"] }
        data_class = "public"
        pools = ["any"]

        [[route]]
        name = "static"
        match = { path_glob = "/static/**" }
        data_class = "public"
        pools = ["any"]
    "#;

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        let t = table(ROUTES);
        let hit = |h, p, m| t.classify(h, p, m).map(|c| c.route.clone());
        assert_eq!(
            hit("api.example.com", "/v1/messages", "GET").as_deref(),
            Some("messages")
        );
        assert_eq!(
            hit("api.example.com", "/v1/messages/7", "POST").as_deref(),
            Some("messages")
        );
        assert_eq!(hit("api.example.com", "/v1/messagesX", "GET"), None);
        assert_eq!(hit("other.example.com", "/v1/messages", "GET"), None);
    }

    #[test]
    fn globs_and_methods() {
        let t = table(ROUTES);
        let hit = |p, m| t.classify("h", p, m).map(|c| c.route.clone());
        assert_eq!(
            hit("/v1/users/42/avatar", "GET").as_deref(),
            Some("avatars")
        );
        assert_eq!(hit("/v1/users/42/avatar", "PUT"), None);
        assert_eq!(hit("/v1/users/42/x/avatar", "GET"), None);
        assert_eq!(hit("/static", "GET").as_deref(), Some("static"));
        assert_eq!(hit("/static/a/b/c.css", "GET").as_deref(), Some("static"));
    }
}
