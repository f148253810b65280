//! Integration-test harness shared by the `tests/*.rs` files (`mod support;`).
//!
//! - [`Moto`]: moto's server (local AWS emulator, through `scripts/tools/moto-server`) on a free loopback port.
//!   [`Moto::shared`] gives one server per test binary; tests sharing it must keep out
//!   of each other's way (a distinct stack name each, see [`unique_stack_name`], and a
//!   region of their own where that helps). [`Moto::start`] gives a private server.
//! - [`sdk_config`] / [`s3_client`]: AWS SDK clients pointed at a moto server, to check
//!   what albkit did; [`inventory`] lists what of a stack exists.
//! - [`Project`]: a project rendered from a template (or a copy of a fixture) in a
//!   temporary directory.
//! - [`albkit`]: runs the `albkit` binary against moto in a project and captures its
//!   output ([`Output`]).
//!
//! Unix only (moto, process groups, `sh`).

#![allow(dead_code)]

pub(crate) mod dev;
pub(crate) mod http;
pub(crate) mod inventory;
pub(crate) mod ministack;
pub(crate) mod proxy;
pub(crate) mod screenshot;
pub(crate) mod trust_stores;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use albkit::package::tools::is_executable;

/// Root of the albkit repository (the crate these tests belong to).
pub(crate) const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// How long `moto_server` gets to answer after being spawned.
const MOTO_START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a stopped `moto_server` gets to exit cleanly before it is killed.
const MOTO_STOP_DEADLINE: Duration = Duration::from_secs(40);
/// How many free ports are tried when `moto_server` exits during start-up (for
/// instance because another process took the port between our probe and its bind).
const MOTO_START_ATTEMPTS: u32 = 5;
/// Default limit for one `albkit` run (a first function build can be slow).
pub(crate) const ALBKIT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The fake credentials every test uses (moto accepts anything).
pub(crate) const ACCESS_KEY_ID: &str = "testing";
pub(crate) const SECRET_ACCESS_KEY: &str = "testing";
/// moto's default account id.
pub(crate) const ACCOUNT_ID: &str = "123456789012";

// ---------------------------------------------------------------------------------
// moto server
// ---------------------------------------------------------------------------------

/// A running `moto_server`, killed (with everything it started) on drop.
///
/// The server runs under a small `sh` wrapper that also watches the wrapper's stdin,
/// a pipe whose write end only this process holds. When that end closes, because the
/// `Moto` is dropped or because the test process exits or dies in any way (statics such
/// as [`Moto::shared`] are never dropped), the wrapper terminates `moto_server`. So no
/// server outlives its test binary.
pub(crate) struct Moto {
    port: u16,
    child: Child,
    /// Write end of the wrapper's stdin; closing it stops the server.
    lifeline: Option<ChildStdin>,
    log_path: PathBuf,
    /// Whether the log is removed on drop (private servers that shut down cleanly).
    remove_log: bool,
}

static SHARED: OnceLock<Moto> = OnceLock::new();

