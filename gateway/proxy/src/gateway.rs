//! The request path, in order, in one place:
//!
//! 1. normalise: one canonical path, hostile input refused, inbound x-jurisgate-* removed;
//! 2. attribute: subject jurisdiction and requester from verified sources only;
//! 3. classify: route table → service, data class, candidate pools;
//! 4. decide: Rego `data.jurisgate.decision`; errors deny;
//! 5. route: only a `Permitted` request reaches the router, which picks an
//!    approved, healthy pool or refuses;
//! 6. audit: the decision record is durable before anything moves on;
//! 7. forward: to the chosen endpoint, with the gateway's own headers;
//! 8. obligations: pseudonymise / redact the response, set headers.
//!
//! Every answer the gateway gives itself goes through [`Refusal`], and every
//! decision, including refusals, is recorded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request, Response, Uri, Version};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use jurisgate_attribution::{
    Approval, Attribution, Attributor, PeerInfo, Pseudonymizer, Requester, Subject,
    UNKNOWN_JURISDICTION,
};
use jurisgate_audit::{
    AuditError, AuditLog, DecisionRef, EncodedEvent, Event, ForwardFailed, OutcomeRef,
    RequesterRef, SubjectRef,
};
use jurisgate_policy::{
    Decision, Destination, Permitted, PolicyEngine, PolicyInput, RequestFacts, Resource,
};
use jurisgate_route::{Pools, Selected};
use serde::Serialize;

use crate::body::{BoxBody, BoxError};
use crate::classify::{Classification, RouteTable};
use crate::connection_pool::UpstreamBody;
use crate::forward::{Forwarded, Upstreams};
use crate::headers;
use crate::metrics::{Metrics, RequestLabels};
use crate::normalize;
use crate::obligations;
use crate::request_id::RequestId;
use crate::respond::Refusal;

// How a streamed request body ended, to tell its failure from the
// upstream's (see `Limits::max_body_bytes`).
/// The request body has not failed.
const BODY_OK: u8 = 0;
/// The request body crossed `max_body_bytes`.
const BODY_OVER_LIMIT: u8 = 1;
/// The request body broke (a malformed chunk, a reset stream).
const BODY_BROKEN: u8 = 2;

/// Request headers the policy may see. Credentials never reach it.
const POLICY_VISIBLE_HEADERS: [&str; 3] = ["user-agent", "content-type", "accept"];

/// Size limits applied on the request path.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body forwarded.
    ///
    /// A declared `Content-Length` over it is refused with 413
    /// `request_body_too_large` before anything is decided, and the refusal
    /// is recorded. A body of unknown length (HTTP/1.1 chunked, HTTP/2 DATA
    /// without `content-length`) cannot be judged up front: it is streamed,
    /// so its decision record (allowed, with the chosen pool and region, no
    /// status) is already durable when the first byte leaves. When the
    /// stream crosses the limit, the frame that crosses it is not sent, the
    /// upstream request is aborted (the connection is closed without the
    /// final chunk, so the upstream sees an incomplete message, never a
    /// complete request, and at most `max_body_bytes` of body), and the
    /// client gets 413 `request_body_too_large`. The decision record
    /// (allowed, sent to that region) is followed by a `forward_failed`
    /// record with 413 `request_body_too_large`. A body that fails for
    /// another reason (a malformed chunk, a reset stream) is the client's
    /// fault too: 400 `request_body_error`, recorded the same way, and no
    /// mark against the upstream's health.
    pub max_body_bytes: u64,
    /// Largest response body buffered to apply obligations.
    pub max_obligation_body_bytes: usize,
}

/// Keys for the `pseudonymize` obligation, chosen by the subject's jurisdiction.
#[derive(Debug)]
pub struct Pseudonymizers {
    /// Per-jurisdiction keys.
    pub by_jurisdiction: BTreeMap<String, Pseudonymizer>,
    /// The key for jurisdictions not listed.
    pub default: Pseudonymizer,
}

impl Pseudonymizers {
    fn for_jurisdiction(&self, jurisdiction: &str) -> &Pseudonymizer {
        self.by_jurisdiction
            .get(jurisdiction)
            .unwrap_or(&self.default)
    }
}

