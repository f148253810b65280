//! The request headers an HTTPS listener in mutual TLS **verify** mode adds for the
//! target: what the client's verified leaf certificate says, in the forms the Elastic
//! Load Balancing user guide gives ("HTTP headers for verify mode", docs/mtls.md):
//!
//! - `x-amzn-mtls-clientcert-serial-number`: the serial number, upper-case hex;
//! - `x-amzn-mtls-clientcert-issuer` and `-subject`: distinguished names, RFC 2253;
//! - `x-amzn-mtls-clientcert-validity`: `NotBefore=…;NotAfter=…`, ISO 8601 in UTC;
//! - `x-amzn-mtls-clientcert-leaf`: the certificate as PEM, URL-encoded with `+=/` kept.
//!
//! Pure: the certificate's DER in, the headers out. `albkit dev --tls` sets them on each
//! request of a connection whose client presented a certificate the CA bundle verifies.

use x509_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The prefix every header of this module starts with. A request's own headers with it
/// are dropped before the load balancer's are set, so a client cannot pose as another.
pub const HEADER_PREFIX: &str = "x-amzn-mtls-clientcert";

/// The verify-mode headers for the leaf certificate `der`, lower-case names in the
/// order the user guide lists them. `Err`: the certificate does not parse (the TLS
/// library verified it, so this does not happen for a connection that got this far).
pub fn client_cert_headers(der: &[u8]) -> Result<Vec<(String, String)>, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the client certificate is not valid X.509: {e}"))?;
    let validity = cert.validity();
    let header = |suffix: &str, value: String| (format!("{HEADER_PREFIX}-{suffix}"), value);
    Ok(vec![
        header("serial-number", serial_hex(cert.raw_serial())),
        header("issuer", rfc2253(cert.issuer())),
        header("subject", rfc2253(cert.subject())),
        header(
            "validity",
            format!(
                "NotBefore={};NotAfter={}",
                iso8601(validity.not_before.timestamp()),
                iso8601(validity.not_after.timestamp())
            ),
        ),
        header("leaf", url_encode(&super::pem("CERTIFICATE", der))),
    ])
}

/// The client certificate's headers in place of any `x-amzn-mtls-clientcert*` header the
/// request carries: a client cannot pose as another certificate.
pub fn set_headers(headers: &mut Vec<(String, Vec<u8>)>, cert: &[(String, String)]) {
    headers.retain(|(n, _)| {
        n.get(..HEADER_PREFIX.len())
            .is_none_or(|p| !p.eq_ignore_ascii_case(HEADER_PREFIX))
    });
    headers.extend(cert.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec())));
}

/// The serial number's bytes as upper-case hex, without the leading zero byte DER adds
/// to keep a number whose first bit is set positive (`03A5B1` in AWS's example).
pub fn serial_hex(raw: &[u8]) -> String {
    let raw = match raw {
        [0, next, ..] if next & 0x80 != 0 => &raw[1..],
        _ => raw,
    };
    if raw.is_empty() {
        return "00".into();
    }
    hex::encode_upper(raw)
}

/// A distinguished name in RFC 2253's string form: the relative distinguished names
/// from the last to the first (most specific first), `,` between them, `+` between the
/// attributes of one; the attribute types RFC 2253 names by keyword, the others by
/// dotted OID with the value as `#` and the hex of its BER encoding (§2.3, §2.4).
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<String>>().join("+"))
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// One `type=value` of RFC 2253.
fn attribute(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    match keyword(&oid) {
        Some(key) => match text(attr.attr_value()) {
            Some(value) => format!("{key}={}", escape(&value)),
            None => format!("{key}=#{}", hex::encode(ber(attr.attr_value()))),
        },
        None => format!("{oid}=#{}", hex::encode(ber(attr.attr_value()))),
    }
}

