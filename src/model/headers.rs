//! Response headers the HTTPS listener inserts (`[https] headers`), and the CORS
//! preflight rule that goes with them. Pure: the AWS side (the listener attributes) is
//! in `aws/resources/listener.rs`, the local emulation in `emulator/server.rs`.
//!
//! What the ALB does with them, with references: docs/alb-lambda.md §11.

use std::collections::BTreeMap;

/// A response header an ALB listener can insert, each through its listener attribute
/// `routing.http.response.<name>.header_value`. Ordered as the plan lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Inserted {
    StrictTransportSecurity,
    AccessControlAllowOrigin,
    AccessControlAllowMethods,
    AccessControlAllowHeaders,
    AccessControlAllowCredentials,
    AccessControlExposeHeaders,
    AccessControlMaxAge,
    ContentSecurityPolicy,
    XContentTypeOptions,
    XFrameOptions,
}

impl Inserted {
    pub const ALL: [Inserted; 10] = [
        Inserted::StrictTransportSecurity,
        Inserted::AccessControlAllowOrigin,
        Inserted::AccessControlAllowMethods,
        Inserted::AccessControlAllowHeaders,
        Inserted::AccessControlAllowCredentials,
        Inserted::AccessControlExposeHeaders,
        Inserted::AccessControlMaxAge,
        Inserted::ContentSecurityPolicy,
        Inserted::XContentTypeOptions,
        Inserted::XFrameOptions,
    ];

    /// The header's name on the wire, lower case.
    pub fn header(self) -> &'static str {
        match self {
            Inserted::StrictTransportSecurity => "strict-transport-security",
            Inserted::AccessControlAllowOrigin => "access-control-allow-origin",
            Inserted::AccessControlAllowMethods => "access-control-allow-methods",
            Inserted::AccessControlAllowHeaders => "access-control-allow-headers",
            Inserted::AccessControlAllowCredentials => "access-control-allow-credentials",
            Inserted::AccessControlExposeHeaders => "access-control-expose-headers",
            Inserted::AccessControlMaxAge => "access-control-max-age",
            Inserted::ContentSecurityPolicy => "content-security-policy",
            Inserted::XContentTypeOptions => "x-content-type-options",
            Inserted::XFrameOptions => "x-frame-options",
        }
    }

    /// The listener attribute that holds its value (empty: the header is not inserted).
    pub fn attribute(self) -> String {
        format!(
            "routing.http.response.{}.header_value",
            self.header().replace('-', "_")
        )
    }

    pub fn is_cors(self) -> bool {
        self.header().starts_with("access-control-")
    }
}

/// The listener attribute that turns the ALB's own `Server: awselb/2.0` header on or
/// off (`true` by default).
pub const SERVER_ATTRIBUTE: &str = "routing.http.response.server.enabled";

/// Every listener attribute of [`ResponseHeaders`], for reading them back.
pub fn attributes() -> Vec<String> {
    let mut out: Vec<String> = Inserted::ALL.iter().map(|h| h.attribute()).collect();
    out.push(SERVER_ATTRIBUTE.to_string());
    out
}

/// What the HTTPS listener adds to (or, for `Server`, removes from) every response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeaders {
    /// The inserted headers and their values; absent: not inserted.
    pub values: BTreeMap<Inserted, String>,
    /// Whether the ALB sends its `Server: awselb/2.0` header.
    pub server: bool,
}

impl Default for ResponseHeaders {
    fn default() -> Self {
        ResponseHeaders {
            values: BTreeMap::new(),
            server: true,
        }
    }
}

/// The `response_headers` property of an HTTPS listener that inserts nothing beyond
/// `Strict-Transport-Security` (which has its own property, `hsts`).
pub const HEADERS_NONE: &str = "none";

impl ResponseHeaders {
    pub fn get(&self, h: Inserted) -> Option<&str> {
        self.values.get(&h).map(String::as_str)
    }

    /// Whether CORS is configured: the listener answers preflights (see [`preflight`]).
    pub fn cors(&self) -> bool {
        self.values.keys().any(|h| h.is_cors())
    }

