//! `albkit dev --tls`: the TLS side of the stack's HTTPS listener (docs/mtls.md).
//!
//! - The server certificate is the one `--tls-cert`/`--tls-key` name, or a fresh
//!   self-signed one (ECDSA P-256, rcgen) for `localhost`, the loopback addresses and the
//!   stack's `[https]` domain and aliases.
//! - With `[https.mtls]`, the client must present a certificate that chains to one of the
//!   CA bundle's certificates and is within its validity (rustls's WebPKI verifier, as
//!   the load balancer's verify mode); without one the handshake fails, as on AWS.
//!   [`client_headers`] turns the verified leaf into the `x-amzn-mtls-clientcert-*`
//!   headers ([`crate::alb::mtls`]).
//!
//! rustls with the aws-lc-rs provider, the one the AWS SDK's HTTPS client already uses.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// A server certificate chain and its private key.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// A fresh self-signed certificate for `names` (DNS names or IP addresses), valid from
/// a day ago for a year; and its PEM, for the client to trust.
pub fn self_signed(names: &[String]) -> Result<(ServerCert, String), String> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| format!("cannot make a certificate for {names:?}: {e}"))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "albkit dev (self-signed)");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    let key = rcgen::KeyPair::generate()
        .map_err(|e| format!("cannot generate the certificate's key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    let pem = cert.pem();
    let key = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| format!("cannot encode the certificate's key: {e}"))?;
    Ok((
        ServerCert {
            chain: vec![cert.der().clone()],
            key,
        },
        pem,
    ))
}

/// A certificate chain (PEM `CERTIFICATE` blocks, the server's first) and a private key
/// (PEM, PKCS #8, PKCS #1 or SEC1), as files from mkcert or openssl hold them.
pub fn load(cert_pem: &[u8], key_pem: &[u8]) -> Result<ServerCert, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate file is not PEM: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no CERTIFICATE block".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("the key file holds no PEM private key: {e}"))?;
    Ok(ServerCert { chain, key })
}

/// The listener's TLS configuration: HTTP/1.1 by ALPN (what the emulator serves), and
/// with `client_cas` (a checked `[https.mtls]` bundle) client certificates required and
/// verified against it.
pub fn server_config(cert: ServerCert, client_cas: Option<&[u8]>) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("no TLS version to offer: {e}"))?;
    let builder = match client_cas {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("the CA bundle is not PEM: {e}"))?;
                roots.add(cert).map_err(|e| {
                    format!("the CA bundle holds a certificate rustls refuses: {e}")
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("cannot verify client certificates: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(cert.chain, cert.key)
        .map_err(|e| format!("the server certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The `x-amzn-mtls-clientcert-*` headers of a connection: those of its verified leaf
/// certificate, none when the client presented none (a listener without mTLS).
pub fn client_headers(peer_certificates: Option<&[CertificateDer<'_>]>) -> Vec<(String, String)> {
    peer_certificates
        .and_then(<[_]>::first)
        .and_then(|leaf| crate::alb::mtls::client_cert_headers(leaf).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_names_every_host_and_makes_a_config() {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let (cert, pem) = self_signed(&names).expect("certificate");
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert.chain[0]).expect("X.509");
        let san = parsed
            .subject_alternative_name()
            .expect("extension")
            .expect("SAN");
        let shown: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(ToString::to_string)
            .collect();
        // The address as an iPAddress name (x509-parser shows its bytes in hex).
        assert_eq!(shown, ["DNSName(localhost)", "IPAddress(7f:00:00:01)"]);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        server_config(cert, None).expect("config");
    }

    #[test]
    fn files_load_and_a_key_of_another_certificate_is_refused() {
        let (_, pem) = self_signed(&["localhost".into()]).expect("certificate");
        let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
        let loaded = load(pem.as_bytes(), key.as_bytes()).expect("loads");
        let Err(err) = server_config(loaded, None) else {
            panic!("a key of another certificate is accepted")
        };
        assert!(err.contains("do not go together"), "{err}");
        let Err(err) = load(b"nothing", key.as_bytes()) else {
            panic!("a file without a certificate loads")
        };
        assert!(err.contains("no CERTIFICATE"), "{err}");
        assert!(load(pem.as_bytes(), b"nothing").is_err());
    }

    /// A CA (`ca`) and a leaf it signs, `CN=<cn>`, valid from `from` for a day.
    fn ca_and_leaf(cn: &str, from: time::OffsetDateTime) -> (String, ServerCert) {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, format!("{cn} CA"));
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        leaf.distinguished_name.push(rcgen::DnType::CommonName, cn);
        leaf.not_before = from;
        leaf.not_after = from + time::Duration::days(1);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");
        let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key");
        (
            ca_pem,
            ServerCert {
                chain: vec![cert.der().clone()],
                key,
            },
        )
    }

    /// A handshake in memory between `server` and a client that trusts `trusted` and
    /// presents `client_cert`: the server's view of the client's certificates.
    fn handshake(
        server: ServerConfig,
        trusted: &str,
        client_cert: Option<ServerCert>,
    ) -> Result<Vec<(String, String)>, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(trusted.as_bytes()) {
            roots.add(c.expect("PEM")).expect("root");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let client = match client_cert {
            Some(c) => builder.with_client_auth_cert(c.chain, c.key).expect("cert"),
            None => builder.with_no_client_auth(),
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut client = rustls::ClientConnection::new(Arc::new(client), name).expect("client");
        let mut server = rustls::ServerConnection::new(Arc::new(server)).expect("server");
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).expect("client writes");
            server.read_tls(&mut wire.as_slice()).expect("server reads");
            server.process_new_packets()?;
            let mut wire = Vec::new();
            server.write_tls(&mut wire).expect("server writes");
            client.read_tls(&mut wire.as_slice()).expect("client reads");
            client.process_new_packets()?;
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(client_headers(server.peer_certificates()));
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn with_a_ca_bundle_only_clients_with_a_certificate_it_issued_get_through() {
        let names = ["localhost".to_string()];
        let now = time::OffsetDateTime::now_utc();
        let (ca, good) = ca_and_leaf("good.client", now - time::Duration::hours(1));
        let (_, stranger) = ca_and_leaf("stranger", now - time::Duration::hours(1));
        let (_, expired) = ca_and_leaf("old.client", now - time::Duration::days(30));
        let config = || {
            let (cert, pem) = self_signed(&names).expect("certificate");
            (
                server_config(cert, Some(ca.as_bytes())).expect("config"),
                pem,
            )
        };
        let (server, pem) = config();
        let headers = handshake(server, &pem, Some(good)).expect("handshake");
        let subject = headers
            .iter()
            .find(|(n, _)| n == "x-amzn-mtls-clientcert-subject");
        assert_eq!(subject.map(|(_, v)| v.as_str()), Some("CN=good.client"));
        let (server, pem) = config();
        assert!(handshake(server, &pem, None).is_err(), "no certificate");
        let (server, pem) = config();
        assert!(
            handshake(server, &pem, Some(stranger)).is_err(),
            "another CA"
        );
        let (server, pem) = config();
        assert!(handshake(server, &pem, Some(expired)).is_err(), "expired");
    }

    #[test]
    fn without_a_ca_bundle_no_certificate_is_asked_for() {
        let (cert, pem) = self_signed(&["localhost".into()]).expect("certificate");
        let server = server_config(cert, None).expect("config");
        assert_eq!(handshake(server, &pem, None).expect("handshake"), vec![]);
    }

    #[test]
    fn no_client_certificate_means_no_headers() {
        assert!(client_headers(None).is_empty());
        assert!(client_headers(Some(&[])).is_empty());
    }
}