/// RFC 2253 §2.3's table of attribute type keywords.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The value of a string type as text: the ASCII and UTF-8 types as they are,
/// BMPString from UTF-16, UniversalString from UTF-32, TeletexString as Latin-1.
/// `None` for other types (written in the `#` form).
fn text(value: &Any<'_>) -> Option<String> {
    if value.header.class() != Class::Universal {
        return None;
    }
    let data = value.data;
    match value.header.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            String::from_utf8(data.to_vec()).ok()
        }
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => data
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                char::from_u32(u32::from_be_bytes(b))
            })
            .collect(),
        Tag::TeletexString => Some(data.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

/// RFC 2253 §2.4: `,`, `+`, `"`, `\`, `<`, `>` and `;` escaped with a backslash, as are
/// a leading space or `#` and a trailing space.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value's BER encoding: identifier, definite length, contents.
fn ber(value: &Any<'_>) -> Vec<u8> {
    let header = &value.header;
    let class = header.class() as u8;
    let constructed = if header.is_constructed() { 0x20 } else { 0 };
    let mut out = Vec::with_capacity(value.data.len() + 8);
    let number = header.tag().0;
    if number < 31 {
        out.push((class << 6) | constructed | number as u8);
    } else {
        out.push((class << 6) | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut n = number;
        loop {
            groups.push((n & 0x7f) as u8);
            n >>= 7;
            if n == 0 {
                break;
            }
        }
        let count = groups.len();
        for (i, g) in groups.into_iter().rev().enumerate() {
            out.push(if i + 1 < count { g | 0x80 } else { g });
        }
    }
    let len = value.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value.data);
    out
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ` (an X.509 time is within the years 0–9999).
pub fn iso8601(unix: i64) -> String {
    let at = time::UtcDateTime::from_unix_timestamp(unix).unwrap_or(if unix < 0 {
        time::UtcDateTime::MIN
    } else {
        time::UtcDateTime::MAX
    });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Percent-encoding of every byte but the unreserved characters (`A–Z a–z 0–9 - . _ ~`)
/// and `+`, `=`, `/`, which the user guide names as kept.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'=' | b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::pem::parse_x509_pem;

    /// The test leaf (tests/fixtures/mtls/make.sh): CN=client.example, issued by "albkit
    /// test CA one". Its expected fields are what `openssl x509 -serial -dates
    /// -nameopt RFC2253 -subject -issuer` prints for it.
    const LEAF: &str = include_str!("../../tests/fixtures/mtls/leaf.pem");

    fn leaf_der() -> Vec<u8> {
        let (_, pem) = parse_x509_pem(LEAF.as_bytes()).expect("PEM");
        pem.contents
    }

    fn headers() -> Vec<(String, String)> {
        client_cert_headers(&leaf_der()).expect("headers")
    }

    fn get(name: &str) -> String {
        let found = headers().into_iter().find(|(n, _)| n == name);
        found.map_or_else(|| panic!("no {name}"), |(_, v)| v)
    }

    #[test]
    fn the_five_headers_in_the_user_guides_order() {
        let names: Vec<String> = headers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "x-amzn-mtls-clientcert-serial-number",
                "x-amzn-mtls-clientcert-issuer",
                "x-amzn-mtls-clientcert-subject",
                "x-amzn-mtls-clientcert-validity",
                "x-amzn-mtls-clientcert-leaf",
            ]
        );
    }

    #[test]
    fn subject_and_issuer_are_rfc_2253() {
        assert_eq!(get("x-amzn-mtls-clientcert-subject"), "CN=client.example");
        assert_eq!(
            get("x-amzn-mtls-clientcert-issuer"),
            "CN=albkit test CA one"
        );
    }

    #[test]
    fn serial_and_validity_match_openssl() {
        assert_eq!(get("x-amzn-mtls-clientcert-serial-number"), LEAF_SERIAL);
        assert_eq!(get("x-amzn-mtls-clientcert-validity"), LEAF_VALIDITY);
    }

    const LEAF_SERIAL: &str = "4EB8E5A13DA744110719088A038F6D905376144E";
    const LEAF_VALIDITY: &str = "NotBefore=2026-12-01T14:25:45Z;NotAfter=2126-11-07T14:25:45Z";

    #[test]
    fn the_leaf_is_url_encoded_pem_that_decodes_to_the_certificate() {
        let leaf = get("x-amzn-mtls-clientcert-leaf");
        assert!(
            leaf.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
            "{leaf}"
        );
        assert!(
            leaf.ends_with("%0A-----END%20CERTIFICATE-----%0A"),
            "{leaf}"
        );
        let decoded = urlencoding::decode(&leaf).expect("percent-encoded UTF-8");
        let (_, pem) = parse_x509_pem(decoded.as_bytes()).expect("PEM");
        assert_eq!(pem.contents, leaf_der());
    }

    #[test]
    fn the_certificates_headers_replace_those_the_client_sent() {
        let mut headers = vec![
            ("host".to_string(), b"x".to_vec()),
            (
                "X-Amzn-Mtls-Clientcert-Subject".to_string(),
                b"CN=admin".to_vec(),
            ),
            ("x-amzn-mtls-clientcert".to_string(), b"forged".to_vec()),
            ("x-amzn-mtls".to_string(), b"kept".to_vec()),
        ];
        let cert = [(
            "x-amzn-mtls-clientcert-subject".to_string(),
            "CN=real".to_string(),
        )];
        set_headers(&mut headers, &cert);
        let shown: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        assert_eq!(
            shown,
            [
                ("host", b"x".as_slice()),
                ("x-amzn-mtls", b"kept".as_slice()),
                ("x-amzn-mtls-clientcert-subject", b"CN=real".as_slice()),
            ]
        );
    }

    #[test]
    fn serial_numbers_drop_only_the_sign_byte() {
        assert_eq!(serial_hex(&[0x03, 0xa5, 0xb1]), "03A5B1");
        assert_eq!(serial_hex(&[0x00, 0x9f, 0x01]), "9F01");
        assert_eq!(serial_hex(&[0x00, 0x12]), "0012");
        assert_eq!(serial_hex(&[]), "00");
    }

    #[test]
    fn rfc_2253_escapes_special_characters_and_edges() {
        assert_eq!(
            escape("a,b+c\"d\\e<f>g;h"),
            "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h"
        );
        assert_eq!(escape("#tag"), "\\#tag");
        assert_eq!(escape(" padded "), "\\ padded\\ ");
        assert_eq!(escape("mid#dle"), "mid#dle");
        assert_eq!(escape("é"), "é");
    }

    #[test]
    fn names_list_the_most_specific_part_first_and_unknown_types_by_oid() {
        // C=US, O=Example\, Inc., OU=a + OU=b (one RDN), CN=svc, emailAddress=x@y
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::OrganizationName, "Example, Inc.");
        dn.push(rcgen::DnType::CommonName, "svc");
        dn.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]),
            rcgen::DnValue::Ia5String("x@y".try_into().expect("ia5")),
        );
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let (_, parsed) = X509Certificate::from_der(cert.der()).expect("der");
        assert_eq!(
            rfc2253(parsed.subject()),
            "1.2.840.113549.1.9.1=#1603784079,CN=svc,O=Example\\, Inc.,C=US"
        );
    }

    #[test]
    fn ber_encodes_long_lengths_and_high_tag_numbers() {
        let long = vec![b'a'; 200];
        let any = Any::new(
            x509_parser::asn1_rs::Header::new(Class::Universal, false, Tag::Utf8String, 200.into()),
            &long,
        );
        let out = ber(&any);
        assert_eq!(&out[..3], &[0x0c, 0x81, 200]);
        let any = Any::new(
            x509_parser::asn1_rs::Header::new(Class::ContextSpecific, false, Tag(200), 1.into()),
            b"z",
        );
        assert_eq!(ber(&any), vec![0x9f, 0x81, 0x48, 1, b'z']);
    }

    #[test]
    fn iso8601_dates_cover_leap_years_and_the_epoch() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_695_261_017), "2023-09-21T01:50:17Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn url_encoding_keeps_plus_equals_and_slash() {
        assert_eq!(url_encode("a+b=c/d e\nf%"), "a+b=c/d%20e%0Af%25");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(client_cert_headers(b"not a certificate").is_err());
    }
}