impl Moto {
    /// The server shared by all tests of this test binary, started on first use.
    ///
    /// Do not call [`Moto::reset`] on it: other tests may be running against it.
    pub(crate) fn shared() -> &'static Moto {
        SHARED.get_or_init(|| {
            prune_old_logs(&log_dir(), Duration::from_secs(24 * 3600));
            let mut moto = Moto::start();
            // Kept after the run (in target/tmp/moto) to debug failures.
            moto.remove_log = false;
            moto
        })
    }

    /// Starts a private server on a free loopback port and waits until it answers.
    /// Panics (printing the log's path and tail) if it cannot be started.
    pub(crate) fn start() -> Moto {
        let python = find_moto_python();
        let mut failures = Vec::new();
        for _ in 0..MOTO_START_ATTEMPTS {
            let port = free_port();
            match Moto::try_start(&python, port) {
                Ok(moto) => return moto,
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "could not start moto's server ({} {MOTO_SHIM}) after {MOTO_START_ATTEMPTS} attempts:\n{}",
            python.display(),
            failures.join("\n")
        );
    }

    fn try_start(python: &Path, port: u16) -> Result<Moto, String> {
        let dir = log_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let log_path = dir.join(format!(
            "{}-{}-{port}.log",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let log_err = log.try_clone().expect("clone log file handle");

        let child = spawn_with_lifeline(
            Command::new(python)
                .arg(Path::new(REPO).join(MOTO_SHIM))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .env("MOTO_ACM_VALIDATION_WAIT", "1"),
            "albkit-moto",
            log,
            log_err,
        );

        let mut moto = Moto {
            port,
            lifeline: None,
            child,
            log_path,
            remove_log: true,
        };
        moto.lifeline = moto.child.stdin.take();

        let deadline = Instant::now() + MOTO_START_DEADLINE;
        loop {
            if let Some(status) = moto.child.try_wait().expect("poll moto_server") {
                // Most likely the port was taken meanwhile: caller retries on another.
                moto.remove_log = false;
                return Err(format!(
                    "  port {port}: moto_server exited during start-up ({status}); log {}:\n{}",
                    moto.log_path.display(),
                    indent(&log_tail(&moto.log_path, 15))
                ));
            }
            // The HTTP answer must come from *our* server, not from whatever else may
            // have taken the port: werkzeug logs this line once it has bound it.
            let bound = std::fs::read_to_string(&moto.log_path)
                .is_ok_and(|log| log.contains(&format!("Running on http://127.0.0.1:{port}")));
            if bound {
                if let Ok((200, _)) = http_request(port, "GET", "/moto-api/") {
                    return Ok(moto);
                }
            }
            if Instant::now() > deadline {
                moto.remove_log = false;
                let log = moto.log_path.clone();
                drop(moto);
                panic!(
                    "moto_server on 127.0.0.1:{port} did not answer within {}s; log {}:\n{}",
                    MOTO_START_DEADLINE.as_secs(),
                    log.display(),
                    indent(&log_tail(&log, 30))
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` and SDK configs.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's log (stdout and stderr).
    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Clears all state in the server (`POST /moto-api/reset`). Only for a private
    /// server ([`Moto::start`]): the shared one may be in use by other tests.
    pub(crate) fn reset(&self) {
        match http_request(self.port, "POST", "/moto-api/reset") {
            Ok((200, _)) => {}
            Ok((status, body)) => panic!(
                "moto reset answered {status}: {body}\nmoto log: {}",
                self.log_path.display()
            ),
            Err(e) => panic!(
                "moto reset failed: {e}\nmoto log: {}",
                self.log_path.display()
            ),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the lifeline makes the watcher terminate the server. moto exits on
        // SIGTERM through `sys.exit`, which waits for its request threads: 12 to 16 s
        // were measured on the 2-core machine, so the deadline leaves room for that.
        drop(self.lifeline.take());
        let stopped = wait_with_deadline(&mut self.child, MOTO_STOP_DEADLINE).is_some();
        if !stopped {
            kill_process_group(self.child.id(), SIGKILL);
            let _ = self.child.wait();
        }
        if self.remove_log && stopped && !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log_path);
        } else if std::thread::panicking() {
            eprintln!("moto log: {}", self.log_path.display());
        }
    }
}

/// Starts `server` (its program, arguments and environment) under a small `sh` wrapper
/// that also watches the wrapper's stdin, a pipe whose write end only this process holds
/// (the returned child's `stdin`): when it closes, because the owner is dropped or this
/// process ends in any way, the wrapper terminates the server. Own process group, so a
/// drop can stop the wrapper, the server and the watcher together. Output goes to `log`.
fn spawn_with_lifeline(
    server: &mut Command,
    name: &str,
    log: std::fs::File,
    log_err: std::fs::File,
) -> Child {
    // fd 3 keeps the lifeline pipe for the watcher; the server itself gets neither the
    // pipe nor a terminal.
    const WRAPPER: &str = r#"
exec 3<&0 0</dev/null
"$@" 3<&- &
pid=$!
{ cat <&3 >/dev/null 2>&1; kill "$pid" 2>/dev/null; } &
exec 3<&-
wait "$pid"
"#;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WRAPPER)
        .arg(name)
        .arg(server.get_program());
    cmd.args(server.get_args());
    for (key, value) in server.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn sh to run {:?}: {e}", server.get_program()))
}

/// Where moto logs go: cargo's per-target scratch directory for integration tests.
fn log_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto")
}

fn prune_old_logs(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|d| d > age);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// moto's server with CloudWatch's Smithy RPC v2 CBOR protocol translated to the JSON
/// protocol moto speaks (docs/testing.md); run with the python of moto's virtualenv.
const MOTO_SHIM: &str = "scripts/tools/moto-server";

/// The python of moto's private virtualenv `scripts/test` installs (target/tools/moto),
/// else the python beside the first `moto_server` on PATH.
fn find_moto_python() -> PathBuf {
    let private = Path::new(REPO).join("target/tools/moto/bin/python");
    if is_executable(&private) {
        return private;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("python");
        if is_executable(&dir.join("moto_server")) && is_executable(&candidate) {
            return candidate;
        }
    }
    panic!(
        "moto's virtualenv was found neither in {} nor on PATH (a `moto_server` with a \
         `python` beside it). The integration tests need moto's server, pinned in \
         scripts/tools/moto-requirements.txt: run `scripts/test` once, which installs it \
         into that private virtualenv.",
        private.display()
    );
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A minimal HTTP/1.0 client (no extra crates): returns status code and body.
fn http_request(port: u16, method: &str, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(5))))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
    Ok((status, body.to_string()))
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------
// AWS SDK
// ---------------------------------------------------------------------------------

/// An SDK config for `region` that talks to `moto` with static test credentials.
pub(crate) async fn sdk_config(moto: &Moto, region: &str) -> aws_config::SdkConfig {
    sdk_config_at(&moto.endpoint(), region, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await
}

/// Creates the hosted zone `name` through `cfg`; returns its id without the
/// `/hostedzone/` prefix.
pub(crate) async fn create_hosted_zone(cfg: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_route53::Client::new(cfg)
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("albkit-test-{name}"))
        .send()
        .await
        .expect("CreateHostedZone")
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .expect("zone id")
}

/// An SDK config for `region` that talks to `endpoint` with the given static keys.
pub(crate) async fn sdk_config_at(
    endpoint: &str,
    region: &str,
    key: &str,
    secret: &str,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            key,
            secret,
            None,
            None,
            "albkit-tests",
        ))
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}

/// An S3 client for `cfg`, with path-style addressing (bucket names as host names
/// do not resolve against a local endpoint).
pub(crate) fn s3_client(cfg: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(cfg)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The name of albkit's lock bucket for the test account in `region`.
pub(crate) fn lock_bucket(region: &str) -> String {
    format!("albkit-locks-{ACCOUNT_ID}-{region}")
}

/// Creates `name` in `region` (S3 wants the region named, except us-east-1).
pub(crate) async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str, region: &str) {
    let mut req = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.expect("create bucket");
}

/// Sets the bucket's tags to the one tag `key`=`value`.
pub(crate) async fn tag_bucket(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, value: &str) {
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .expect("tag"),
        )
        .build()
        .expect("tagging");
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging)
        .send()
        .await
        .expect("tag bucket");
}

/// Every public access blocked, and default encryption with S3-managed keys (AES256):
/// what albkit sets on both of its buckets.
pub(crate) async fn assert_bucket_private_and_encrypted(s3: &aws_sdk_s3::Client, bucket: &str) {
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .expect("public access block");
    let pab = pab
        .public_access_block_configuration()
        .expect("a public access block");
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "all public access blocked"
    );
    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("encryption");
    let algorithm = enc
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_string());
    assert_eq!(algorithm.as_deref(), Some("AES256"));
}

/// The lock bucket is albkit's (tagged), private, encrypted, and denies plain HTTP on
/// itself and its objects.
pub(crate) async fn assert_lock_bucket_secured(s3: &aws_sdk_s3::Client, bucket: &str) {
    let tags = s3
        .get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
        .expect("lock bucket tags");
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "albkit:purpose" && t.value() == "stack-locks"),
        "tagged as albkit's: {:?}",
        tags.tag_set()
    );
    assert_bucket_private_and_encrypted(s3, bucket).await;
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .expect("a bucket policy");
    let policy: serde_json::Value =
        serde_json::from_str(policy.policy().expect("policy text")).expect("policy JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    let deny = statements
        .iter()
        .find(|s| s["Effect"] == "Deny")
        .unwrap_or_else(|| panic!("a deny statement: {policy}"));
    assert_eq!(deny["Principal"], "*", "{policy}");
    assert!(
        deny["Action"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case("s3:*")),
        "every S3 action: {policy}"
    );
    assert_eq!(
        deny["Condition"]["Bool"]["aws:SecureTransport"], "false",
        "{policy}"
    );
    let resources: Vec<&str> = deny["Resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        resources.contains(&format!("arn:aws:s3:::{bucket}").as_str())
            && resources.contains(&format!("arn:aws:s3:::{bucket}/*").as_str()),
        "the bucket and its objects: {policy}"
    );
}

// ---------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------

/// A throw-away albkit project directory (removed on drop).
pub(crate) struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    /// The project `albkit init --template <template> --name <stack>` writes (the
    /// embedded `templates/<template>`, the one source of the example functions). The
    /// function crate is named after the stack, so projects of concurrent tests never
    /// build over each other's binary in the shared functions target dir.
    pub(crate) fn from_template(template: &str, stack: &str) -> Project {
        let t = albkit::templates::find(template)
            .unwrap_or_else(|| panic!("no template {template} in templates/"));
        let project = Project::empty();
        for (path, contents) in albkit::templates::render(t, stack) {
            project.write(path, &contents);
        }
        project
    }

    /// The hello template's crate as the members of one cargo workspace:
    /// `functions/<name>` for each of `crates` (the first is the template's own
    /// `hello`), crate `<stack>-<name>`, answering `<name> from albkit` instead of
    /// `hello from albkit`. The template's `[workspace]` table and release profile move
    /// to a `Cargo.toml` at the project root, beside one `Cargo.lock` with every member;
    /// `albkit.toml` has one function per crate, routed at `/<name>` with priorities
    /// 10, 20…
    pub(crate) fn hello_workspace(stack: &str, crates: &[&str]) -> Project {
        assert_eq!(
            crates.first(),
            Some(&"hello"),
            "the template's crate comes first"
        );
        let project = Project::from_template("hello", stack);
        let manifest = project.read("functions/hello/Cargo.toml");
        let lock = project.read("functions/hello/Cargo.lock");
        let main = project.read("functions/hello/src/main.rs");
        let template_crate = format!("{stack}-hello");
        let lock_entry = lock
            .split("\n\n")
            .find(|block| block.contains(&format!("name = \"{template_crate}\"")))
            .expect("the template's lock file lists its crate");
        let (member, profile) = manifest
            .split_once("[profile.release]")
            .expect("the hello template has a release profile");
        // The member's part: without the `[workspace]` table and the comment above it.
        let member: Vec<&str> = member
            .split("\n\n")
            .filter(|block| !block.lines().any(|l| l.trim() == "[workspace]"))
            .collect();
        let member = member.join("\n\n");
        // Only the workspace's lock file counts; the member's would mislead.
        std::fs::remove_file(project.path().join("functions/hello/Cargo.lock"))
            .expect("remove the member's Cargo.lock");
        let mut root_lock = lock.clone();
        for name in crates {
            let renamed = format!("{stack}-{name}");
            let dir = format!("functions/{name}");
            project
                .write(
                    &format!("{dir}/Cargo.toml"),
                    &member.replace(&template_crate, &renamed),
                )
                .write(
                    &format!("{dir}/src/main.rs"),
                    &main.replace("hello from albkit", &format!("{name} from albkit")),
                );
            if renamed != template_crate {
                root_lock.push_str(&format!(
                    "\n{}\n",
                    lock_entry.replace(&template_crate, &renamed)
                ));
            }
        }
        project
            .write(
                "Cargo.toml",
                &format!(
                    "[workspace]\nmembers = [\"functions/*\"]\nresolver = \"2\"\n\n[profile.release]{profile}"
                ),
            )
            .write("Cargo.lock", &root_lock)
            .with_config(&routed_functions(stack, crates));
        project
    }

    /// A copy of `tests/fixtures/<name>` (without any `target/` directory).
    pub(crate) fn from_fixture(name: &str) -> Project {
        Project::copy_of(&Path::new(REPO).join("tests").join("fixtures").join(name))
    }

    /// A copy of the directory `src` (without any `target/` directory).
    pub(crate) fn copy_of(src: &Path) -> Project {
        assert!(src.is_dir(), "no project directory at {}", src.display());
        let tmp = tempfile::Builder::new()
            .prefix("albkit-test-")
            .tempdir()
            .expect("create temp dir");
        let name = src.file_name().unwrap_or(OsStr::new("project"));
        let root = tmp.path().join(name);
        copy_dir(src, &root)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), root.display()));
        Project { _tmp: tmp, root }
    }

    /// An empty project directory.
    pub(crate) fn empty() -> Project {
        let tmp = tempfile::Builder::new()
            .prefix("albkit-test-")
            .tempdir()
            .expect("create temp dir");
        let root = tmp.path().join("project");
        std::fs::create_dir(&root).expect("create project dir");
        Project { _tmp: tmp, root }
    }

    /// Replaces the project's `albkit.toml`.
    pub(crate) fn with_config(&self, toml: &str) -> &Project {
        self.write("albkit.toml", toml)
    }

    /// Writes `contents` to `relative` (creating parent directories).
    pub(crate) fn write(&self, relative: &str, contents: &str) -> &Project {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Reads `relative` as text.
    pub(crate) fn read(&self, relative: &str) -> String {
        let path = self.root.join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The project directory (holding `albkit.toml`).
    pub(crate) fn path(&self) -> &Path {
        &self.root
    }
}

/// An `albkit.toml` for stack `stack` with one function per name, its crate at
/// `functions/<name>`, routed at `/<name>` with priorities 10, 20…
pub(crate) fn routed_functions(stack: &str, names: &[&str]) -> String {
    let mut config = format!("[stack]\nname = \"{stack}\"\n");
    for (i, name) in names.iter().enumerate() {
        config.push_str(&format!(
            "\n[[functions]]\nname = \"{name}\"\npath = \"functions/{name}\"\n\n[[functions.routes]]\npriority = {}\npaths = [\"/{name}\"]\n",
            (i + 1) * 10
        ));
    }
    config
}

fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            copy_dir(&from, &to)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&from)?;
            std::os::unix::fs::symlink(target, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// A stack name unique within this test process (albkit's rule: 1–24 of `[a-z0-9-]`,
/// starting with a letter): `prefix` (cut to fit) + `-` + a counter.
pub(crate) fn unique_stack_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("-{n}");
    let keep = 24 - suffix.len();
    let prefix: String = prefix.chars().take(keep).collect();
    format!("{prefix}{suffix}")
}

// ---------------------------------------------------------------------------------
// Running albkit
// ---------------------------------------------------------------------------------

/// The `albkit` binary cargo built for these tests.
/// The albkit binary under test: cargo's, or the one `ALBKIT_BIN` names (a release
/// build, or a copy kept apart from a target dir that another checkout also builds into).
pub(crate) fn albkit_bin() -> PathBuf {
    std::env::var_os("ALBKIT_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_albkit")),
        PathBuf::from,
    )
}

/// Where function crates are built during tests: one directory for all tests, so
/// dependencies compile once.
pub(crate) fn functions_target_dir() -> PathBuf {
    Path::new(REPO).join("target").join("functions")
}

/// What an `albkit` run produced.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Exit code; `None` if the process was killed by a signal (or timed out).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether the run was killed for exceeding its time limit.
    pub timed_out: bool,
}

impl Output {
    /// Panics, showing both streams, unless the exit code is 0.
    #[track_caller]
    pub(crate) fn ok(&self) -> &Output {
        self.code_is(0)
    }

    /// Panics, showing both streams, unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn code_is(&self, code: i32) -> &Output {
        if self.code != Some(code) {
            panic!(
                "expected exit code {code}, got {}\n{self}",
                self.describe_code()
            );
        }
        self
    }

    /// Panics, showing both streams, if the exit code is 0 (or the run timed out).
    #[track_caller]
    pub(crate) fn fails(&self) -> &Output {
        if self.code == Some(0) || self.code.is_none() {
            panic!("expected a failure, got {}\n{self}", self.describe_code());
        }
        self
    }

    /// stdout parsed as JSON (panics, showing both streams, if it is not).
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        match serde_json::from_str(&self.stdout) {
            Ok(value) => value,
            Err(e) => panic!("stdout is not JSON ({e})\n{self}"),
        }
    }

    fn describe_code(&self) -> String {
        match (self.code, self.timed_out) {
            (_, true) => "a timeout (killed)".to_string(),
            (Some(code), false) => format!("exit code {code}"),
            (None, false) => "death by signal".to_string(),
        }
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// Runs `albkit ARGS` in `project` against `moto` in `region` and waits for it
/// (at most [`ALBKIT_TIMEOUT`]). Blocking: fine inside `#[tokio::test]`, whose runtime
/// has nothing else to do meanwhile.
pub(crate) fn albkit(moto: &Moto, project: &Project, region: &str, args: &[&str]) -> Output {
    let mut cmd = albkit_command(moto, project, region);
    cmd.args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

/// Like [`albkit`] with extra environment variables.
pub(crate) fn albkit_with_env(
    moto: &Moto,
    project: &Project,
    region: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = albkit_command(moto, project, region);
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    run(cmd, ALBKIT_TIMEOUT)
}

/// The `albkit` command (no arguments yet) as [`albkit`] runs it: cwd = the project,
/// fake credentials, `AWS_REGION`, `AWS_ENDPOINT_URL` = moto, no IMDS, no stdin,
/// shared function target dir, and none of the caller's AWS profile settings.
/// What `scripts/test` sets so that clippy-driver compiles albkit's own crates while they
/// are built for the tests. The function crates albkit builds during a test are
/// workspaces of their own: these must not reach their cargo, which would lint them (and
/// rebuild them, as the wrapper is part of their fingerprint).
pub(crate) const LINT_ENV: [&str; 2] = ["RUSTC_WORKSPACE_WRAPPER", "CLIPPY_ARGS"];

/// Cargo's release-profile overrides for the function crates albkit builds in the tests:
/// the `NAME=value` lines of tests/fixtures/function-build.env (why: see there), which
/// `scripts/test` also sources for its prebuild.
pub(crate) fn function_build_env() -> impl Iterator<Item = (&'static str, &'static str)> {
    include_str!("../../fixtures/function-build.env")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
}

/// A command that runs the albkit binary without the build environment of `scripts/test`,
/// building functions into the shared target dir with [`function_build_env`].
pub(crate) fn albkit_process() -> Command {
    let mut cmd = Command::new(albkit_bin());
    for key in LINT_ENV {
        cmd.env_remove(key);
    }
    cmd.env("CARGO_TARGET_DIR", functions_target_dir())
        .envs(function_build_env());
    cmd
}

pub(crate) fn albkit_command(moto: &Moto, project: &Project, region: &str) -> Command {
    albkit_command_at(&moto.endpoint(), project, region)
}

/// [`albkit_command`] against any endpoint (MiniStack, a proxy).
pub(crate) fn albkit_command_at(endpoint: &str, project: &Project, region: &str) -> Command {
    let mut cmd = albkit_process();
    cmd.current_dir(project.path());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AWS_") {
            cmd.env_remove(&*key);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", region)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Keep ~/.aws out of it.
        .env("AWS_CONFIG_FILE", project.path().join(".no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            project.path().join(".no-aws-credentials"),
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` capturing stdout and stderr; kills it (and every process it started)
/// after `timeout`.
pub(crate) fn run(mut cmd: Command, timeout: Duration) -> Output {
    let program = format!("{:?}", cmd.get_program());
    // Own process group, so a timeout also kills what it started (cargo, rustc, a
    // local runtime...), which would otherwise keep the output pipes open.
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = read_in_background(child.stdout.take().expect("stdout pipe"));
    let stderr = read_in_background(child.stderr.take().expect("stderr pipe"));
    let (status, timed_out) = if let Some(status) = wait_with_deadline(&mut child, timeout) {
        (status, false)
    } else {
        kill_process_group(child.id(), SIGKILL);
        (child.wait().expect("wait for killed process"), true)
    };
    // Children it left behind may still hold the pipes: end them too.
    kill_process_group(child.id(), SIGKILL);
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    Output {
        code: if timed_out { None } else { status.code() },
        stdout,
        stderr,
        timed_out,
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const SIGKILL: i32 = 9;

extern "C" {
    // From the C library std already links.
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `signal` to the process group led by `pgid` (ignoring "no such group").
fn kill_process_group(pgid: u32, signal: i32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid > 1 {
        // SAFETY: plain kill(2) on a process group this harness created.
        unsafe {
            kill(-pgid, signal);
        }
    }
}