    /// The `response_headers` property: every inserted header but HSTS, and the
    /// `Server` header when it is off, in a fixed order; [`HEADERS_NONE`] for none.
    pub fn prop(&self) -> String {
        let mut parts: Vec<String> = self
            .values
            .iter()
            .filter(|(h, _)| **h != Inserted::StrictTransportSecurity)
            .map(|(h, v)| format!("{}: {v}", h.header()))
            .collect();
        if !self.server {
            parts.push("server: off".to_string());
        }
        if parts.is_empty() {
            HEADERS_NONE.to_string()
        } else {
            parts.join(" | ")
        }
    }

    /// The headers to set on every response, lower-case names (the ALB replaces a
    /// value the target set).
    pub fn inserted(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(h, v)| (h.header().to_string(), v.clone()))
            .collect()
    }

    /// The listener attributes for these headers: every one albkit manages, an empty
    /// value for a header not inserted.
    pub fn to_attributes(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Inserted::ALL
            .iter()
            .map(|h| (h.attribute(), self.get(*h).unwrap_or_default().to_string()))
            .collect();
        out.push((SERVER_ATTRIBUTE.to_string(), self.server.to_string()));
        out
    }

    /// The headers from listener attributes as `DescribeListenerAttributes` lists them.
    pub fn from_attributes<'a>(attributes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut out = ResponseHeaders::default();
        for (key, value) in attributes {
            let value = value.trim();
            if key == SERVER_ATTRIBUTE {
                out.server = !value.eq_ignore_ascii_case("false");
            } else if let Some(h) = Inserted::ALL.iter().find(|h| h.attribute() == key) {
                if !value.is_empty() {
                    out.values.insert(*h, value.to_string());
                }
            }
        }
        out
    }
}

/// The priority of the CORS preflight rule: reserved when `[https] headers.cors` is
/// set, so that it is evaluated before every route.
pub const PREFLIGHT_PRIORITY: u32 = 1;

/// The status of the preflight's fixed response: 204 No Content.
pub const PREFLIGHT_STATUS: u16 = 204;

/// The content type the preflight's fixed response is declared with (it has no body).
pub const PREFLIGHT_CONTENT_TYPE: &str = "text/plain";

/// The method the preflight rule matches.
pub const PREFLIGHT_METHOD: &str = "OPTIONS";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_follow_the_alb_scheme() {
        assert_eq!(
            Inserted::StrictTransportSecurity.attribute(),
            "routing.http.response.strict_transport_security.header_value"
        );
        assert_eq!(
            Inserted::AccessControlAllowOrigin.attribute(),
            "routing.http.response.access_control_allow_origin.header_value"
        );
        assert_eq!(
            Inserted::XContentTypeOptions.attribute(),
            "routing.http.response.x_content_type_options.header_value"
        );
        assert_eq!(attributes().len(), 11);
        let cors: Vec<_> = Inserted::ALL.iter().filter(|h| h.is_cors()).collect();
        assert_eq!(cors.len(), 6);
    }

    #[test]
    fn headers_round_trip_through_listener_attributes() {
        let mut h = ResponseHeaders::default();
        h.values.insert(
            Inserted::AccessControlAllowOrigin,
            "https://app.example.com".into(),
        );
        h.values.insert(Inserted::XFrameOptions, "DENY".into());
        h.values
            .insert(Inserted::StrictTransportSecurity, "max-age=300".into());
        h.server = false;
        let attrs = h.to_attributes();
        assert_eq!(attrs.len(), 11);
        let back =
            ResponseHeaders::from_attributes(attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, h);
        assert!(back.cors());
        assert_eq!(
            back.prop(),
            "access-control-allow-origin: https://app.example.com | x-frame-options: DENY | \
             server: off"
        );
    }

    #[test]
    fn unknown_and_empty_attributes_insert_nothing() {
        let h = ResponseHeaders::from_attributes([
            ("tcp.idle_timeout.seconds", "350"),
            ("routing.http.response.x_frame_options.header_value", ""),
            (SERVER_ATTRIBUTE, "true"),
        ]);
        assert_eq!(h, ResponseHeaders::default());
        assert_eq!(h.prop(), HEADERS_NONE);
        assert!(!h.cors());
    }
}
