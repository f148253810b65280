//! A listener of the load balancer: HTTP on 80, HTTPS on 443.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::headers::{Inserted, ResponseHeaders};
use crate::model::stack::Tags;

/// What a listener does with a request no rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    /// A fixed `404` JSON response ([`NOT_FOUND_BODY`]).
    NotFound,
    /// A 301 to the same URL on HTTPS:443.
    RedirectToHttps,
}

/// The body of the fixed 404 response.
pub const NOT_FOUND_BODY: &str = r#"{"message":"not found"}"#;

impl DefaultAction {
    /// As the plan shows it, and as discovery renders what it found.
    pub fn text(self) -> String {
        match self {
            DefaultAction::NotFound => {
                format!("fixed-response 404 application/json {NOT_FOUND_BODY}")
            }
            DefaultAction::RedirectToHttps => {
                "redirect HTTP_301 https://#{host}:443/#{path}?#{query}".to_string()
            }
        }
    }
}

/// The TLS side of an HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    pub certificate: Ref,
    pub ssl_policy: String,
    /// The headers the listener adds to every response (`Strict-Transport-Security`
    /// among them) and whether it sends `Server`.
    pub headers: ResponseHeaders,
    /// `[https.mtls]`: client certificates verified against this trust store (mutual
    /// TLS in verify mode); `None`: mutual authentication off.
    pub trust_store: Option<Ref>,
}

impl ListenerTls {
    /// The `Strict-Transport-Security` value the listener adds, if any.
    pub fn hsts(&self) -> Option<&str> {
        self.headers.get(Inserted::StrictTransportSecurity)
    }

    /// The `mutual_authentication` property: `off`, or `verify <trust store>`.
    pub fn mutual_authentication(&self) -> String {
        match &self.trust_store {
            Some(store) => format!("{MTLS_VERIFY} {store}"),
            None => MTLS_OFF.to_string(),
        }
    }
}

/// ELB's mutual authentication modes albkit sets.
pub const MTLS_OFF: &str = "off";
pub const MTLS_VERIFY: &str = "verify";

/// The `hsts` property of an HTTPS listener that adds no such header.
pub const HSTS_OFF: &str = "off";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    pub load_balancer: Ref,
    pub port: u16,
    /// `Some` for HTTPS.
    pub tls: Option<ListenerTls>,
    pub default_action: DefaultAction,
    pub tags: Tags,
}

impl ListenerSpec {
    pub fn protocol(&self) -> &'static str {
        if self.tls.is_some() {
            "HTTPS"
        } else {
            "HTTP"
        }
    }
}

impl KindFacts for ListenerSpec {
    const NAME: &'static str = "listener";
    const RANK: u8 = 4;
    const REPLACE_ON: &'static [&'static str] = &["port"];
}

impl Describe for ListenerSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        let mut props = vec![
            ("port", self.port.to_string()),
            ("protocol", self.protocol().to_string()),
        ];
        if let Some(tls) = &self.tls {
            props.push(("certificate", tls.certificate.to_string()));
            props.push(("ssl_policy", tls.ssl_policy.clone()));
            props.push(("hsts", tls.hsts().unwrap_or(HSTS_OFF).to_string()));
            props.push(("response_headers", tls.headers.prop()));
            props.push(("mutual_authentication", tls.mutual_authentication()));
        }
        props.push(("default_action", self.default_action.text()));
        props.push(("tags", tags(&self.tags)));
        props
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let mut refs = vec![&mut self.load_balancer];
        if let Some(tls) = &mut self.tls {
            refs.push(&mut tls.certificate);
            refs.extend(tls.trust_store.as_mut());
        }
        refs
    }
}
