//! `albkit invoke`: sends a synthetic ALB request event (shaped as a real ALB's, in the
//! target group's single- or multi-value form, built by `alb::event`) to the
//! deployed function's `live` alias, or with `--local` to the locally built bootstrap
//! run by the emulator (`emulator::launch`, `emulator::target`), and prints the HTTP
//! response the load balancer would send.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::code::{invoke, prove};
use super::output::InvokeDoc;
use super::session::Session;
use super::Outcome;
use crate::alb::event::{self, Connection, EventInput, Failure, HttpRequest, HttpResponse};
use crate::aws::error::AwsResultExt;
use crate::cli::{Cli, InvokeArgs};
use crate::emulator::launch;
use crate::emulator::process::Console;
use crate::emulator::server::http_date;
use crate::emulator::target;
use crate::error::{Error, Result};
use crate::model::config::FunctionSettings;
use crate::model::lifecycle::{lambda_error, InvokeOutcome};
use crate::model::names::{logical, LIVE_ALIAS, TAG_RESOURCE, TAG_STACK};
use crate::model::stack::Tags;
use crate::package::Profile;

/// Where the synthetic request comes from: a client on loopback, to the HTTP listener.
fn connection() -> Connection {
    Connection {
        client_ip: "127.0.0.1".into(),
        listener_port: 80,
        proto: "http",
    }
}

fn request(o: &InvokeArgs) -> Result<HttpRequest> {
    if !o.path.starts_with('/') {
        return Err(Error::usage(
            format!("--path {:?} must start with '/'", o.path),
            "for example --path '/hello?name=world'",
        ));
    }
    let mut req = HttpRequest::new(&o.method.to_ascii_uppercase(), &o.path);
    for h in &o.headers {
        let Some((k, v)) = h.split_once(':') else {
            return Err(Error::usage(
                format!("--header {h:?} is not NAME:VALUE"),
                "for example --header 'content-type: application/json'",
            ));
        };
        req.headers
            .push((k.trim().to_string(), v.trim().as_bytes().to_vec()));
    }
    if let Some(body) = &o.body {
        req.body = body.as_bytes().to_vec();
    }
    Ok(req)
}

/// The ALB's answer when it does not use the function's: its error page and why.
fn failed(f: Failure, date: &str) -> (HttpResponse, Option<String>) {
    (event::error_page(f.status, date), Some(f.reason))
}

/// Turns the result of invoking the deployed function into what the client would get
/// (function errors and invalid responses become the ALB's 502), or an error when the
/// result is unusable.
fn to_http(
    outcome: InvokeOutcome,
    multi: bool,
    emulated: bool,
    date: &str,
) -> Result<(HttpResponse, Option<String>)> {
    match outcome {
        InvokeOutcome::CallFailed(why) => Err(Error::Other(format!(
            "the function could not be invoked: {why}"
        ))),
        InvokeOutcome::Answered {
            function_error: Some(kind),
            payload,
        } => {
            let text = String::from_utf8_lossy(&payload).into_owned();
            if emulated && lambda_error(&payload).is_none() {
                return Err(unusable(&text));
            }
            Ok(failed(
                Failure::new(502, format!("function error {kind}: {text}")),
                date,
            ))
        }
        InvokeOutcome::Answered {
            function_error: None,
            payload,
        } => match event::map_response(&payload, multi, date) {
            Ok(r) => Ok((r, None)),
            Err(_) if emulated => Err(unusable(&String::from_utf8_lossy(&payload))),
            Err(f) => Ok(failed(f, date)),
        },
    }
}

fn unusable(text: &str) -> Error {
    Error::usage(
        format!(
            "the AWS endpoint answered the invoke, but not with a Lambda response (it probably does not run function code, as moto without Docker): {}",
            text.chars().take(300).collect::<String>()
        ),
        "run the function locally with `albkit invoke --local`, or invoke it on AWS",
    )
}

/// `--local --zip`: the zip's `bootstrap`, unpacked into a temporary directory (kept
/// while the function runs), once it is known to run on this machine.
fn unpack(f: &FunctionSettings, zip: &std::path::Path) -> Result<(tempfile::TempDir, PathBuf)> {
    let fail = |what: String| {
        Error::usage(
            format!("--zip {}: {what}", zip.display()),
            "pass a zip written by `albkit build` (target/albkit/<function>/bootstrap.zip)",
        )
    };
    let bytes = std::fs::read(zip).map_err(|e| fail(e.to_string()))?;
    let bootstrap = crate::package::unzip_bootstrap(&bytes).map_err(fail)?;
    if let Ok(machine) = crate::package::elf::machine(&bootstrap) {
        let host = crate::package::host_architecture().map(|a| a.as_str());
        if machine.lambda_architecture() != host {
            return Err(fail(format!(
                "its bootstrap is for {machine}, and this machine cannot run it (function {})",
                f.name
            )));
        }
    }
    let dir = tempfile::tempdir().map_err(|e| fail(format!("a temporary directory: {e}")))?;
    let path = dir.path().join("bootstrap");
    write_executable(&path, &bootstrap).map_err(|e| fail(e.to_string()))?;
    Ok((dir, path))
}