/// Everything the request path needs, built once at start-up.
pub struct Gateway {
    /// Attribution sources.
    pub attributor: Attributor,
    /// The route table.
    pub routes: RouteTable,
    /// The policy now deciding; swapped whole on reload.
    pub policy: ArcSwap<PolicyEngine>,
    /// The audit log.
    pub audit: AuditLog,
    /// Upstream pools and their health.
    pub pools: Arc<Pools>,
    /// Obligation keys.
    pub pseudonymizers: Pseudonymizers,
    /// Size limits.
    pub limits: Limits,
    /// Metrics.
    pub metrics: Metrics,
    /// The audit shipper's counters, with `[audit.ship]`.
    pub shipping: Option<Arc<jurisgate_audit_ship::ShipStats>>,
    /// The listener's TLS (reload counts, certificate expiry), with `[server.tls]`.
    pub listener_tls: Option<Arc<jurisgate_tls::ListenerTls>>,
}

/// What each runtime has of its own, so a request stays on its thread:
/// upstream connection pools, and an audit handle whose appends the writer
/// wakes through a task on this runtime.
#[derive(Debug)]
pub struct RuntimeLocal {
    /// The upstream clients.
    pub upstreams: Upstreams,
    /// The audit log, as [`AuditLog::for_this_runtime`] on this runtime.
    pub audit: AuditLog,
}

/// What the path learned about a request, for its audit record.
struct Facts {
    id: RequestId,
    method: String,
    host: String,
    path: String,
    /// Who the request is about and from, until it moves into `input`.
    attribution: Option<Attribution>,
    class: Option<Arc<Classification>>,
    decision: Option<Arc<Decision>>,
    input: Option<PolicyInput>,
    /// The policy that decided (its revision goes into the record).
    policy: Option<Arc<PolicyEngine>>,
    /// HTTP/2 (or later): connection-specific headers such as `Connection`
    /// are forbidden (RFC 9113 §8.2.2), and one stream's refusal must not
    /// end the connection's other streams.
    multiplexed: bool,
}

impl Facts {
    /// The attribution: as attributed, or as it went into the policy input.
    fn attribution(&self) -> Option<AttributionRef<'_>> {
        match (&self.input, &self.attribution) {
            (Some(input), _) => Some(AttributionRef {
                subject: &input.subject,
                requester: &input.requester,
            }),
            (None, Some(a)) => Some(AttributionRef {
                subject: &a.subject,
                requester: &a.requester,
            }),
            (None, None) => None,
        }
    }

    /// The subject's jurisdiction, `unknown` before attribution.
    fn jurisdiction(&self) -> &str {
        self.attribution()
            .map_or(UNKNOWN_JURISDICTION, |a| a.subject.jurisdiction.as_str())
    }
}

/// [`Attribution`], borrowed from wherever [`Facts`] holds it.
struct AttributionRef<'a> {
    subject: &'a Subject,
    requester: &'a Requester,
}

