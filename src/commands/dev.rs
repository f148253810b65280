//! `albkit dev`: builds the functions and runs them locally behind an emulation of the
//! stack's ALB. Needs no AWS account and no credentials: the config is read with
//! `validate::load` directly, never through `Session::open`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::alb::jwt::Jwks;
use crate::alb::oidc::{ClaimsSigner, Identity, Login};
use crate::alb::rules::{Rule, RuleSet, Target};
use crate::cli::{Cli, DevArgs};
use crate::emulator::launch;
use crate::emulator::launch::LOCAL_ACCOUNT;
use crate::emulator::process::{Console, Function};
use crate::emulator::{health, server, tls};
use crate::error::{Error, Result};
use crate::model::config::{Config, FunctionSettings, RouteAuth};
use crate::model::names::Names;
use crate::package::Profile;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

pub(crate) async fn run(cli: &Cli, args: &DevArgs) -> Result<u8> {
    let config = crate::model::validate::load(&cli.config)?;
    let selected = select(&config, args.function.as_deref(), &cli.config)?;
    let rules = RuleSet::from_config(&config, None);
    let jwks = key_set(args.jwks.as_deref(), &rules)?;
    if !args.bind.is_loopback() {
        eprintln!(
            "albkit dev: warning: listening on {}, reachable from other machines; the functions run with your local environment",
            args.bind
        );
    }
    let region = cli
        .region
        .clone()
        .or_else(|| config.stack.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let login = login(args.identity.as_deref(), &rules, &config, &region)?;
    let tls = tls_front(args, &config, &cli.config)?;
    let names = Names::new(&config.stack.name, &region);
    let profile = if args.release {
        Profile::Release
    } else {
        Profile::Debug
    };

    let mut functions: HashMap<String, Arc<Function>> = HashMap::new();
    for f in &selected {
        let binary = launch::build(f, profile, Console::Dev).await?;
        let instances = usize::from(args.concurrency);
        let function = launch::function(f, &names, &region, binary, instances, Console::Dev);
        function.start_instance();
        functions.insert(f.name.clone(), function);
    }

    let (listener, local) = listen(SocketAddr::new(args.bind, args.port)).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // The certificate's line before the routes and the listening line that ends them.
    let tls = tls.map(|(front, note)| {
        eprintln!("albkit dev: {note}");
        front
    });
    print_routes(&rules, &functions, local, scheme);

    for f in functions.values() {
        if let Some(hc) = &f.settings.health_check {
            tokio::spawn(health::run(f.clone(), hc.clone()));
        }
        if args.watch {
            tokio::spawn(watch(f.clone(), profile));
        }
    }

    let front = Arc::new(server::Front {
        rules,
        functions,
        port: local.port(),
        idle_timeout: Duration::from_secs(u64::from(
            config.load_balancer.idle_timeout_seconds.max(1),
        )),
        access_log: !cli.quiet,
        response_headers: config
            .https
            .as_ref()
            .map(|h| h.headers.clone())
            .unwrap_or_default(),
        jwks,
        login,
        tls,
    });
    let limits = server::Limits::new(front.idle_timeout);
    let serving = tokio::spawn(server::serve(listener, front.clone(), limits));
    shutdown_signal().await;
    serving.abort();
    for f in front.functions.values() {
        f.stop().await;
    }
    eprintln!("albkit dev: stopped");
    Ok(0)
}

/// The listening socket on `addr`, and the address it got (its port, for `--port 0`).
async fn listen(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::usage(
            format!("cannot listen on {addr}: {e}"),
            "pick another port with --port (0 picks a free one), or stop what uses this one",
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Other(format!("cannot read the listening address: {e}")))?;
    Ok((listener, local))
}

/// The functions to run: the one `--function` names, or all of them.
fn select<'c>(
    config: &'c Config,
    name: Option<&str>,
    path: &Path,
) -> Result<Vec<&'c FunctionSettings>> {
    let Some(name) = name else {
        return Ok(config.functions.iter().collect());
    };
    if let Some(f) = config.function(name) {
        Ok(vec![f])
    } else {
        let names: Vec<&str> = config.functions.iter().map(|f| f.name.as_str()).collect();
        Err(Error::usage(
            format!(
                "--function {name:?}: there is no such function in {}",
                path.display()
            ),
            format!("pick one of: {}", names.join(", ")),
        ))
    }
}