fn write_executable(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// `--local`: builds the function for this machine and sends the request through the
/// emulator's Runtime API, exactly as `albkit dev` would after its rules matched.
async fn local(
    s: &Session,
    f: &FunctionSettings,
    zip: Option<&std::path::Path>,
    req: &HttpRequest,
    date: &str,
) -> Result<(HttpResponse, Option<String>)> {
    let (_unpacked, binary) = match &zip {
        Some(path) => {
            let (dir, binary) = unpack(f, path)?;
            (Some(dir), binary)
        }
        None => (
            None,
            launch::build(f, Profile::Release, Console::Invoke).await?,
        ),
    };
    let function = launch::function(f, &s.names, &s.aws.region, binary, 1, Console::Invoke);
    function.start_instance();
    let idle = Duration::from_secs(u64::from(
        s.config.load_balancer.idle_timeout_seconds.max(1),
    ));
    let answer = target::forward(&function, req, &connection(), idle, date).await;
    function.stop().await;
    Ok(match answer {
        Ok(r) => (r, None),
        Err(f) => failed(f, date),
    })
}

/// Without `--local`: the deployed target group's ARN and header mode, then the `live`
/// alias.
async fn deployed(
    s: &Session,
    f: &FunctionSettings,
    req: &HttpRequest,
    date: &str,
) -> Result<(HttpResponse, Option<String>)> {
    // The function first: nothing is invoked that is not proved to be the stack's.
    let (proven, _) = prove(s, &f.name, true).await?;
    let name = proven.name;
    let (tg_name, tg_arn) = target_group(s, &f.name, proven.legacy).await?;
    let attrs = s
        .aws
        .elb
        .describe_target_group_attributes()
        .target_group_arn(&tg_arn)
        .send()
        .await
        .aws("DescribeTargetGroupAttributes", &tg_name)?;
    let multi = attrs
        .attributes()
        .iter()
        .find(|a| a.key() == Some("lambda.multi_value_headers.enabled"))
        .and_then(|a| a.value())
        == Some("true");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (trace_header, _root) =
        event::request_trace(req, &event::new_trace_root(now, rand::random()));
    let event = event::build_event(&EventInput {
        request: req,
        connection: &connection(),
        target_group_arn: &tg_arn,
        multi_value: multi,
        trace_header: &trace_header,
    });
    let limit = Duration::from_secs(u64::from(f.timeout_seconds) + 5);
    let outcome = invoke(&s.aws, &name, LIVE_ALIAS, &event, limit).await;
    to_http(outcome, multi, s.aws.custom_endpoint, date)
}

/// The function's target group, proved by its tags: under the name of the function's
/// naming scheme first, then the other's. Returns its name and ARN.
async fn target_group(s: &Session, function: &str, legacy: bool) -> Result<(String, String)> {
    let current = s.names.target_group(function);
    let previous = s.names.legacy_target_group(function);
    let order = if legacy {
        [&previous, &current]
    } else {
        [&current, &previous]
    };
    for name in order {
        let found = match s
            .aws
            .elb
            .describe_target_groups()
            .names(name.as_str())
            .send()
            .await
            .aws("DescribeTargetGroups", name)
        {
            Ok(out) => out
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
                .map(str::to_string),
            Err(e) if e.not_found() || e.is("TargetGroupNotFound") => None,
            Err(e) => return Err(e.into()),
        };
        let Some(arn) = found else { continue };
        let tags: Tags = s
            .aws
            .elb
            .describe_tags()
            .resource_arns(&arn)
            .send()
            .await
            .aws("DescribeTags", name)?
            .tag_descriptions()
            .iter()
            .flat_map(aws_sdk_elasticloadbalancingv2::types::TagDescription::tags)
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        let proof = (
            tags.get(TAG_STACK).map(String::as_str),
            tags.get(TAG_RESOURCE).map(String::as_str),
        );
        if proof
            == (
                Some(s.config.stack.name.as_str()),
                Some(logical::target_group(function).as_str()),
            )
        {
            return Ok((name.clone(), arn));
        }
        // The current name is the stack's alone; the previous one may be another stack's.
        if *name == current {
            return Err(Error::Conflict {
                message: format!(
                    "target group {name} is not tagged as {} of stack {}; albkit does not use it",
                    logical::target_group(function),
                    s.config.stack.name
                ),
                help: "delete or rename that target group if it is a leftover, or rename the stack ([stack].name)".into(),
            });
        }
    }
    Err(Error::usage(
        format!("target group {current} does not exist in {}", s.aws.region),
        "create the stack with `albkit up` first",
    ))
}

pub(crate) async fn run(cli: &Cli, o: &InvokeArgs) -> Result<Outcome> {
    let s = Session::connect(cli).await?;
    let functions = s.select(o.function.as_deref())?;
    let [f] = functions.as_slice() else {
        return Err(Error::usage(
            "the stack has several functions: say which one to invoke",
            "add --function NAME",
        ));
    };
    let req = request(o)?;
    let date = http_date();
    // What the ALB refuses before invoking anything (413, 400, 405, 501).
    let (response, problem) = if let Err(refused) = event::check_request(&req) {
        failed(refused, &date)
    } else if o.local {
        local(&s, f, o.zip.as_deref(), &req, &date).await?
    } else {
        deployed(&s, f, &req, &date).await?
    };
    let body = String::from_utf8_lossy(&response.body).into_owned();
    let code = if response.status >= 500 { 1 } else { 0 };
    if s.json() {
        return Ok(Outcome::json(
            code,
            true,
            &InvokeDoc {
                function: f.name.clone(),
                local: o.local,
                status: response.status,
                headers: response.headers,
                body,
                error: problem,
            },
        ));
    }
    {
        if let Some(p) = &problem {
            eprintln!("The load balancer would answer {}: {p}", response.status);
        }
        println!(
            "HTTP/1.1 {} {}",
            response.status,
            http::StatusCode::from_u16(response.status)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("")
        );
        for (k, v) in &response.headers {
            println!("{k}: {v}");
        }
        println!();
        println!("{body}");
    }
    Ok(Outcome::code(code))
}