impl Gateway {
    /// Handles one client request end to end, recording and forwarding
    /// through `local` (the calling runtime's own handles). Never fails:
    /// every problem becomes a refusal with a status and a reason.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: &PeerInfo,
        local: &RuntimeLocal,
    ) -> Response<BoxBody> {
        let id = RequestId::generate();
        let (mut parts, body) = req.into_parts();
        let mut facts = Facts {
            id,
            method: parts.method.as_str().to_string(),
            host: host_of(&parts.uri, &parts.headers),
            path: parts.uri.path().to_string(),
            attribution: None,
            class: None,
            decision: None,
            input: None,
            policy: None,
            multiplexed: parts.version >= Version::HTTP_2,
        };

        // 1. Normalise before anything reads the request, so that what is
        //    classified is exactly what is forwarded.
        let raw_target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let target = match normalize::normalize_path(raw_target) {
            Ok(t) => t,
            Err(r) => {
                return self
                    .refuse(
                        local,
                        &facts,
                        Refusal::BadRequest(format!("{}: {}", r.reason, r.detail)),
                    )
                    .await;
            }
        };
        facts.path = target.path.clone();
        let headers_ok = normalize::check_headers(&parts.headers, parts.version).and_then(|()| {
            // HTTP/2 `:authority` and absolute-form targets must agree with Host.
            parts.uri.authority().map_or(Ok(()), |a| {
                normalize::check_authority(&parts.headers, a.as_str())
            })
        });
        if let Err(r) = headers_ok {
            return self
                .refuse(
                    local,
                    &facts,
                    Refusal::BadRequest(format!("{}: {}", r.reason, r.detail)),
                )
                .await;
        }
        if content_length(&parts.headers).is_some_and(|n| n > self.limits.max_body_bytes) {
            return self.refuse(local, &facts, Refusal::PayloadTooLarge).await;
        }
        normalize::sanitize_request_headers(&mut parts.headers);

        // 2. Attribute from verified sources only (inbound x-jurisgate-* are gone).
        let attribution = self
            .attributor
            .attribute(&parts.headers, peer, SystemTime::now());

        // 3. Classify on the normalised path.
        let Some(class) = self
            .routes
            .classify(&facts.host, &target.path, &facts.method)
        else {
            facts.attribution = Some(attribution);
            return self.refuse(local, &facts, Refusal::NoRoute).await;
        };
        facts.class = Some(Arc::clone(&class));

        // 4. Decide. The engine fails closed on its own; we time it.
        let policy = self.policy.load_full();
        let destinations = self.pools.destinations(&class.pools);
        let input = PolicyInput {
            request: RequestFacts {
                id: facts.id.as_str().to_string(),
                method: facts.method.clone(),
                host: facts.host.clone(),
                path: target.path.clone(),
                query: parse_query(target.query.as_deref()),
                headers: policy_headers(&parts.headers),
            },
            subject: attribution.subject,
            requester: attribution.requester,
            resource: Resource {
                route: class.route.clone(),
                service: class.service.clone(),
                data_class: class.data_class.clone(),
            },
            destinations,
            time: now_rfc3339(),
        };
        // The same input is decided on and recorded, so a replay re-decides
        // exactly what the policy saw.
        let started = Instant::now();
        let decision = policy.decide_input(&input);
        self.metrics.decision_latency.observe(started.elapsed());
        facts.input = Some(input);
        facts.policy = Some(policy);
        facts.decision = Some(Arc::clone(&decision));

        // 5. Route: only a permitted request reaches the router.
        let mut uri_parts = parts.uri.clone().into_parts();
        uri_parts.scheme = None;
        uri_parts.authority = None;
        uri_parts.path_and_query = match &target.query {
            Some(q) => format!("{}?{q}", target.path).parse().ok(),
            None => target.path.parse().ok(),
        };
        parts.uri = Uri::from_parts(uri_parts).unwrap_or_else(|_| Uri::from_static("/"));
        // A body of unknown length is streamed and cut at the limit; the
        // flag tells a failed request body (cut, or broken by the client)
        // apart from an upstream failure (see `Limits::max_body_bytes`).
        let body_failed = Arc::new(AtomicU8::new(BODY_OK));
        let failed = Arc::clone(&body_failed);
        let limit = usize::try_from(self.limits.max_body_bytes).unwrap_or(usize::MAX);
        let body = Limited::new(body, limit)
            .map_err(move |e| {
                let why = if e.is::<LengthLimitError>() {
                    BODY_OVER_LIMIT
                } else {
                    BODY_BROKEN
                };
                let _ = failed.compare_exchange(BODY_OK, why, Ordering::AcqRel, Ordering::Acquire);
                e
            })
            .boxed();
        let request = Request::from_parts(parts, body);
        let permitted = match Permitted::new(request, Arc::clone(&decision)) {
            Ok(p) => p,
            Err(_) => {
                return self
                    .refuse(local, &facts, Refusal::Denied(decision.reason.clone()))
                    .await;
            }
        };
        let selected = match self.pools.select(&permitted, &class.pools) {
            Ok(s) => s,
            Err(_) => return self.refuse(local, &facts, Refusal::NoApprovedRegion).await,
        };

        // 6. Audit: durable before a byte moves on.
        let record_started = Instant::now();
        let appended = match encode_decision(&facts, Some(&selected), None, None) {
            Ok(record) => local.audit.append_encoded(record).await,
            Err(e) => Err(e),
        };
        if let Err(e) = appended {
            tracing::error!(request_id = facts.id.as_str(), error = %e, "audit record not durable; refusing");
            return self.answer(
                &facts,
                Refusal::AuditUnavailable.into_response(facts.id.as_str()),
                None,
            );
        }
        self.metrics.audit_latency.observe(record_started.elapsed());
        // From here on, a request that ends without an answer from the
        // gateway says so in the log.
        let unanswered = Unanswered {
            audit: &local.audit,
            metrics: &self.metrics,
            facts: &facts,
            selected: &selected,
            armed: true,
        };

        // 7. Forward, with the gateway's own headers.
        let (mut request, decision) = permitted.into_parts();
        set_upstream_headers(request.headers_mut(), &facts, &class, &selected);
        let forwarded = local.upstreams.send(request, &selected).await;
        let body_refusal = match body_failed.load(Ordering::Acquire) {
            BODY_OVER_LIMIT => {
                tracing::warn!(
                    request_id = facts.id.as_str(),
                    limit = self.limits.max_body_bytes,
                    pool = %selected.pool,
                    "request body crossed max_body_bytes while streaming; upstream request aborted"
                );
                Some(Refusal::PayloadTooLarge)
            }
            BODY_BROKEN => {
                tracing::info!(
                    request_id = facts.id.as_str(),
                    pool = %selected.pool,
                    "request body failed while streaming; upstream request aborted"
                );
                Some(Refusal::BadRequest("request_body_error".into()))
            }
            _ => None,
        };
        if let Some(refusal) = body_refusal {
            // The client's fault, not the upstream's: no health report, and
            // whatever the aborted upstream request produced is dropped.
            unanswered.disarm();
            self.record_forward_failed(local, &facts, &selected, &refusal)
                .await;
            let response = close_if_framed(&facts, refusal.into_response(facts.id.as_str()));
            return self.answer(&facts, response, Some(&selected));
        }
        let refusal = match forwarded {
            Forwarded::Response(resp, took) => {
                self.pools.report_success(&selected.endpoint);
                self.metrics.upstream_latency.observe(took);
                Ok(resp)
            }
            Forwarded::ConnectFailed(refusal) => {
                self.pools.report_failure(&selected.endpoint);
                Err(refusal)
            }
            Forwarded::Failed(refusal) => Err(refusal),
        };
        let response = match refusal {
            Ok(resp) => resp,
            Err(refusal) => {
                unanswered.disarm();
                self.record_forward_failed(local, &facts, &selected, &refusal)
                    .await;
                return self.answer(
                    &facts,
                    refusal.into_response(facts.id.as_str()),
                    Some(&selected),
                );
            }
        };

        // 8. Obligations on the response.
        let jurisdiction = facts.jurisdiction();
        let response = self
            .apply_obligations(response, &decision, jurisdiction)
            .await;
        unanswered.disarm();
        let response = match response {
            Ok(r) => r,
            Err(refusal) => {
                tracing::warn!(request_id = facts.id.as_str(), reason = %refusal.reason(), "response refused: obligations could not be met");
                self.record_forward_failed(local, &facts, &selected, &refusal)
                    .await;
                refusal.into_response(facts.id.as_str())
            }
        };
        self.answer(&facts, response, Some(&selected))
    }

    /// Records that a request forwarded under its decision record was
    /// answered by the gateway instead of its upstream, before the client
    /// hears of it. The answer is `refusal` either way: the request has
    /// already left, so a failed record is logged, not turned into a 503.
    async fn record_forward_failed(
        &self,
        local: &RuntimeLocal,
        facts: &Facts,
        selected: &Selected,
        refusal: &Refusal,
    ) {
        let event = forward_failed(facts, selected, refusal.status().as_u16(), refusal.reason());
        if let Err(e) = local.audit.append(event).await {
            tracing::error!(request_id = facts.id.as_str(), error = %e, "audit: the failed forward could not be recorded");
        }
    }

    /// Records a refusal and answers with it (or with 503 if the record
    /// cannot be made durable).
    async fn refuse(
        &self,
        local: &RuntimeLocal,
        facts: &Facts,
        refusal: Refusal,
    ) -> Response<BoxBody> {
        let status = refusal.status().as_u16();
        let reason = refusal.reason();
        let close = matches!(refusal, Refusal::BadRequest(_) | Refusal::PayloadTooLarge);
        let appended = match encode_decision(facts, None, Some(status), Some(&reason)) {
            Ok(record) => local.audit.append_encoded(record).await,
            Err(e) => Err(e),
        };
        let response = match appended {
            Ok(_) => refusal.into_response(facts.id.as_str()),
            Err(e) => {
                tracing::error!(request_id = facts.id.as_str(), error = %e, "refusal not recorded; answering 503");
                Refusal::AuditUnavailable.into_response(facts.id.as_str())
            }
        };
        let response = if close {
            close_if_framed(facts, response)
        } else {
            response
        };
        self.answer(facts, response, None)
    }

    /// Counts the response and stamps the request id on it.
    fn answer(
        &self,
        facts: &Facts,
        mut response: Response<BoxBody>,
        to: Option<&Selected>,
    ) -> Response<BoxBody> {
        if let Ok(v) = HeaderValue::from_str(facts.id.as_str()) {
            response.headers_mut().insert(headers::REQUEST_ID, v);
        }
        let decision = match &facts.decision {
            Some(d) if d.allow => "allow",
            Some(_) => "deny",
            None => "refused",
        };
        self.metrics.count_request(RequestLabels {
            route: facts.class.as_ref().map_or("none", |c| c.route.as_str()),
            decision,
            region: to.map_or("none", |s| s.region.as_str()),
            status: response.status().as_u16(),
        });
        response
    }

    async fn apply_obligations(
        &self,
        response: Response<UpstreamBody>,
        decision: &Decision,
        jurisdiction: &str,
    ) -> Result<Response<BoxBody>, Refusal> {
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        let ob = &decision.obligations;
        let body = if ob.rewrites_body() {
            if !is_json(&parts.headers) {
                return Err(Refusal::ObligationFailed(
                    "response is not JSON (identity-encoded application/json required)".into(),
                ));
            }
            let limit = self.limits.max_obligation_body_bytes;
            let bytes = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    Refusal::ObligationFailed(format!(
                        "response body unreadable or over {limit} bytes: {e}"
                    ))
                })?
                .to_bytes();
            let rewritten = obligations::apply_json_obligations(
                &bytes,
                &ob.pseudonymize,
                &ob.redact,
                self.pseudonymizers.for_jurisdiction(jurisdiction),
            )
            .map_err(|e| Refusal::ObligationFailed(e.to_string()))?;
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(rewritten.len()));
            crate::body::full(Bytes::from(rewritten))
        } else {
            body.map_err(BoxError::from).boxed()
        };
        obligations::apply_response_headers(&mut parts.headers, &ob.response_headers)
            .map_err(|e| Refusal::ObligationFailed(e.to_string()))?;
        Ok(Response::from_parts(parts, body))
    }
}