/// The key set `--jwks` names. A route that validates JWTs needs one: without it no token
/// could pass, so `dev` refuses to start.
fn key_set(path: Option<&Path>, rules: &RuleSet) -> Result<Jwks> {
    let jwt_route = rules
        .rules()
        .iter()
        .find(|r| matches!(r.auth, Some(RouteAuth::Jwt(_))));
    let Some(path) = path else {
        return match jwt_route {
            None => Ok(Jwks::default()),
            Some(r) => Err(Error::usage(
                format!("{} validates JWTs, and no key set was given", r.describe()),
                "pass --jwks PATH: a JSON Web Key Set file ({\"keys\": [...]}) with the RSA \
                 public keys your test tokens are signed with (docs/auth.md)",
            )),
        };
    };
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(
            format!("cannot read --jwks {shown}: {e}"),
            "pass the path of a readable JSON Web Key Set file",
        )
    })?;
    Jwks::parse(&text).map_err(|why| {
        Error::usage(
            format!("--jwks {shown} is not a key set the load balancer can use: {why}"),
            "write {\"keys\": [...]} with 1 to 10 RSA public keys (\"kty\": \"RSA\", \"n\", \"e\", \
             \"kid\"), as an issuer's jwks_endpoint serves them",
        )
    })
}

/// The development login of routes with a Cognito or OIDC login: `--identity` (or `sub=dev-user`)
/// and a fresh P-256 key, whose public half is written to a file for the function to
/// verify `x-amzn-oidc-data` with.
fn login(
    identity: Option<&str>,
    rules: &RuleSet,
    config: &Config,
    region: &str,
) -> Result<Option<Login>> {
    let identity = match identity {
        None => Identity::default_user(),
        Some(text) => Identity::parse(text).map_err(|why| {
            Error::usage(
                format!("--identity {text:?} is not an identity: {why}"),
                "write claim=value pairs with a sub, e.g. --identity sub=alice,email=alice@example.com",
            )
        })?,
    };
    let login = |r: &Rule| matches!(r.auth, Some(RouteAuth::Cognito(_) | RouteAuth::Oidc(_)));
    if !rules.rules().iter().any(login) {
        return Ok(None);
    }
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| Error::Other("cannot generate the development signing key".into()))?;
    let kid = format!("albkit-dev-{:016x}", rand::random::<u64>());
    let signer = format!(
        "arn:aws:elasticloadbalancing:{region}:{LOCAL_ACCOUNT}:loadbalancer/app/{}-alb/dev",
        config.stack.name
    );
    let signer = ClaimsSigner::new(key, kid.clone(), signer);
    let pem_path = std::env::temp_dir().join(format!("{kid}.pem"));
    let pem = signer.public_key_pem().map_err(Error::Other)?;
    std::fs::write(&pem_path, pem)
        .map_err(|e| Error::Other(format!("cannot write {}: {e}", pem_path.display())))?;
    eprintln!(
        "albkit dev: Cognito and OIDC routes see {} as logged in; x-amzn-oidc-data is signed ES256 by key {kid}, public key in {}",
        identity.sub(),
        pem_path.display()
    );
    Ok(Some(Login { identity, signer }))
}

/// `--tls`: the HTTPS listener's TLS and a line that says how to trust its certificate;
/// `None` for plain HTTP (with a note when `[https.mtls]` is thereby not emulated).
fn tls_front(
    args: &DevArgs,
    config: &Config,
    path: &Path,
) -> Result<Option<(server::TlsFront, String)>> {
    let mtls = config.https.as_ref().and_then(|h| h.mtls.as_ref());
    if !args.tls && args.tls_cert.is_none() {
        if let Some(m) = mtls {
            eprintln!(
                "albkit dev: [https.mtls] ({}) is emulated with --tls only: over plain HTTP no \
                 client certificate is asked for and functions get no x-amzn-mtls-clientcert-* headers",
                m.path
            );
        }
        return Ok(None);
    }
    let Some(https) = &config.https else {
        return Err(Error::usage(
            format!(
                "--tls serves the stack's HTTPS listener, and {} has no [https] section",
                path.display()
            ),
            "add [https] with the stack's domain (the README's config reference), or run dev without --tls",
        ));
    };
    let (cert, mut note) = server_certificate(args, &https.domain)?;
    if let Some(m) = mtls {
        note.push_str(&format!(
            "; mutual TLS: clients must present a certificate issued by a CA in {} ({} \
             certificate(s)), whose x-amzn-mtls-clientcert-* headers the functions get",
            m.path, m.bundle.certificates
        ));
    }
    let config = tls::server_config(cert, mtls.map(|m| m.bundle.pem.as_slice()))
        .map_err(|why| Error::usage(format!("--tls: {why}"), "check --tls-cert and --tls-key"))?;
    let front = server::TlsFront {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        mtls: mtls.is_some(),
    };
    Ok(Some((front, note)))
}