/// The `forward_failed` record for a request whose decision record says
/// it went to `selected`.
fn forward_failed(facts: &Facts, selected: &Selected, status: u16, reason: String) -> Event {
    Event::ForwardFailed(ForwardFailed {
        request_id: facts.id.as_str().to_string(),
        pool: selected.pool.clone(),
        region: selected.region.clone(),
        status,
        reason,
    })
}

/// Status of the `forward_failed` record for an exchange that ended before
/// the gateway answered (nginx logs such requests with 499 too).
const NOT_ANSWERED_STATUS: u16 = 499;

/// Armed once the decision record is durable, until the gateway has its
/// answer: if the request's future is dropped in between (the client closed the
/// connection or reset the stream, or the shutdown grace period ran out),
/// the log gets a `forward_failed` record with status 499 and reason
/// `not_answered`, so no recorded forward is left looking delivered.
/// Nothing can wait in a destructor, so that record is queued without
/// waiting for it to be durable.
struct Unanswered<'a> {
    audit: &'a AuditLog,
    metrics: &'a Metrics,
    facts: &'a Facts,
    selected: &'a Selected,
    armed: bool,
}

impl Unanswered<'_> {
    /// The gateway has its answer (or records the failure itself).
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let request_id = self.facts.id.as_str();
        tracing::info!(request_id, pool = %self.selected.pool, "request ended before the gateway answered");
        let event = forward_failed(
            self.facts,
            self.selected,
            NOT_ANSWERED_STATUS,
            "not_answered".into(),
        );
        if let Err(e) = self.audit.append_detached(&event) {
            tracing::error!(request_id, error = %e, "audit: the unanswered forward could not be recorded");
        }
        self.metrics.count_request(RequestLabels {
            route: self
                .facts
                .class
                .as_ref()
                .map_or("none", |c| c.route.as_str()),
            decision: "allow",
            region: self.selected.region.as_str(),
            status: NOT_ANSWERED_STATUS,
        });
    }
}