/// The server certificate of `--tls`: the files `--tls-cert`/`--tls-key` name, or a fresh
/// self-signed one written to the temporary directory; and how `dev` describes it.
fn server_certificate(args: &DevArgs, domain: &str) -> Result<(tls::ServerCert, String)> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let read = |p: &Path, flag: &str| {
            std::fs::read(p).map_err(|e| {
                Error::usage(
                    format!("cannot read {flag} {}: {e}", p.display()),
                    format!("pass the path of a readable PEM file to {flag}"),
                )
            })
        };
        let loaded =
            tls::load(&read(cert, "--tls-cert")?, &read(key, "--tls-key")?).map_err(|why| {
                Error::usage(
                    format!(
                        "--tls-cert {} / --tls-key {}: {why}",
                        cert.display(),
                        key.display()
                    ),
                    "pass the server certificate chain (PEM, server certificate first) and its \
                     private key (PEM)",
                )
            })?;
        return Ok((
            loaded,
            format!("TLS with the certificate in {}", cert.display()),
        ));
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if !args.bind.is_loopback() && !args.bind.is_unspecified() {
        names.push(args.bind.to_string());
    }
    names.push(domain.to_string());
    let (cert, pem) = tls::self_signed(&names).map_err(Error::Other)?;
    let pem_path =
        std::env::temp_dir().join(format!("albkit-dev-tls-{:016x}.pem", rand::random::<u64>()));
    std::fs::write(&pem_path, pem)
        .map_err(|e| Error::Other(format!("cannot write {}: {e}", pem_path.display())))?;
    let shown = pem_path.display();
    let note = format!(
        "TLS with a fresh self-signed certificate for {}, in {shown} (trust it: curl --cacert {shown})",
        names.join(", ")
    );
    Ok((cert, note))
}

fn print_routes(
    rules: &RuleSet,
    functions: &HashMap<String, Arc<Function>>,
    local: SocketAddr,
    scheme: &str,
) {
    eprintln!("albkit dev: listening on {scheme}://{local}");
    for r in rules.rules() {
        let (to, running) = match &r.target {
            Target::Function(f) if functions.contains_key(f) => (f.clone(), ""),
            Target::Function(f) => (f.clone(), " (not running)"),
            Target::Fixed(fixed) => (format!("fixed-response {}", fixed.status), ""),
            Target::Redirect(redirect) => (redirect.text(), ""),
        };
        let list = |v: &[String]| {
            if v.is_empty() {
                "*".to_string()
            } else {
                v.join(",")
            }
        };
        let auth = match &r.auth {
            Some(RouteAuth::Jwt(_)) => " (JWT validated)",
            Some(RouteAuth::Cognito(_)) => " (Cognito login: the --identity user)",
            Some(RouteAuth::Oidc(_)) => " (OIDC login: the --identity user)",
            None => "",
        };
        eprintln!(
            "  rule {:>5}: {} {} host {} → {}{running}{auth}",
            r.priority,
            list(&r.methods),
            list(&r.paths),
            list(&r.hosts),
            to
        );
    }
    eprintln!("  default   : fixed 404");
    // Also on stdout, one line, for scripts and tests that need the port.
    println!("albkit dev: listening on {scheme}://{local}");
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = tokio::signal::unix::SignalKind::terminate();
        let Ok(mut term) = tokio::signal::unix::signal(terminate) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A cheap fingerprint of a crate's sources: newest modification time and file count
/// (of `Cargo.toml`, `Cargo.lock`, `build.rs` and everything under `src/`).
pub(crate) fn fingerprint(root: &Path) -> (Option<SystemTime>, usize) {
    let mut newest = None;
    let mut count = 0usize;
    let mut stack: Vec<PathBuf> = vec![root.join("src")];
    for file in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        let p = root.join(file);
        if let Ok(m) = std::fs::metadata(&p) {
            count += 1;
            newest = newest.max(m.modified().ok());
        }
    }
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                count += 1;
                newest = newest.max(m.modified().ok());
            }
        }
    }
    (newest, count)
}

/// `--watch`: polls the crate's sources every 500 ms; on a change, rebuilds and restarts
/// the function's instances (a failed build keeps the old ones running). The sources
/// are fingerprinted before each build, so an edit made while cargo runs triggers
/// another build.
async fn watch(f: Arc<Function>, profile: Profile) {
    let root = f.settings.path.clone();
    let mut last = fingerprint(&root);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = fingerprint(&root);
        if now == last {
            continue;
        }
        last = now;
        eprintln!("albkit dev: {}: sources changed, rebuilding", f.name());
        match launch::build(&f.settings, profile, Console::Dev).await {
            Ok(binary) => {
                f.binary.send_replace(binary);
            }
            Err(e) => eprintln!(
                "albkit dev: {}: rebuild failed, keeping the running build:\n{:?}",
                f.name(),
                miette::Report::new(Error::from(e))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_changes_when_a_source_is_added() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("Cargo.toml"), "[package]").expect("write");
        let a = fingerprint(dir.path());
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}").expect("write");
        assert_ne!(a, fingerprint(dir.path()));
    }
}