/// Ends an HTTP/1.x connection after `response`: the request was refused
/// as malformed or too large, so its unread body has framing we just
/// called untrustworthy, and reading on would parse that body as the
/// next request (smuggling; RFC 9112 §6.3). On HTTP/2 each request is
/// its own stream, framed by the protocol: the refused stream is reset
/// once answered, the connection's other streams go on, and no
/// `Connection` header is sent (RFC 9113 §8.2.2 forbids it).
fn close_if_framed(facts: &Facts, mut response: Response<BoxBody>) -> Response<BoxBody> {
    if !facts.multiplexed {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The decision record for `facts`, encoded here (on the request's own
/// thread) straight from the borrowed facts. `refusal` is why the gateway
/// answered itself; when no policy decided, it is also the outcome's reason.
fn encode_decision(
    facts: &Facts,
    to: Option<&Selected>,
    status: Option<u16>,
    refusal: Option<&str>,
) -> Result<EncodedEvent, AuditError> {
    let (subject, requester) = match facts.attribution() {
        Some(a) => (
            SubjectRef {
                jurisdiction: &a.subject.jurisdiction,
                source: a.subject.source.as_str(),
                verified: a.subject.verified,
                pseudonym: a.subject.pseudonym.as_deref(),
            },
            RequesterRef {
                kind: a.requester.kind.as_str(),
                id: a.requester.id.as_deref(),
                org: a.requester.org.as_deref(),
                location: a.requester.location.as_deref(),
                source: a.requester.source.as_str(),
                verified: a.requester.verified,
                approval: a
                    .requester
                    .approval
                    .as_ref()
                    .filter(|ap| ap.verified)
                    .map(|ap| ap.id.as_str()),
            },
        ),
        None => (
            SubjectRef {
                jurisdiction: "unknown",
                source: "none",
                verified: false,
                pseudonym: None,
            },
            RequesterRef {
                kind: "unknown",
                id: None,
                org: None,
                location: None,
                source: "none",
                verified: false,
                approval: None,
            },
        ),
    };
    let decision = match facts.decision.as_deref() {
        Some(d) => OutcomeRef {
            allow: d.allow,
            regions: &d.regions,
            reason: &d.reason,
            obligations: Some(&d.obligations),
        },
        None => OutcomeRef {
            allow: false,
            regions: &[],
            reason: refusal.unwrap_or_default(),
            obligations: None,
        },
    };
    let class = facts.class.as_deref();
    EncodedEvent::decision(&DecisionRef {
        request_id: facts.id.as_str(),
        subject,
        requester,
        method: &facts.method,
        host: &facts.host,
        path: &facts.path,
        route: class.map(|c| c.route.as_str()),
        service: class.map(|c| c.service.as_str()),
        data_class: class.map(|c| c.data_class.as_str()),
        decision,
        pool: to.map(|s| s.pool.as_str()),
        region: to.map(|s| s.region.as_str()),
        status,
        refusal,
        policy_revision: facts.policy.as_deref().map(PolicyEngine::revision),
        input_rest: facts.input.as_ref().map(InputRest::of).as_ref(),
    })
    .map_err(AuditError::Encode)
}

/// The policy input's fields a decision record does not already carry,
/// recorded as its `input_rest`: `DecisionEvent::policy_input` puts the
/// record's request id, method, host, path, subject, requester, route,
/// service and data class back in and gets the whole input again (tested
/// below).
#[derive(Serialize)]
struct InputRest<'a> {
    request: RequestRest<'a>,
    /// Only when an approval was presented: the record's own requester
    /// names a verified approval's id alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    requester: Option<ApprovalRest<'a>>,
    destinations: &'a [Destination],
    time: &'a str,
}

#[derive(Serialize)]
struct RequestRest<'a> {
    query: &'a BTreeMap<String, Vec<String>>,
    headers: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ApprovalRest<'a> {
    approval: &'a Approval,
}

impl<'a> InputRest<'a> {
    fn of(input: &'a PolicyInput) -> Self {
        Self {
            request: RequestRest {
                query: &input.request.query,
                headers: &input.request.headers,
            },
            requester: input
                .requester
                .approval
                .as_ref()
                .map(|approval| ApprovalRest { approval }),
            destinations: &input.destinations,
            time: &input.time,
        }
    }
}

fn set_upstream_headers(h: &mut HeaderMap, facts: &Facts, class: &Classification, to: &Selected) {
    let jurisdiction = facts.jurisdiction();
    for (name, value) in [
        (headers::JURISDICTION, jurisdiction),
        (headers::DATA_CLASS, class.data_class.as_str()),
        (headers::REGION, to.region.as_str()),
        (headers::REQUEST_ID, facts.id.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
}

/// The request's host: the URI authority (HTTP/2, absolute-form) or the
/// Host header, lower-cased, port removed.
fn host_of(uri: &Uri, headers: &HeaderMap) -> String {
    let raw = uri
        .authority()
        .map(http::uri::Authority::host)
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(strip_port)
        })
        .unwrap_or_default();
    raw.to_ascii_lowercase()
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[');
    }
    host.split(':').next().unwrap_or(host)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(q) = query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            out.entry(k.into_owned()).or_default().push(v.into_owned());
        }
    }
    out
}

fn policy_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    POLICY_VISIBLE_HEADERS
        .iter()
        .filter_map(|name| {
            let v = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_string(), v.to_string()))
        })
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn is_json(headers: &HeaderMap) -> bool {
    let identity = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.eq_ignore_ascii_case("identity"));
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|t| t == "application/json" || t.ends_with("+json"));
    identity && json
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1) from an upstream response.
fn remove_hop_by_hop(h: &mut HeaderMap) {
    if h.contains_key(header::CONNECTION) {
        let named: Vec<String> = h
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
            .collect();
        for name in named {
            h.remove(name.as_str());
        }
        h.remove(header::CONNECTION);
    }
    // Names known up front: no parsing of a name per response.
    static KEEP_ALIVE: header::HeaderName = header::HeaderName::from_static("keep-alive");
    static PROXY_CONNECTION: header::HeaderName =
        header::HeaderName::from_static("proxy-connection");
    for name in [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ] {
        h.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_lowercased_without_port() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("API.Example.com:8443"),
        );
        assert_eq!(host_of(&Uri::from_static("/x"), &h), "api.example.com");
        assert_eq!(
            host_of(&Uri::from_static("http://Other.example:80/x"), &h),
            "other.example"
        );
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert_eq!(host_of(&Uri::from_static("/x"), &h), "::1");
    }

    #[test]
    fn hop_by_hop_response_headers_are_removed_and_others_kept() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("connection", "close, X-Hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("upgrade", "h2c"),
            ("content-type", "application/json"),
            ("x-end-to-end", "kept"),
        ] {
            h.append(
                header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        remove_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(header::HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-end-to-end"]);
    }

    #[test]
    fn query_keeps_repeated_keys() {
        let q = parse_query(Some("a=1&b=x%20y&a=2"));
        assert_eq!(q["a"], vec!["1", "2"]);
        assert_eq!(q["b"], vec!["x y"]);
    }

    mod recorded_input {
        use super::*;
        use jurisgate_attribution::{RequesterKind, Source};
        use jurisgate_audit::Event;
        use proptest::option::of;
        use proptest::prelude::*;

        /// Any text, with the characters JSON escapes well represented.
        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z0-9:_/.-]{0,12}",
                "[\\\\\"\\x00-\\x1f\\u{7f}-\\u{10ffff}a]{0,6}",
            ]
        }

        fn source() -> impl Strategy<Value = Source> {
            prop_oneof![
                Just(Source::Jwt),
                Just(Source::SignedHeader),
                Just(Source::Directory),
                Just(Source::Mtls),
                Just(Source::Geoip),
                Just(Source::None),
            ]
        }

        fn kind() -> impl Strategy<Value = RequesterKind> {
            prop_oneof![
                Just(RequesterKind::User),
                Just(RequesterKind::Service),
                Just(RequesterKind::Employee),
                Just(RequesterKind::Unknown),
            ]
        }

        prop_compose! {
            fn subject()(jurisdiction in text(), source in source(), verified: bool,
                         pseudonym in of(text())) -> Subject {
                Subject { jurisdiction, source, verified, pseudonym }
            }
        }

        prop_compose! {
            fn approval()(id in text(), scope in text(), expires in text(), verified: bool)
                -> Approval {
                Approval { id, scope, expires, verified }
            }
        }

        prop_compose! {
            fn requester()(kind in kind(), id in of(text()), org in of(text()),
                           location in of(text()), source in source(), verified: bool,
                           approval in of(approval())) -> Requester {
                Requester { kind, id, org, location, source, verified, approval }
            }
        }

        prop_compose! {
            fn destination()(pool in text(), region in text(), healthy: bool) -> Destination {
                Destination { pool, region, healthy }
            }
        }

        prop_compose! {
            fn input()(method in text(), host in text(), path in text(),
                       query in proptest::collection::btree_map(text(), proptest::collection::vec(text(), 0..3), 0..3),
                       headers in proptest::collection::btree_map(text(), text(), 0..3),
                       subject in subject(), requester in requester(),
                       route in text(), service in text(), data_class in text(),
                       destinations in proptest::collection::vec(destination(), 0..4),
                       time in text()) -> PolicyInput {
                PolicyInput {
                    request: RequestFacts { id: String::new(), method, host, path, query, headers },
                    subject,
                    requester,
                    resource: Resource { route, service, data_class },
                    destinations,
                    time,
                }
            }
        }

        /// The facts the request path would hold after deciding on `input`.
        fn facts_of(mut input: PolicyInput) -> Facts {
            let id = RequestId::generate();
            input.request.id = id.as_str().to_string();
            Facts {
                id,
                method: input.request.method.clone(),
                host: input.request.host.clone(),
                path: input.request.path.clone(),
                // As on the request path: the attribution has moved into the input.
                attribution: None,
                class: Some(Arc::new(Classification {
                    route: input.resource.route.clone(),
                    service: input.resource.service.clone(),
                    data_class: input.resource.data_class.clone(),
                    pools: Vec::new(),
                })),
                decision: Some(Arc::new(Decision::deny("test"))),
                input: Some(input),
                policy: None,
                multiplexed: false,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(500))]

            /// A replay must re-decide exactly what the policy saw: the
            /// record's `input_rest` and its own fields give the input back.
            #[test]
            fn a_decision_record_gives_back_the_whole_policy_input(input in input()) {
                let facts = facts_of(input);
                let encoded = encode_decision(&facts, None, None, None).unwrap();
                let Event::Decision(recorded) = serde_json::from_slice(encoded.as_json()).unwrap() else {
                    panic!("not a decision record");
                };
                prop_assert!(recorded.input.is_none());
                prop_assert_eq!(
                    recorded.policy_input(),
                    Some(serde_json::to_value(facts.input.as_ref().unwrap()).unwrap())
                );
            }
        }

        #[test]
        fn a_record_without_an_input_gives_none() {
            let mut facts = facts_of(PolicyInput {
                request: RequestFacts {
                    id: String::new(),
                    method: "GET".into(),
                    host: "h".into(),
                    path: "/".into(),
                    query: BTreeMap::new(),
                    headers: BTreeMap::new(),
                },
                subject: Subject::unknown(),
                requester: Requester::unknown(),
                resource: Resource {
                    route: "r".into(),
                    service: "s".into(),
                    data_class: "d".into(),
                },
                destinations: Vec::new(),
                time: String::new(),
            });
            facts.input = None;
            let encoded = encode_decision(&facts, None, Some(404), Some("no_route")).unwrap();
            let line = std::str::from_utf8(encoded.as_json()).unwrap();
            assert!(!line.contains("input"), "{line}");
            let Event::Decision(recorded) = serde_json::from_slice(encoded.as_json()).unwrap()
            else {
                panic!("not a decision record");
            };
            assert_eq!(recorded.policy_input(), None);
        }
    }
}
